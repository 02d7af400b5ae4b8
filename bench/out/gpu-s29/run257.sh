# session 29, run 257 (H100): li.so as run 256. test_cuda's "long" check failed under
# synccheck and initcheck (5 checks, the many-split decode attention, Q8_0) with 0 tool
# errors: the same check plain 3 times, under memcheck, then racecheck of a few checks.
G=$PWD/.dev/gpu
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
export APR_SHARED=$G/shared APR_CUDA_PATH=$G/li.so
for i in 1 2 3; do timeout 60 /tmp/test_cuda long > $OUT/run257-long-$i.txt 2>&1; echo "long plain rc=$?"; tail -1 $OUT/run257-long-$i.txt; done
timeout 200 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda long > $OUT/run257-long-memcheck.txt 2>&1; echo "long memcheck rc=$?"; grep -E "FAIL|passed|SUMMARY" $OUT/run257-long-memcheck.txt | cut -c1-200 | tail -8
for t in long ring; do
  s=$(date +%s)
  timeout 150 compute-sanitizer --tool racecheck --error-exitcode 9 /tmp/test_cuda $t > $OUT/run257-racecheck-$t.txt 2>&1
  echo "racecheck $t rc=$? $(( $(date +%s) - s )) s"; grep -E "passed|SUMMARY" $OUT/run257-racecheck-$t.txt | tail -3
done
