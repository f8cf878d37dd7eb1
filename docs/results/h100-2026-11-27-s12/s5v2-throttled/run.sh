set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/s5v2
cd .device/src
NEW=$(git -C /dev/null rev-parse 2>/dev/null; echo new)
(cd tmp/base12b && timeout 150 deno task bench --no-profile --out $O/s5v2/base-94d6451 > $O/s5v2/base.log 2>&1)
timeout 200 deno task bench --out $O/s5v2/new > $O/s5v2/new.log 2>&1
(cd tmp/base12b && timeout 150 deno task bench --no-profile --out $O/s5v2/base2-94d6451 > $O/s5v2/base2.log 2>&1)
(time timeout 200 deno test -A tests/s5_test.ts tests/ss4rec_parity_test.ts tests/buckets_test.ts) > $O/s5v2/tests.txt 2>&1
tar -C $O -czf $OUT/s5v2.tgz s5v2
for f in base new base2; do echo "## $f"; grep "^bench:" $O/s5v2/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|L=50:|packed tokens .*GPU" | grep -v "host\|build\|memory" | sed 's/(658.*capacities [0-9 ]*)//; s/estimated from 48; capacities[0-9 ]*//' | cut -c1-140; done
grep -E "s5:" $O/s5v2/new/bench.md | head -8
grep -E "passed|FAILED|real" $O/s5v2/tests.txt | tail -3
