# session 23, run 218 (H100): final23c.so = review of 96cc3f8: host code only (one
# enumeration of the k_mvs kernels for the smem and carveout attributes, the carveout set
# only where it changes, ring_plan through ring_row_bytes / ring_streamed); every kernel's
# PTX identical to 96cc3f8's. test_cuda (with the tests' load_gpu helper) and the plugin's lines.
AB_MODELS="1.5b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$G/final23c.so timeout 300 /tmp/test_cuda > $OUT/run218-test_cuda.log 2>&1; echo "test_cuda rc=$?"; grep -E "FAIL|passed|carveout 72" $OUT/run218-test_cuda.log | tail -4
ab_models_wait
APR_CUDA_PATH=$G/final23c.so timeout 60 ./apr-bench -m $MD/qwen2.5-1.5b-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep -E "one-token|k_ring|error"
APR_CUDA_CARVEOUT=72 APR_CUDA_PATH=$G/final23c.so timeout 60 ./apr-bench -m $MD/qwen2.5-1.5b-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep -E "one-token|error"
for round in 1 2; do
  t "1.5b tg128 final21" APR_CUDA_PATH=$G/final21.so timeout 60 $(b 1.5b)
  t "1.5b tg128 final23c" APR_CUDA_PATH=$G/final23c.so timeout 60 $(b 1.5b)
done
