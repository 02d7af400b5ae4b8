# session 16, run 155 (H100): read bandwidth (bench/cuda/bwprobe.cu), then per-kernel time and DRAM bytes of one decode token (bench/cuda/ncu_decode.sh) for 7B and 32B with review.so (cfca58f)
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem --format=csv,noheader
nvcc -O3 -arch=sm_90a -o /tmp/bwprobe bench/cuda/bwprobe.cu && /tmp/bwprobe 4096
make -s apr-bench apr-quantize 2>&1 | tail -2
cp .dev/gpu/review.so libapr_cuda.so
for s in 7b 32b; do
  bench/make_models.sh /tmp/m $s >/dev/null 2>&1 || echo "make_models $s failed"
  echo "== $s"; OUT=$OUT timeout 200 bench/cuda/ncu_decode.sh /tmp/m/qwen2.5-$s-q4_k_m.gguf
  rm -f /tmp/m/qwen2.5-$s-q4_k_m.gguf
done
