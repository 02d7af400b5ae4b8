# session 13, run 133: tiles of 64 (APR_CUDA_ATTN_TILE=64) on new.so, where 66 splits make 64 positions a split at 4k
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
bench/make_models.sh /tmp/apr-models 0.5b 1.5b > /dev/null 2>&1; echo models done
t() { name=$1; shift; printf "%-22s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for m in 0.5b 1.5b; do
 mm=/tmp/apr-models/qwen2.5-$m-q4_k_m.gguf
 for round in 1 2 3; do
  for d in 4096 0; do
  t "new $m d$d" APR_CUDA_PATH=$PWD/.dev/gpu/new.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  t "t64 $m d$d" APR_CUDA_ATTN_TILE=64 APR_CUDA_PATH=$PWD/.dev/gpu/new.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  done
 done
done
