set -u
O=/tmp/o; rm -rf $O; mkdir -p $O/occ
cd .device/src
BS="66,132,198,264,330,396,462,528,594,660,726,792,858,924,990,1024"
for k in conv_bwd scan_fwd_e conv_fwd4; do
  timeout 150 deno run -A kernels/lab/last_probe.ts 200 "$BS" "cur:def:0" 3 $k > $O/occ/$k.txt 2>&1
done
timeout 100 deno run -A kernels/lab/last_probe.ts 200 "$BS" "cur:def:1" 3 scan_fwd_e > $O/occ/scan_fwd_e_last.txt 2>&1
tar -C $O -czf $OUT/occ.tgz occ
cat $O/occ/*.txt
