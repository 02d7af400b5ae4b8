# session 25, run 227 (H100): wide3.so = wide2.so's rule (ffn_down through k_mvs_res_wide)
# plus k_mvs_dyn_wide, gate/up's DYN k_mvs in blocks of 16 warps (APR_CUDA_MVS_WIDE=1, off
# by default). test_cuda with APR_CUDA_MVS_WIDE=1 first (the DYN tests compare its bits).
AB_MODELS="7b 32b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_CUDA_MVS_WIDE=1 APR_SHARED=$G/shared APR_CUDA_PATH=$G/wide3.so timeout 200 /tmp/test_cuda > $OUT/run227-test.txt 2>&1
echo "test_cuda rc=$?"; grep -E "passed|FAIL" $OUT/run227-test.txt | head -20
ab_models_wait
for round in 1 2 3; do
  for v in "final23c -" "wide3 -" "wide3 1"; do set -- $v
    t "7b tg128 $1 $2" $( [ $2 = - ] || echo APR_CUDA_MVS_WIDE=$2 ) APR_CUDA_PATH=$G/$1.so timeout 60 $(b 7b); done
done
for round in 1 2; do
  for v in "final23c -" "wide3 -" "wide3 1"; do set -- $v
    t "7b @d4096 $1 $2" $( [ $2 = - ] || echo APR_CUDA_MVS_WIDE=$2 ) APR_CUDA_PATH=$G/$1.so timeout 60 $(b 7b 4096); done
done
for round in 1 2; do
  for v in "final23c -" "wide3 -" "wide3 1"; do set -- $v
    t "32b tg128 $1 $2" $( [ $2 = - ] || echo APR_CUDA_MVS_WIDE=$2 ) APR_CUDA_PATH=$G/$1.so timeout 90 $(b 32b); done
done
APR_CUDA_MVS_WIDE=1 APR_CUDA_PATH=$G/wide3.so ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep "^CUDA" | tail -3
