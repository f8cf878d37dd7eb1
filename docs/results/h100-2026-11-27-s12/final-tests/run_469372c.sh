set -u
R=$PWD
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
export SS4REC_SHARED=$R/.device/shared
cd .device/src
mkdir -p $OUT/t12b
(time timeout 300 deno test -A tests/gpu_matmul_test.ts tests/ops_test.ts tests/ss4rec_parity_test.ts tests/mamba_test.ts) > $OUT/t12b/tests.txt 2>&1
grep -E "FAILED|passed|real" $OUT/t12b/tests.txt | tail -4
