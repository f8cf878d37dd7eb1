set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/b0m
cd .device/src
timeout 200 deno run -A kernels/lab/last_probe.ts 200 "33,49,56,66,70,82,90,99,132" "kcur14:def:0,kM:def:0" 3 scan_bwd > $O/b0m/probe.txt 2>&1
cat $O/b0m/probe.txt
tar -C $O -czf $OUT/b0m.tgz b0m
