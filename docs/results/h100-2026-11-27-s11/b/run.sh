set -u
R=$PWD
O=/tmp/o; rm -rf $O; mkdir -p $O/b
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
export SS4REC_SHARED=$R/.device/shared
cd .device/src
(cd tmp/base17 && timeout 150 deno task bench --no-profile --out $O/b/base-2651cbe > $O/b/base.log 2>&1)
timeout 200 deno task bench --out $O/b/new > $O/b/new.log 2>&1
(cd tmp/base17 && timeout 150 deno task bench --no-profile --out $O/b/base2-2651cbe > $O/b/base2.log 2>&1)
(time timeout 200 deno test -A tests/ops_test.ts tests/train_test.ts) > $O/b/tests.txt 2>&1
tar -C $O -czf $OUT/b.tgz b
for f in base new base2; do echo "## $f"; grep "^bench:" $O/b/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|peak|sequence mode: [0-9]|eval 6,040 users, ML-1M lengths, packed tokens \(.*GPU" | grep -v "host\|build" | sed 's/(658.*capacities [0-9 ]*)//; s/estimated from 48; capacities[0-9 ]*//' | cut -c1-120; done
grep -E "embedding:" $O/b/new/bench.md | head -12
grep -E "passed|FAILED|real" $O/b/tests.txt | tail -3
