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
cp $O/*.log $O/tests.txt $OUT/; cp $O/new2/bench.md $O/new2/bench.json $OUT/
grep -E "passed|FAILED|real" $O/tests.txt | tail -3
for f in base1 new1 base2 new2; do echo "== $f"; grep -E "^\| (train step L=200 \||eval 2,048 users \||eval 6,040 users \||eval 6,040 users, ML-1M lengths, (padded: GPU|length buckets \(L_b [0-9 ]*\): GPU|length buckets, eval batch 512 \(L_b [0-9 ]*\): GPU))" $O/$f.log | sed -E 's/\(L_b [0-9 ]*\)//; s/ \(10 passes per sync\)//' | cut -c1-110; grep -A4 "evaluation graph, 2048" $O/$f.log | tail -1; done
