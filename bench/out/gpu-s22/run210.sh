# session 22, run 210 (H200): issue 7's protocol with final21.so (the committed apr_cuda.cu, sessions
# 19-21's kernels: the DYN instance, the padded attention merge), and tests/test_cuda against it
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/apr-models; mkdir -p $MD
(for s in 0.5b 1.5b 7b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1 &
bench/make_models.sh $MD 32b > /tmp/mk32.log 2>&1 &
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/final21.so timeout 250 /tmp/test_cuda > $OUT/run210-test_cuda.log 2>&1; echo "test_cuda rc=$?"; grep -E "FAIL|passed" $OUT/run210-test_cuda.log | tail -3
wait; ls $MD
cp .dev/gpu/final21.so libapr_cuda.so
OUT2=$OUT; OUT=/tmp/o/b MODELS=$MD timeout 420 bench/cuda/gpu_bench.sh 0.5b 1.5b 7b 32b > $OUT2/run210-protocol.txt 2>&1; echo "protocol rc=$?"; grep -E "^==|\[apr-bench\]" $OUT2/run210-protocol.txt
