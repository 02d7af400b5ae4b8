# session 26, run 240 (H100): PF (pf.so; APR_CUDA_RES_PF=n): k_mvs_res_wide's blocks request
# the first n steps of their rows into L2 by bulk prefetches (one per row and field) before
# pdl_wait. A wide block starts only once both gate/up blocks of its SM are gone, so these
# bytes stream during gate/up's tail (run 237: ffn_down with no pdl_wait at all, +3.4%;
# run 238: its input quantized early, 0). 7B ffn_down Q4_K: 5 steps a row (n >= 5: whole
# rows, 341 KB a block, 38 MB); Q6_K: 10 steps. test_cuda with PF=10 on every wide launch,
# memcheck of 7B with PF=10, A/B 7B.
AB_MODELS="7b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_CUDA_RES_PF=10 APR_SHARED=$G/shared APR_CUDA_PATH=$G/pf.so timeout 220 /tmp/test_cuda > $OUT/run240-test.txt 2>&1
echo "test_cuda rc=$?"; grep -E "passed|FAIL" $OUT/run240-test.txt | head -20
ab_models_wait
APR_CUDA_RES_PF=10 APR_CUDA_PATH=$G/pf.so timeout 170 /usr/local/cuda/bin/compute-sanitizer --tool memcheck \
  ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 3 -r 1 2>&1 | grep -E "ERROR SUMMARY|qwen" | head
for round in 1 2; do
  for v in "rev 0" "pf 0" "pf 2" "pf 3" "pf 10"; do set -- $v
    t "7b tg128 $1 $2" APR_CUDA_RES_PF=$2 APR_CUDA_PATH=$G/$1.so timeout 60 $(b 7b); done
done
for v in "rev 0" "pf 0" "pf 3" "pf 10"; do set -- $v
  t "7b @d4096 $1 $2" APR_CUDA_RES_PF=$2 APR_CUDA_PATH=$G/$1.so timeout 90 $(b 7b 4096); done
