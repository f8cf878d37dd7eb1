set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/rf2
cd .device/src
timeout 300 deno run -A kernels/lab/kernel_ab.ts 1024 200 2048 "tmp/kOLD/,tmp/kNEW/" 3 > $O/rf2/kernel_ab.txt 2>&1
grep -E "^## |scan_bwd" $O/rf2/kernel_ab.txt
tar -C $O -czf $OUT/rf2.tgz rf2
