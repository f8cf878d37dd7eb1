set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/s46
cd .device/src
timeout 200 deno run -A kernels/lab/last_probe.ts 200 "33,50,66,99,132,1024" "base:def:1,new:def:1,base:def:0,new:def:0" 5 > $O/s46/last_probe.txt 2>&1
cat $O/s46/last_probe.txt
timeout 300 deno run -A kernels/lab/kernel_ab.ts 1024 200 2048 "tmp/kbase/,tmp/knew/,tmp/kbase/,tmp/knew/" 2 > $O/s46/kernel_ab.txt 2>&1
tar -C $O -czf $OUT/s46.tgz s46
grep -E "^## |scan_bwd|step wall" $O/s46/kernel_ab.txt
