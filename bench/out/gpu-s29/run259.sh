# session 29, run 259 (H100): k_attn_dec_mma's tile_load zero-fills pos's row where it lies
# past the split's end (it skipped it: a stale row read), and APR_CUDA_ATTN_POISON=1 (the
# decode attention's stages set to f16 NaN first). fix.so = the change; unfix.so = the same
# with the one-line fix reverted (poison switch kept); li.so = 897cb41's kernels. All built
# locally: nvcc 13.0 -O3 -std=c++17 --use_fast_math -lineinfo -Xcompiler -fPIC -cudart static
# -gencode arch=compute_90a,code=sm_90a -shared. 1) test_cuda long: unfix.so must fail the
# poisoned mma cases, fix.so pass; 2) synccheck and initcheck of long with fix.so (they
# failed in runs 256-258); 3) the whole test_cuda with fix.so; 4) A/B fix.so vs li.so.
AB_MODELS="1.5b 7b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
export APR_SHARED=$G/shared
show() { grep -E "poisoned|123 splits|128 splits" $1 | grep -E "positions \(" | sed 's/tiny-llama //' | cut -c1-200; grep -E "passed|SUMMARY" $1 | tail -2; }
for so in unfix fix; do
  APR_CUDA_PATH=$G/$so.so timeout 90 /tmp/test_cuda long > $OUT/run259-long-$so.txt 2>&1; echo "== long $so rc=$?"; show $OUT/run259-long-$so.txt
done
for tool in synccheck initcheck; do
  APR_CUDA_PATH=$G/fix.so timeout 100 compute-sanitizer --tool $tool /tmp/test_cuda long > $OUT/run259-$tool.txt 2>&1; echo "== $tool fix rc=$?"; show $OUT/run259-$tool.txt
done
APR_CUDA_PATH=$G/fix.so timeout 240 /tmp/test_cuda > $OUT/run259-test.txt 2>&1; echo "== test_cuda fix rc=$?"; tail -1 $OUT/run259-test.txt; grep FAIL $OUT/run259-test.txt | head -5
ab_models_wait
for round in 1 2; do
  for m in 1.5b 7b; do
    t "$m tg128 li" APR_CUDA_PATH=$G/li.so timeout 60 $(b $m)
    t "$m tg128 fix" APR_CUDA_PATH=$G/fix.so timeout 60 $(b $m)
    t "$m @d4096 li" APR_CUDA_PATH=$G/li.so timeout 60 $(b $m 4096)
    t "$m @d4096 fix" APR_CUDA_PATH=$G/fix.so timeout 60 $(b $m 4096)
  done
done
