# session 30, run 267 (H100): racecheck of test_cuda's ring check found hazards in run 266
# between k_ring_res's bulk copies into a stage and the consumers' reads of it. fence.so =
# rev29.so's source with a fence.proxy.async.shared::cta by every consumer lane after its
# reads of a stage, before the warp's arrive on the stage's empty barrier (sm_90a,
# -lineinfo). Four processes at once, each in its own directory: racecheck of ring with
# rev29.so and with fence.so (the first 20 hazards printed in full), of long and of
# persistent_matvec with rev29.so (both stopped at 550 s among 16 processes in run 266).
G=$PWD/.dev/gpu
nvidia-smi --query-gpu=name --format=csv,noheader
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
export APR_SHARED=$G/shared
one() {  # one <name> <so> <check>
    local d=/tmp/rc/$1 s=$(date +%s)
    mkdir -p $d && cd $d
    APR_CUDA_PATH=$G/$2.so timeout ${LIM:-560} compute-sanitizer --tool racecheck --print-limit 20 --error-exitcode 9 /tmp/test_cuda $3 > $OUT/run267-$1.txt 2>&1
    echo "== $1 ($2 racecheck $3) rc=$? $(( $(date +%s) - s )) s: $(grep -E '[0-9]+ passed' $OUT/run267-$1.txt | tail -1) | $(grep -E 'SUMMARY' $OUT/run267-$1.txt | tail -1)"
}
one ring-rev29 rev29 ring &
one ring-fence fence ring &
one long rev29 long &
one pm rev29 persistent_matvec &
wait
grep -h -E "Error: Race|Warning: Race" $OUT/run267-ring-rev29.txt | sort | uniq -c | head
