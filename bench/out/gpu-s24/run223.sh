# session 24, run 223 (H100): run 222 put every prologue's activation preparation at 7B +5.9%
# (noq1: no loads, no arithmetic) and its arithmetic alone at +1.1% (noq2: the loads kept):
# the input's reads are the larger part. Is ffn_down's read bound by its bytes (74 KB a block,
# 224 blocks: 16.6 MB from L2 at once) or by its latency behind the weight loads? Probes
# (wrong values, timing only), ffn_down only (K > 8192), QKV and wo as before:
# noq4.so: its input loaded whole, no arithmetic; noq3.so: half its bytes loaded (as an f16
# input would be), no arithmetic. noq3 well above noq4: bytes (an f16 input would pay).
AB_MODELS="7b" . bench/cuda/ab.sh
ab_models_wait
for round in 1 2; do
  for v in final23c noq4 noq3 noq2; do t "7b tg128 $v" APR_CUDA_PATH=$G/$v.so timeout 60 $(b 7b); done
done
for v in final23c noq4 noq3; do t "7b @d4096 $v" APR_CUDA_PATH=$G/$v.so timeout 60 $(b 7b 4096); done
