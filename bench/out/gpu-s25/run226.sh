# session 25, run 226 (H200): k_mvs_res_wide by mvs_plan's rule (wide2.so: inputs of 8,192
# columns or more whose wide grid covers 3/4 of the SMs; 7B's ffn_down) against the same
# build with APR_CUDA_RES_WIDE=0 and against final23c. Then the INFO lines of 1.5B and 7B.
AB_MODELS="1.5b 7b" . bench/cuda/ab.sh
ab_models_wait
for round in 1 2 3; do
  for v in "final23c -" "wide2 0" "wide2 -"; do set -- $v
    t "7b tg128 $1 $2" $( [ $2 = - ] || echo APR_CUDA_RES_WIDE=$2 ) APR_CUDA_PATH=$G/$1.so timeout 60 $(b 7b); done
done
for round in 1 2; do
  for v in "final23c -" "wide2 0" "wide2 -"; do set -- $v
    t "7b @d4096 $1 $2" $( [ $2 = - ] || echo APR_CUDA_RES_WIDE=$2 ) APR_CUDA_PATH=$G/$1.so timeout 60 $(b 7b 4096); done
done
for m in 1.5b 7b; do
  echo "== $m"; APR_CUDA_PATH=$G/wide2.so ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep "^CUDA" | head -8
done
