# session 13, run 134: new2.so (= make cuda: run 131's new.so + tiles by split length: 64 where a split holds >= 64 positions)
# tests + memcheck on new2.so; A/B new2.so with APR_CUDA_ATTN_TILE=32 (= run 131 new.so tiles) vs new2.so default (0.5B, 1.5B), base.so vs new2.so (7B, 32B)
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
cc -O2 -std=c99 -I.dev/gpu/snap -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
(bench/make_models.sh /tmp/apr-models 0.5b 1.5b 7b 32b > /dev/null 2>&1; echo models done) &
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/new2.so timeout 200 /tmp/test_cuda > $OUT/test_cuda-new2.log 2>&1; echo "test new2 rc=$?"; tail -1 $OUT/test_cuda-new2.log; grep -E "FAIL" $OUT/test_cuda-new2.log | head -5; grep -A1 "default splits" $OUT/test_cuda-new2.log | grep max | head -5
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/new2.so timeout 280 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda > $OUT/memcheck-new2.log 2>&1; echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|passed" $OUT/memcheck-new2.log | tail -2
tail -c 3000 $OUT/memcheck-new2.log > $OUT/memcheck-tail.txt; rm -f $OUT/memcheck-new2.log
wait
t() { name=$1; shift; printf "%-22s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for m in 0.5b 1.5b; do
 mm=/tmp/apr-models/qwen2.5-$m-q4_k_m.gguf
 for round in 1 2; do
  for d in 4096 0; do
  t "new2 t32 $m d$d" APR_CUDA_ATTN_TILE=32 APR_CUDA_PATH=$PWD/.dev/gpu/new2.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  t "new2 $m d$d" APR_CUDA_PATH=$PWD/.dev/gpu/new2.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  done
 done
done
for m in 7b 32b; do
 mm=/tmp/apr-models/qwen2.5-$m-q4_k_m.gguf
  for d in 4096 0; do
  t "base $m d$d" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  t "new2 $m d$d" APR_CUDA_PATH=$PWD/.dev/gpu/new2.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  done
done
