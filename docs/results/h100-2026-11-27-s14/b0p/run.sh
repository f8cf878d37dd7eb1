set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/b0p
cd .device/src
timeout 300 deno run -A kernels/lab/last_probe.ts 200 "33,40,49,56,66,99,132,256" "cur:def:0,S:def:0,P:def:0,Q:def:0" 3 scan_bwd > $O/b0p/probe.txt 2>&1
tar -C $O -czf $OUT/b0p.tgz b0p
cat $O/b0p/probe.txt
