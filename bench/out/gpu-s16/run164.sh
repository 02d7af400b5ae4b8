# session 16, run 164 (H100): fill3.so (= the committed apr_cuda.cu, sm_90a: fill only where blocks of 8 would take under half the slots): tests; 1.5B / 7B tg128 against APR_CUDA_MVS_FILL=0
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
for s in 1.5b 7b; do bench/make_models.sh /tmp/m $s > /dev/null 2>&1 & done
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/fill3.so timeout 200 /tmp/test_cuda > $OUT/test_cuda.log 2>&1; echo "test rc=$?"; tail -1 $OUT/test_cuda.log; grep -E "FAIL" -A3 $OUT/test_cuda.log | head -20
wait
for s in 1.5b 7b; do APR_CUDA_PATH=$PWD/.dev/gpu/fill3.so ./apr-bench -m /tmp/m/qwen2.5-$s-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep -i "spreads\|SPLIT"; done
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for s in 1.5b 7b; do for f in 0 4; do
  t "$s tg128 FILL=$f" APR_CUDA_PATH=$PWD/.dev/gpu/fill3.so APR_CUDA_MVS_FILL=$f ./apr-bench -m /tmp/m/qwen2.5-$s-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
done; done
