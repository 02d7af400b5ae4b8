# session 14, run 137: first try of k_attn_dec_mma (decode attention on tensor cores, q and p in hi+lo f16)
# tests on mma.so; same-run A/B base.so (3c882a9 kernels) vs mma.so, all four sizes; split knobs on 0.5B
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
cc -O2 -std=c99 -I.dev/gpu/snap -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
(bench/make_models.sh /tmp/apr-models 0.5b 1.5b 7b 32b > /dev/null 2>&1; echo models done) &
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/mma.so timeout 240 /tmp/test_cuda > $OUT/test_cuda-mma.log 2>&1; echo "test mma rc=$?"; tail -1 $OUT/test_cuda-mma.log; grep -E "FAIL" -A3 $OUT/test_cuda-mma.log | head -30; grep -E "positions \(" $OUT/test_cuda-mma.log | head -40
wait
t() { name=$1; shift; printf "%-22s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
APR_CUDA_PATH=$PWD/.dev/gpu/mma.so ./apr-bench -m /tmp/apr-models/qwen2.5-0.5b-q4_k_m.gguf -ngl 99 -p 0 -n 16 -v 2>&1 | grep -i "decode" | head -3
for m in 0.5b 1.5b 7b 32b; do
 mm=/tmp/apr-models/qwen2.5-$m-q4_k_m.gguf
 for round in 1 2; do
  for d in 4096 0; do
  t "base $m d$d" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  t "mma $m d$d" APR_CUDA_PATH=$PWD/.dev/gpu/mma.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  done
 done
done
mm=/tmp/apr-models/qwen2.5-0.5b-q4_k_m.gguf
for k in "APR_CUDA_ATTN_SMAX=33" "APR_CUDA_ATTN_SMAX=44" "APR_CUDA_ATTN_SPLIT=64" "APR_CUDA_ATTN_EARLY=0"; do
  t "mma 0.5b d4096 $k" $k APR_CUDA_PATH=$PWD/.dev/gpu/mma.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d 4096 -r 3
  t "mma 0.5b d0 $k" $k APR_CUDA_PATH=$PWD/.dev/gpu/mma.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -r 3
done
