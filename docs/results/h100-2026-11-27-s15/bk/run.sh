set -u
O=/tmp/o; rm -rf $O; mkdir -p $O
cd .device/src
timeout 400 deno run -A kernels/lab/matmul_probe.ts 7 bk > $O/bk.txt 2>&1; echo rc=$?
cp $O/*.txt $OUT/
cat $O/bk.txt
