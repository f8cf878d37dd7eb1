set -u
R=$PWD
O=/tmp/o; rm -rf $O; mkdir -p $O/xf
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
export SS4REC_SHARED=$R/.device/shared
cd .device/src
(cd tmp/base16 && timeout 150 deno task bench --no-profile --out $O/xf/base-0a3dc8b > $O/xf/base.log 2>&1)
timeout 200 deno task bench --out $O/xf/new > $O/xf/new.log 2>&1
(time timeout 200 deno test -A tests/mamba_test.ts tests/buckets_test.ts tests/eval_forward_test.ts tests/ss4rec_parity_test.ts) > $O/xf/tests.txt 2>&1
tar -C $O -czf $OUT/xf.tgz xf
for f in base new; do echo "## $f"; grep "^bench:" $O/xf/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|peak|sequence mode: [0-9]|eval 6,040 users, ML-1M lengths, packed tokens \(.*GPU" | grep -v "host\|build" | sed 's/(658.*capacities [0-9 ]*)//' | cut -c1-120; done
grep -E "mamba:|conv1d:conv|matmul" $O/xf/new/bench.md | head -8
grep -E "passed|FAILED|real" $O/xf/tests.txt | tail -3
