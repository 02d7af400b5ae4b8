# session 26, run 239 (H100): the APR_CUDA_* switches parsed strictly (env.so: env_num,
# env_word; host code only, every kernel's PTX identical to rev.so's). test_cuda
# (test_gpu_bad_switches), and apr-bench 7B with a bad value next to the default.
AB_MODELS="7b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$G/shared APR_CUDA_PATH=$G/env.so timeout 220 /tmp/test_cuda > $OUT/run239-test.txt 2>&1
echo "test_cuda rc=$?"; grep -E "passed|FAIL" $OUT/run239-test.txt | head -20
ab_models_wait
APR_CUDA_RES_WIDE=abc APR_CUDA_PATH=$G/env.so ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep -E "APR_CUDA|wide"
for v in "rev x" "env x" "env abc"; do set -- $v
  t "7b tg128 $1 RES_WIDE=$2" APR_CUDA_RES_WIDE=$2 APR_CUDA_PATH=$G/$1.so timeout 60 $(b 7b); done
