# session 24, run 222 (H100): bounds on the activation quantization of every k_mvs prologue
# (wrong values, timing only). noq1.so: every k_mvs / k_mvs_res / k_mvs_multi block stores a
# constant instead of loading and quantizing its input (APR_PROBE_NOQ=1); noq2.so: loads the
# input but stores its bits without the quantization's arithmetic (=2). k_ring_res (1.5B's
# ffn_down) is not probed. Without the macro the PTX is c66b6be's. Session 18's pq2 (ffn_down
# alone, constant) gave 7B +3.7%.
AB_MODELS="7b 32b" . bench/cuda/ab.sh
ab_models_wait
for round in 1 2; do
  for v in final23c noq1 noq2; do t "7b tg128 $v" APR_CUDA_PATH=$G/$v.so timeout 60 $(b 7b); done
done
for v in final23c noq1 noq2; do t "7b @d4096 $v" APR_CUDA_PATH=$G/$v.so timeout 60 $(b 7b 4096); done
for v in final23c noq1 noq2; do t "32b tg128 $v" APR_CUDA_PATH=$G/$v.so timeout 90 $(b 32b); done
