set -u
R=$PWD
O=/tmp/o; rm -rf $O; mkdir -p $O/final
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
export SS4REC_SHARED=$R/.device/shared
cd .device/src
nvidia-smi --query-gpu=name,driver_version --format=csv > $O/final/smi.txt 2>&1
(cd tmp/base19 && timeout 150 deno task bench --no-profile --out $O/final/start-cc0c270 > $O/final/start.log 2>&1)
timeout 200 deno task bench --out $O/final/final-ad1ba28 > $O/final/final.log 2>&1
(cd tmp/base19 && timeout 150 deno task bench --no-profile --out $O/final/start2-cc0c270 > $O/final/start2.log 2>&1)
(time timeout 280 deno test -A tests/) > $O/final/tests.txt 2>&1
tar -C $O -czf $OUT/final.tgz final
for f in start final start2; do echo "## $f"; grep "^bench:" $O/final/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|peak|sequence mode: [0-9]|epoch, sequence mode|eval 6,040 users, ML-1M lengths, packed tokens|one batch" | grep -v "host\|build" | sed 's/(658.*capacities [0-9 ]*)//; s/estimated from 48; capacities[0-9 ]*//' | cut -c1-150; done
grep -E "passed|FAILED|real" $O/final/tests.txt | tail -3
