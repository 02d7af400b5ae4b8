# session 30, run 269 (H100): final30.so = `make cuda` of the source to commit (sm_80, sm_90a,
# PTX): k_ring_res's empty barriers count 32 arrivals, every consumer lane arriving after
# its reads of the stage and a fence.proxy.async.shared::cta (all32f.so of run 268 with
# comments). racecheck of ring (in the background, with the models' writing), test_cuda,
# then the A/B on 1.5B (the one model whose ffn_down takes k_ring_res by the rule): rev29.so
# (75e0026), all32.so (every lane arrives, no fence), final30.so; two rounds.
AB_MODELS="1.5b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
export APR_SHARED=$G/shared
( mkdir -p /tmp/rc/ring && cd /tmp/rc/ring && s=$(date +%s) && APR_CUDA_PATH=$G/final30.so timeout 400 compute-sanitizer --tool racecheck --print-limit 20 --error-exitcode 9 /tmp/test_cuda ring > $OUT/run269-race-ring.txt 2>&1; echo "== racecheck ring rc=$? $(( $(date +%s) - s )) s: $(grep -E '[0-9]+ passed' $OUT/run269-race-ring.txt | tail -1) | $(grep SUMMARY $OUT/run269-race-ring.txt)" ) &
RACE=$!
APR_CUDA_PATH=$G/final30.so timeout 240 /tmp/test_cuda > $OUT/run269-test.txt 2>&1; echo "test_cuda rc=$?"; tail -1 $OUT/run269-test.txt; grep FAIL $OUT/run269-test.txt | head -5
wait $RACE
ab_models_wait
for round in 1 2; do
  for so in rev29 all32 final30; do t "1.5b tg128 $so" APR_CUDA_PATH=$G/$so.so timeout 60 $(b 1.5b); done
  for so in rev29 all32 final30; do t "1.5b @d4096 $so" APR_CUDA_PATH=$G/$so.so timeout 60 $(b 1.5b 4096); done
done
