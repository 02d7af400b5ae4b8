# session 26, run 235 (H100): QKV's second step in flight before pdl_wait (k_mvs_multi's E2
# instance, APR_CUDA_QKV_E2=1; e2.so). 7B's QKV: 2,304 tasks of one step for 2,104 warps, so
# 200 warps take a second task whose loads went out only once the first was consumed.
# Every old kernel's PTX is rev.so's (checked). test_cuda with E2 on, A/B 7B.
AB_MODELS="7b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_CUDA_QKV_E2=1 APR_SHARED=$G/shared APR_CUDA_PATH=$G/e2.so timeout 200 /tmp/test_cuda > $OUT/run235-test.txt 2>&1
echo "test_cuda rc=$?"; grep -E "passed|FAIL" $OUT/run235-test.txt | head -20
ab_models_wait
for round in 1 2 3; do
  for v in "rev 0" "e2 0" "e2 1"; do set -- $v
    t "7b tg128 $1 $2" APR_CUDA_QKV_E2=$2 APR_CUDA_PATH=$G/$1.so timeout 60 $(b 7b); done
done
for round in 1 2; do
  for v in "rev 0" "e2 0" "e2 1"; do set -- $v
    t "7b @d4096 $1 $2" APR_CUDA_QKV_E2=$2 APR_CUDA_PATH=$G/$1.so timeout 90 $(b 7b 4096); done
done
