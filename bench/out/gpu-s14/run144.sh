# session 14, run 144: final2.so = make cuda of the code to commit (k_attn_dec_mma with eight scoring warps by default): tests, memcheck, protocol
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
cc -O2 -std=c99 -I.dev/gpu/snap -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/final2.so timeout 200 /tmp/test_cuda > $OUT/test_cuda-final2.log 2>&1; echo "test final2 rc=$?"; tail -1 $OUT/test_cuda-final2.log; grep -E "FAIL" -A3 $OUT/test_cuda-final2.log | head; grep -E "scoring warps" $OUT/test_cuda-final2.log | grep "positions ("
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/final2.so timeout 300 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda > $OUT/memcheck-final2.log 2>&1; echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|passed" $OUT/memcheck-final2.log | tail -2; tail -c 3000 $OUT/memcheck-final2.log > $OUT/memcheck-final2-tail.txt; rm $OUT/memcheck-final2.log
cp .dev/gpu/final2.so libapr_cuda.so
OUT2=$OUT; OUT=/tmp/o/b MODELS=/tmp/apr-models bench/cuda/gpu_bench.sh 0.5b 1.5b 7b 32b > $OUT2/protocol.txt 2>&1; echo "protocol rc=$?"; grep -E "^==|\[apr-bench\]" $OUT2/protocol.txt
(cd /tmp/o && tar czf $OUT2/protocol-json.tgz b) 2>/dev/null
