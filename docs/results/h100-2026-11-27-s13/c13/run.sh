set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/c13
cd .device/src
timeout 200 deno run -A kernels/lab/kernel_ab.ts 1024 200 2048 "tmp/kbase/,tmp/knew2/,tmp/kbase/,tmp/knew2/" 2 > $O/c13/kernel_ab.txt 2>&1
(cd tmp/base13 && timeout 150 deno task bench --no-profile --out $O/c13/base-6fc6b80 > $O/c13/base.log 2>&1)
timeout 200 deno task bench --out $O/c13/new > $O/c13/new.log 2>&1
(cd tmp/base13 && timeout 150 deno task bench --no-profile --out $O/c13/base2-6fc6b80 > $O/c13/base2.log 2>&1)
tar -C $O -czf $OUT/c13.tgz c13
grep -E "^## |step conv1d:conv_bwd|step mamba:scan_bwd|step wall" $O/c13/kernel_ab.txt
for f in base new base2; do echo "## $f"; grep "^bench:" $O/c13/$f.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same|59% of L|L=50: [0-9]|L=50:|packed tokens .*GPU" | grep -v "host\|build\|memory" | sed 's/(658.*capacities [0-9 ]*)//; s/estimated from 48; capacities[0-9 ]*//' | cut -c1-140; done
