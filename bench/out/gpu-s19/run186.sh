# session 19, run 186 (H100): host-side switches only (no kernel change), final.so (9ba31cb): attention splits of at least 64 / 32 positions (APR_CUDA_ATTN_SPLIT; default 128 on tensor cores), early attention (APR_CUDA_ATTN_EARLY=1), filled grids from 2 steps (APR_CUDA_MVS_FILL=2: 7B's ffn_down); 7B tg128, 7B @ d4096, 32B tg128, two rounds
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/m; mkdir -p $MD
(for s in 7b 32b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
export APR_CUDA_PATH=$PWD/.dev/gpu/final.so
for round in 1 2; do
  for c in "7b 0" "7b 4096" "32b 0"; do
    set -- $c
    for v in default APR_CUDA_ATTN_SPLIT=64 APR_CUDA_ATTN_SPLIT=32 APR_CUDA_ATTN_EARLY=1 APR_CUDA_MVS_FILL=2; do
      ex=$v; [ $v = default ] && ex=""
      [ $1 = 32b ] && [ $v = APR_CUDA_MVS_FILL=2 ] && continue
      t "$1 d$2 $v" $ex ./apr-bench -m $MD/qwen2.5-$1-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d $2 -r 3
    done
  done
done
