set -u
R=$PWD
O=/tmp/o; rm -rf $O; mkdir -p $O
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
export SS4REC_SHARED=$R/.device/shared
cd .device/src
timeout 150 deno test -A tests/mamba_test.ts tests/ss4rec_parity_test.ts tests/eval_forward_test.ts tests/s5_test.ts > $O/tests.txt 2>&1
for i in 1 2; do
  for v in base new; do
    D=.; A=""
    [ $v = base ] && D=tmp/base
    [ $v = new4 ] && A="--scan-slices 4"
    (cd $D && timeout 100 deno task bench $A --out $O/$v$i > $O/$v$i.log 2>&1)
  done
done
cp $O/*.log $O/tests.txt $OUT/
grep -E "passed|FAILED" $O/tests.txt | tail -2
for f in base1 new1 base2 new2; do echo "== $f"; grep -E "^\| (train step L=200 \||ML-1M epoch \(prefix mode, real|train step L=200: peak|train step L=200, sequence mode: peak|train step L=50 \||eval 6,040 users \||eval 6,040 users, ML-1M lengths, (padded: GPU|length buckets \(L_b 64 160 200\): GPU)|ML-1M-shaped epoch, sequence mode \()" $O/$f.log | cut -c1-120; grep -E "^\| (mamba:scan_bwd|matmul:main|elementwise:add|s5:skip_backward)" $O/$f.log; done
