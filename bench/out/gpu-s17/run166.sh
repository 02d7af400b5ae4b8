# session 17, run 166 (H100): head.so (ca8b610's kernels; MVS_WLOAD=0): compute-sanitizer memcheck of tests/test_cuda (the first of f9780a2's fill); stamps.so (bench/cuda/stamps.py on the same source): one 7B layer's five kernels at tg128 (layers 13: Q4_K down, 14: Q6_K down) and @ d4096; weight-load cache hints w1 (L2::256B), w2 (L1::no_allocate + L2 evict_first policy), against head on 7B / 0.5B tg128, two rounds
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
for s in 0.5b 7b; do bench/make_models.sh /tmp/m $s > /dev/null 2>&1 & done
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/head.so timeout 250 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda > /tmp/memcheck.log 2>&1; echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|passed" /tmp/memcheck.log | tail -2; tail -c 3000 /tmp/memcheck.log > $OUT/memcheck-tail.txt
wait
ls -la /tmp/m
M7=/tmp/m/qwen2.5-7b-q4_k_m.gguf; M05=/tmp/m/qwen2.5-0.5b-q4_k_m.gguf
for L in 13 14; do
  ST_LAYER=$L ST_OUT=$OUT/stamps-7b-tg128-L$L.txt APR_CUDA_PATH=$PWD/.dev/gpu/stamps.so ./apr-bench -m $M7 -ngl 99 -p 0 -n 128 -r 1 2>&1 | grep -E "^\| qwen"
  echo "== 7B tg128 layer $L"; python3 bench/cuda/stamps_report.py $OUT/stamps-7b-tg128-L$L.txt
done
ST_LAYER=14 ST_OUT=$OUT/stamps-7b-d4096-L14.txt APR_CUDA_PATH=$PWD/.dev/gpu/stamps.so ./apr-bench -m $M7 -ngl 99 -p 0 -n 128 -d 4096 -r 1 2>&1 | grep -E "^\| qwen"
echo "== 7B d4096 layer 14"; python3 bench/cuda/stamps_report.py $OUT/stamps-7b-d4096-L14.txt
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do
  for v in head w1 w2; do
    t "7b tg128 $v" APR_CUDA_PATH=$PWD/.dev/gpu/$v.so ./apr-bench -m $M7 -ngl 99 -p 0 -n 128 -r 3
    t "0.5b tg128 $v" APR_CUDA_PATH=$PWD/.dev/gpu/$v.so ./apr-bench -m $M05 -ngl 99 -p 0 -n 128 -r 3
  done
done
