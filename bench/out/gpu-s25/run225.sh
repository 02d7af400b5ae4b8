# session 25, run 225 (H100): k_mvs_res_wide, the residual matvec in blocks of 16 warps
# (one per SM where k_mvs_res has two of 8), APR_CUDA_RES_WIDE=n for matrices of n columns
# or more (0, the default in wide.so: off). Every other kernel's PTX is final23c's (checked:
# names of static shared variables aside). 8192: 7B's ffn_down only; 1: wo too.
# First test_cuda with wide.so, memcheck of a small model with it forced on, then the A/B.
AB_MODELS="0.5b 7b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$G/shared APR_CUDA_PATH=$G/wide.so timeout 200 /tmp/test_cuda > $OUT/run225-test.txt 2>&1
echo "test_cuda rc=$?"; grep -E "passed|FAIL|k_mvs_res_wide vs" $OUT/run225-test.txt | head -20
ab_models_wait
APR_CUDA_MVS_SPLIT=0 APR_CUDA_RES_WIDE=1 APR_CUDA_PATH=$G/wide.so timeout 240 /usr/local/cuda/bin/compute-sanitizer --tool memcheck \
  ./apr-bench -m $MD/qwen2.5-0.5b-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 2>&1 | grep -E "ERROR SUMMARY|k_mvs_res_wide|qwen" | head
for round in 1 2 3; do
  for v in "final23c 0" "wide 0" "wide 8192" "wide 1"; do set -- $v
    t "7b tg128 $1 $2" APR_CUDA_RES_WIDE=$2 APR_CUDA_PATH=$G/$1.so timeout 60 $(b 7b); done
done
for round in 1 2; do
  for v in "final23c 0" "wide 8192" "wide 1"; do set -- $v
    t "7b @d4096 $1 $2" APR_CUDA_RES_WIDE=$2 APR_CUDA_PATH=$G/$1.so timeout 60 $(b 7b 4096); done
done
APR_CUDA_RES_WIDE=8192 APR_CUDA_PATH=$G/wide.so ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 8 -r 1 -v 2>&1 | grep -i "wide\|ring\|DYN" | head -5
