# session 20, run 195 (H100): dyn4.so (the committed apr_cuda.cu: DYN for gate/up only, from 2 us a task): tests/test_cuda; INFO lines; A/B final.so (9ba31cb) against dyn4.so on 7B tg128, 7B @ d4096, 32B tg128, 1.5B tg128, two rounds
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/apr-models; mkdir -p $MD
(for s in 7b 1.5b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1 &
bench/make_models.sh $MD 32b > /tmp/mk32.log 2>&1 &
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/dyn4.so timeout 200 /tmp/test_cuda > /tmp/test_cuda.log 2>&1; echo "test_cuda rc=$?"; grep -E "^FAIL|passed" /tmp/test_cuda.log | tail -5
cp /tmp/test_cuda.log $OUT/run195-test_cuda.log
wait; ls $MD
for m in 1.5b 7b 32b; do echo "== $m"; APR_CUDA_PATH=$PWD/.dev/gpu/dyn4.so ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep -E "DYN"; done
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do for v in final dyn4; do
  t "7b tg128 $v" APR_CUDA_PATH=$PWD/.dev/gpu/$v.so ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  t "7b @d4096 $v" APR_CUDA_PATH=$PWD/.dev/gpu/$v.so ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d 4096 -r 3
  t "32b tg128 $v" APR_CUDA_PATH=$PWD/.dev/gpu/$v.so ./apr-bench -m $MD/qwen2.5-32b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  t "1.5b tg128 $v" APR_CUDA_PATH=$PWD/.dev/gpu/$v.so ./apr-bench -m $MD/qwen2.5-1.5b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
done; done
