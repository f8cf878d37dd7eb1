set -u
R=$PWD
O=/tmp/o; rm -rf $O; mkdir -p $O/final
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
export SS4REC_SHARED=$R/.device/shared
cd .device/src
(cd tmp/base && timeout 150 deno task bench --no-profile --out $O/final/start-9812378 > $O/final/start.log 2>&1)
timeout 200 deno task bench --out $O/final > $O/final/final.log 2>&1
(time timeout 300 deno test -A tests/) > $O/final/tests.txt 2>&1
tar -C $O -czf $OUT/final.tgz final
grep "^bench:" $O/final/final.log | grep -E "train step L=200(,|:|$)|prefix|packed tokens|L=50|sequence mode( \(|:)|eval 6,040 users, ML-1M lengths, packed|peak" | grep -v "host\|build" | sed 's/(658.*capacities [0-9 ]*)//' | cut -c1-120
grep -E "passed|FAILED|real" $O/final/tests.txt | tail -3
echo "## start 9812378"; grep "^bench:" $O/final/start.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|eval 6,040 users, ML-1M lengths, packed tokens \(.*GPU" | sed 's/(658.*capacities [0-9 ]*)//' | cut -c1-120
