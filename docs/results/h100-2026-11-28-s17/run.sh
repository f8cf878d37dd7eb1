set -u
R=$PWD
O=$OUT/s17; mkdir -p $O
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $O/gpu.txt 2>&1
summ() { grep "^bench:" $1 | grep -E "train step L=200(,|:|$)|packed tokens|59% of L|L=50: [0-9]|every row|GPU time per pass.*packed tokens \(|peak GPU memory|sequence mode \(|959 steps" | grep -v "host\|build" | sed 's/estimated from 48; capacities[0-9 ]*//; s/(658.*capacities [0-9 ]*)//; s/(capacity [0-9]*)//' | cut -c1-160; }
timeout 250 deno task bench --out $O/bench > $O/bench.log 2>&1; echo "== bench rc=$?"; summ $O/bench.log
timeout 200 deno task bench --no-profile --out $O/bench2 > $O/bench2.log 2>&1; echo "== bench2 rc=$?"; summ $O/bench2.log
cp .device/run_s17.sh $O/run.sh
