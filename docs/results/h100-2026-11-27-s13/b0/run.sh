set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/b0
cd .device/src
timeout 250 deno run -A kernels/lab/last_probe.ts 200 "33,50,66,99,132,1024" "base:def:0,nd:def:0,base:16/1:0,nds:16/1:0" 5 > $O/b0/last_probe.txt 2>&1
cat $O/b0/last_probe.txt
tar -C $O -czf $OUT/b0.tgz b0
