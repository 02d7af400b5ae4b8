# session 23, run 214 (H100): run 213's probes put the ring's input quantization at +4.4% of
# 7B tg128 (no quantization: 508.6 against 487.3) although its rows stream meanwhile: each
# thread's groups took three round trips to L2. ring4q5.so / ring4q3.so: 5 / 3 groups a
# thread and round (one / two round trips for 7B's 1,184 groups). And APR_CUDA_CARVEOUT=72
# (ring2.so, ring off: every decode kernel at 164 KB of shared memory) read 7B tg128 +1.0%,
# 1.5B -2% in run 213: 7B @ d4096 and 32B.
AB_MODELS="1.5b 7b 32b" . bench/cuda/ab.sh
ab_models_wait
for round in 1 2; do
for c in "7b" "1.5b"; do
  set -- $c; n="$1 tg128"
  t "$n final21" APR_CUDA_PATH=$G/final21.so timeout 60 $(b $1)
  t "$n ring-q5" APR_CUDA_RING=8192 APR_CUDA_PATH=$G/ring4q5.so timeout 60 $(b $1)
  t "$n ring-q3" APR_CUDA_RING=8192 APR_CUDA_PATH=$G/ring4q3.so timeout 60 $(b $1)
  t "$n ring-q5-probe2" APR_CUDA_RING=8192 APR_CUDA_RING_PROBE=2 APR_CUDA_PATH=$G/ring4q5.so timeout 60 $(b $1)
done
done
for round in 1 2; do
  t "7b @d4096 final21" APR_CUDA_PATH=$G/final21.so timeout 60 $(b 7b 4096)
  t "7b @d4096 carve72" APR_CUDA_CARVEOUT=72 APR_CUDA_PATH=$G/ring2.so timeout 60 $(b 7b 4096)
  t "32b tg128 final21" APR_CUDA_PATH=$G/final21.so timeout 90 $(b 32b)
  t "32b tg128 carve72" APR_CUDA_CARVEOUT=72 APR_CUDA_PATH=$G/ring2.so timeout 90 $(b 32b)
done
