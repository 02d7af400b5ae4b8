# session 20, run 191 (H100): dyn.so (the committed apr_cuda.cu: DYN default 2 rounds, 8 pools, 3,000 bytes): tests/test_cuda under compute-sanitizer memcheck; issue 7's protocol
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/apr-models; mkdir -p $MD
(for s in 0.5b 1.5b 7b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1 &
bench/make_models.sh $MD 32b > /tmp/mk32.log 2>&1 &
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/dyn.so timeout 240 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda > /tmp/memcheck.log 2>&1; echo "memcheck test_cuda rc=$?"; grep -E "^FAIL|passed|ERROR SUMMARY" /tmp/memcheck.log | tail -5
tail -5 /tmp/memcheck.log > $OUT/run191-memcheck-tail.txt
wait; ls $MD
cp .dev/gpu/dyn.so libapr_cuda.so
for m in 7b 32b; do ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep -E "DYN|launches"; done
OUT2=$OUT; OUT=/tmp/o/b MODELS=$MD timeout 340 bench/cuda/gpu_bench.sh 0.5b 1.5b 7b 32b > $OUT2/run191-protocol.txt 2>&1; echo "protocol rc=$?"; grep -E "^==|\[apr-bench\]" $OUT2/run191-protocol.txt
