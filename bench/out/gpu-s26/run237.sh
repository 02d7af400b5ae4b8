# session 26, run 237 (H100): bounds on waiting for the input without the grid's end.
# Probe builds of rev.so's kernels (wrong values, timing only; -DAPR_PROBE_NOWAIT=mask):
# mvs_rows_of skips pdl_wait in k_mvs_res_wide (8: 7B's ffn_down), or in every k_mvs
# kernel but the output matrix (15: QKV, wo, gate/up, ffn_down). nw8 bounds what ffn_down
# could gain by quantizing its input as gate/up's rows land (per-group flags) instead of
# after gate/up's grid ends; nw15 is the weight stream with no dependencies between matvecs.
AB_MODELS="7b" . bench/cuda/ab.sh
ab_models_wait
for round in 1 2; do
  for v in rev nw8 nw15; do
    t "7b tg128 $v" APR_CUDA_PATH=$G/$v.so timeout 60 $(b 7b); done
done
for v in rev nw8; do
  t "7b @d4096 $v" APR_CUDA_PATH=$G/$v.so timeout 90 $(b 7b 4096); done
