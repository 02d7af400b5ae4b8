# session 29, run 262 (H100): the kept code. final29.so = `make cuda` of the working tree
# (sm_80 + sm_90a + compute_90 PTX): k_attn_dec_mma's tile_load as fix4.so of run 261, the
# poisoned instance selected by attn_mma_kernel (host code only changed since). test_cuda;
# memcheck of apr-bench 1.5B; A/B 7B against li.so (897cb41's kernels), two rounds; the
# protocol for 7B (RESULTS).
AB_MODELS="1.5b 7b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$G/shared APR_CUDA_PATH=$G/final29.so timeout 240 /tmp/test_cuda > $OUT/run262-test.txt 2>&1
echo "test_cuda rc=$?"; grep -E "passed|FAIL" $OUT/run262-test.txt | tail -4
ab_models_wait
cp $G/final29.so libapr_cuda.so
timeout 90 compute-sanitizer --tool memcheck --error-exitcode 9 ./apr-bench -m $MD/qwen2.5-1.5b-q4_k_m.gguf -ngl 99 -p 0 -n 2 -r 1 -v > $OUT/run262-memcheck-1.5b.txt 2>&1; echo "memcheck 1.5b rc=$?"; grep -E "ERROR SUMMARY" $OUT/run262-memcheck-1.5b.txt
rm -f libapr_cuda.so
for round in 1 2; do
  for so in li final29; do t "7b tg128 $so" APR_CUDA_PATH=$G/$so.so timeout 60 $(b 7b); done
  for so in li final29; do t "7b @d4096 $so" APR_CUDA_PATH=$G/$so.so timeout 60 $(b 7b 4096); done
done
cp $G/final29.so libapr_cuda.so
OUT2=$OUT; OUT=/tmp/o/b MODELS=$MD timeout 200 bench/cuda/gpu_bench.sh 7b > $OUT2/run262-protocol.txt 2>&1; echo "protocol rc=$?"; OUT=$OUT2; grep -E "^==|\[apr-bench\]|qwen" $OUT/run262-protocol.txt | head -12
rm -f libapr_cuda.so
