#!/bin/bash
# bench/cuda/gpu_bench.sh - issue 7's protocol on the device machine, through apr-bench:
# synthetic Qwen2.5 Q4_K_M models (bench/make_models.sh), pp512, tg128 and tg128 @ d4096,
# 1 warm-up + 5 runs (llama-bench's protocol, ANCHORS.md), all layers on the GPU.
#
#   bench/cuda/gpu_bench.sh [SIZES...]        default: 0.5b 1.5b 7b 32b
#
# Expects libapr_cuda.so built in the repo root (carried, or `make cuda` here) and the
# Qwen2 vocabulary at $APR_VOCAB (default .dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf,
# a git-ignored copy of ../shared, which does not travel to the device).
# Environment: MODELS (default /tmp/apr-models), OUT (default bench/out/gpu), R (5),
#   TESTS (default "-p 512 -n 128 -pg 0,0 -d 0,4096" style handled below), PROFILE=1 adds
#   one APR_CUDA_PROFILE run per model (per-launch-site times, graphs off).
set -u
cd "$(dirname "$0")/../.."
SIZES=${*:-0.5b 1.5b 7b 32b}
MODELS=${MODELS:-/tmp/apr-models}
OUT=${OUT:-bench/out/gpu}
R=${R:-5}
export APR_VOCAB=${APR_VOCAB:-.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf}
export APR_CUDA_PATH=$PWD/libapr_cuda.so
mkdir -p "$OUT" "$MODELS"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
make -s apr-bench apr-quantize >/dev/null || exit 1
for s in $SIZES; do
    t0=$(date +%s)
    bench/make_models.sh "$MODELS" "$s" >/dev/null 2>&1 || exit 1
    m=$MODELS/qwen2.5-$s-q4_k_m.gguf
    echo "== $s (model written in $(( $(date +%s) - t0 )) s)"
    # pp512 and tg128 from an empty cache, then tg128 after 4096 tokens
    ./apr-bench -m "$m" -ngl 99 -p 512 -n 128 -r "$R" -o json -v >"$OUT/apr-$s.json" 2>"$OUT/apr-$s.log"
    ./apr-bench -m "$m" -ngl 99 -p 0 -n 128 -d 4096 -r "$R" -o json -v >"$OUT/apr-$s-d4096.json" 2>>"$OUT/apr-$s.log"
    ./apr-bench --from "$OUT/apr-$s.json" -o md
    ./apr-bench --from "$OUT/apr-$s-d4096.json" -o md | tail -n +3
    grep -h "median" "$OUT/apr-$s.log" | sed 's/^/  /'
    if [ "${PROFILE:-0}" = 1 ]; then
        APR_CUDA_PROFILE=1 ./apr-bench -m "$m" -ngl 99 -p 512 -n 0 -r 1 --no-warmup -o json >/dev/null 2>"$OUT/prof-$s-pp.log"
        APR_CUDA_PROFILE=1 ./apr-bench -m "$m" -ngl 99 -p 0 -n 64 -r 1 --no-warmup -o json >/dev/null 2>"$OUT/prof-$s-tg.log"
        echo "-- profile pp512 (launch site: time)"; grep "prof line" "$OUT/prof-$s-pp.log" | sort -k6 -gr | head -14
        echo "-- profile tg64"; grep "prof line" "$OUT/prof-$s-tg.log" | sort -k6 -gr | head -14
    fi
    if [ "$s" = 32b ] || [ "$s" = 7b ]; then rm -f "$m"; fi  # disk: keep only the small ones (an if: the script's status stays 0)
done
