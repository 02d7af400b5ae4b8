# session 22, run 207 (H100): e2.so = k_mvs_res E2 instances (the second step's loads before
# pdl_wait), off unless APR_CUDA_MVS_E2_COLS=n (inputs of n columns or more: 8192 = ffn_down,
# 1 = wo too); old instances' PTX identical to final21's but for names. test_cuda with E2
# everywhere; stamps of 7B layers 13/14 with E2 off/on; A/B final21 / e2 off / e2 8192 / e2 1.
AB_MODELS="0.5b 1.5b 7b 32b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_CUDA_MVS_E2_COLS=1 APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$G/e2.so timeout 250 /tmp/test_cuda > $OUT/run207-test_cuda.log 2>&1; echo "test_cuda rc=$?"; grep -E "FAIL|passed" $OUT/run207-test_cuda.log | tail -5
ab_models_wait
for l in 13 14; do for e in 0 8192; do
  APR_CUDA_MVS_E2_COLS=$e ST_LAYER=$l ST_OUT=$OUT/run207-stamps-7b-L$l-e$e.txt APR_CUDA_PATH=$G/st_e2.so ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 1 > /dev/null 2>&1
  echo "== L$l e2=$e"; python3 bench/cuda/stamps_report.py $OUT/run207-stamps-7b-L$l-e$e.txt | head -7
done; done
APR_CUDA_MVS_E2_COLS=8192 APR_CUDA_PATH=$G/e2.so ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep -iE "grid|split|E2" | head -5
for round in 1 2; do
  for c in "7b" "7b 4096" "32b" "1.5b" "0.5b"; do
    set -- $c; n="$1 tg128"; [ -n "$2" ] && n="$1 @d$2"
    t "$n final21" APR_CUDA_PATH=$G/final21.so $(b $1 $2)
    t "$n e2off" APR_CUDA_PATH=$G/e2.so $(b $1 $2)
    t "$n e2-8192" APR_CUDA_MVS_E2_COLS=8192 APR_CUDA_PATH=$G/e2.so $(b $1 $2)
    t "$n e2-1" APR_CUDA_MVS_E2_COLS=1 APR_CUDA_PATH=$G/e2.so $(b $1 $2)
  done
done
