set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/ln
cd .device/src
timeout 200 deno run -A kernels/lab/kernel_ab.ts 1024 200 2048 "tmp/knew2/,tmp/kln/,tmp/knew2/,tmp/kln/" 2 > $O/ln/kernel_ab.txt 2>&1
tar -C $O -czf $OUT/ln.tgz ln
grep -E "^## |layernorm|step wall" $O/ln/kernel_ab.txt
