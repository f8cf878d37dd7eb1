set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/n13
cd .device/src
timeout 250 deno run -A kernels/lab/last_probe.ts 200 "33,50,66,99,132,1024" "cur:def:1,ns:def:1,cur:def:0,ns:def:0" 5 > $O/n13/last_probe.txt 2>&1
cat $O/n13/last_probe.txt
tar -C $O -czf $OUT/n13.tgz n13
