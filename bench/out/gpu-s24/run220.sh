# session 24, run 220 (H100): run 219 had the look-ahead issued by each k_mvs block at its end
# lose everywhere (wo -1.2%, next QKV -1.5%): a grid is done only when its bulk prefetches
# are, so the next kernel's pdl_wait waits for them. l2b.so = c66b6be + the look-ahead issued
# by the decode attention's blocks (k_attn_dec_mma; the idle splits too) from a per-layer
# table in device memory: APR_CUDA_L2A=1 at the block's start, =2 after its pdl_wait;
# APR_CUDA_L2A_GU=kb: gate/up's rows after its first round too. Only the attention's PTX
# differs from c66b6be's.
AB_MODELS="1.5b 7b" . bench/cuda/ab.sh
ab_models_wait
for round in 1 2; do
  t "7b tg128 final23c" APR_CUDA_PATH=$G/final23c.so timeout 60 $(b 7b)
  t "7b tg128 l2b-off" APR_CUDA_PATH=$G/l2b.so timeout 60 $(b 7b)
  t "7b tg128 m1" APR_CUDA_L2A=1 APR_CUDA_PATH=$G/l2b.so timeout 60 $(b 7b)
  t "7b tg128 m2" APR_CUDA_L2A=2 APR_CUDA_PATH=$G/l2b.so timeout 60 $(b 7b)
  t "7b tg128 m1+gu8M" APR_CUDA_L2A=1 APR_CUDA_L2A_GU=8192 APR_CUDA_PATH=$G/l2b.so timeout 60 $(b 7b)
  t "7b tg128 m2+gu8M" APR_CUDA_L2A=2 APR_CUDA_L2A_GU=8192 APR_CUDA_PATH=$G/l2b.so timeout 60 $(b 7b)
  t "7b tg128 m2+gu16M" APR_CUDA_L2A=2 APR_CUDA_L2A_GU=16384 APR_CUDA_PATH=$G/l2b.so timeout 60 $(b 7b)
done
for v in "final23c" "l2b-off" "m1" "m2"; do
  m=0; case $v in m1) m=1;; m2) m=2;; esac
  so=l2b.so; [ $v = final23c ] && so=final23c.so
  t "7b @d4096 $v" APR_CUDA_L2A=$m APR_CUDA_PATH=$G/$so timeout 60 $(b 7b 4096)
  t "1.5b tg128 $v" APR_CUDA_L2A=$m APR_CUDA_PATH=$G/$so timeout 60 $(b 1.5b)
done
APR_CUDA_L2A=2 APR_CUDA_PATH=$G/l2b.so ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 16 -r 1 -v 2>&1 | grep -i "cuda" | head -20
