set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/l13
cd .device/src
timeout 200 deno run -A kernels/lab/last_probe.ts 200 "33,66,99,132,165,264,1024" "cur:def:1,l1:def:1,l2:def:1" 5 > $O/l13/last_probe.txt 2>&1
cat $O/l13/last_probe.txt
timeout 300 deno run -A kernels/lab/kernel_ab.ts 1024 200 2048 "kernels/,tmp/kl1/,tmp/kl2/,kernels/" 2 > $O/l13/kernel_ab.txt 2>&1
tar -C $O -czf $OUT/l13.tgz l13
grep -E "^## |scan_bwd|step wall" $O/l13/kernel_ab.txt
