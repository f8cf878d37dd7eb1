set -u
cd .device/src
mkdir -p $OUT/coop
nvidia-smi --query-gpu=name,driver_version,clocks.sm --format=csv > $OUT/coop/smi.txt 2>&1
timeout 200 deno run -A kernels/lab/coop_probe.ts > $OUT/coop/coop_probe.txt 2>&1; echo rc $?
cat $OUT/coop/coop_probe.txt | cut -c1-600
timeout 200 deno run -A kernels/lab/matmul_probe.ts 5 scale > $OUT/coop/mm_scale.txt 2>&1; tail -15 $OUT/coop/mm_scale.txt
