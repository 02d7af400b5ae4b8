# session 21, run 203 (H200): does asking two tasks ahead make DYN pay where a task is short? dyn4.so (49ac776; the H200's 7B gate/up takes no DYN by the 2 us rule) against dyn6.so with APR_CUDA_MVS_DYN_MIN_NS=0 (DYN on: 7B ~1.8 us, 1.5B tasks), two ahead (default) and one ahead (AHEAD=1, session 20's loop); 0.5B for the attention padding; two rounds
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/apr-models; mkdir -p $MD
(for s in 0.5b 1.5b 7b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1
for m in 1.5b 7b; do echo "== $m"; APR_CUDA_MVS_DYN_MIN_NS=0 APR_CUDA_PATH=$PWD/.dev/gpu/dyn6.so ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep -E "DYN"; done
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
b() { echo "./apr-bench -m $MD/qwen2.5-$1-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3 ${2:+-d $2}"; }
G=$PWD/.dev/gpu
for round in 1 2; do
  t "7b tg128 dyn4" APR_CUDA_PATH=$G/dyn4.so $(b 7b)
  t "7b tg128 dyn6 min0" APR_CUDA_MVS_DYN_MIN_NS=0 APR_CUDA_PATH=$G/dyn6.so $(b 7b)
  t "7b tg128 dyn6 min0 ahead1" APR_CUDA_MVS_DYN_MIN_NS=0 APR_CUDA_MVS_DYN_AHEAD=1 APR_CUDA_PATH=$G/dyn6.so $(b 7b)
  t "7b tg128 dyn6" APR_CUDA_PATH=$G/dyn6.so $(b 7b)
  t "7b @d4096 dyn4" APR_CUDA_PATH=$G/dyn4.so $(b 7b 4096)
  t "7b @d4096 dyn6 min0" APR_CUDA_MVS_DYN_MIN_NS=0 APR_CUDA_PATH=$G/dyn6.so $(b 7b 4096)
  t "1.5b tg128 dyn4" APR_CUDA_PATH=$G/dyn4.so $(b 1.5b)
  t "1.5b tg128 dyn6 min0" APR_CUDA_MVS_DYN_MIN_NS=0 APR_CUDA_PATH=$G/dyn6.so $(b 1.5b)
  t "1.5b tg128 dyn6" APR_CUDA_PATH=$G/dyn6.so $(b 1.5b)
  t "0.5b tg128 dyn4" APR_CUDA_PATH=$G/dyn4.so $(b 0.5b)
  t "0.5b tg128 dyn6" APR_CUDA_PATH=$G/dyn6.so $(b 0.5b)
done
