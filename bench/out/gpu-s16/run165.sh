# session 16, run 165 (H100): fill3.so (the committed apr_cuda.cu, sm_90a) with the committed tests/test_cuda.c (the fill form does not require test-wide's grids to fill)
nvidia-smi --query-gpu=name --format=csv,noheader
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/fill3.so timeout 200 /tmp/test_cuda > $OUT/test_cuda.log 2>&1; echo "test rc=$?"; tail -1 $OUT/test_cuda.log; grep -E "FAIL" -A3 $OUT/test_cuda.log | head -20; grep "fill:" $OUT/test_cuda.log | head -12
