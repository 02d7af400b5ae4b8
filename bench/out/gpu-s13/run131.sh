# session 13, run 131: final candidate new.so (= make cuda: splits up to one per SM and kv head without the cap of 64; attn_early: attention launched with PDL after a late-triggering QKV that prefetches the KV cache, where sms / n_kv >= 48)
# tests + memcheck on new.so; same-run A/B base.so (605ba41 make cuda; = 1a06acf kernels) vs new.so, all four sizes
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
cc -O2 -std=c99 -I.dev/gpu/snap -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
(bench/make_models.sh /tmp/apr-models 0.5b 1.5b 7b 32b > /dev/null 2>&1; echo models done) &
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/new.so timeout 200 /tmp/test_cuda > $OUT/test_cuda-new.log 2>&1; echo "test new rc=$?"; tail -1 $OUT/test_cuda-new.log; grep -E "FAIL" $OUT/test_cuda-new.log | head -5; grep -A2 "launched early" $OUT/test_cuda-new.log | head -8
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/new.so timeout 280 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda > $OUT/memcheck-new.log 2>&1; echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|passed" $OUT/memcheck-new.log | tail -2
wait
t() { name=$1; shift; printf "%-22s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
APR_CUDA_PATH=$PWD/.dev/gpu/new.so ./apr-bench -m /tmp/apr-models/qwen2.5-0.5b-q4_k_m.gguf -ngl 99 -p 0 -n 16 -v 2>&1 | grep -i "decode" | head -3
for m in 0.5b 1.5b 7b 32b; do
 mm=/tmp/apr-models/qwen2.5-$m-q4_k_m.gguf
 for round in 1 2; do
  for d in 4096 0; do
  t "base $m d$d" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  t "new $m d$d" APR_CUDA_PATH=$PWD/.dev/gpu/new.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  done
 done
done
