set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/sp
R=$PWD
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
cd .device/src
export SS4REC_SHARED=$R/.device/shared
timeout 240 deno test -A tests/s5_test.ts tests/ss4rec_parity_test.ts tests/buckets_test.ts > $O/sp/tests.txt 2>&1; echo "tests rc=$?"
grep -E "passed|FAILED" $O/sp/tests.txt | tail -4
timeout 200 deno task bench --out $O/sp/new > $O/sp/new.log 2>&1
(cd tmp/base15e && timeout 150 deno task bench --no-profile --out $O/sp/base > $O/sp/base.log 2>&1)
tar -C $O -czf $OUT/sp.tgz sp
for f in new base; do echo "## $f"; grep "^bench:" $O/sp/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|L=50 |every row|packed tokens, one batch.*GPU|eval 6,040 users, ML-1M lengths, packed tokens \(|peak GPU memory" | grep -v "host\|build" | sed 's/estimated from 48; capacities[0-9 ]*//; s/(capacity [0-9]*)//' | cut -c1-150; done
grep -E "matmul:main|s5:|embedding:emb_gather" $O/sp/new/vlnch.md
grep -E "s5:" $O/sp/new/bench.md
