# session 23, run 215 (H100): final23.so = the candidate: k_ring_res by default on the
# residual matrices whose k_mvs_res grid would fill every slot (1.5B's ffn_down), 3 groups a
# thread and round in its quantization; every decode kernel's carveout set to the
# attention's where it is not launched early (7B, 32B: 72%). test_cuda, the log lines,
# then A/B against final21 (the committed kernels), two rounds.
AB_MODELS="0.5b 1.5b 7b 32b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$G/final23.so timeout 300 /tmp/test_cuda > $OUT/run215-test_cuda.log 2>&1; echo "test_cuda rc=$?"; grep -E "FAIL|passed|carveout|rule" $OUT/run215-test_cuda.log | tail -8
ab_models_wait
for s in 0.5b 1.5b 7b 32b; do echo "== $s"; APR_CUDA_PATH=$G/final23.so timeout 90 ./apr-bench -m $MD/qwen2.5-$s-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep -E "one-token|k_ring|error" | head -3; done
for round in 1 2; do
  for c in "0.5b" "1.5b" "7b" "7b 4096" "32b"; do
    set -- $c; n="$1 tg128"; [ -n "$2" ] && n="$1 @d$2"
    t "$n final21" APR_CUDA_PATH=$G/final21.so timeout 90 $(b $1 $2)
    t "$n final23" APR_CUDA_PATH=$G/final23.so timeout 90 $(b $1 $2)
  done
done
