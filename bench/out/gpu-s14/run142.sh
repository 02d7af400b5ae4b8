# session 14, run 142: scaled.so (k_attn_dec_mma with the queries scaled by a power of two per head and the probabilities by 2^12, so the f16 lo parts stay normal): tests; A/B final.so vs scaled.so
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
cc -O2 -std=c99 -I.dev/gpu/snap -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
(bench/make_models.sh /tmp/m 0.5b 7b > /dev/null 2>&1; echo models done) &
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/scaled.so timeout 200 /tmp/test_cuda > $OUT/test_cuda-scaled.log 2>&1; echo "test scaled rc=$?"; tail -1 $OUT/test_cuda-scaled.log; grep -E "FAIL" -A3 $OUT/test_cuda-scaled.log | head; grep -E "k_attn_dec_mma|test-wide" $OUT/test_cuda-scaled.log | grep "positions (" 
wait
t() { name=$1; shift; printf "%-22s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for mdl in 0.5b 7b; do
 mm=/tmp/m/qwen2.5-$mdl-q4_k_m.gguf
 for round in 1 2; do
  for d in 4096 0; do
  t "final $mdl d$d" APR_CUDA_PATH=$PWD/.dev/gpu/final.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  t "scaled $mdl d$d" APR_CUDA_PATH=$PWD/.dev/gpu/scaled.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  done
 done
done
