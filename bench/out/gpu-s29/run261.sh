# session 29, run 261 (H100): fix4.so = k_attn_dec_mma's tile_load without any test for pos
# (pos's row is loaded like the others and overwritten from skv in the split holding it;
# rows past the split's end zero-filled), the KV cache zeroed at allocation; poisoning as in
# fix3.so (run 260: an instance of its own). li.so and li2.so = 897cb41's kernels (the same
# file twice, first and last in each cell: an order bias would show between them). Built as
# in run 259. test_cuda long, synccheck and initcheck of long, the whole test_cuda, A/B.
AB_MODELS="1.5b 7b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
export APR_SHARED=$G/shared
show() { grep -E "poisoned" $1 | grep -E "positions \(" | sed 's/tiny-llama //' | cut -c1-200; grep -E "passed|SUMMARY" $1 | tail -2; }
APR_CUDA_PATH=$G/fix4.so timeout 90 /tmp/test_cuda long > $OUT/run261-long.txt 2>&1; echo "== long fix4 rc=$?"; show $OUT/run261-long.txt
for tool in synccheck initcheck; do
  APR_CUDA_PATH=$G/fix4.so timeout 100 compute-sanitizer --tool $tool /tmp/test_cuda long > $OUT/run261-$tool.txt 2>&1; echo "== $tool fix4 rc=$?"; show $OUT/run261-$tool.txt
done
APR_CUDA_PATH=$G/fix4.so timeout 240 /tmp/test_cuda > $OUT/run261-test.txt 2>&1; echo "== test_cuda fix4 rc=$?"; tail -1 $OUT/run261-test.txt; grep FAIL $OUT/run261-test.txt | head -5
ab_models_wait
for round in 1 2; do
  for m in 1.5b 7b; do
    for so in li fix4 fix3 li2; do t "$m tg128 $so" APR_CUDA_PATH=$G/$so.so timeout 60 $(b $m); done
    for so in li fix4 fix3 li2; do t "$m @d4096 $so" APR_CUDA_PATH=$G/$so.so timeout 60 $(b $m 4096); done
  done
done
