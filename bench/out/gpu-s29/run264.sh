# session 29, run 264 (H100): sync.so = the committed source (b0e5557) plus a
# cudaDeviceSynchronize at the end of context_create (host code only: the counters' and the
# KV cache's memsets ran on the legacy default stream, which the context's non-blocking
# stream does not wait for). sm_90a, built as in run 259. test_cuda, then one decode under
# memcheck.
AB_MODELS="0.5b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$G/shared APR_CUDA_PATH=$G/sync.so timeout 240 /tmp/test_cuda > $OUT/run264-test.txt 2>&1
echo "test_cuda rc=$?"; grep -E "passed|FAIL" $OUT/run264-test.txt | tail -4
ab_models_wait
APR_CUDA_PATH=$G/sync.so timeout 90 compute-sanitizer --tool memcheck --error-exitcode 9 ./apr-bench -m $MD/qwen2.5-0.5b-q4_k_m.gguf -ngl 99 -p 16 -n 4 -r 1 > $OUT/run264-memcheck-0.5b.txt 2>&1; echo "memcheck 0.5b rc=$?"; grep -E "ERROR SUMMARY" $OUT/run264-memcheck-0.5b.txt
t "0.5b tg128 sync" APR_CUDA_PATH=$G/sync.so timeout 60 $(b 0.5b)
