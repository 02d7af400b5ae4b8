# session 13, run 129: QKV (k_mvs_multi) prefetches the layer's KV cache into L2 (EXP_KV_PF=1); with attention PDL + QKV late trigger
# exp.so = 1a06acf + EXP_QKV_LATE + EXP_KV_PF knobs, sm_90a; base90.so = 1a06acf sm_90a
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
bench/make_models.sh /tmp/apr-models 0.5b 7b 1.5b > /dev/null 2>&1; echo models done
t() { name=$1; shift; printf "%-22s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for m in 0.5b 7b 1.5b; do
 mm=/tmp/apr-models/qwen2.5-$m-q4_k_m.gguf
 for round in 1 2; do
  for d in 4096 0; do
  t "base90 $m d$d" APR_CUDA_PATH=$PWD/.dev/gpu/base90.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  t "exp $m d$d" APR_CUDA_PATH=$PWD/.dev/gpu/exp.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  t "pf $m d$d" EXP_KV_PF=1 APR_CUDA_PATH=$PWD/.dev/gpu/exp.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  t "pf+pdl+late $m d$d" EXP_KV_PF=1 EXP_QKV_LATE=1 APR_CUDA_ATTN_PDL=1 APR_CUDA_PATH=$PWD/.dev/gpu/exp.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  done
 done
done
