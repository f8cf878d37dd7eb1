set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/fl
cd .device/src
(cd tmp/base14 && timeout 150 deno task bench --no-profile --out $O/fl/base > $O/fl/base.log 2>&1)
timeout 200 deno task bench --out $O/fl/new > $O/fl/new.log 2>&1
(cd tmp/f200 && timeout 150 deno task bench --no-profile --out $O/fl/f200 > $O/fl/f200.log 2>&1)
(cd tmp/base14 && timeout 150 deno task bench --no-profile --out $O/fl/base2 > $O/fl/base2.log 2>&1)
timeout 150 deno task bench --no-profile --out $O/fl/new2 > $O/fl/new2.log 2>&1
tar -C $O -czf $OUT/fl.tgz fl
for f in base new f200 base2 new2; do echo "## $f"; grep "^bench:" $O/fl/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|every row|packed tokens, one batch.*GPU" | grep -v "host\|build\|memory" | sed 's/estimated from 48; capacities[0-9 ]*//; s/(capacity [0-9]*)//' | cut -c1-150; done
