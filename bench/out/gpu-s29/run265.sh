# session 29, run 265 (H100), review: rev29.so = the reviewed source. k_attn_dec_mma skips
# pos's row only inside the split (fix3's tile_load of run 260, which needs no zeroed KV
# cache: the memset is gone); the context's counters zeroed on its own stream
# (cudaMemsetAsync), and model_load ending with cudaDeviceSynchronize (the uploads) instead
# of context_create. sm_90a, built as in run 259. test_cuda; synccheck and initcheck of
# long; memcheck of apr-bench 0.5B; A/B 7B against li.so (897cb41), two rounds.
AB_MODELS="0.5b 7b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
export APR_SHARED=$G/shared
APR_CUDA_PATH=$G/rev29.so timeout 240 /tmp/test_cuda > $OUT/run265-test.txt 2>&1; echo "test_cuda rc=$?"; tail -1 $OUT/run265-test.txt; grep FAIL $OUT/run265-test.txt | head -5
for tool in synccheck initcheck; do
  APR_CUDA_PATH=$G/rev29.so timeout 100 compute-sanitizer --tool $tool /tmp/test_cuda long > $OUT/run265-$tool.txt 2>&1; echo "== $tool rc=$?"; grep -E "passed|SUMMARY" $OUT/run265-$tool.txt | tail -2; grep FAIL $OUT/run265-$tool.txt | head -3
done
ab_models_wait
APR_CUDA_PATH=$G/rev29.so timeout 90 compute-sanitizer --tool memcheck --error-exitcode 9 ./apr-bench -m $MD/qwen2.5-0.5b-q4_k_m.gguf -ngl 99 -p 16 -n 4 -r 1 > $OUT/run265-memcheck-0.5b.txt 2>&1; echo "memcheck 0.5b rc=$?"; grep -E "ERROR SUMMARY" $OUT/run265-memcheck-0.5b.txt
for round in 1 2; do
  for so in li rev29; do t "7b tg128 $so" APR_CUDA_PATH=$G/$so.so timeout 60 $(b 7b); done
  for so in li rev29; do t "7b @d4096 $so" APR_CUDA_PATH=$G/$so.so timeout 60 $(b 7b 4096); done
done
