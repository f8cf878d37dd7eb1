set -u
R=$PWD
O=/tmp/o; rm -rf $O; mkdir -p $O/final2
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
export SS4REC_SHARED=$R/.device/shared
cd .device/src
(cd tmp/base10 && timeout 150 deno task bench --no-profile --out $O/final2/start-95ca8e9 > $O/final2/start.log 2>&1)
timeout 200 deno task bench --out $O/final2/final-132aac7 > $O/final2/final.log 2>&1
(time timeout 280 deno test -A tests/) > $O/final2/tests.txt 2>&1
tar -C $O -czf $OUT/final2.tgz final2
for f in start final; do echo "## $f"; grep "^bench:" $O/final2/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|peak|sequence mode: [0-9]|epoch, sequence mode|eval 6,040 users, ML-1M lengths, packed tokens|one batch" | grep -v "host\|build" | sed 's/(658.*capacities [0-9 ]*)//' | cut -c1-150; done
grep -E "passed|FAILED|real" $O/final2/tests.txt | tail -3
O2=/tmp/o2; rm -rf $O2; mkdir -p $O2
ln -sfn $R/.device .device
timeout 300 deno task experiments --plan .device/plans/i.json --out $O2/expi > $O2/expi.log 2>&1
mkdir -p $OUT/q; cp $O2/expi/summary.md $OUT/q/summary-i.md 2>/dev/null; cp $O2/expi/results.jsonl $OUT/q/results-i.jsonl 2>/dev/null; cp $O2/expi.log $OUT/q/; cp $R/.device/plans/i.json $OUT/q/plan-i.json
sed -n '/^| data/,$p' $O2/expi/summary.md 2>/dev/null | head -4; tail -2 $O2/expi.log
