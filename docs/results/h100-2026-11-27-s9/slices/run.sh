set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/sl
cd .device/src
for s in 4 2 4 2; do timeout 150 deno task bench --no-profile --scan-slices $s --out $O/sl/s$s > $O/sl/s$s.log 2>&1; echo "## slices $s"; grep "^bench:" $O/sl/s$s.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|L=200: peak|59% of L" | grep -v "host\|build" | cut -c1-110; done
tar -C $O -czf $OUT/sl.tgz sl
