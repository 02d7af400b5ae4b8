# session 14, run 143: cw.so = 47cba1f + APR_CUDA_ATTN_CW=8 (eight scoring warps, stages of 128 positions) as a knob:
# tests with CW=8 for every context; A/B final.so vs cw.so CW=8 (and CW=8 with splits of at least 256)
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
cc -O2 -std=c99 -I.dev/gpu/snap -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
(bench/make_models.sh /tmp/m 0.5b 1.5b 7b 32b > /dev/null 2>&1; echo models done) &
APR_CUDA_ATTN_CW=8 APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/cw.so timeout 200 /tmp/test_cuda > $OUT/test_cuda-cw8.log 2>&1; echo "test cw8 rc=$?"; tail -1 $OUT/test_cuda-cw8.log; grep -E "FAIL" -A3 $OUT/test_cuda-cw8.log | head; grep -E "k_attn_dec_mma" $OUT/test_cuda-cw8.log | grep "positions (" 
wait
t() { name=$1; shift; printf "%-26s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for mdl in 0.5b 1.5b 7b 32b; do
 mm=/tmp/m/qwen2.5-$mdl-q4_k_m.gguf
 rounds="1 2"; case $mdl in 32b) rounds=1;; esac
 for round in $rounds; do
  for d in 4096 0; do
  t "final $mdl d$d" APR_CUDA_PATH=$PWD/.dev/gpu/final.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  t "cw8 $mdl d$d" APR_CUDA_ATTN_CW=8 APR_CUDA_PATH=$PWD/.dev/gpu/cw.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  done
 done
done
for mdl in 0.5b 7b; do
 mm=/tmp/m/qwen2.5-$mdl-q4_k_m.gguf
 t "cw8 s256 $mdl d4096" APR_CUDA_ATTN_CW=8 APR_CUDA_ATTN_SPLIT=256 APR_CUDA_PATH=$PWD/.dev/gpu/cw.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d 4096 -r 3
done
