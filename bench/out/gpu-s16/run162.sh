# session 16, run 162 (H100): fill.so (bd6f04b + APR_CUDA_MVS_FILL=n: a k_mvs grid of a type with SPLIT instances whose blocks of 8 tasks leave slots free and whose tasks take n steps or more fills all the slots, SPLIT) on 1.5B / 7B tg128 and 7B @ d4096
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
for s in 1.5b 7b; do bench/make_models.sh /tmp/m $s > /dev/null 2>&1 & done; wait
for f in 2 4; do echo "FILL=$f"; APR_CUDA_MVS_FILL=$f APR_CUDA_PATH=$PWD/.dev/gpu/fill.so ./apr-bench -m /tmp/m/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep -i "spread\|SPLIT"; done
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do
  for s in 7b 1.5b; do for f in 0 2 4 6; do
    t "$s tg128 FILL=$f" APR_CUDA_PATH=$PWD/.dev/gpu/fill.so APR_CUDA_MVS_FILL=$f ./apr-bench -m /tmp/m/qwen2.5-$s-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  done; done
  for f in 0 2; do
    t "7b d4096 FILL=$f" APR_CUDA_PATH=$PWD/.dev/gpu/fill.so APR_CUDA_MVS_FILL=$f ./apr-bench -m /tmp/m/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d 4096 -r 3
  done
done
