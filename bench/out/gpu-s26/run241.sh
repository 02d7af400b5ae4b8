# session 26, run 241 (H100): run 237's bounds per boundary. Probe builds of rev.so's kernels
# (nowait-probe.diff, -DAPR_PROBE_NOWAIT=mask; wrong values, timing only): mvs_rows_of skips
# pdl_wait in k_mvs_multi (1: QKV), k_mvs_res (2: wo), k_mvs's DYN instance (4: gate/up),
# or k_mvs's plain instance (16: the output matrix). (8: ffn_down and 15 were run 237.)
AB_MODELS="7b" . bench/cuda/ab.sh
ab_models_wait
for round in 1 2; do
  for v in rev nw1 nw2 nw4 nw16; do
    t "7b tg128 $v" APR_CUDA_PATH=$G/$v.so timeout 60 $(b 7b); done
done
for v in rev nw1 nw2 nw4; do
  t "7b @d4096 $v" APR_CUDA_PATH=$G/$v.so timeout 90 $(b 7b 4096); done
