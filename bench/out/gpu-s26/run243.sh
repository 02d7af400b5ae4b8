# session 26, run 243 (H100): review. test_cuda with test_gpu_bad_switches loading its model
# once (the switches are read at context creation), against head.so (the committed plugin,
# 8cf597c, sm_90a).
G=$PWD/.dev/gpu
nvidia-smi --query-gpu=name --format=csv,noheader
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$G/shared APR_CUDA_PATH=$G/head.so timeout 240 /tmp/test_cuda > $OUT/run243-test.txt 2>&1
echo "test_cuda rc=$?"; grep -E "passed|FAIL|switch" $OUT/run243-test.txt | head -20
