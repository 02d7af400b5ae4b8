# session 23, run 212 (H100): ring2.so = ring1 + APR_CUDA_CARVEOUT=pct (every decode kernel
# asks for the same shared-memory carveout). Run 211: the ring lost 1.4% on 7B tg128 and its
# rows copied before pdl_wait changed nothing (PRE 0 = 8 = all): do its blocks wait for a
# reconfiguration of the SM (carveout) behind gate/up's? A/B two rounds, then ncu per kernel.
AB_MODELS="1.5b 7b" . bench/cuda/ab.sh
ab_models_wait
for round in 1 2; do
for c in "7b" "7b 4096" "1.5b"; do
  set -- $c; n="$1 tg128"; [ -n "$2" ] && n="$1 @d$2"
  t "$n final21" APR_CUDA_PATH=$G/final21.so timeout 60 $(b $1 $2)
  t "$n ringoff" APR_CUDA_PATH=$G/ring2.so timeout 60 $(b $1 $2)
  t "$n carve100" APR_CUDA_CARVEOUT=100 APR_CUDA_PATH=$G/ring2.so timeout 60 $(b $1 $2)
  t "$n ring" APR_CUDA_RING=8192 APR_CUDA_PATH=$G/ring2.so timeout 60 $(b $1 $2)
  t "$n ring-carve100" APR_CUDA_RING=8192 APR_CUDA_CARVEOUT=100 APR_CUDA_PATH=$G/ring2.so timeout 60 $(b $1 $2)
  t "$n ring-carve100-kb192" APR_CUDA_RING=8192 APR_CUDA_CARVEOUT=100 APR_CUDA_RING_KB=192 APR_CUDA_PATH=$G/ring2.so timeout 60 $(b $1 $2)
done
done
cp $G/ring2.so libapr_cuda.so
echo "== ncu 7b ring off"; timeout 150 bench/cuda/ncu_decode.sh $MD/qwen2.5-7b-q4_k_m.gguf | grep -E "k_mvs_res|k_ring|total"
echo "== ncu 7b ring on"; APR_CUDA_RING=8192 timeout 150 bench/cuda/ncu_decode.sh $MD/qwen2.5-7b-q4_k_m.gguf | grep -E "k_mvs_res|k_ring|total"
