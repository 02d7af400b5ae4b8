# session 20, run 192 (H200): dyn.so (as run 191): tests/test_cuda; A/B final.so (9ba31cb) against dyn.so on 7B and 32B tg128, two rounds; issue 7's protocol
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/apr-models; mkdir -p $MD
(for s in 7b 0.5b 1.5b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1 &
bench/make_models.sh $MD 32b > /tmp/mk32.log 2>&1 &
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/dyn.so timeout 200 /tmp/test_cuda > /tmp/test_cuda.log 2>&1; echo "test_cuda rc=$?"; grep -E "^FAIL|passed" /tmp/test_cuda.log | tail -5
wait; ls $MD
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do for m in 7b 32b; do for v in final dyn; do
  t "$m tg128 $v" APR_CUDA_PATH=$PWD/.dev/gpu/$v.so ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
done; done; done
cp .dev/gpu/dyn.so libapr_cuda.so
OUT2=$OUT; OUT=/tmp/o/b MODELS=$MD timeout 330 bench/cuda/gpu_bench.sh 0.5b 1.5b 7b 32b > $OUT2/run192-protocol.txt 2>&1; echo "protocol rc=$?"; grep -E "^==|\[apr-bench\]" $OUT2/run192-protocol.txt
