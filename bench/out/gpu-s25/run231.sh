# session 25, run 231 (H100): k_mvs_res_wide's SPLIT instance (wsplit.so; mvs_rows_of's warp
# shares by NW with shifts), for SPLIT grids with APR_CUDA_RES_WIDE_SPLIT=1: 32B's ffn_down
# (27,648 columns, 2,560 tasks over 132 blocks of 16 warps). Every other kernel's PTX is
# final25's (checked). test_cuda (test_gpu_res_wide now has SPLIT forms), memcheck, A/B 32B.
AB_MODELS="0.5b 32b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$G/shared APR_CUDA_PATH=$G/wsplit.so timeout 200 /tmp/test_cuda > $OUT/run231-test.txt 2>&1
echo "test_cuda rc=$?"; grep -E "passed|FAIL|k_mvs_res_wide vs.*:" $OUT/run231-test.txt | head -20
ab_models_wait
APR_CUDA_MVS_SPLIT=1 APR_CUDA_RES_WIDE=1 APR_CUDA_RES_WIDE_SPLIT=1 APR_CUDA_PATH=$G/wsplit.so timeout 240 /usr/local/cuda/bin/compute-sanitizer --tool memcheck \
  ./apr-bench -m $MD/qwen2.5-0.5b-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep -E "ERROR SUMMARY|k_mvs_res_wide|SPLIT|qwen" | head
for round in 1 2 3; do
  for v in "final25 0" "wsplit 0" "wsplit 1"; do set -- $v
    t "32b tg128 $1 $2" APR_CUDA_RES_WIDE_SPLIT=$2 APR_CUDA_PATH=$G/$1.so timeout 90 $(b 32b); done
done
for v in "final25 0" "wsplit 0" "wsplit 1"; do set -- $v
  t "32b @d4096 $1 $2" APR_CUDA_RES_WIDE_SPLIT=$2 APR_CUDA_PATH=$G/$1.so timeout 120 $(b 32b 4096); done
APR_CUDA_RES_WIDE_SPLIT=1 APR_CUDA_PATH=$G/wsplit.so ./apr-bench -m $MD/qwen2.5-32b-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep "^CUDA" | tail -4
