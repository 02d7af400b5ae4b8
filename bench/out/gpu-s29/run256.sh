# session 29, run 256 (H100): compute-sanitizer's other tools on the CUDA backend, first
# time (sessions 1-28 ran memcheck only). li.so = the kernels of 897cb41 built locally with
# -lineinfo (nvcc 13.0 -O3 -std=c++17 --use_fast_math -lineinfo -Xcompiler -fPIC -cudart
# static -gencode arch=compute_90a,code=sm_90a -shared), so the reports name source lines.
# test_cuda plain (its time), then synccheck and initcheck of the whole of it.
G=$PWD/.dev/gpu
nvidia-smi --query-gpu=name --format=csv,noheader
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
export APR_SHARED=$G/shared APR_CUDA_PATH=$G/li.so
s=$(date +%s); timeout 240 /tmp/test_cuda > $OUT/run256-test.txt 2>&1; echo "test_cuda rc=$? $(( $(date +%s) - s )) s"; tail -1 $OUT/run256-test.txt
s=$(date +%s); timeout 60 /tmp/test_cuda ring > $OUT/run256-test-ring.txt 2>&1; echo "test_cuda ring rc=$? $(( $(date +%s) - s )) s"; tail -1 $OUT/run256-test-ring.txt
for tool in synccheck initcheck; do
  s=$(date +%s)
  timeout 250 compute-sanitizer --tool $tool --error-exitcode 9 /tmp/test_cuda > $OUT/run256-$tool.txt 2>&1
  echo "$tool rc=$? $(( $(date +%s) - s )) s"; grep -E "passed|SUMMARY" $OUT/run256-$tool.txt | tail -3
done
