set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/sgo
cd .device/src
timeout 250 deno run -A kernels/lab/last_probe.ts 200 "33,40,49,56,66,99,132,256" "cur:def:0,knew48:def:0,P:def:0" 3 scan_bwd > $O/sgo/probe.txt 2>&1
tar -C $O -czf $OUT/sgo.tgz sgo
cat $O/sgo/probe.txt
