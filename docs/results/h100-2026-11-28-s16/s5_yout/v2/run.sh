set -u
O=$OUT/one; mkdir -p $O
timeout 200 deno task bench --out $O/new > $O/new.log 2>&1
grep "^bench:" $O/new.log | grep -E "train step L=200(,|:|$)|packed tokens \(the same" | grep -v "host\|build\|memory"
grep -E "s5:|matmul:main" $O/new/bench.md | head -8
grep -E "scan_forward|matmul" $O/new/dispatches.md | awk -F'|' '{print $2, $3, $(NF-2), $(NF-1)}' | sed 's/\[[^]]*\]//' | head -24
cd $O && tar czf out.tgz new && rm -rf new
