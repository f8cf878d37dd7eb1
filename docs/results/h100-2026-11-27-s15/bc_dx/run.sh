set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/be
R=$PWD
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
cd .device/src
export SS4REC_SHARED=$R/.device/shared
timeout 240 deno test -A tests/mamba_test.ts tests/buckets_test.ts > $O/be/tests.txt 2>&1; echo "tests rc=$?"
grep -E "passed|FAILED" $O/be/tests.txt | tail -4
timeout 200 deno task bench --out $O/be/new > $O/be/new.log 2>&1
(cd tmp/base15c && timeout 150 deno task bench --no-profile --out $O/be/base > $O/be/base.log 2>&1)
tar -C $O -czf $OUT/be.tgz be
for f in new base; do echo "## $f"; grep "^bench:" $O/be/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|L=50 |every row|packed tokens, one batch.*GPU|eval 6,040 users, ML-1M lengths, packed tokens \(|peak GPU memory" | grep -v "host\|build" | sed 's/estimated from 48; capacities[0-9 ]*//; s/(capacity [0-9]*)//' | cut -c1-150; done
grep -E "matmul:main|conv1d:" $O/be/new/bench.md
