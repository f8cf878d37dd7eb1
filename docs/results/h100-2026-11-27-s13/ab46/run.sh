set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/ab46
cd .device/src
timeout 200 deno run -A kernels/lab/last_probe.ts 200 "33,66,99,132,1024" "base:def:1,A:def:1,B:def:1,vb:def:1" 5 > $O/ab46/last_probe.txt 2>&1
cat $O/ab46/last_probe.txt
tar -C $O -czf $OUT/ab46.tgz ab46
