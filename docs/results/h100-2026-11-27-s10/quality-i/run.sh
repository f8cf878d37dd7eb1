set -u
R=$PWD
O=/tmp/o2; rm -rf $O; mkdir -p $O
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k && ln -sfn $R/.device .device/src/.device
cd .device/src
export SS4REC_SHARED=$R/.device/shared
timeout 500 deno task experiments --plan .device/plans/i.json --out $O/expi > $O/expi.log 2>&1
mkdir -p $OUT/q; cp $O/expi/summary.md $OUT/q/summary-i.md 2>/dev/null; cp $O/expi/results.jsonl $OUT/q/results-i.jsonl 2>/dev/null; cp $O/expi.log $OUT/q/; cp .device/plans/i.json $OUT/q/plan-i.json
sed -n '/^| data/,$p' $O/expi/summary.md 2>/dev/null | head -8; tail -2 $O/expi.log
