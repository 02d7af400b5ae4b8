# session 18, run 177 (H100): l2.so (b209b15 + APR_CUDA_ATTN_WO_L2=n: the decode attention pulls wo's rows into L2, 1: every block at its start, 2: the active blocks after pdl_wait) against cand2.so (b209b15)
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/m; mkdir -p $MD
(for s in 0.5b 1.5b 7b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1 &
bench/make_models.sh $MD 32b > /tmp/mk32.log 2>&1 &
wait; ls -la $MD
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
B=$PWD/.dev/gpu/cand2.so; L=$PWD/.dev/gpu/l2.so
for round in 1 2; do
  for md in "7b 0" "7b 4096" "0.5b 0" "1.5b 0" "32b 0"; do
    set -- $md; m=$1; d=$2
    [ $m = 32b ] && [ $round = 2 ] && continue
    t "$m d$d base" APR_CUDA_PATH=$B ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d $d -r 3
    for w in 0 1 2; do
      t "$m d$d l2 WO_L2=$w" APR_CUDA_ATTN_WO_L2=$w APR_CUDA_PATH=$L ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d $d -r 3
    done
  done
done
