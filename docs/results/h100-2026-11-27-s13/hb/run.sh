set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/hb
cd .device/src
timeout 150 deno run -A kernels/lab/last_probe.ts 200 "33,50,66,99,132,1024" "base:def:1,new:def:1" 5 > $O/hb/last_probe.txt 2>&1
cat $O/hb/last_probe.txt
timeout 300 deno run -A kernels/lab/kernel_ab.ts 1024 200 2048 "tmp/kbase/,tmp/knew/,tmp/kbase/,tmp/knew/" 2 > $O/hb/kernel_ab.txt 2>&1
tar -C $O -czf $OUT/hb.tgz hb
grep -E "^## |scan_bwd|step wall" $O/hb/kernel_ab.txt
