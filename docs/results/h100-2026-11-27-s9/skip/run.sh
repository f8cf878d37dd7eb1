set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/sk
cd .device/src
(cd tmp/base2 && timeout 200 deno task bench --no-profile --out $O/sk/base-9d6b5a3 > $O/sk/base.log 2>&1)
timeout 220 deno task bench --out $O/sk/new > $O/sk/new.log 2>&1
timeout 100 deno run -A kernels/lab/eval_probe.ts > $O/sk/eval_probe.txt 2>&1
tar -C $O -czf $OUT/sk.tgz sk
for f in base new; do echo "## $f"; grep "^bench:" $O/sk/$f.log | grep -E "train step L=200(,|:|$)|packed tokens|L=50: [0-9]|sequence mode: [0-9]|peak" | grep -v "host\|build" | sed 's/(658.*capacities [0-9 ]*)//' | cut -c1-150; done
head -5 $O/sk/eval_probe.txt
