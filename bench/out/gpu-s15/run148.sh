# session 15, run 148: llama.cpp built with CUDA (sm_90) beside apr HEAD's make cuda; bench/cuda/llamacpp_xcheck.sh on
# every tiny-llama file and stories260K: apr CPU/GPU vs llama.cpp CPU/CUDA vs exact (run 147's build lacked vendor/)
export APR_CUDA_PATH=$PWD/libapr_cuda.so
[ -f libapr_cuda.so ] || (time make -s cuda) > $OUT/make_cuda.log 2>&1 &
(time LLAMA_SRC=$PWD/.dev/llama CUDA=1 BUILD=$PWD/.dev/llbuild timeout 540 bench/cuda/llamacpp_xcheck.sh) > $OUT/llbuild.txt 2>&1; echo "llama build rc=$?"; tail -5 $OUT/llbuild.txt
wait; ls -la libapr_cuda.so
ls .dev/llbuild/b/llamacpp_logits && LLAMA_SRC=$PWD/.dev/llama CUDA=1 BUILD=$PWD/.dev/llbuild bench/cuda/llamacpp_xcheck.sh .dev/gpu/shared/data/quant/tiny-llama-*.gguf .dev/gpu/shared/data/models/stories260K.gguf > $OUT/xcheck.txt 2>$OUT/xcheck.err; echo "xcheck rc=$?"; tail -3 $OUT/xcheck.err; cp .dev/llbuild/cmake.log $OUT/ 2>/dev/null; tail -c 2000 .dev/llbuild/build.log > $OUT/build-tail.log 2>/dev/null
