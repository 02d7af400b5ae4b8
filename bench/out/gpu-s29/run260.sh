# session 29, run 260 (H100): as run 259, but the poisoning in an instance of its own
# (k_attn_dec_mma<HD, CW, true>, APR_CUDA_ATTN_POISON=1) instead of a branch on a flag, which
# cost 1.4-1.9% in run 259; k_attn_dec not poisoned. fix3.so = this change; unfix3.so = the
# same with the one-line fix reverted; fix2.so = fix3 without the poisoning code (its
# production instances should be fix3's); li.so = 897cb41's kernels. Built as in run 259.
AB_MODELS="1.5b 7b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
export APR_SHARED=$G/shared
show() { grep -E "poisoned" $1 | grep -E "positions \(" | sed 's/tiny-llama //' | cut -c1-200; grep -E "passed|SUMMARY" $1 | tail -2; }
for so in unfix3 fix3; do
  APR_CUDA_PATH=$G/$so.so timeout 90 /tmp/test_cuda long > $OUT/run260-long-$so.txt 2>&1; echo "== long $so rc=$?"; show $OUT/run260-long-$so.txt
done
APR_CUDA_PATH=$G/fix3.so timeout 240 /tmp/test_cuda > $OUT/run260-test.txt 2>&1; echo "== test_cuda fix3 rc=$?"; tail -1 $OUT/run260-test.txt; grep FAIL $OUT/run260-test.txt | head -5
ab_models_wait
for round in 1 2; do
  for m in 1.5b 7b; do
    for so in li fix3 fix2; do t "$m tg128 $so" APR_CUDA_PATH=$G/$so.so timeout 60 $(b $m); done
    for so in li fix3 fix2; do t "$m @d4096 $so" APR_CUDA_PATH=$G/$so.so timeout 60 $(b $m 4096); done
  done
done
