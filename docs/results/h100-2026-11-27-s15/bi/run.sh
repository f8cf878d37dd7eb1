set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/bi
R=$PWD
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
cd .device/src
export SS4REC_SHARED=$R/.device/shared
timeout 240 deno test -A tests/s5_test.ts tests/ss4rec_parity_test.ts tests/ops_test.ts > $O/bi/tests.txt 2>&1; echo "tests rc=$?"
grep -E "passed|FAILED" $O/bi/tests.txt | tail -4
timeout 200 deno task bench --out $O/bi/new > $O/bi/new.log 2>&1
(cd tmp/base15b && timeout 150 deno task bench --no-profile --out $O/bi/base > $O/bi/base.log 2>&1)
timeout 150 deno task bench --no-profile --out $O/bi/new2 > $O/bi/new2.log 2>&1
(cd tmp/base15b && timeout 150 deno task bench --no-profile --out $O/bi/base2 > $O/bi/base2.log 2>&1)
tar -C $O -czf $OUT/bi.tgz bi
for f in new base new2 base2; do echo "## $f"; grep "^bench:" $O/bi/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|L=50 |every row|packed tokens, one batch.*GPU|eval 6,040 users, ML-1M lengths, packed tokens \(|peak GPU memory" | grep -v "host\|build" | sed 's/estimated from 48; capacities[0-9 ]*//; s/(capacity [0-9]*)//' | cut -c1-150; done
grep -E "matmul:main|embedding:|s5:|layernorm:ln_backward4" $O/bi/new/bench.md
