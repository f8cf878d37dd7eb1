set -u
R=$PWD
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
export SS4REC_SHARED=$R/.device/shared
cd .device/src
O2=/tmp/o2; rm -rf $O2; mkdir -p $O2
ln -sfn $R/.device .device
timeout 550 deno task experiments --plan .device/plans/i.json --out $O2/expi > $O2/expi.log 2>&1
mkdir -p $OUT/q; cp $O2/expi/summary.md $OUT/q/summary-i.md 2>/dev/null; cp $O2/expi/results.jsonl $OUT/q/results-i.jsonl 2>/dev/null; cp $O2/expi.log $OUT/q/; cp $R/.device/plans/i.json $OUT/q/plan-i.json
sed -n '/^| data/,$p' $O2/expi/summary.md 2>/dev/null | head -4; tail -2 $O2/expi.log
