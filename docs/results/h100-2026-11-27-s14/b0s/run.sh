set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/b0s
cd .device/src
timeout 250 deno run -A kernels/lab/last_probe.ts 200 "16,33,40,49,56,66,82,99,132,198,264" "cur:def:0,S:def:0" 3 scan_bwd > $O/b0s/probe.txt 2>&1
tar -C $O -czf $OUT/b0s.tgz b0s
cat $O/b0s/probe.txt
