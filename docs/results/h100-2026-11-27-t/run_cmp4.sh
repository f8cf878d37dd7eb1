set -u
O=/tmp/o; rm -rf $O; mkdir -p $O
cd .device/src
for i in 1 2; do
  for v in base new; do
    D=.; [ $v = base ] && D=tmp/base
    (cd $D && timeout 100 deno task bench --out $O/$v$i > $O/$v$i.log 2>&1)
  done
done
cp $O/*.log $OUT/
for f in base1 new1 base2 new2; do echo "== $f"; grep -E "^\| (train step L=200 \||eval 6,040 users \||eval 6,040 users, ML-1M lengths, (padded: GPU|length buckets \(L_b [0-9 ]*\): GPU|length buckets, eval batch 512 \(L_b [0-9 ]*\): GPU))" $O/$f.log | cut -c1-150; done
