# session 16, run 158 (H100): spread.so (launch_mvs spreads grids under 50% of the SMs' count over 3 tasks a block) against review.so (cfca58f): tests, memcheck, tg128 / @ d4096 A/B with the spread's switches
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
for s in 0.5b 1.5b 7b; do [ -f /tmp/m/qwen2.5-$s-q4_k_m.gguf ] || bench/make_models.sh /tmp/m $s > /dev/null 2>&1 & done
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/spread.so timeout 250 /tmp/test_cuda > $OUT/test_cuda.log 2>&1; echo "test rc=$?"; tail -1 $OUT/test_cuda.log; grep -E "FAIL" -A3 $OUT/test_cuda.log | head -20
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/spread.so timeout 300 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda > /tmp/memcheck.log 2>&1; echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|passed" /tmp/memcheck.log | tail -2; tail -c 3000 /tmp/memcheck.log > $OUT/memcheck-tail.txt
wait
APR_CUDA_PATH=$PWD/.dev/gpu/spread.so ./apr-bench -m /tmp/m/qwen2.5-0.5b-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep -i "spread\|SPLIT"
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do
  for s in 0.5b 1.5b; do for v in "review X=1" "spread X=1" "spread APR_CUDA_MVS_SPREAD=0" "spread APR_CUDA_MVS_SPREAD=100" "spread APR_CUDA_MVS_SPREAD_TASKS=2" "spread APR_CUDA_MVS_SPREAD_TASKS=4"; do
    set -- $v
    t "$s tg128 $1 $2" APR_CUDA_PATH=$PWD/.dev/gpu/$1.so $2 ./apr-bench -m /tmp/m/qwen2.5-$s-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  done; done
  for v in review spread; do
    t "0.5b d4096 $v" APR_CUDA_PATH=$PWD/.dev/gpu/$v.so ./apr-bench -m /tmp/m/qwen2.5-0.5b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d 4096 -r 3
    t "7b tg128 $v" APR_CUDA_PATH=$PWD/.dev/gpu/$v.so ./apr-bench -m /tmp/m/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  done
done
