set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/o13
cd .device/src
timeout 280 deno run -A kernels/lab/last_probe.ts 200 "33,50,66,99,132,264,1024" "cur:def:1,pf:def:1,noq:def:1,cur:16/4:1,cur:def:0" 5 > $O/o13/last_probe.txt 2>&1
cat $O/o13/last_probe.txt
timeout 250 deno run -A kernels/lab/kernel_ab.ts 1024 200 2048 "kernels/,tmp/kpf/,tmp/knoq/,kernels/" 2 > $O/o13/kernel_ab.txt 2>&1
tar -C $O -czf $OUT/o13.tgz o13
grep -E "^## |scan_bwd|step wall" $O/o13/kernel_ab.txt
