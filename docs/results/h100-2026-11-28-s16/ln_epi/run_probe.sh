set -u
O=$OUT/p; mkdir -p $O
timeout 250 deno run -A kernels/lab/ln_epi_probe.ts 9 204800 tmp/kv_v1/,tmp/kv_v2/,tmp/kv_v1/,tmp/kv_v2/ 2>&1 | tee $O/probe.txt
