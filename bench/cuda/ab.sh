# bench/cuda/ab.sh - sourced by a device run script (bench/out/gpu-sNN/runNNN.sh) to A/B
# builds or switches in one run:
#   . bench/cuda/ab.sh            # builds apr-bench, writes the synthetic models into $MD
#   t "7b tg128 base" APR_CUDA_PATH=$G/base.so $(b 7b)
#   t "7b @d4096 new" APR_CUDA_PATH=$G/new.so $(b 7b 4096)
# t prints the cell's name and apr-bench's tok/s (mean ± sd of -r 3); bench/cuda/ab_report.py
# reads those lines back and gives each variant against the first. Only figures of one run
# compare: a fresh machine differs by a percent or two.
# AB_MODELS: the sizes to write (default 0.5b 1.5b 7b; 32b takes ~90 s more), in the
# background; ab_models_wait blocks until they are there.
export APR_VOCAB=${APR_VOCAB:-.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf}
G=$PWD/.dev/gpu
MD=${MD:-/tmp/apr-models}
mkdir -p "$MD"
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
(for s in ${AB_MODELS:-0.5b 1.5b 7b}; do bench/make_models.sh "$MD" "$s"; done) > /tmp/ab-models.log 2>&1 &
AB_MODELS_PID=$!
ab_models_wait() { wait $AB_MODELS_PID; ls "$MD"; }
t() {
    local name=$1 o r
    shift
    printf "%-34s" "$name"
    o=$(env "$@" 2>&1)
    r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}')
    if [ -n "$r" ]; then echo "$r"; else echo " FAILED:"; echo "$o" | tail -3; fi
}
b() { echo "./apr-bench -m $MD/qwen2.5-$1-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3 ${2:+-d $2}"; }
