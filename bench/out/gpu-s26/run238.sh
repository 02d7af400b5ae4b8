# session 26, run 238 (H100): EARLY ffn_down (early.so; APR_CUDA_FFN_EARLY=n passes):
# k_mvs_res_wide quantizes the groups of its input that gate/up has already written
# (armed per-layer buffers, read at L2) before its pdl_wait, the rest after it. Run 237's
# bound (ffn_down with no pdl_wait at all): 7B tg128 +3.4%. test_cuda (test_gpu_ffn_early
# compares bits with it forced on small models), A/B 7B, memcheck of 7B with it on.
AB_MODELS="7b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$G/shared APR_CUDA_PATH=$G/early.so timeout 200 /tmp/test_cuda > $OUT/run238-test.txt 2>&1
echo "test_cuda rc=$?"; grep -E "passed|FAIL|EARLY ffn_down vs.*:" $OUT/run238-test.txt | head -20
ab_models_wait
APR_CUDA_FFN_EARLY=2 APR_CUDA_PATH=$G/early.so ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep -E "EARLY|wide|DYN"
for round in 1 2; do
  for v in "rev 0" "early 0" "early 1" "early 2" "early 4"; do set -- $v
    t "7b tg128 $1 $2" APR_CUDA_FFN_EARLY=$2 APR_CUDA_PATH=$G/$1.so timeout 60 $(b 7b); done
done
for v in "rev 0" "early 0" "early 2"; do set -- $v
  t "7b @d4096 $1 $2" APR_CUDA_FFN_EARLY=$2 APR_CUDA_PATH=$G/$1.so timeout 90 $(b 7b 4096); done
APR_CUDA_FFN_EARLY=2 APR_CUDA_PATH=$G/early.so timeout 170 /usr/local/cuda/bin/compute-sanitizer --tool memcheck \
  ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 3 -r 1 2>&1 | grep -E "ERROR SUMMARY|qwen" | head
