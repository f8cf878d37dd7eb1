set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/vt
R=$PWD
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
cd .device/src
export SS4REC_SHARED=$R/.device/shared
timeout 150 deno test -A tests/s5_test.ts tests/ss4rec_parity_test.ts > $O/vt/tests.txt 2>&1; echo "tests rc=$?"
grep -E "passed|FAILED" $O/vt/tests.txt | tail -4
timeout 200 deno task bench --out $O/vt/new > $O/vt/new.log 2>&1
(cd tmp/base15 && timeout 150 deno task bench --no-profile --out $O/vt/base > $O/vt/base.log 2>&1)
timeout 150 deno task bench --no-profile --out $O/vt/new2 > $O/vt/new2.log 2>&1
(cd tmp/base15 && timeout 150 deno task bench --no-profile --out $O/vt/base2 > $O/vt/base2.log 2>&1)
tar -C $O -czf $OUT/vt.tgz vt
for f in new base new2 base2; do echo "## $f"; grep "^bench:" $O/vt/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|L=50 |every row|packed tokens, one batch.*GPU|eval 6,040 users, ML-1M lengths, packed tokens \(|peak GPU memory" | grep -v "host\|build" | sed 's/estimated from 48; capacities[0-9 ]*//; s/(capacity [0-9]*)//' | cut -c1-150; done
grep -E "matmul:main|embedding:emb_gather4" $O/vt/new/bench.md
