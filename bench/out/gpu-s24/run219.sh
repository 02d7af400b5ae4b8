# session 24, run 219 (H100): L2 look-ahead (l2_ahead: cp.async.bulk.prefetch.L2 of a later
# kernel's weights by each block of a kernel as it ends). l2a.so = c66b6be + l2_ahead, all
# switches off by default. Expected: QKV's blocks pulling wo (7.2 MB) and gate/up's second
# and third rounds into L2 while the attention chain leaves the DRAM idle (~7 us a 7B layer)
# make wo and gate/up faster; gate/up pulling ffn_down's rounds 1+ covers its quantization.
AB_MODELS="7b" . bench/cuda/ab.sh
ab_models_wait
for round in 1 2; do
  t "7b tg128 final23c" APR_CUDA_PATH=$G/final23c.so timeout 60 $(b 7b)
  t "7b tg128 l2a-off" APR_CUDA_PATH=$G/l2a.so timeout 60 $(b 7b)
  t "7b tg128 wo" APR_CUDA_L2A_WO=1 APR_CUDA_PATH=$G/l2a.so timeout 60 $(b 7b)
  t "7b tg128 wo+gu8M" APR_CUDA_L2A_WO=1 APR_CUDA_L2A_GU=8192 APR_CUDA_PATH=$G/l2a.so timeout 60 $(b 7b)
  t "7b tg128 wo+gu16M" APR_CUDA_L2A_WO=1 APR_CUDA_L2A_GU=16384 APR_CUDA_PATH=$G/l2a.so timeout 60 $(b 7b)
  t "7b tg128 down8M" APR_CUDA_L2A_DOWN=8192 APR_CUDA_PATH=$G/l2a.so timeout 60 $(b 7b)
  t "7b tg128 qkv" APR_CUDA_L2A_QKV=1 APR_CUDA_PATH=$G/l2a.so timeout 60 $(b 7b)
  t "7b tg128 all" APR_CUDA_L2A_WO=1 APR_CUDA_L2A_GU=8192 APR_CUDA_L2A_DOWN=8192 APR_CUDA_L2A_QKV=1 APR_CUDA_PATH=$G/l2a.so timeout 60 $(b 7b)
done
t "7b @d4096 final23c" APR_CUDA_PATH=$G/final23c.so timeout 60 $(b 7b 4096)
t "7b @d4096 all" APR_CUDA_L2A_WO=1 APR_CUDA_L2A_GU=8192 APR_CUDA_L2A_DOWN=8192 APR_CUDA_L2A_QKV=1 APR_CUDA_PATH=$G/l2a.so timeout 60 $(b 7b 4096)
