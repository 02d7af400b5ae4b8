# session 21, run 204 (H100): final21.so (the committed apr_cuda.cu: 49ac776's kernels + the attention merge's padded rows): tests/test_cuda under compute-sanitizer memcheck
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/final21.so timeout 400 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda > /tmp/memcheck.log 2>&1; echo "memcheck test_cuda rc=$?"; grep -E "^FAIL|passed|ERROR SUMMARY" /tmp/memcheck.log | tail -5
tail -5 /tmp/memcheck.log > $OUT/run204-memcheck-tail.txt
grep -E "k_attn_dec_mma|head size 128" /tmp/memcheck.log | head -5
