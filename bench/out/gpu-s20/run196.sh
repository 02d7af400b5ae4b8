# session 20, run 196 (H100): issue 7's protocol for 7B and 32B with dyn4.so (the committed apr_cuda.cu; 0.5B and 1.5B take no DYN launch, run 195's INFO lines, so run 191 stands for them)
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
MD=/tmp/apr-models; mkdir -p $MD
make -s apr-bench apr-quantize 2>&1 | tail -2
bench/make_models.sh $MD 7b > /tmp/mk.log 2>&1 &
bench/make_models.sh $MD 32b > /tmp/mk32.log 2>&1 &
wait
cp .dev/gpu/dyn4.so libapr_cuda.so
OUT2=$OUT; OUT=/tmp/o/b MODELS=$MD timeout 400 bench/cuda/gpu_bench.sh 7b 32b > $OUT2/run196-protocol.txt 2>&1; echo "protocol rc=$?"; grep -E "^==|\[apr-bench\]" $OUT2/run196-protocol.txt
