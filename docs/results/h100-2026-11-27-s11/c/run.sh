set -u
R=$PWD
O=/tmp/o; rm -rf $O; mkdir -p $O/c
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
export SS4REC_SHARED=$R/.device/shared
cd .device/src
(cd tmp/base18 && timeout 150 deno task bench --no-profile --out $O/c/base-baa5e1a > $O/c/base.log 2>&1)
timeout 200 deno task bench --out $O/c/new > $O/c/new.log 2>&1
(cd tmp/base18 && timeout 150 deno task bench --no-profile --out $O/c/base2-baa5e1a > $O/c/base2.log 2>&1)
(time timeout 300 deno test -A tests/mamba_test.ts tests/ss4rec_parity_test.ts tests/bench_test.ts tests/buckets_test.ts tests/train_test.ts) > $O/c/tests.txt 2>&1
tar -C $O -czf $OUT/c.tgz c
for f in base new base2; do echo "## $f"; grep "^bench:" $O/c/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|peak|sequence mode: [0-9]|eval 6,040 users, ML-1M lengths, packed tokens \(.*GPU" | grep -v "host\|build" | sed 's/(658.*capacities [0-9 ]*)//; s/estimated from 48; capacities[0-9 ]*//' | cut -c1-120; done
grep -E "mamba:|conv1d:conv" $O/c/new/bench.md | head -12
grep -E "passed|FAILED|real" $O/c/tests.txt | tail -3
