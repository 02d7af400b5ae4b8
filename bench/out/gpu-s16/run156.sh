# session 16, run 156 (H100): compile-time variants of the matvec (pairs per lane, blocks per SM) against review.so (cfca58f) on 7B/32B tg128; decode attention switches on 0.5B @ d4096
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
NV="nvcc -O3 -std=c++17 --use_fast_math -Xcompiler -fPIC -cudart static -gencode arch=compute_90a,code=sm_90a -shared"
mkdir -p /tmp/v
$NV -DMVS_PP_PLAIN=1 -DMVS_PP_RES=1 -o /tmp/v/pp1.so apr_cuda.cu > /tmp/v/b1.log 2>&1 &
$NV -DMVS_PP_PLAIN=1 -o /tmp/v/pp1plain.so apr_cuda.cu > /tmp/v/b2.log 2>&1 &
$NV -DMVS_PP_RES=1 -o /tmp/v/pp1res.so apr_cuda.cu > /tmp/v/b3.log 2>&1 &
(bench/make_models.sh /tmp/m 0.5b; bench/make_models.sh /tmp/m 7b; bench/make_models.sh /tmp/m 32b) > /tmp/v/models.log 2>&1 &
wait; tail -2 /tmp/v/b*.log; ls -la /tmp/v/*.so /tmp/m
cp .dev/gpu/review.so /tmp/v/base.so
t() { name=$1; shift; printf "%-26s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do
  for s in 7b 32b; do for v in base pp1 pp1plain pp1res; do
    t "$s tg128 $v" APR_CUDA_PATH=/tmp/v/$v.so ./apr-bench -m /tmp/m/qwen2.5-$s-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  done; done
  for e in "X=1" "APR_CUDA_ATTN_SPLIT=64" "APR_CUDA_ATTN_SPLIT=256" "APR_CUDA_ATTN_CW=4" "APR_CUDA_ATTN_EARLY=0"; do
    t "0.5b d4096 $e" APR_CUDA_PATH=/tmp/v/base.so $e ./apr-bench -m /tmp/m/qwen2.5-0.5b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d 4096 -r 3
  done
done
