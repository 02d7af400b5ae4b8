# session 20, run 188 (H100): dyn.so (k_mvs DYN instance for gate/up and the output matrix): tests/test_cuda; A/B final.so (9ba31cb) against dyn.so with APR_CUDA_MVS_DYN=0 (the fixed stride: PTX of the other instances identical), 1, 2, 3; 7B, 1.5B, 0.5B tg128, two rounds
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/m; mkdir -p $MD
(for s in 7b 1.5b 0.5b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1 &
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/dyn.so timeout 300 /tmp/test_cuda > /tmp/test_cuda.log 2>&1; echo "test_cuda rc=$?"; grep -E "^FAIL|passed|GPU:|DYN" /tmp/test_cuda.log | tail -24
cp /tmp/test_cuda.log $OUT/run188-test_cuda.log
wait
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
APR_CUDA_PATH=$PWD/.dev/gpu/dyn.so ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 16 -r 1 -v 2>&1 | grep -E "DYN|k_mvs" | head -5
for round in 1 2; do
  for m in 7b 1.5b 0.5b; do
    t "$m tg128 final" APR_CUDA_PATH=$PWD/.dev/gpu/final.so ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
    for d in 0 1 2 3; do
      t "$m tg128 dyn DYN=$d" APR_CUDA_MVS_DYN=$d APR_CUDA_PATH=$PWD/.dev/gpu/dyn.so ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
    done
  done
done
