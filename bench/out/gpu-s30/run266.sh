# session 30, run 266 (H100): rev29.so (75e0026's source less one comment, sm_90a,
# -lineinfo; built in session 29). compute-sanitizer racecheck of test_cuda check by check,
# all at once, each process in a directory of its own (every process writes tests/tmp's
# models); beside them the whole list under memcheck, synccheck and initcheck (after
# session 29's fix only "long" ran under the last two).
G=$PWD/.dev/gpu
nvidia-smi --query-gpu=name --format=csv,noheader
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
export APR_SHARED=$G/shared APR_CUDA_PATH=$G/rev29.so
one() {  # one <name> <tool> [check]
    local d=/tmp/rc/$1 s=$(date +%s)
    mkdir -p $d && cd $d
    timeout ${LIM:-550} compute-sanitizer --tool $2 --error-exitcode 9 /tmp/test_cuda $3 > $OUT/run266-$1.txt 2>&1
    echo "== $1 ($2 ${3:-all}) rc=$? $(( $(date +%s) - s )) s: $(grep -E '[0-9]+ passed' $OUT/run266-$1.txt | tail -1) | $(grep -E 'SUMMARY' $OUT/run266-$1.txt | tail -1)"
}
for c in stories types half_prompt vs_exact persistent_matvec dyn_tasks ring res_wide bad_switches carveout long wgmma selftest; do
    one race-$c racecheck $c &
done
one memcheck memcheck &
one synccheck synccheck &
one initcheck initcheck &
wait
grep -h -E "Hazard|hazard|FAIL" $OUT/run266-*.txt | sort | uniq -c | sort -rn | head -20
