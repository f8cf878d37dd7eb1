set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/fe8
cd .device/src
timeout 200 deno run -A kernels/lab/kernel_ab.ts 1024 200 2048 "tmp/knew2/,tmp/kfe8/,tmp/knew2/,tmp/kfe8/" 2 > $O/fe8/kernel_ab.txt 2>&1
tar -C $O -czf $OUT/fe8.tgz fe8
grep -E "^## |scan_fwd_e|step wall" $O/fe8/kernel_ab.txt
