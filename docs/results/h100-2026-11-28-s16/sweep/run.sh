set -u
O=$OUT/sw; mkdir -p $O
timeout 280 deno run -A kernels/lab/matmul_probe.ts 5 sweep 2>&1 | tee $O/sweep.txt | grep -v "^$"
