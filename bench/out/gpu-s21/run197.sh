# session 21, run 197 (H100): st.so = bench/cuda/stamps.py on 7ab040a's apr_cuda.cu (with the attention's four inner stamps): one layer's kernels at tg128 (7B L13, 1.5B L14, 0.5B L12) and 7B @ d4096; A/B of the decode attention's minimum split (APR_CUDA_ATTN_SPLIT 128 default / 64 / 32) at tg128, two rounds, committed kernels (dyn4.so)
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/apr-models; mkdir -p $MD
(for s in 0.5b 1.5b 7b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1
ls $MD
st() { tag=$1; L=$2; shift 2; ST_LAYER=$L ST_OUT=$OUT/run197-stamps-$tag.txt APR_CUDA_PATH=$PWD/.dev/gpu/st.so ./apr-bench "$@" -ngl 99 -p 0 -r 1 2>&1 | grep -E "^\| qwen"; echo "== $tag"; python3 bench/cuda/stamps_report.py $OUT/run197-stamps-$tag.txt; }
st 7b-L13-tg128 13 -m $MD/qwen2.5-7b-q4_k_m.gguf -n 128
st 7b-L14-tg128 14 -m $MD/qwen2.5-7b-q4_k_m.gguf -n 128
st 7b-L13-d4096 13 -m $MD/qwen2.5-7b-q4_k_m.gguf -n 16 -d 4096
st 1.5b-L14-tg128 14 -m $MD/qwen2.5-1.5b-q4_k_m.gguf -n 128
st 0.5b-L12-tg128 12 -m $MD/qwen2.5-0.5b-q4_k_m.gguf -n 128
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do for sp in 128 64 32; do for m in 0.5b 1.5b 7b; do
  t "$m tg128 split $sp" APR_CUDA_ATTN_SPLIT=$sp APR_CUDA_PATH=$PWD/.dev/gpu/dyn4.so ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
done; done; done
