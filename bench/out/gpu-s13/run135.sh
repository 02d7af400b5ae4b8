# session 13, run 135: the committed build final.so (= make cuda: run 131's source + the KV prefetch counting lines by bytes, a comment): tests + memcheck; A/B base.so vs final.so 0.5B / 7B
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
cc -O2 -std=c99 -I.dev/gpu/snap -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
(bench/make_models.sh /tmp/apr-models 0.5b 7b > /dev/null 2>&1; echo models done) &
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/final.so timeout 200 /tmp/test_cuda > $OUT/test_cuda-final.log 2>&1; echo "test final rc=$?"; tail -1 $OUT/test_cuda-final.log; grep -E "FAIL" $OUT/test_cuda-final.log | head -5
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/final.so timeout 280 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda > $OUT/memcheck-final.log 2>&1; echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|passed" $OUT/memcheck-final.log | tail -2
tail -c 3000 $OUT/memcheck-final.log > $OUT/memcheck-tail.txt; rm -f $OUT/memcheck-final.log
wait
t() { name=$1; shift; printf "%-22s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for m in 0.5b 7b; do
 mm=/tmp/apr-models/qwen2.5-$m-q4_k_m.gguf
  for d in 4096 0; do
  t "base $m d$d" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  t "final $m d$d" APR_CUDA_PATH=$PWD/.dev/gpu/final.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  done
done
