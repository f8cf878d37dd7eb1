set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/sl
cd .device/src
for r in 1 2; do for s in 4 8 16; do
  timeout 150 deno task bench --no-profile --scan-slices $s --out $O/sl/s$s-$r > $O/sl/s$s-$r.log 2>&1
done; done
tar -C $O -czf $OUT/sl.tgz sl
for f in $O/sl/*.log; do echo "## $f"; grep "^bench:" $f | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|peak GPU" | grep -v "host\|build" | sed 's/estimated from 48; capacities[0-9 ]*//' | cut -c1-140; done
