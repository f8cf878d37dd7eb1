set -u
R=$PWD
O=/tmp/o; rm -rf $O; mkdir -p $O/kz
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
export SS4REC_SHARED=$R/.device/shared
cd .device/src
(cd tmp/base15 && timeout 150 deno task bench --no-profile --out $O/kz/base-fd134e3 > $O/kz/base.log 2>&1)
timeout 200 deno task bench --out $O/kz/new > $O/kz/new.log 2>&1
(time timeout 200 deno test -A tests/mamba_test.ts tests/buckets_test.ts tests/ss4rec_parity_test.ts tests/train_test.ts) > $O/kz/tests.txt 2>&1
tar -C $O -czf $OUT/kz.tgz kz
for f in base new; do echo "## $f"; grep "^bench:" $O/kz/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|peak|sequence mode: [0-9]|eval 6,040 users, ML-1M lengths, packed tokens \(.*GPU" | grep -v "host\|build" | sed 's/(658.*capacities [0-9 ]*)//' | cut -c1-120; done
grep -E "mamba:|conv1d:conv|matmul" $O/kz/new/bench.md | head -8
grep -E "passed|FAILED|real" $O/kz/tests.txt | tail -3
