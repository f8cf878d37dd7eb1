set -u
R=$PWD
O=/tmp/o; rm -rf $O; mkdir -p $O/ra
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
export SS4REC_SHARED=$R/.device/shared
cd .device/src
(cd tmp/base4 && timeout 150 deno task bench --no-profile --out $O/ra/base-510b6f6 > $O/ra/base.log 2>&1)
timeout 200 deno task bench --out $O/ra/new > $O/ra/new.log 2>&1
(time timeout 240 deno test -A tests/) > $O/ra/tests.txt 2>&1
tar -C $O -czf $OUT/ra.tgz ra
for f in base new; do echo "## $f"; grep "^bench:" $O/ra/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|peak|sequence mode: [0-9]|eval 6,040 users, ML-1M lengths, packed tokens \(.*GPU" | grep -v "host\|build" | sed 's/(658.*capacities [0-9 ]*)//' | cut -c1-120; done
grep -E "passed|FAILED|real" $O/ra/tests.txt | tail -3
