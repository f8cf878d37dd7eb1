set -u
R=$PWD
O=/tmp/o; rm -rf $O; mkdir -p $O
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
export SS4REC_SHARED=$R/.device/shared
cd .device/src
timeout 200 deno task bench --out $O/a > $O/a.log 2>&1
timeout 200 deno task bench --no-profile --set recompute=false --out $O/b > $O/b.log 2>&1
mkdir -p $OUT/a $OUT/b; cp $O/a.log $O/a/*.md $O/a/bench.json $OUT/a/ 2>/dev/null; cp $O/b.log $O/b/*.md $O/b/bench.json $OUT/b/ 2>/dev/null
for x in a b; do echo "== $x"; grep "^bench:" $O/$x.log | grep -E "train step L=200(,|:|$)|prefix|packed tokens, one|packed tokens \(658" | cut -c1-150; done
(time timeout 300 deno test -A tests/) > $O/tests.txt 2>&1
cp $O/tests.txt $OUT/
grep -E "passed|FAILED|real" $O/tests.txt | tail -4
