# session 19, run 187 (H100): stsm.so = bench/cuda/stamps.py on 9ba31cb's apr_cuda.cu, with the k_mvs kernels' entry stamp replaced by 1 + %smid (bench/out/gpu-s19/run187-smid.py makes it): is a slow gate/up block a slow SM? 7B tg128, layers 13, 14, 20, and layer 13 again
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/m; mkdir -p $MD; bench/make_models.sh $MD 7b > /tmp/mk.log 2>&1
M7=$MD/qwen2.5-7b-q4_k_m.gguf
for run in 13a 14 20 13b; do L=${run%[ab]}
  ST_LAYER=$L ST_OUT=$OUT/smid-7b-L$run.txt APR_CUDA_PATH=$PWD/.dev/gpu/stsm.so ./apr-bench -m $M7 -ngl 99 -p 0 -n 128 -r 1 2>&1 | grep -E "^\| qwen" | cut -c1-100
done
