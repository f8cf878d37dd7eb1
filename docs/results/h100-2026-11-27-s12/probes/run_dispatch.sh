set -u
R=$PWD
cd .device/src
mkdir -p $OUT/dp
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv > $OUT/dp/smi.txt 2>&1
timeout 240 deno run -A kernels/lab/dispatch_probe.ts 12 40 > $OUT/dp/dispatch_probe.txt 2>&1
cat $OUT/dp/dispatch_probe.txt | grep -v "^\s*at"
