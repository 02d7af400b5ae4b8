# session 25, run 233 (H100): the committed build (final25b.so = make cuda): test_cuda, then
# issue 7's protocol for 32B (its ffn_down now through k_mvs_res_wide's SPLIT instance).
cp .dev/gpu/final25b.so libapr_cuda.so
nvidia-smi --query-gpu=name --format=csv,noheader
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/libapr_cuda.so timeout 200 /tmp/test_cuda > $OUT/run233-test.txt 2>&1
echo "test_cuda rc=$?"; grep -E "passed|FAIL" $OUT/run233-test.txt | head
OUT2=$OUT; OUT=/tmp/o/b MODELS=/tmp/apr-models timeout 330 bench/cuda/gpu_bench.sh 32b > $OUT2/run233-protocol.txt 2>&1
cat $OUT2/run233-protocol.txt; grep -h "k_mvs_res_wide" /tmp/o/b/apr-32b.log | head -1
