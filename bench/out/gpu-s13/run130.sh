# session 13, run 130: splits per kv head up to 66 (APR_CUDA_ATTN_SMAX=66: one per SM at 2 kv heads) so that 4,097..4,224 positions are 2 tiles a split, not 3 (the third of 1-2 positions);
# EXP_CHUNK_ROUND=1: positions per split rounded up to a multiple of the tile (fewer, full splits); with the KV prefetch + attention PDL + QKV late trigger
# exp.so = 1a06acf + EXP_QKV_LATE, EXP_KV_PF, EXP_CHUNK_ROUND knobs, sm_90a; base90.so = 1a06acf sm_90a
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
bench/make_models.sh /tmp/apr-models 0.5b 1.5b 7b > /dev/null 2>&1; echo models done
t() { name=$1; shift; printf "%-22s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for m in 0.5b 1.5b 7b; do
 mm=/tmp/apr-models/qwen2.5-$m-q4_k_m.gguf
 for round in 1 2; do
  for d in 4096 0; do
  t "base90 $m d$d" APR_CUDA_PATH=$PWD/.dev/gpu/base90.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  t "exp $m d$d" APR_CUDA_PATH=$PWD/.dev/gpu/exp.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  t "s66 $m d$d" APR_CUDA_ATTN_SMAX=66 APR_CUDA_PATH=$PWD/.dev/gpu/exp.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  t "round $m d$d" EXP_CHUNK_ROUND=1 APR_CUDA_PATH=$PWD/.dev/gpu/exp.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  t "s66+round $m d$d" EXP_CHUNK_ROUND=1 APR_CUDA_ATTN_SMAX=66 APR_CUDA_PATH=$PWD/.dev/gpu/exp.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  t "s66+pf+pdl+late $m d$d" APR_CUDA_ATTN_SMAX=66 EXP_KV_PF=1 EXP_QKV_LATE=1 APR_CUDA_ATTN_PDL=1 APR_CUDA_PATH=$PWD/.dev/gpu/exp.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  done
 done
done
