set -u
R=$PWD
bash .device/run_q11.sh
cd $R/.device/src
(time timeout 400 deno test -A tests/) > $OUT/q/tests.txt 2>&1
grep -E "passed|FAILED|real" $OUT/q/tests.txt | tail -3
