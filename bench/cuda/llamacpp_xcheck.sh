#!/bin/sh
# bench/cuda/llamacpp_xcheck.sh - apr's CPU and GPU logits next to llama.cpp's CPU and CUDA
# logits on the same GGUF files (bench/cuda/xcheck.c prints the table; NOTES session 15).
#
#   LLAMA_SRC=/path/to/llama.cpp [CUDA=1] [STEPS=40] bench/cuda/llamacpp_xcheck.sh file.gguf...
#
# LLAMA_SRC is a llama.cpp source tree (not part of apr and not in this repository; the
# release bundled with node-llama-cpp 3.22.1 as llama/gitRelease.bundle was used). CUDA=1
# builds it with its CUDA backend (for the GPU this runs on: CUDA_ARCH, default 90) and
# adds llama.cpp's CUDA column; apr's GPU column needs libapr_cuda.so (APR_CUDA_PATH or ./).
# Builds go to BUILD (default /tmp/apr-llamacpp-xcheck). Output: one table per file.
set -eu
: "${LLAMA_SRC:?set LLAMA_SRC to a llama.cpp source tree}"
CUDA=${CUDA:-0}
STEPS=${STEPS:-40}
BUILD=${BUILD:-/tmp/apr-llamacpp-xcheck}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
LLAMA_SRC=$(cd "$LLAMA_SRC" && pwd)
JOBS=$(nproc 2>/dev/null || echo 2)

mkdir -p "$BUILD/wrap"
# a CMake project that builds llama.cpp's `llama` library and links the logits dumper to it
cat > "$BUILD/wrap/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.14)
project(apr_llamacpp_xcheck C CXX)
set(LLAMA_BUILD_COMMON OFF CACHE BOOL "" FORCE)
set(LLAMA_BUILD_TESTS OFF CACHE BOOL "" FORCE)
set(LLAMA_BUILD_EXAMPLES OFF CACHE BOOL "" FORCE)
set(LLAMA_BUILD_TOOLS OFF CACHE BOOL "" FORCE)
set(LLAMA_BUILD_SERVER OFF CACHE BOOL "" FORCE)
set(LLAMA_CURL OFF CACHE BOOL "" FORCE)
set(BUILD_SHARED_LIBS OFF CACHE BOOL "" FORCE)
add_subdirectory("$LLAMA_SRC" llama)
add_executable(llamacpp_logits "$HERE/llamacpp_logits.c")
target_link_libraries(llamacpp_logits PRIVATE llama)
EOF
GEN=""
command -v ninja > /dev/null 2>&1 && GEN="-G Ninja"
if [ "$CUDA" = 1 ]; then
    cmake -S "$BUILD/wrap" -B "$BUILD/b" $GEN -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
        -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}" > "$BUILD/cmake.log" 2>&1
else
    cmake -S "$BUILD/wrap" -B "$BUILD/b" $GEN -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON > "$BUILD/cmake.log" 2>&1
fi
cmake --build "$BUILD/b" -j "$JOBS" --target llamacpp_logits > "$BUILD/build.log" 2>&1 ||
    { tail -20 "$BUILD/build.log"; exit 1; }
cc -O2 -std=gnu99 -I"$REPO" -o "$BUILD/xcheck" "$HERE/xcheck.c" -lm -ldl -lpthread

for f in "$@"; do
    name=$(basename "$f" .gguf)
    "$BUILD/b/llamacpp_logits" "$f" 0 "$BUILD/$name.cpu.bin" "$STEPS" > /dev/null
    gpu=-
    if [ "$CUDA" = 1 ]; then
        "$BUILD/b/llamacpp_logits" "$f" 99 "$BUILD/$name.cuda.bin" "$STEPS" > /dev/null
        gpu="$BUILD/$name.cuda.bin"
    fi
    "$BUILD/xcheck" "$f" "$BUILD/$name.cpu.bin" "$gpu"
    rm -f "$BUILD/$name.cpu.bin" "$BUILD/$name.cuda.bin"
done
