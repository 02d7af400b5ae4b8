# session 16, run 154: first run on an H100 (kind nvidia-h100-x1): review.so = sm_90a build of cfca58f (HEAD); tests, then issue 7's protocol against the H100 anchors
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/review.so timeout 200 /tmp/test_cuda > $OUT/test_cuda.log 2>&1; echo "test rc=$?"; tail -1 $OUT/test_cuda.log; grep -E "FAIL" -A3 $OUT/test_cuda.log | head
cp .dev/gpu/review.so libapr_cuda.so
OUT2=$OUT; OUT=/tmp/o/b MODELS=/tmp/apr-models timeout 400 bench/cuda/gpu_bench.sh 0.5b 1.5b 7b 32b > $OUT2/protocol.txt 2>&1; echo "protocol rc=$?"; grep -E "^==|\[apr-bench\]" $OUT2/protocol.txt
(cd /tmp/o && tar czf $OUT2/protocol-json.tgz b) 2>/dev/null
