set -u
R=$PWD
O=/tmp/o; rm -rf $O; mkdir -p $O
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
export SS4REC_SHARED=$R/.device/shared
cd .device/src
S='train step L=200(,|:|$)|prefix|packed tokens, one|packed tokens \(658|L=50|sequence mode \('
timeout 200 deno task bench --out $O/a > $O/a.log 2>&1
timeout 150 deno task bench --no-profile --set recompute=mamba --out $O/mamba > $O/mamba.log 2>&1
timeout 150 deno task bench --no-profile --set recompute=false --out $O/off > $O/off.log 2>&1
for x in a mamba off; do mkdir -p $OUT/$x; cp $O/$x.log $O/$x/*.md $O/$x/bench.json $OUT/$x/ 2>/dev/null; echo "== $x"; grep "^bench:" $O/$x.log | grep -E "$S" | grep -v "host\|build" | cut -c1-120; done
(time timeout 240 deno test -A tests/) > $O/tests.txt 2>&1
cp $O/tests.txt $OUT/
grep -E "passed|FAILED|real" $O/tests.txt | tail -4
