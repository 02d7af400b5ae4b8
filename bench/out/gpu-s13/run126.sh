# session 13, run 126: new.so = thread block clusters in k_attn_dec (8 splits a cluster by default, merged in DSMEM)
# tests with new.so; A/B base.so vs new.so (cluster 8 default, 16, 1) on 0.5B/1.5B/7B tg128 and d4096
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
cc -O2 -std=c99 -I.dev/gpu/snap -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
(bench/make_models.sh /tmp/apr-models 0.5b 1.5b 7b > /dev/null 2>&1; echo models done) &
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/new.so timeout 200 /tmp/test_cuda > $OUT/test_cuda-new.log 2>&1; echo "test new rc=$?"; tail -1 $OUT/test_cuda-new.log; grep -E "FAIL|decode attention:" $OUT/test_cuda-new.log | sort | uniq -c | head -20
wait
t() { name=$1; shift; printf "%-22s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for m in 0.5b 7b; do
 mm=/tmp/apr-models/qwen2.5-$m-q4_k_m.gguf
 for round in 1 2; do
  t "base $m" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -r 3
  t "c8 $m" APR_CUDA_PATH=$PWD/.dev/gpu/new.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -r 3
  t "c16 $m" APR_CUDA_ATTN_CLUSTER=16 APR_CUDA_PATH=$PWD/.dev/gpu/new.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -r 3
  t "c1 $m" APR_CUDA_ATTN_CLUSTER=1 APR_CUDA_PATH=$PWD/.dev/gpu/new.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -r 3
  t "base $m d4096" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d 4096 -r 3
  t "c8 $m d4096" APR_CUDA_PATH=$PWD/.dev/gpu/new.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d 4096 -r 3
  t "c16 $m d4096" APR_CUDA_ATTN_CLUSTER=16 APR_CUDA_PATH=$PWD/.dev/gpu/new.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d 4096 -r 3
  t "c1 $m d4096" APR_CUDA_ATTN_CLUSTER=1 APR_CUDA_PATH=$PWD/.dev/gpu/new.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d 4096 -r 3
  t "c4 $m d4096" APR_CUDA_ATTN_CLUSTER=4 APR_CUDA_PATH=$PWD/.dev/gpu/new.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d 4096 -r 3
 done
done
