# session 16, run 157 (H100): review.so (cfca58f) with APR_CUDA_MVS_SPLIT=1 (the SPLIT instances of k_mvs_res / k_mvs_multi wherever built, all slots) and APR_CUDA_NO_PDL=1 against the default, tg128 on the four sizes
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
ls /tmp/m 2>/dev/null
for s in 0.5b 1.5b 7b 32b; do [ -f /tmp/m/qwen2.5-$s-q4_k_m.gguf ] || bench/make_models.sh /tmp/m $s > /dev/null 2>&1 & done; wait
t() { name=$1; shift; printf "%-26s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do
  for s in 0.5b 1.5b 7b 32b; do for e in "X=1" "APR_CUDA_MVS_SPLIT=1" "APR_CUDA_NO_PDL=1"; do
    t "$s tg128 $e" APR_CUDA_PATH=$PWD/.dev/gpu/review.so $e ./apr-bench -m /tmp/m/qwen2.5-$s-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  done; done
done
