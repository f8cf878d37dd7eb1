set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/sgl
cd .device/src
timeout 250 deno run -A kernels/lab/kernel_ab.ts 1024 200 2048 "tmp/kcur14/,tmp/kL/,tmp/kcur14/,tmp/kL/" 2 > $O/sgl/kernel_ab.txt 2>&1
grep -E "^## |step mamba:scan_bwd|step conv1d:bc|step wall" $O/sgl/kernel_ab.txt
timeout 100 deno run -A kernels/lab/last_probe.ts 200 "264,528,792,1024" "kcur14:def:1,kL:def:1" 3 scan_bwd > $O/sgl/probe.txt 2>&1
cat $O/sgl/probe.txt
tar -C $O -czf $OUT/sgl.tgz sgl
