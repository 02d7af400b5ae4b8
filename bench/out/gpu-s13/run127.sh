# session 13, run 127: why clusters are slower at d4096. exp.so = new.so + EXP_SMEM_MIN (dynamic smem at least n bytes: one block per SM) + occupancy print
# base90.so = 1a06acf built with the same flags as new.so (sm_90a only)
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
bench/make_models.sh /tmp/apr-models 0.5b 7b > /dev/null 2>&1; echo models done
t() { name=$1; shift; printf "%-22s" "$name"; o=$(env "$@" 2>&1); echo "$o" | grep EXP | sort -u | head -2; r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for m in 0.5b 7b; do
 mm=/tmp/apr-models/qwen2.5-$m-q4_k_m.gguf
 for round in 1 2; do
  t "base $m d4096" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d 4096 -r 3
  t "base90 $m d4096" APR_CUDA_PATH=$PWD/.dev/gpu/base90.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d 4096 -r 3
  t "c1 $m d4096" APR_CUDA_ATTN_CLUSTER=1 APR_CUDA_PATH=$PWD/.dev/gpu/exp.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d 4096 -r 3
  t "c1 pad $m d4096" EXP_SMEM_MIN=120000 APR_CUDA_ATTN_CLUSTER=1 APR_CUDA_PATH=$PWD/.dev/gpu/exp.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d 4096 -r 3
  t "c8 $m d4096" APR_CUDA_PATH=$PWD/.dev/gpu/exp.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d 4096 -r 3
  t "c8 pad $m d4096" EXP_SMEM_MIN=120000 APR_CUDA_PATH=$PWD/.dev/gpu/exp.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d 4096 -r 3
  t "c4 pad $m d4096" EXP_SMEM_MIN=120000 APR_CUDA_ATTN_CLUSTER=4 APR_CUDA_PATH=$PWD/.dev/gpu/exp.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d 4096 -r 3
  t "c2 pad $m d4096" EXP_SMEM_MIN=120000 APR_CUDA_ATTN_CLUSTER=2 APR_CUDA_PATH=$PWD/.dev/gpu/exp.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d 4096 -r 3
  t "c2 $m d4096" APR_CUDA_ATTN_CLUSTER=2 APR_CUDA_PATH=$PWD/.dev/gpu/exp.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d 4096 -r 3
 done
done
