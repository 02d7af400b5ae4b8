# session 15, run 147: make cuda of HEAD (f7ddf88: session 14's review refactor, not yet run on a GPU): tests, memcheck;
# llama.cpp (node-llama-cpp 3.22.1's bundled release, trimmed to ggml/src/include) built with CUDA for sm_90 beside it;
# then bench/cuda/llamacpp_xcheck.sh on every tiny-llama file: apr CPU/GPU vs llama.cpp CPU/CUDA vs exact
nproc; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
export APR_CUDA_PATH=$PWD/libapr_cuda.so
(time make -s cuda) > $OUT/make_cuda.log 2>&1 & MK=$!
(time LLAMA_SRC=$PWD/.dev/llama CUDA=1 BUILD=$PWD/.dev/llbuild timeout 560 bench/cuda/llamacpp_xcheck.sh) > $OUT/llbuild.txt 2>&1 & LL=$!
wait $MK; echo "make cuda rc=$?"; tail -4 $OUT/make_cuda.log
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared timeout 200 /tmp/test_cuda > $OUT/test_cuda.log 2>&1; echo "test rc=$?"; tail -1 $OUT/test_cuda.log; grep -E "FAIL" -A3 $OUT/test_cuda.log | head
APR_SHARED=$PWD/.dev/gpu/shared timeout 300 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda > $OUT/memcheck.log 2>&1; echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|passed" $OUT/memcheck.log | tail -2; tail -c 3000 $OUT/memcheck.log > $OUT/memcheck-tail.txt; rm $OUT/memcheck.log
wait $LL; echo "llama build rc=$?"; tail -5 $OUT/llbuild.txt
ls .dev/llbuild/b/llamacpp_logits && LLAMA_SRC=$PWD/.dev/llama CUDA=1 BUILD=$PWD/.dev/llbuild bench/cuda/llamacpp_xcheck.sh .dev/gpu/shared/data/quant/tiny-llama-*.gguf .dev/gpu/shared/data/models/stories260K.gguf > $OUT/xcheck.txt 2>$OUT/xcheck.err; echo "xcheck rc=$?"; tail -3 $OUT/xcheck.err
