set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/v47
cd .device/src
timeout 200 deno run -A kernels/lab/last_probe.ts 200 "33,66,82,99,132,1024" "new2:def:1,v47:def:1" 5 > $O/v47/last_probe.txt 2>&1
cat $O/v47/last_probe.txt
tar -C $O -czf $OUT/v47.tgz v47
