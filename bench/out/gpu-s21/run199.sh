# session 21, run 199 (H100): attn2.so = attn1.so + APR_CUDA_ATTN_SMEM_MIN (an experiment: the tensor-core decode attention's blocks ask for at least n bytes of shared memory, so that no wo block shares their SM); st2.so its stamps build. Stamps of 7B layer 13 at tg128 with the attention's blocks alone on their SMs; A/B SMEM_MIN 0 / max at tg128, @ d1024 and 7B @ d4096, two rounds
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/apr-models; mkdir -p $MD
(for s in 0.5b 1.5b 7b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1
ls $MD
st() { tag=$1; L=$2; shift 2; ST_LAYER=$L ST_OUT=$OUT/run199-stamps-$tag.txt APR_CUDA_PATH=$PWD/.dev/gpu/st2.so "$@" -ngl 99 -p 0 -r 1 2>&1 | grep -E "^\| qwen"; echo "== $tag"; python3 bench/cuda/stamps_report.py $OUT/run199-stamps-$tag.txt; }
st 7b-L13-tg128-smax 13 env APR_CUDA_ATTN_SMEM_MIN=1000000 ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -n 128
st 7b-L13-tg128-s0 13 ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -n 128
st 1.5b-L14-tg128-smax 14 env APR_CUDA_ATTN_SMEM_MIN=1000000 ./apr-bench -m $MD/qwen2.5-1.5b-q4_k_m.gguf -n 128
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do for sm in 0 1000000; do for m in 0.5b 1.5b 7b; do
  t "$m tg128 smem_min $sm" APR_CUDA_ATTN_SMEM_MIN=$sm APR_CUDA_PATH=$PWD/.dev/gpu/attn2.so ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  t "$m @d1024 smem_min $sm" APR_CUDA_ATTN_SMEM_MIN=$sm APR_CUDA_PATH=$PWD/.dev/gpu/attn2.so ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 64 -d 1024 -r 3
done
  t "7b @d4096 smem_min $sm" APR_CUDA_ATTN_SMEM_MIN=$sm APR_CUDA_PATH=$PWD/.dev/gpu/attn2.so ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 64 -d 4096 -r 3
done; done
