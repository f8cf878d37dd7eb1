set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/full
cd .device/src
timeout 200 deno task bench --no-profile --out $O/full/new > $O/full/new.log 2>&1
tar -C $O -czf $OUT/full.tgz full
grep "^bench:" $O/full/new.log | grep -E "train step L=200|59% of L|L=50: [0-9]|packed tokens .*GPU" | grep -v "host\|build\|memory\|sequence" | sed 's/(658.*capacities [0-9 ]*)//; s/estimated from 48; capacities[0-9 ]*//' | cut -c1-150
