# session 18, run 174 (H100): new2.so (new.so + APR_CUDA_ATTN_TRIGGER_WAIT=1: the attention lets wo launch right after its pdl_wait, =2: after its queries are in shared memory): by depth on 7B, and 0.5B / 1.5B; APR_CUDA_ATTN_TRIGGER_SPLITS=24 at 7B d3072
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
ls /tmp/m 2>/dev/null || (for s in 0.5b 1.5b 7b; do bench/make_models.sh /tmp/m $s; done) > /tmp/mk.log 2>&1
ls -la /tmp/m
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
N=$PWD/.dev/gpu/new2.so
for round in 1 2; do
  for d in 0 1024 3072 4096; do
    t "7b d$d default" APR_CUDA_PATH=$N ./apr-bench -m /tmp/m/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d $d -r 3
    t "7b d$d WAIT=1" APR_CUDA_ATTN_TRIGGER_WAIT=1 APR_CUDA_PATH=$N ./apr-bench -m /tmp/m/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d $d -r 3
    [ $d = 3072 ] && t "7b d$d SPLITS=24" APR_CUDA_ATTN_TRIGGER_SPLITS=24 APR_CUDA_PATH=$N ./apr-bench -m /tmp/m/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d $d -r 3
    [ $d = 3072 ] || t "7b d$d WAIT=2" APR_CUDA_ATTN_TRIGGER_WAIT=2 APR_CUDA_PATH=$N ./apr-bench -m /tmp/m/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d $d -r 3
  done
  for m in 0.5b 1.5b; do
    for d in 0 4096; do
      for w in 0 1 2; do
        t "$m d$d WAIT=$w" APR_CUDA_ATTN_TRIGGER_WAIT=$w APR_CUDA_PATH=$N ./apr-bench -m /tmp/m/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d $d -r 3
      done
    done
  done
done
