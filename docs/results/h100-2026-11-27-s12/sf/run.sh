set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/sf
cd .device/src
timeout 400 deno run -A kernels/lab/kernel_ab.ts 1024 200 2048 "kernels/,tmp/kv20/,tmp/kv21_128/" 3 > $O/sf/kernel_ab.txt 2>&1
tar -C $O -czf $OUT/sf.tgz sf
grep -E "^## |s5:scan_forward|step wall" $O/sf/kernel_ab.txt
