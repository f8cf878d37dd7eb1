set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/sg
R=$PWD
mkdir -p .device/shared/data && ln -sfn $R/.device/golden .device/shared/golden && ln -sfn $R/.device/data/ml-100k .device/shared/data/ml-100k
cd .device/src
export SS4REC_SHARED=$R/.device/shared
timeout 120 deno test -A tests/mamba_test.ts tests/ss4rec_parity_test.ts > $O/sg/tests.txt 2>&1; echo "tests rc=$?"
grep -E "passed|FAILED" $O/sg/tests.txt | tail -4
timeout 200 deno run -A kernels/lab/kernel_ab.ts 1024 200 2048 "tmp/kbase14/,tmp/knew48/,tmp/kbase14/,tmp/knew48/" 2 > $O/sg/kernel_ab.txt 2>&1
grep -E "^## |step mamba:scan_bwd|step conv1d|step wall" $O/sg/kernel_ab.txt
timeout 200 deno task bench --out $O/sg/new > $O/sg/new.log 2>&1
(cd tmp/base14 && timeout 150 deno task bench --no-profile --out $O/sg/base > $O/sg/base.log 2>&1)
tar -C $O -czf $OUT/sg.tgz sg
for f in new base; do echo "## $f"; grep "^bench:" $O/sg/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|every row|packed tokens, one batch.*GPU|peak GPU memory" | grep -v "host\|build" | sed 's/estimated from 48; capacities[0-9 ]*//; s/(capacity [0-9]*)//' | cut -c1-150; done
grep -E "mamba:scan_bwd" $O/sg/new/bench.md
