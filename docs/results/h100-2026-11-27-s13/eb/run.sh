set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/eb
cd .device/src
timeout 200 deno run -A kernels/lab/last_probe.ts 200 "33,66,132,1024" "new2:def:1,new2:32/2:1,new2:16/4:1,new2:8/2:1" 5 > $O/eb/last_probe.txt 2>&1
cat $O/eb/last_probe.txt
tar -C $O -czf $OUT/eb.tgz eb
