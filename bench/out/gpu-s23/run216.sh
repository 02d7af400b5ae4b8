# session 23, run 216 (H100): final23b.so = the kept code: k_ring_res by default on filled
# grids (1.5B's ffn_down), APR_CUDA_CARVEOUT a measurement switch only (default: the
# driver's choice). test_cuda; memcheck of apr-bench with the ring (1.5B by the rule, 7B
# forced); the protocol for 1.5B (the only model whose decode changes); A/B 1.5B.
AB_MODELS="1.5b 7b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$G/final23b.so timeout 300 /tmp/test_cuda > $OUT/run216-test_cuda.log 2>&1; echo "test_cuda rc=$?"; grep -E "FAIL|passed" $OUT/run216-test_cuda.log | tail -4
ab_models_wait
cp $G/final23b.so libapr_cuda.so
timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 ./apr-bench -m $MD/qwen2.5-1.5b-q4_k_m.gguf -ngl 99 -p 0 -n 2 -r 1 -v > $OUT/run216-memcheck-1.5b.txt 2>&1; echo "memcheck 1.5b rc=$?"; grep -E "k_ring|ERROR SUMMARY" $OUT/run216-memcheck-1.5b.txt
APR_CUDA_RING=1 timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 2 -r 1 -v > $OUT/run216-memcheck-7b.txt 2>&1; echo "memcheck 7b rc=$?"; grep -E "k_ring|ERROR SUMMARY" $OUT/run216-memcheck-7b.txt
OUT2=$OUT; OUT=/tmp/o/b MODELS=$MD timeout 150 bench/cuda/gpu_bench.sh 1.5b > $OUT2/run216-protocol.txt 2>&1; echo "protocol rc=$?"; OUT=$OUT2; grep -E "^==|\[apr-bench\]" $OUT/run216-protocol.txt
for round in 1 2; do
  t "1.5b tg128 final21" APR_CUDA_PATH=$G/final21.so timeout 60 $(b 1.5b)
  t "1.5b tg128 final23b" APR_CUDA_PATH=$G/final23b.so timeout 60 $(b 1.5b)
  t "1.5b @d4096 final21" APR_CUDA_PATH=$G/final21.so timeout 60 $(b 1.5b 4096)
  t "1.5b @d4096 final23b" APR_CUDA_PATH=$G/final23b.so timeout 60 $(b 1.5b 4096)
done
