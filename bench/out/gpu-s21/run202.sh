# session 21, run 202 (H100): dyn6.so = k_mvs<T, 2>, a DYN instance of its own that asks two tasks ahead (rows of one step; k_mvs<T, 1> PTX-identical to 49ac776), APR_CUDA_MVS_DYN_AHEAD=1 keeps k_mvs<T, 1>; + the attention merge padding (attn1). tests/test_cuda against dyn6.so; A/B dyn4.so (49ac776) / dyn6.so / switches, two rounds
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/apr-models; mkdir -p $MD
(for s in 0.5b 1.5b 7b 32b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1 &
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/dyn6.so timeout 250 /tmp/test_cuda > $OUT/run202-test_cuda.log 2>&1; echo "test_cuda rc=$?"; grep -E "^FAIL|FAIL|passed" $OUT/run202-test_cuda.log | tail -8
grep -E "DYN vs fixed" $OUT/run202-test_cuda.log | head -3
wait; ls $MD
for m in 1.5b 7b 32b; do echo "== $m"; APR_CUDA_PATH=$PWD/.dev/gpu/dyn6.so ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep -E "DYN"; done
APR_CUDA_MVS_DYN_MIN_NS=0 APR_CUDA_PATH=$PWD/.dev/gpu/dyn6.so ./apr-bench -m $MD/qwen2.5-1.5b-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep -E "DYN"
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
b() { echo "./apr-bench -m $MD/qwen2.5-$1-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3 ${2:+-d $2}"; }
G=$PWD/.dev/gpu
for round in 1 2; do
  t "7b tg128 dyn4" APR_CUDA_PATH=$G/dyn4.so $(b 7b)
  t "7b tg128 dyn6" APR_CUDA_PATH=$G/dyn6.so $(b 7b)
  t "7b tg128 dyn6 ahead1" APR_CUDA_MVS_DYN_AHEAD=1 APR_CUDA_PATH=$G/dyn6.so $(b 7b)
  t "7b @d4096 dyn4" APR_CUDA_PATH=$G/dyn4.so $(b 7b 4096)
  t "7b @d4096 dyn6" APR_CUDA_PATH=$G/dyn6.so $(b 7b 4096)
  t "32b tg128 dyn4" APR_CUDA_PATH=$G/dyn4.so $(b 32b)
  t "32b tg128 dyn6" APR_CUDA_PATH=$G/dyn6.so $(b 32b)
  t "1.5b tg128 dyn4" APR_CUDA_PATH=$G/dyn4.so $(b 1.5b)
  t "1.5b tg128 dyn6" APR_CUDA_PATH=$G/dyn6.so $(b 1.5b)
  t "1.5b tg128 dyn6 min0" APR_CUDA_MVS_DYN_MIN_NS=0 APR_CUDA_PATH=$G/dyn6.so $(b 1.5b)
  t "0.5b tg128 dyn4" APR_CUDA_PATH=$G/dyn4.so $(b 0.5b)
  t "0.5b tg128 dyn6" APR_CUDA_PATH=$G/dyn6.so $(b 0.5b)
done
