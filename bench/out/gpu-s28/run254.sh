# session 28, run 254 (H100): the kept code. final28.so = `make cuda` of the working tree
# (k_ring_res with its rows dealt in turn; sm_80 + sm_90a + compute_90 PTX). test_cuda;
# memcheck of apr-bench 1.5B (the ring by the rule); the protocol for 1.5B (the only model
# whose decode changes); A/B 1.5B against rev.so (893346d), two rounds.
AB_MODELS="1.5b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$G/shared APR_CUDA_PATH=$G/final28.so timeout 240 /tmp/test_cuda > $OUT/run254-test.txt 2>&1
echo "test_cuda rc=$?"; grep -E "passed|FAIL" $OUT/run254-test.txt | tail -4
ab_models_wait
cp $G/final28.so libapr_cuda.so
timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 ./apr-bench -m $MD/qwen2.5-1.5b-q4_k_m.gguf -ngl 99 -p 0 -n 2 -r 1 -v > $OUT/run254-memcheck-1.5b.txt 2>&1; echo "memcheck 1.5b rc=$?"; grep -E "k_ring|ERROR SUMMARY" $OUT/run254-memcheck-1.5b.txt
OUT2=$OUT; OUT=/tmp/o/b MODELS=$MD timeout 150 bench/cuda/gpu_bench.sh 1.5b > $OUT2/run254-protocol.txt 2>&1; echo "protocol rc=$?"; OUT=$OUT2; grep -E "^==|\[apr-bench\]|qwen" $OUT/run254-protocol.txt | head -12
rm -f libapr_cuda.so
for round in 1 2; do
  t "1.5b tg128 rev" APR_CUDA_PATH=$G/rev.so timeout 60 $(b 1.5b)
  t "1.5b tg128 final28" APR_CUDA_PATH=$G/final28.so timeout 60 $(b 1.5b)
  t "1.5b @d4096 rev" APR_CUDA_PATH=$G/rev.so timeout 60 $(b 1.5b 4096)
  t "1.5b @d4096 final28" APR_CUDA_PATH=$G/final28.so timeout 60 $(b 1.5b 4096)
done
