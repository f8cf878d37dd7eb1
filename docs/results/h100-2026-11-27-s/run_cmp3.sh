set -u
R=$PWD
O=/tmp/o; rm -rf $O; mkdir -p $O
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
export SS4REC_SHARED=$R/.device/shared
cd .device/src
(time timeout 200 deno test -A tests/) > $O/tests.txt 2>&1
for i in 1 2; do
  for v in base new; do
    D=.; [ $v = base ] && D=tmp/base
    (cd $D && timeout 100 deno task bench --out $O/$v$i > $O/$v$i.log 2>&1)
  done
done
cp $O/*.log $O/tests.txt $OUT/; cp $O/new2/bench.md $OUT/bench.md; cp $O/new2/bench.json $OUT/bench.json
grep -E "passed|FAILED|real" $O/tests.txt | tail -3
for f in base1 new1 base2 new2; do echo "== $f"; grep -E "^\| (train step L=200 \||ML-1M epoch|train step L=200: peak|train step L=50 \||train step B=256, L=200 \||ML-1M-shaped epoch, sequence mode \()" $O/$f.log | cut -c1-120; grep -E "^\| (mamba:scan_bwd|mamba:scan_fwd_e|matmul:main) " $O/$f.log | head -3; done
