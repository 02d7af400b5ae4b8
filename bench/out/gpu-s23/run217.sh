# session 23, run 217 (H200): final23b.so against final21.so on 1.5B (the only model whose
# decode changes: k_ring_res on its ffn_down), two rounds; test_cuda.
AB_MODELS="1.5b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$G/final23b.so timeout 300 /tmp/test_cuda > $OUT/run217-test_cuda.log 2>&1; echo "test_cuda rc=$?"; grep -E "FAIL|passed" $OUT/run217-test_cuda.log | tail -4
ab_models_wait
for round in 1 2; do
  t "1.5b tg128 final21" APR_CUDA_PATH=$G/final21.so timeout 60 $(b 1.5b)
  t "1.5b tg128 final23b" APR_CUDA_PATH=$G/final23b.so timeout 60 $(b 1.5b)
  t "1.5b @d4096 final21" APR_CUDA_PATH=$G/final21.so timeout 60 $(b 1.5b 4096)
  t "1.5b @d4096 final23b" APR_CUDA_PATH=$G/final23b.so timeout 60 $(b 1.5b 4096)
done
