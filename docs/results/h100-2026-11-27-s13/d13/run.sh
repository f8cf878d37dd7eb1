set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/d13
cd .device/src
timeout 250 deno run -A kernels/lab/last_probe.ts 200 "33,50,66,99,132" "cur:def:1,d2:def:1,d4:def:1,cur:def:0,d2:def:0,d4:def:0" 5 > $O/d13/last_probe.txt 2>&1
cat $O/d13/last_probe.txt
tar -C $O -czf $OUT/d13.tgz d13
