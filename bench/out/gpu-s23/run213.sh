# session 23, run 213 (H100): run 212 had APR_CUDA_CARVEOUT=100 (every decode kernel at the
# largest shared memory, 28 KB of L1) cost 3% everywhere: the register kernels' loads in
# flight need L1. The ring's blocks (124 KB Q4_K, 156 KB Q6_K) need a larger carveout than
# gate/up's and QKV's blocks: if an SM runs one configuration at a time, they do not run
# beside each other (run 211: rows copied before pdl_wait changed nothing). Carveouts of
# 58% (132 KB: the Q4_K ring fits) and 72% (164 KB: both fit), ring off and on.
AB_MODELS="1.5b 7b" . bench/cuda/ab.sh
ab_models_wait
for round in 1 2; do
for c in "7b" "1.5b"; do
  set -- $c; n="$1 tg128"; [ -n "$2" ] && n="$1 @d$2"
  t "$n final21" APR_CUDA_PATH=$G/final21.so timeout 60 $(b $1 $2)
  t "$n ring" APR_CUDA_RING=8192 APR_CUDA_PATH=$G/ring2.so timeout 60 $(b $1 $2)
  for cv in 58 72; do
    t "$n carve$cv" APR_CUDA_CARVEOUT=$cv APR_CUDA_PATH=$G/ring2.so timeout 60 $(b $1 $2)
    t "$n ring-carve$cv" APR_CUDA_RING=8192 APR_CUDA_CARVEOUT=$cv APR_CUDA_PATH=$G/ring2.so timeout 60 $(b $1 $2)
  done
done
done
# ring3.so = ring2 + the pair loop unrolled by 2 + APR_CUDA_RING_PROBE (1: no dot products,
# 2: no quantization; wrong values, timing only). Kernels alone (ncu, serialized): run 212
# had k_ring_res 23.4 us (Q4_K) / 28.2 (Q6_K) against k_mvs_res 21.0 / 27.3.
for round in 1 2; do
  t "7b tg128 ring3" APR_CUDA_RING=8192 APR_CUDA_PATH=$G/ring3.so timeout 60 $(b 7b)
  t "7b tg128 ring3-probe1" APR_CUDA_RING=8192 APR_CUDA_RING_PROBE=1 APR_CUDA_PATH=$G/ring3.so timeout 60 $(b 7b)
  t "7b tg128 ring3-probe2" APR_CUDA_RING=8192 APR_CUDA_RING_PROBE=2 APR_CUDA_PATH=$G/ring3.so timeout 60 $(b 7b)
done
cp $G/ring3.so libapr_cuda.so
for p in 0 1 2; do
  echo "== ncu 7b ring3 probe $p"; APR_CUDA_RING=8192 APR_CUDA_RING_PROBE=$p timeout 100 bench/cuda/ncu_decode.sh $MD/qwen2.5-7b-q4_k_m.gguf | grep -E "k_mvs_res|k_ring|total"
done
