set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/cv
cd .device/src
timeout 200 deno run -A kernels/lab/kernel_ab.ts 1024 200 2048 "tmp/kbase14/,tmp/knew14/,tmp/kbase14/,tmp/knew14/" 2 > $O/cv/kernel_ab.txt 2>&1
(cd tmp/base14 && timeout 150 deno task bench --no-profile --out $O/cv/base > $O/cv/base.log 2>&1)
timeout 200 deno task bench --out $O/cv/new > $O/cv/new.log 2>&1
(cd tmp/base14 && timeout 150 deno task bench --no-profile --out $O/cv/base2 > $O/cv/base2.log 2>&1)
tar -C $O -czf $OUT/cv.tgz cv
grep -E "^## |step conv1d|step wall" $O/cv/kernel_ab.txt
for f in base new base2; do echo "## $f"; grep "^bench:" $O/cv/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|sequence mode: [0-9]|every row" | grep -v "host\|build\|memory" | sed 's/estimated from 48; capacities[0-9 ]*//' | cut -c1-140; done
