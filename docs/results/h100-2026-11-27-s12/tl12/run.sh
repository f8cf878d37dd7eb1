set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/tl12
cd .device/src
(cd tmp/base12d && timeout 150 deno task bench --no-profile --out $O/tl12/base-e208290 > $O/tl12/base.log 2>&1)
timeout 200 deno task bench --out $O/tl12/new-1c958d9 > $O/tl12/new.log 2>&1
(cd tmp/base12d && timeout 150 deno task bench --no-profile --out $O/tl12/base2-e208290 > $O/tl12/base2.log 2>&1)
(time timeout 200 deno test -A tests/mamba_test.ts tests/ss4rec_parity_test.ts tests/bench_test.ts tests/gpu_matmul_test.ts) > $O/tl12/tests.txt 2>&1
tar -C $O -czf $OUT/tl12.tgz tl12
for f in base new base2; do echo "## $f"; grep "^bench:" $O/tl12/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|L=50:|peak|packed tokens .*GPU" | grep -v "host\|build" | sed 's/(658.*capacities [0-9 ]*)//; s/estimated from 48; capacities[0-9 ]*//' | cut -c1-140; done
grep -E "matmul:main" $O/tl12/new-1c958d9/bench.md | head -2
grep -E "x_proj.weight matmul.splitK" $O/tl12/new-1c958d9/dispatches.md | head -4 | cut -c1-40,150-
grep -E "passed|FAILED|real" $O/tl12/tests.txt | tail -3
