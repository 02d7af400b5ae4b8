# session 22, run 206 (H100): bounds on the decode attention (k_attn_dec_mma), builds of /tmp/xp.cu
# (committed kernels + experiment macros, sm_90a): x_NOMERGE = the scoring warps' outputs not merged
# (each warp hh < G writes its own row from registers: wrong values; an upper bound for a column-split
# P V), x_NOLO = q and p in one f16 part (no lo mma), x_NOATTN = the attention returns after pdl_wait
# (the whole attention's cost). final21.so = committed kernels. Two rounds.
. bench/cuda/ab.sh
ab_models_wait
for round in 1 2; do
  for c in "0.5b" "1.5b" "7b" "7b 4096" "0.5b 4096"; do
    set -- $c; n="$1 tg128"; [ -n "$2" ] && n="$1 @d$2"
    for v in final21 x_NOMERGE x_NOLO x_NOATTN; do t "$n $v" APR_CUDA_PATH=$G/$v.so $(b $1 $2); done
  done
done
