set -u
R=$PWD
O=$OUT/ab; mkdir -p $O
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $O/gpu.txt 2>&1
export SS4REC_SHARED=$R/.device/shared
(time timeout 150 deno test -A tests/ops_test.ts tests/ss4rec_parity_test.ts tests/s5_test.ts --filter "epilogue|parity|S5") > $O/tests.txt 2>&1
grep -E "passed|FAILED|real|worst" $O/tests.txt | tail -8
summ() { grep "^bench:" $1 | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|every row|GPU time per pass.*packed tokens \(|peak GPU memory" | grep -v "host\|build" | sed 's/estimated from 48; capacities[0-9 ]*//; s/(658.*capacities [0-9 ]*)//' | cut -c1-150; }
timeout 200 deno task bench --out $O/new > $O/new.log 2>&1; echo "== new"; summ $O/new.log
(cd tmp/base16 && timeout 200 deno task bench --no-profile --out $O/base > $O/base.log 2>&1); echo "== base"; summ $O/base.log
timeout 120 deno task bench --no-profile --out $O/new2 > $O/new2.log 2>&1; echo "== new2"; summ $O/new2.log
