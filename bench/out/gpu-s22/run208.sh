# session 22, run 208 (H100): e2b.so = k_mvs_res E2 instances in three modes (APR_CUDA_MVS_E2_MODE):
# 1 = the second step's loads before pdl_wait (run 207's e2), 2 = B's loads right after pdl_wait,
# before the quantization, 3 = A's and B's after pdl_wait (none before); from inputs of
# APR_CUDA_MVS_E2_COLS columns (8192: ffn_down). Stamps of 7B layer 13 per mode; A/B final21 /
# e2b off / modes 2, 3 (ffn_down).
AB_MODELS="0.5b 1.5b 7b 32b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
for m in 2 3; do APR_CUDA_MVS_E2_MODE=$m APR_CUDA_MVS_E2_COLS=1 APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$G/e2b.so timeout 250 /tmp/test_cuda > $OUT/run208-test_cuda-m$m.log 2>&1; echo "test_cuda mode $m rc=$?"; grep -E "FAIL|passed" $OUT/run208-test_cuda-m$m.log | tail -3; done
ab_models_wait
for m in 2 3; do
  APR_CUDA_MVS_E2_MODE=$m APR_CUDA_MVS_E2_COLS=8192 ST_LAYER=13 ST_OUT=$OUT/run208-stamps-7b-L13-m$m.txt APR_CUDA_PATH=$G/st_e2b.so ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 1 > /dev/null 2>&1
  echo "== L13 mode $m"; python3 bench/cuda/stamps_report.py $OUT/run208-stamps-7b-L13-m$m.txt 2>/dev/null | head -7
done
for round in 1 2; do
  for c in "7b" "7b 4096" "32b" "1.5b" "0.5b"; do
    set -- $c; n="$1 tg128"; [ -n "$2" ] && n="$1 @d$2"
    t "$n final21" APR_CUDA_PATH=$G/final21.so $(b $1 $2)
    t "$n e2off" APR_CUDA_PATH=$G/e2b.so $(b $1 $2)
    t "$n mode2" APR_CUDA_MVS_E2_MODE=2 APR_CUDA_MVS_E2_COLS=8192 APR_CUDA_PATH=$G/e2b.so $(b $1 $2)
    t "$n mode3" APR_CUDA_MVS_E2_MODE=3 APR_CUDA_MVS_E2_COLS=8192 APR_CUDA_PATH=$G/e2b.so $(b $1 $2)
  done
done
