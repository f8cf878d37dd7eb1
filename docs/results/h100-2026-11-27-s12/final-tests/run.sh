set -u
R=$PWD
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
export SS4REC_SHARED=$R/.device/shared
cd .device/src
mkdir -p $OUT/t12
(time timeout 500 deno test -A tests/) > $OUT/t12/tests.txt 2>&1
grep -E "FAILED|passed|real" $OUT/t12/tests.txt | tail -4
