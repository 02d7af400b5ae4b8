# session 12, run 124: final build new.so (= make cuda: wo trigger in the attention's last block where wo's grid leaves room, sincos before pdl_wait, tile 32 as before)
# tests + memcheck; 32B A/B base.so vs new.so; then the protocol with new.so
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
cc -O2 -std=c99 -I.dev/gpu/snap -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
(bench/make_models.sh /tmp/apr-models 0.5b 1.5b 7b 32b > /dev/null 2>&1; echo models done) &
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/new.so /tmp/test_cuda > $OUT/test_cuda-new.log 2>&1; echo "test new rc=$?"; tail -1 $OUT/test_cuda-new.log; grep FAIL $OUT/test_cuda-new.log | head -5
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/new.so compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda > $OUT/memcheck-new.log 2>&1; echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|passed" $OUT/memcheck-new.log | tail -2
wait
t() { name=$1; shift; printf "%-22s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
mm=/tmp/apr-models/qwen2.5-32b-q4_k_m.gguf
for round in 1 2; do
 t "base 32b" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -r 2
 t "new 32b" APR_CUDA_PATH=$PWD/.dev/gpu/new.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -r 2
done
cp .dev/gpu/new.so libapr_cuda.so
OUT2=$OUT; OUT=/tmp/o/b MODELS=/tmp/apr-models bench/cuda/gpu_bench.sh 0.5b 1.5b 7b 32b > $OUT2/protocol.txt 2>&1; echo "protocol rc=$?"
(cd /tmp/o && tar czf $OUT2/protocol-json.tgz b) 2>/dev/null
grep -E "^\| qwen|launches|GPU memory" $OUT2/protocol.txt | head -30
