set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/rc
cd .device/src
for v in true false; do
  timeout 200 deno task bench --no-profile --set recompute=$v --out $O/rc/recompute-$v > $O/rc/recompute-$v.log 2>&1
done
tar -C $O -czf $OUT/rc.tgz rc
for v in true false; do echo "## $v"; grep "^bench:" $O/rc/recompute-$v.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|L=50:|959 steps|peak|sequence mode \(" | grep -v "host\|build" | sed 's/estimated from 48; capacities[0-9 ]*//' | cut -c1-150; done
