# session 25, run 230 (H100): k_mvs_res_wide's input by one bulk copy (TMA_IN instance,
# APR_CUDA_WIDE_TMA=1 in tma.so): thread 0 copies the f32 input into shared memory after
# pdl_wait, the block waits on an mbarrier and quantizes from there, so that the input does
# not go through every thread's loads behind the weights'. Every other kernel's PTX is
# final25's (checked). test_cuda with it on (test_gpu_res_wide runs it), then the A/B.
AB_MODELS="7b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_CUDA_WIDE_TMA=1 APR_SHARED=$G/shared APR_CUDA_PATH=$G/tma.so timeout 200 /tmp/test_cuda > $OUT/run230-test.txt 2>&1
echo "test_cuda rc=$?"; grep -E "passed|FAIL|k_mvs_res_wide vs.*:" $OUT/run230-test.txt | head -20
ab_models_wait
APR_CUDA_WIDE_TMA=1 APR_CUDA_PATH=$G/tma.so timeout 300 /usr/local/cuda/bin/compute-sanitizer --tool memcheck \
  ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 2 -r 1 2>&1 | grep -E "ERROR SUMMARY|qwen" | head -3
for round in 1 2 3; do
  for v in "final25 0" "tma 0" "tma 1"; do set -- $v
    t "7b tg128 $1 $2" APR_CUDA_WIDE_TMA=$2 APR_CUDA_PATH=$G/$1.so timeout 60 $(b 7b); done
done
for round in 1 2; do
  for v in "final25 0" "tma 0" "tma 1"; do set -- $v
    t "7b @d4096 $1 $2" APR_CUDA_WIDE_TMA=$2 APR_CUDA_PATH=$G/$1.so timeout 60 $(b 7b 4096); done
done
