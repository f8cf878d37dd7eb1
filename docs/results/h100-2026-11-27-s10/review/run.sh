set -u
R=$PWD
O=/tmp/o; rm -rf $O; mkdir -p $O/rv
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
export SS4REC_SHARED=$R/.device/shared
cd .device/src
timeout 200 deno task bench --no-profile --out $O/rv/new > $O/rv/new.log 2>&1
(cd tmp/base17 && timeout 150 deno task bench --no-profile --out $O/rv/base-7a2a894 > $O/rv/base.log 2>&1)
tar -C $O -czf $OUT/rv.tgz rv
for f in base new; do echo "## $f"; grep "^bench:" $O/rv/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|peak|sequence mode: [0-9]|eval 6,040 users, ML-1M lengths, packed tokens \(.*GPU" | grep -v "host\|build" | sed 's/(658.*capacities [0-9 ]*)//' | cut -c1-120; done
grep -E "mamba:|conv1d:bc|matmul" $O/rv/new/bench.md | head -8
grep -E "passed|FAILED|real" $O/rv/tests.txt | tail -3
deno test -A tests/mamba_test.ts tests/ss4rec_parity_test.ts tests/eval_forward_test.ts 2>&1 | grep -E "passed|FAILED" | tail -2
