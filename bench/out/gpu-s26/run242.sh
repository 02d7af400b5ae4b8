# session 26, run 242 (H100): STEPS (steps.so; APR_CUDA_FFN_EARLY=n): run 238's EARLY ffn_down,
# and its blocks also consume, before pdl_wait, the leading steps whose columns have all
# landed (gate/up's static rounds write rows 0..14,727 long before its tail; 7B's ffn_down
# rows take 5 steps of 4,096 columns). pdl_wait, the pending groups and a barrier come
# before the first step not landed. test_cuda (test_gpu_ffn_early), 7B logits on/off
# (.dev/gpu/cmp_early.c, 12 steps bit for bit), memcheck 7B, A/B 7B.
AB_MODELS="7b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$G/shared APR_CUDA_PATH=$G/steps.so timeout 220 /tmp/test_cuda > $OUT/run242-test.txt 2>&1
echo "test_cuda rc=$?"; grep -E "passed|FAIL|EARLY ffn_down vs.*:" $OUT/run242-test.txt | head -20
ab_models_wait
cc -O2 -std=c99 -I. -o /tmp/cmp_early .dev/gpu/cmp_early.c -lm -lpthread -ldl
for n in 1 2; do APR_CUDA_PATH=$G/steps.so timeout 120 /tmp/cmp_early $MD/qwen2.5-7b-q4_k_m.gguf $n; echo "cmp_early $n rc=$?"; done
APR_CUDA_FFN_EARLY=2 APR_CUDA_PATH=$G/steps.so timeout 170 /usr/local/cuda/bin/compute-sanitizer --tool memcheck \
  ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 3 -r 1 2>&1 | grep -E "ERROR SUMMARY|qwen" | head
for round in 1 2; do
  for v in "rev 0" "steps 0" "steps 1" "steps 2" "steps 4"; do set -- $v
    t "7b tg128 $1 $2" APR_CUDA_FFN_EARLY=$2 APR_CUDA_PATH=$G/$1.so timeout 60 $(b 7b); done
done
for v in "rev 0" "steps 0" "steps 2"; do set -- $v
  t "7b @d4096 $1 $2" APR_CUDA_FFN_EARLY=$2 APR_CUDA_PATH=$G/$1.so timeout 90 $(b 7b 4096); done
