#!/bin/sh
# bench/make_models.sh - write the benchmark models: synthetic Qwen2.5 0.5B / 1.5B / 7B / 32B
# (real dimensions, random weights, the real Qwen2 tokenizer) quantized with llama.cpp's
# Q4_K_M recipe, as ANCHORS.md measures them.
#   bench/make_models.sh [DIR] [SIZES...]      (default: .dev/models, all four sizes)
#   e.g. bench/make_models.sh /tmp/models 0.5b 1.5b
# Environment: APR_THREADS (default: all cores), APR_TYPE (default Q4_K_M),
#              APR_VOCAB (default ../shared/data/vocab/ggml-vocab-qwen2.gguf).
# Existing files are kept (delete them to rebuild). Sizes and time: 0.5B 374 MiB, 1.5B 935 MiB,
# 7B 4.4 GiB, 32B 18.5 GiB of tensor data; the 32B takes minutes on 16 cores.
set -eu
cd "$(dirname "$0")/.."
DIR=${1:-.dev/models}
[ $# -gt 0 ] && shift
SIZES=${*:-0.5b 1.5b 7b 32b}
TYPE=${APR_TYPE:-Q4_K_M}
VOCAB=${APR_VOCAB:-../shared/data/vocab/ggml-vocab-qwen2.gguf}
THREADS=${APR_THREADS:-0}
[ -x ./apr-quantize ] && [ ./apr-quantize -nt drivers/quantize.c ] && [ ./apr-quantize -nt apr.h ] || make apr-quantize
mkdir -p "$DIR"
lower=$(echo "$TYPE" | tr 'A-Z' 'a-z')
for s in $SIZES; do
    out="$DIR/qwen2.5-$s-$lower.gguf"
    if [ -f "$out" ]; then echo "$out exists"; continue; fi
    echo "writing $out"
    ./apr-quantize -t "$THREADS" --synthetic "qwen2.5-$s" "$out.tmp" "$TYPE" --vocab "$VOCAB"
    mv "$out.tmp" "$out"
    ls -l "$out"
done
