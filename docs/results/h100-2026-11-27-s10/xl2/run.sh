set -u
R=$PWD
O=/tmp/o; rm -rf $O; mkdir -p $O/xl2
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
export SS4REC_SHARED=$R/.device/shared
cd .device/src
timeout 200 deno task bench --no-profile --out $O/xl2/new > $O/xl2/new.log 2>&1
(cd tmp/base14 && timeout 150 deno task bench --no-profile --out $O/xl2/base-9ccad1a > $O/xl2/base.log 2>&1)
tar -C $O -czf $OUT/xl2.tgz xl2
for f in base new; do echo "## $f"; grep "^bench:" $O/xl2/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|peak|sequence mode: [0-9]|eval 6,040 users, ML-1M lengths, packed tokens \(.*GPU" | grep -v "host\|build" | sed 's/(658.*capacities [0-9 ]*)//' | cut -c1-120; done
grep -E "mamba:|conv1d:bc|matmul" $O/xl2/new/bench.md | head -8
grep -E "passed|FAILED|real" $O/xl2/tests.txt | tail -3
