# session 13, run 132: the protocol with new.so (the build tested in run 131; = make cuda of the session's tree)
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
cp .dev/gpu/new.so libapr_cuda.so
OUT2=$OUT; OUT=/tmp/o/b MODELS=/tmp/apr-models bench/cuda/gpu_bench.sh 0.5b 1.5b 7b 32b > $OUT2/protocol.txt 2>&1; echo "protocol rc=$?"
(cd /tmp/o && tar czf $OUT2/protocol-json.tgz b) 2>/dev/null
grep -E "^\| qwen|launches|GPU memory" $OUT2/protocol.txt | head -30
