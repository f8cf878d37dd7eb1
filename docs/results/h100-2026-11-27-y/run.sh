set -u
R=$PWD
O=/tmp/o; rm -rf $O; mkdir -p $O
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
export SS4REC_SHARED=$R/.device/shared
cd .device/src
timeout 240 deno task bench --out $O/bench > $O/bench.log 2>&1
cp $O/bench.log $OUT/; cp $O/bench/*.md $O/bench/bench.json $OUT/ 2>/dev/null
grep "^bench:" $O/bench.log | grep -E "train step L=200|prefix|eval 6,040 users, ML-1M lengths, packed" | cut -c1-200
(time timeout 300 deno test -A tests/) > $O/tests.txt 2>&1
cp $O/tests.txt $OUT/
grep -E "passed|FAILED|real" $O/tests.txt | tail -4
