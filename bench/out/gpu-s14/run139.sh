# session 14, run 139: final.so (make cuda: k_attn_dec_mma by default, splits of at least 128 positions on it): tests, then memcheck
make -s apr-bench 2>&1 | tail -2
cc -O2 -std=c99 -I.dev/gpu/snap -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/final.so timeout 200 /tmp/test_cuda > $OUT/test_cuda-final.log 2>&1; echo "test final rc=$?"; tail -1 $OUT/test_cuda-final.log; grep -E "FAIL" -A3 $OUT/test_cuda-final.log | head -30; grep -E "k_attn_dec_mma" $OUT/test_cuda-final.log | head -20
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/final.so timeout 380 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda > $OUT/memcheck-final.log 2>&1; echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|passed" $OUT/memcheck-final.log | tail -2; tail -c 3000 $OUT/memcheck-final.log > $OUT/memcheck-final-tail.txt; rm $OUT/memcheck-final.log
