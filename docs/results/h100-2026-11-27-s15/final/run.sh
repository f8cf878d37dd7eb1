set -u
R=$PWD
mkdir -p $OUT/fin
cd $R/.device/src
timeout 200 deno task bench --out $OUT/fin/bench > $OUT/fin/bench.log 2>&1
grep "^bench:" $OUT/fin/bench.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|every row|GPU time|peak GPU memory|sequence mode \(|padded steps|959 steps" | grep -v "host\|build" | sed 's/estimated from 48; capacities[0-9 ]*//; s/(658.*capacities [0-9 ]*)//; s/(capacity [0-9]*)//' | cut -c1-160
cd $R
bash .device/run_q11.sh
cd $R/.device/src
export SS4REC_SHARED=$R/.device/shared
(time timeout 280 deno test -A tests/) > $OUT/q/tests.txt 2>&1
grep -E "passed|FAILED|real" $OUT/q/tests.txt | tail -3
