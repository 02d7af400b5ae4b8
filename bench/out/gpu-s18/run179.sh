# session 18, run 179 (H200): issue 7's protocol with cand2.so (b209b15, the committed apr_cuda.cu) against the H200 anchors
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
cp .dev/gpu/cand2.so libapr_cuda.so
OUT2=$OUT; OUT=/tmp/o/b MODELS=/tmp/m timeout 540 bench/cuda/gpu_bench.sh 0.5b 1.5b 7b 32b > /tmp/protocol.txt 2>&1; echo "protocol rc=$?"; grep -E "^==|\[apr-bench\]" /tmp/protocol.txt
cp /tmp/protocol.txt $OUT2/protocol.txt
