# session 17, run 169 (H100): pre.so (APR_CUDA_MVS_PRE=n: a k_mvs warp's first step of weights 0: into registers before pdl_wait (ca8b610), 1: prefetched into L2 before pdl_wait and loaded after the activation's quantization, 2: loaded after it, nothing before); stamps4.so (the same source with stamps) of 7B layer 13 at n = 0, 1, 2; A/B against head.so, two rounds; APR_CUDA_ATTN_PDL=1 on head.so
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
for s in 0.5b 1.5b 7b 32b; do bench/make_models.sh /tmp/m $s > /dev/null 2>&1 & done
wait
M=/tmp/m/qwen2.5
for n in 0 1 2; do
  APR_CUDA_MVS_PRE=$n ST_LAYER=13 ST_OUT=$OUT/stamps-7b-tg128-L13-pre$n.txt APR_CUDA_PATH=$PWD/.dev/gpu/stamps4.so ./apr-bench -m $M-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 1 2>&1 | grep -E "^\| qwen"
  echo "== 7B tg128 layer 13, pre $n"; python3 bench/cuda/stamps_report.py $OUT/stamps-7b-tg128-L13-pre$n.txt
done
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do
  for s in 0.5b 1.5b 7b 32b; do
    t "$s tg128 head" APR_CUDA_PATH=$PWD/.dev/gpu/head.so ./apr-bench -m $M-$s-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
    for n in 0 1 2; do
      t "$s tg128 pre$n" APR_CUDA_MVS_PRE=$n APR_CUDA_PATH=$PWD/.dev/gpu/pre.so ./apr-bench -m $M-$s-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
    done
    t "$s tg128 head ATTN_PDL=1" APR_CUDA_ATTN_PDL=1 APR_CUDA_PATH=$PWD/.dev/gpu/head.so ./apr-bench -m $M-$s-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  done
  t "7b d4096 head" APR_CUDA_PATH=$PWD/.dev/gpu/head.so ./apr-bench -m $M-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d 4096 -r 3
  t "7b d4096 head ATTN_PDL=1" APR_CUDA_ATTN_PDL=1 APR_CUDA_PATH=$PWD/.dev/gpu/head.so ./apr-bench -m $M-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d 4096 -r 3
done
