set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/ep
cd .device/src
timeout 200 deno run -A kernels/lab/eval_probe.ts > $O/ep/eval_probe.txt 2>&1
cat $O/ep/eval_probe.txt
timeout 300 deno run -A kernels/lab/kernel_ab.ts 1024 200 2048 "tmp/kOLD/,tmp/kW/" 3 > $O/ep/kernel_ab_wlen.txt 2>&1
grep -E "^## |scan_bwd" $O/ep/kernel_ab_wlen.txt
tar -C $O -czf $OUT/ep.tgz ep
