set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/v13
cd .device/src
timeout 250 deno run -A kernels/lab/last_probe.ts 200 "33,50,66,99,132,165,1024" "cur:def:1,va:def:1,vb:def:1" 5 > $O/v13/last_probe.txt 2>&1
cat $O/v13/last_probe.txt
tar -C $O -czf $OUT/v13.tgz v13
