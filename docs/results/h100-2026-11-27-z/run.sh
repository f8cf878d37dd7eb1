set -u
O=/tmp/o; rm -rf $O; mkdir -p $O
cd .device/src
timeout 200 deno task bench --out $O/a > $O/a.log 2>&1
timeout 200 deno task bench --no-profile --set recompute=false --out $O/b > $O/b.log 2>&1
mkdir -p $OUT/a $OUT/b; cp $O/a.log $O/a/*.md $O/a/bench.json $OUT/a/ 2>/dev/null; cp $O/b.log $O/b/*.md $O/b/bench.json $OUT/b/ 2>/dev/null
for x in a b; do echo "== $x"; grep "^bench:" $O/$x.log | grep -E "train step L=200|prefix|L=50:|train step L=50$|sequence mode \(|eval 6,040 users, ML-1M lengths, packed" | cut -c1-170; done
