set -u
R=$PWD
O=/tmp/o; rm -rf $O; mkdir -p $O/la
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
export SS4REC_SHARED=$R/.device/shared
cd .device/src
(cd tmp/base && timeout 200 deno task bench --no-profile --out $O/la/base-9812378 > $O/la/base.log 2>&1)
timeout 220 deno task bench --out $O/la/new > $O/la/new.log 2>&1
timeout 150 deno test -A tests/mamba_test.ts tests/ss4rec_parity_test.ts > $O/la/tests.txt 2>&1
tar -C $O -czf $OUT/la.tgz la
grep -E "passed|FAILED" $O/la/tests.txt | tail -3
for f in base new; do echo "## $f"; grep "^bench:" $O/la/$f.log | grep -E "train step L=200(,|:|$)|packed tokens|L=50|sequence mode( \(|:)|eval 6,040 users, ML-1M lengths, packed|peak" | grep -v "host\|build" | cut -c1-70,170-240; done
