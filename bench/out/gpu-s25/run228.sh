# session 25, runs 228 (H100) and 229 (H200): the committed build (make cuda, final25.so =
# libapr_cuda.so: k_mvs_res_wide by mvs_plan's rule): test_cuda, then issue 7's protocol
# for 7B, the one size whose kernels changed (0.5B, 1.5B and 32B do not take it: their
# INFO lines, runs 226-227).
RUN=${RUN:-228}
cp .dev/gpu/final25.so libapr_cuda.so
nvidia-smi --query-gpu=name --format=csv,noheader
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/libapr_cuda.so timeout 200 /tmp/test_cuda > $OUT/run$RUN-test.txt 2>&1
echo "test_cuda rc=$?"; grep -E "passed|FAIL|k_mvs_res_wide vs" $OUT/run$RUN-test.txt | head -20
OUT2=$OUT; OUT=/tmp/o/b MODELS=/tmp/apr-models timeout 420 bench/cuda/gpu_bench.sh 7b > $OUT2/run$RUN-protocol.txt 2>&1
cat $OUT2/run$RUN-protocol.txt; grep -h "k_mvs_res_wide\|launches" /tmp/o/b/apr-7b.log | head -4
