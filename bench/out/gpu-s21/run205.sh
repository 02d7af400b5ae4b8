# session 21, run 205 (H100): issue 7's protocol with final21.so (the committed apr_cuda.cu)
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/apr-models; mkdir -p $MD
(for s in 0.5b 1.5b 7b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1 &
bench/make_models.sh $MD 32b > /tmp/mk32.log 2>&1 &
wait; ls $MD
cp .dev/gpu/final21.so libapr_cuda.so
OUT2=$OUT; OUT=/tmp/o/b MODELS=$MD timeout 400 bench/cuda/gpu_bench.sh 0.5b 1.5b 7b 32b > $OUT2/run205-protocol.txt 2>&1; echo "protocol rc=$?"; grep -E "^==|\[apr-bench\]" $OUT2/run205-protocol.txt
