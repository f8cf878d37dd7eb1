set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/fa
cd .device/src
BS="132,264,396,528,594,660,726,792,858,924,1024"
timeout 200 deno run -A kernels/lab/last_probe.ts 200 "$BS" "cur:def:0,A:def:0,B:def:0,C:def:0" 3 scan_fwd_e > $O/fa/fwd.txt 2>&1
timeout 200 deno run -A kernels/lab/last_probe.ts 200 "$BS" "cur:def:1,A:def:1,C:def:1" 3 scan_fwd_e > $O/fa/fwd_last.txt 2>&1
tar -C $O -czf $OUT/fa.tgz fa
cat $O/fa/*.txt
