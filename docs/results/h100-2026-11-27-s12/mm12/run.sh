set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/mm12
cd .device/src
timeout 200 deno run -A kernels/lab/kernel_ab.ts 1024 200 2048 "tmp/kmm11/,kernels/" 3 > $O/mm12/kernel_ab.txt 2>&1
(cd tmp/base12c && timeout 150 deno task bench --no-profile --out $O/mm12/base-48d4a68 > $O/mm12/base.log 2>&1)
timeout 200 deno task bench --out $O/mm12/new-7834211 > $O/mm12/new.log 2>&1
(cd tmp/base12c && timeout 150 deno task bench --no-profile --out $O/mm12/base2-48d4a68 > $O/mm12/base2.log 2>&1)
tar -C $O -czf $OUT/mm12.tgz mm12
grep -E "^## |step matmul|eval matmul" $O/mm12/kernel_ab.txt
for f in base new base2; do echo "## $f"; grep "^bench:" $O/mm12/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|L=50:|packed tokens .*GPU" | grep -v "host\|build\|memory" | sed 's/(658.*capacities [0-9 ]*)//; s/estimated from 48; capacities[0-9 ]*//' | cut -c1-140; done
