# session 17, run 171 (H100): final.so (= the committed apr_cuda.cu, sm_90a: ca8b610 + decode attention launched with PDL where not early): compute-sanitizer memcheck of tests/test_cuda (with the new 'launched with PDL vs without' case), then issue 7's protocol against the H100 anchors
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/final.so timeout 200 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda > /tmp/memcheck.log 2>&1; echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|passed" /tmp/memcheck.log | tail -2; grep -E "^FAIL" -A2 /tmp/memcheck.log | head; grep -E "launched with PDL" /tmp/memcheck.log | head -3; tail -c 3000 /tmp/memcheck.log > $OUT/memcheck-tail.txt
cp .dev/gpu/final.so libapr_cuda.so
OUT2=$OUT; OUT=/tmp/o/b MODELS=/tmp/apr-models timeout 330 bench/cuda/gpu_bench.sh 0.5b 1.5b 7b 32b > $OUT2/protocol.txt 2>&1; echo "protocol rc=$?"; grep -E "^==|\[apr-bench\]" $OUT2/protocol.txt
(cd /tmp/o && tar czf $OUT2/protocol-json.tgz b) 2>/dev/null
