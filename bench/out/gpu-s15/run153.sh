# session 15, run 153: review.so = the committed code + the review's change (the QKV and gate/up fallbacks hand launch_mm
# the hi + lo activations already packed instead of packing them again), sm_90a: tests, memcheck
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/review.so timeout 200 /tmp/test_cuda > $OUT/test_cuda.log 2>&1; echo "test rc=$?"; tail -1 $OUT/test_cuda.log; grep -E "FAIL" -A3 $OUT/test_cuda.log | head -20
grep -E "hi \+ lo on|through k_gemm|^  (F16|BF16) " $OUT/test_cuda.log | head
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/review.so timeout 300 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda > $OUT/memcheck.log 2>&1; echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|passed" $OUT/memcheck.log | tail -2; tail -c 3000 $OUT/memcheck.log > $OUT/memcheck-tail.txt; rm $OUT/memcheck.log
