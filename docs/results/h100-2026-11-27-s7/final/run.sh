set -u
R=$PWD
O=/tmp/o; rm -rf $O; mkdir -p $O
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
export SS4REC_SHARED=$R/.device/shared
cd .device/src
timeout 200 deno task bench --out $O/final > $O/final.log 2>&1
cp $O/final.log $O/final/
(time timeout 240 deno test -A tests/) > $O/final/tests.txt 2>&1
tar -C $O -czf $OUT/final.tgz final
grep "^bench:" $O/final.log | grep -E "train step L=200(,|:|$)|prefix|packed tokens|L=50|sequence mode \(" | grep -v "host\|build" | cut -c1-60,170-240
grep -E "passed|FAILED|real" $O/final/tests.txt | tail -3
