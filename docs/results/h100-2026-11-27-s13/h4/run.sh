set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/h4
cd .device/src
timeout 150 deno run -A kernels/lab/last_probe.ts 200 "33,66,99,132,165,198,1024" "base:def:1,new:def:1,h4:def:1" 5 > $O/h4/last_probe.txt 2>&1
cat $O/h4/last_probe.txt
timeout 300 deno run -A kernels/lab/kernel_ab.ts 1024 200 2048 "tmp/kbase/,tmp/knew/,tmp/kh4/,tmp/kbase/,tmp/knew/,tmp/kh4/" 2 > $O/h4/kernel_ab.txt 2>&1
tar -C $O -czf $OUT/h4.tgz h4
grep -E "^## |scan_bwd|step wall" $O/h4/kernel_ab.txt
