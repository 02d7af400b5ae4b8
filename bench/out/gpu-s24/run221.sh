# session 24, run 221 (H100): run 220 had the look-ahead issued by the attention's blocks
# (at their start: +0.5% against its own build, whose larger AttnD cost 1.1%; after pdl_wait
# or with gate/up rows: less). l2c.so = c66b6be + k_l2_ahead, a kernel of its own on a second
# stream (a parallel branch of the decode graph), forked after QKV (APR_CUDA_L2A_WO=1: wo;
# APR_CUDA_L2A_GU=kb: gate/up rows after its first round) and after gate/up
# (APR_CUDA_L2A_DOWN=kb: ffn_down rows after its first round), joined before the output
# matrix. Every existing kernel's PTX is unchanged (only local depot numbers).
AB_MODELS="1.5b 7b" . bench/cuda/ab.sh
ab_models_wait
for round in 1 2; do
  t "7b tg128 final23c" APR_CUDA_PATH=$G/final23c.so timeout 60 $(b 7b)
  t "7b tg128 l2c-off" APR_CUDA_PATH=$G/l2c.so timeout 60 $(b 7b)
  t "7b tg128 wo" APR_CUDA_L2A_WO=1 APR_CUDA_PATH=$G/l2c.so timeout 60 $(b 7b)
  t "7b tg128 wo+gu8M" APR_CUDA_L2A_WO=1 APR_CUDA_L2A_GU=8192 APR_CUDA_PATH=$G/l2c.so timeout 60 $(b 7b)
  t "7b tg128 down8M" APR_CUDA_L2A_DOWN=8192 APR_CUDA_PATH=$G/l2c.so timeout 60 $(b 7b)
  t "7b tg128 down16M" APR_CUDA_L2A_DOWN=16384 APR_CUDA_PATH=$G/l2c.so timeout 60 $(b 7b)
  t "7b tg128 wo+down8M" APR_CUDA_L2A_WO=1 APR_CUDA_L2A_DOWN=8192 APR_CUDA_PATH=$G/l2c.so timeout 60 $(b 7b)
  t "7b tg128 wo b132" APR_CUDA_L2A_WO=1 APR_CUDA_L2A_BLOCKS=132 APR_CUDA_PATH=$G/l2c.so timeout 60 $(b 7b)
done
t "7b @d4096 final23c" APR_CUDA_PATH=$G/final23c.so timeout 60 $(b 7b 4096)
t "7b @d4096 wo" APR_CUDA_L2A_WO=1 APR_CUDA_PATH=$G/l2c.so timeout 60 $(b 7b 4096)
t "7b @d4096 wo+down8M" APR_CUDA_L2A_WO=1 APR_CUDA_L2A_DOWN=8192 APR_CUDA_PATH=$G/l2c.so timeout 60 $(b 7b 4096)
t "1.5b tg128 final23c" APR_CUDA_PATH=$G/final23c.so timeout 60 $(b 1.5b)
t "1.5b tg128 wo" APR_CUDA_L2A_WO=1 APR_CUDA_PATH=$G/l2c.so timeout 60 $(b 1.5b)
