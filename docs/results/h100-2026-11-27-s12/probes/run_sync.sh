set -u
cd .device/src
mkdir -p $OUT/sp
timeout 300 deno run -A kernels/lab/sync_probe.ts > $OUT/sp/sync_probe.txt 2>&1
cat $OUT/sp/sync_probe.txt | grep -v "^\s*at"
