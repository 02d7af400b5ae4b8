# session 28, run 251 (H100): k_ring_res with its rows dealt to the blocks in turn (row
# b + i G of block b) and each row's range of the last field copied into its stage
# (ringil.so), against rev.so (the committed kernels, 893346d). Both built locally: nvcc
# 13.0 -O3 -std=c++17 --use_fast_math -Xcompiler -fPIC -cudart static -gencode
# arch=compute_90a,code=sm_90a -shared. test_cuda (its ring tests), memcheck of 1.5B (the
# ring by the rule) and 7B (forced on ffn_down: APR_CUDA_RING=8192), then A/B, two rounds.
AB_MODELS="1.5b 7b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$G/shared APR_CUDA_PATH=$G/ringil.so timeout 240 /tmp/test_cuda > $OUT/run251-test.txt 2>&1
echo "test_cuda rc=$?"; grep -E "passed|FAIL|k_ring_res vs" $OUT/run251-test.txt | head -20
ab_models_wait
cp $G/ringil.so libapr_cuda.so
timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 ./apr-bench -m $MD/qwen2.5-1.5b-q4_k_m.gguf -ngl 99 -p 0 -n 2 -r 1 -v > $OUT/run251-memcheck-1.5b.txt 2>&1; echo "memcheck 1.5b rc=$?"; grep -E "k_ring|ERROR SUMMARY" $OUT/run251-memcheck-1.5b.txt
APR_CUDA_RING=8192 timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 2 -r 1 -v > $OUT/run251-memcheck-7b.txt 2>&1; echo "memcheck 7b rc=$?"; grep -E "k_ring|ERROR SUMMARY" $OUT/run251-memcheck-7b.txt
rm -f libapr_cuda.so
for round in 1 2; do
  t "1.5b tg128 rev" APR_CUDA_PATH=$G/rev.so timeout 60 $(b 1.5b)
  t "1.5b tg128 ringil" APR_CUDA_PATH=$G/ringil.so timeout 60 $(b 1.5b)
  t "1.5b @d4096 rev" APR_CUDA_PATH=$G/rev.so timeout 60 $(b 1.5b 4096)
  t "1.5b @d4096 ringil" APR_CUDA_PATH=$G/ringil.so timeout 60 $(b 1.5b 4096)
  t "7b tg128 rev" APR_CUDA_PATH=$G/rev.so timeout 60 $(b 7b)
  t "7b tg128 rev ring" APR_CUDA_RING=8192 APR_CUDA_PATH=$G/rev.so timeout 60 $(b 7b)
  t "7b tg128 ringil ring" APR_CUDA_RING=8192 APR_CUDA_PATH=$G/ringil.so timeout 60 $(b 7b)
  t "7b tg128 ringil ring kb192" APR_CUDA_RING=8192 APR_CUDA_RING_KB=192 APR_CUDA_PATH=$G/ringil.so timeout 60 $(b 7b)
done
