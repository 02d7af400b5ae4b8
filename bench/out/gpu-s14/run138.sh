# session 14, run 138: mma.so (run 137's build): positions per split at least 64 / 128 (APR_CUDA_ATTN_SPLIT), early attention on 7B/32B
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
bench/make_models.sh /tmp/apr-models 0.5b 1.5b 7b 32b > /dev/null 2>&1; echo models done
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for m in 0.5b 1.5b 7b 32b; do
 mm=/tmp/apr-models/qwen2.5-$m-q4_k_m.gguf
 for d in 0 4096; do
  ks="APR_CUDA_ATTN_SPLIT=32 APR_CUDA_ATTN_SPLIT=64 APR_CUDA_ATTN_SPLIT=128 APR_CUDA_ATTN_SPLIT=32"
  case $m in 7b|32b) ks="$ks APR_CUDA_ATTN_EARLY=1";; esac
  for k in $ks; do
   t "mma $m d$d $k" $k APR_CUDA_PATH=$PWD/.dev/gpu/mma.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  done
 done
done
