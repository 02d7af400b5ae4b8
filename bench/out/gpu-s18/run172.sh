# session 18, run 172 (H100): tests/test_cuda with final.so (a590403's kernels; the session-17 PDL cases' fix), plain and under compute-sanitizer memcheck; attention switches on 7B (APR_CUDA_ATTN_TRIGGER=1: wo launched at the attention's start; APR_CUDA_ATTN_EARLY=1); ffn_down prologue probes (pq1: no loads, quantization kept; pq2: neither; wrong logits, timing only)
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
bench/make_models.sh /tmp/m 7b > /tmp/mk.log 2>&1 &
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/final.so timeout 200 /tmp/test_cuda > $OUT/test_cuda.log 2>&1; echo "test_cuda rc=$?"; grep -E "FAIL|passed" $OUT/test_cuda.log | tail -5
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/final.so timeout 250 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda > /tmp/memcheck.log 2>&1; echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|passed" /tmp/memcheck.log | tail -2; tail -c 3000 /tmp/memcheck.log > $OUT/memcheck-tail.txt
wait; ls -la /tmp/m
M7=/tmp/m/qwen2.5-7b-q4_k_m.gguf
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
F=$PWD/.dev/gpu/final.so
for round in 1 2; do
  for d in 0 4096; do
    t "7b d$d default" APR_CUDA_PATH=$F ./apr-bench -m $M7 -ngl 99 -p 0 -n 128 -d $d -r 3
    t "7b d$d TRIGGER=1" APR_CUDA_ATTN_TRIGGER=1 APR_CUDA_PATH=$F ./apr-bench -m $M7 -ngl 99 -p 0 -n 128 -d $d -r 3
    t "7b d$d EARLY=1" APR_CUDA_ATTN_EARLY=1 APR_CUDA_PATH=$F ./apr-bench -m $M7 -ngl 99 -p 0 -n 128 -d $d -r 3
    t "7b d$d EARLY=1 TRIGGER=1" APR_CUDA_ATTN_EARLY=1 APR_CUDA_ATTN_TRIGGER=1 APR_CUDA_PATH=$F ./apr-bench -m $M7 -ngl 99 -p 0 -n 128 -d $d -r 3
  done
  for v in pq1 pq2; do
    t "7b tg128 $v" APR_CUDA_PATH=$PWD/.dev/gpu/$v.so ./apr-bench -m $M7 -ngl 99 -p 0 -n 128 -r 3
  done
done
