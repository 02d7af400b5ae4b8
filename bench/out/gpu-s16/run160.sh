# session 16, run 160 (H200): spread3.so (= the committed apr_cuda.cu, sm_90a: spread grids of types with SPLIT instances under 50% of the SMs' count over 4 tasks a block) against review.so (cfca58f): tests; A/B; protocol
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
for s in 0.5b 1.5b; do bench/make_models.sh /tmp/apr-models $s > /dev/null 2>&1 & done
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/spread3.so timeout 250 /tmp/test_cuda > $OUT/test_cuda.log 2>&1; echo "test rc=$?"; tail -1 $OUT/test_cuda.log; grep -E "FAIL" -A3 $OUT/test_cuda.log | head -20
wait
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do
  for v in "review X=1" "spread3 X=1" "spread3 APR_CUDA_MVS_SPREAD_TASKS=3" "spread3 APR_CUDA_MVS_SPREAD_TASKS=5" "spread3 APR_CUDA_MVS_SPREAD_TASKS=6"; do
    set -- $v
    t "0.5b tg128 $1 $2" APR_CUDA_PATH=$PWD/.dev/gpu/$1.so $2 ./apr-bench -m /tmp/apr-models/qwen2.5-0.5b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  done
  for v in review spread3; do
    t "0.5b d4096 $v" APR_CUDA_PATH=$PWD/.dev/gpu/$v.so ./apr-bench -m /tmp/apr-models/qwen2.5-0.5b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d 4096 -r 3
    t "1.5b tg128 $v" APR_CUDA_PATH=$PWD/.dev/gpu/$v.so ./apr-bench -m /tmp/apr-models/qwen2.5-1.5b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  done
done
cp .dev/gpu/spread3.so libapr_cuda.so
OUT2=$OUT; OUT=/tmp/o/b MODELS=/tmp/apr-models timeout 330 bench/cuda/gpu_bench.sh 0.5b 1.5b 7b 32b > $OUT2/protocol.txt 2>&1; echo "protocol rc=$?"; grep -E "^==|\[apr-bench\]" $OUT2/protocol.txt
(cd /tmp/o && tar czf $OUT2/protocol-json.tgz b) 2>/dev/null
