# session 17, run 170 (H200): APR_CUDA_ATTN_PDL=1 (decode attention launched with PDL where attn_early is off: 7B, 32B) against the default, head.so (ca8b610's kernels), tg128 and @ d4096, two rounds
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
for s in 7b 32b; do bench/make_models.sh /tmp/m $s > /dev/null 2>&1 & done
wait
M=/tmp/m/qwen2.5
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do
  for s in 7b 32b; do for d in 0 4096; do for p in 0 1; do
    t "$s tg128 d$d ATTN_PDL=$p" APR_CUDA_ATTN_PDL=$p APR_CUDA_PATH=$PWD/.dev/gpu/head.so ./apr-bench -m $M-$s-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d $d -r 3
  done; done; done
done
