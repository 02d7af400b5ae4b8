#!/bin/bash
# bench/cuda/run.sh - what the CUDA helper runs on the device machine (see bench/NOTES.md).
#   check     GPU vs CPU reference on every file in .dev/${CUDA_DEV:-cuda}/data (carried), greedy run
#   sanitize  compute-sanitizer memcheck on two small files
#   test      tests/bin/test_cuda (carried) with APR_SHARED=.dev/${CUDA_DEV:-cuda}/shared
#   bench     synthetic Qwen2.5 speed runs (bench/cuda/bench), args passed through
# Expects libapr_cuda.so and .dev/${CUDA_DEV:-cuda}/bin/* built on the host (carried).
cd "$(dirname "$0")/../.."
export APR_CUDA_PATH=$PWD/libapr_cuda.so
what=$1; shift
case "$what" in
check)
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    .dev/${CUDA_DEV:-cuda}/bin/check --greedy 200 .dev/${CUDA_DEV:-cuda}/shared/data/models/stories260K.gguf
    .dev/${CUDA_DEV:-cuda}/bin/check .dev/${CUDA_DEV:-cuda}/shared/data/quant/tiny-llama-*.gguf ;;
sanitize)
    compute-sanitizer --tool memcheck --leak-check full --error-exitcode 9 .dev/${CUDA_DEV:-cuda}/bin/check "$@"
    echo "sanitizer exit $?" ;;
bench)
    .dev/${CUDA_DEV:-cuda}/bin/bench "$@" ;;
test)
    # tests/test_cuda against the carried copy of ../shared
    APR_SHARED=$PWD/.dev/${CUDA_DEV:-cuda}/shared tests/bin/test_cuda ;;
esac
