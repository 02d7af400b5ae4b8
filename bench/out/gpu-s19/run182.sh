# session 19, run 182 (H100): cand.so (ffn_q, qo_vals aligned for its float4 loads): tests/test_cuda; A/B final.so (9ba31cb), cand.so, and with APR_CUDA_FFN_Q=0: cand.so, v1.so (only k_mvs_res's copy prologue), v2.so (only k_mvs's pair-of-rounds loop); 7B, 1.5B, 0.5B tg128, two rounds
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/m; mkdir -p $MD
(for s in 7b 1.5b 0.5b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1 &
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/cand.so timeout 240 /tmp/test_cuda > /tmp/test_cuda.log 2>&1; echo "test_cuda rc=$?"; grep -E "^FAIL|passed|GPU:|test-wide Q4_K" /tmp/test_cuda.log | tail -12
cp /tmp/test_cuda.log $OUT/run182-test_cuda.log
wait
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do
  for m in 7b 1.5b 0.5b; do
    for v in final cand candoff v1off v2off; do
      so=${v%off}; ex=""; [ $so != $v ] && ex="APR_CUDA_FFN_Q=0"
      t "$m tg128 $v" $ex APR_CUDA_PATH=$PWD/.dev/gpu/$so.so ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
    done
  done
done
