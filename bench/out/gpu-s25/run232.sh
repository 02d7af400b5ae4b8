# session 25, run 232 (H200): the committed build (make cuda, final25b.so: k_mvs_res_wide for
# SPLIT grids too, by default): 32B A/B against final25 (session 25's first commit) and
# against itself with APR_CUDA_RES_WIDE_SPLIT=0, then issue 7's protocol for 32B.
AB_MODELS="32b" . bench/cuda/ab.sh
ab_models_wait
for round in 1 2 3; do
  for v in "final25 -" "final25b 0" "final25b -"; do set -- $v
    t "32b tg128 $1 $2" $( [ $2 = - ] || echo APR_CUDA_RES_WIDE_SPLIT=$2 ) APR_CUDA_PATH=$G/$1.so timeout 90 $(b 32b); done
done
cp $G/final25b.so libapr_cuda.so
OUT2=$OUT; OUT=/tmp/o/b MODELS=$MD timeout 300 bench/cuda/gpu_bench.sh 32b > $OUT2/run232-protocol.txt 2>&1
cat $OUT2/run232-protocol.txt; grep -h "k_mvs_res_wide" /tmp/o/b/apr-32b.log | head -1
