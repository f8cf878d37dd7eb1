set -u
R=$PWD
O=/tmp/o; rm -rf $O; mkdir -p $O/m
cd .device/src
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv > $O/m/smi.txt 2>&1
(cd tmp/base12 && timeout 150 deno task bench --no-profile --out $O/m/old-b069a94 > $O/m/old.log 2>&1)
timeout 200 deno task bench --out $O/m/new-5b94455 > $O/m/new.log 2>&1
(cd tmp/base12 && timeout 150 deno task bench --no-profile --out $O/m/old2-b069a94 > $O/m/old2.log 2>&1)
tar -C $O -czf $OUT/m.tgz m
for f in old new old2; do echo "## $f"; grep "^bench:" $O/m/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|L=50:|peak|sequence mode: [0-9]|sequence mode \(|GPU time|waiting" | grep -v "host\|build\|memory" | sed 's/(658.*capacities [0-9 ]*)//; s/estimated from 48; capacities[0-9 ]*//' | cut -c1-150; done
