set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/s5f
cd .device/src
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw,clocks_throttle_reasons.active --format=csv > $O/s5f/smi_before.txt 2>&1
(cd tmp/base12b && timeout 150 deno task bench --no-profile --out $O/s5f/base-94d6451 > $O/s5f/base.log 2>&1)
timeout 200 deno task bench --out $O/s5f/new-ec45dd8 > $O/s5f/new.log 2>&1
(cd tmp/base12b && timeout 150 deno task bench --no-profile --out $O/s5f/base2-94d6451 > $O/s5f/base2.log 2>&1)
timeout 150 deno task bench --no-profile --out $O/s5f/new2-ec45dd8 > $O/s5f/new2.log 2>&1
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw,clocks_throttle_reasons.active --format=csv > $O/s5f/smi_after.txt 2>&1
(time timeout 200 deno test -A tests/s5_test.ts tests/ss4rec_parity_test.ts tests/buckets_test.ts) > $O/s5f/tests.txt 2>&1
tar -C $O -czf $OUT/s5f.tgz s5f
for f in base new base2 new2; do echo "## $f"; grep "^bench:" $O/s5f/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|L=50:|packed tokens .*GPU" | grep -v "host\|build\|memory" | sed 's/(658.*capacities [0-9 ]*)//; s/estimated from 48; capacities[0-9 ]*//' | cut -c1-140; done
grep -E "s5:|matmul:main" $O/s5f/new-ec45dd8/bench.md | head -8
cat $O/s5f/smi_before.txt $O/s5f/smi_after.txt
grep -E "passed|FAILED|real" $O/s5f/tests.txt | tail -3
