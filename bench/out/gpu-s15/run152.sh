# session 15, run 152: make cuda of the committed code (a5e4929: sm_80 + sm_90a + compute_90 PTX): tests, memcheck
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
(time make -s cuda) > $OUT/make_cuda.log 2>&1; echo "make cuda rc=$?"; tail -3 $OUT/make_cuda.log
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/libapr_cuda.so timeout 200 /tmp/test_cuda > $OUT/test_cuda.log 2>&1; echo "test rc=$?"; tail -1 $OUT/test_cuda.log; grep -E "FAIL" -A3 $OUT/test_cuda.log | head -20
grep -E "hi \+ lo on|through k_gemm|^  (F16|BF16) " $OUT/test_cuda.log | head
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/libapr_cuda.so timeout 300 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda > $OUT/memcheck.log 2>&1; echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|passed" $OUT/memcheck.log | tail -2; tail -c 3000 $OUT/memcheck.log > $OUT/memcheck-tail.txt; rm $OUT/memcheck.log
