set -u
R=$PWD
O=$OUT/ab; mkdir -p $O
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $O/gpu.txt 2>&1
export SS4REC_SHARED=$R/.device/shared
(time timeout 200 deno test -A ${TESTS:-tests/ss4rec_parity_test.ts}) > $O/tests.txt 2>&1
grep -E "passed|FAILED|real" $O/tests.txt | tail -4
summ() { grep "^bench:" $1 | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|every row|GPU time per pass.*packed tokens \(|peak GPU memory" | grep -v "host\|build\|L=50\|B=256\|sequence" | sed 's/estimated from 48; capacities[0-9 ]*//; s/(658.*capacities [0-9 ]*)//' | cut -c1-150; }
timeout 200 deno task bench --out $O/new > $O/new.log 2>&1; echo "== new"; summ $O/new.log
(cd tmp/base16 && timeout 200 deno task bench --out $O/base > $O/base.log 2>&1); echo "== base"; summ $O/base.log
timeout 120 deno task bench --no-profile --out $O/new2 > $O/new2.log 2>&1; echo "== new2"; summ $O/new2.log
(cd tmp/base16 && timeout 200 deno task bench --no-profile --out $O/base2 > $O/base2.log 2>&1); echo "== base2"; summ $O/base2.log
for v in new base; do echo "== $v"; grep -E "s5:" $O/$v/bench.md; done
cd $O && tar czf out.tgz new base new2 base2 && rm -rf new base new2 base2
