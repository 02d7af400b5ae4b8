# session 29, run 258 (H100): li.so as run 256. Why test_cuda's many-split k_attn_dec_mma
# cases fail under synccheck / initcheck (not plain, not memcheck): test_cuda now prints
# each step's error (prompt, 4 decode steps). 1) two plain "long" runs at once, twice
# (timing perturbed); 2) synccheck of "long": default, APR_CUDA_NO_PDL=1,
# APR_CUDA_ATTN_TRIGGER_SPLITS=0; 3) racecheck of apr-bench on tiny-llama Q8_0 at 2,200
# positions with test_cuda's "wide" splits (16 positions, at most 128, 8 per SM).
G=$PWD/.dev/gpu
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
make -s apr-bench 2>&1 | tail -2
export APR_SHARED=$G/shared APR_CUDA_PATH=$G/li.so
show() { grep -E "123 splits|128 splits" $1 | grep -E "positions \(" | sed 's/tiny-llama //' | cut -c1-230; grep -E "passed|SUMMARY" $1 | tail -2; }
for i in 1 2; do
  timeout 60 /tmp/test_cuda long > $OUT/run258-pair$i-a.txt 2>&1 & timeout 60 /tmp/test_cuda long > $OUT/run258-pair$i-b.txt 2>&1; wait
  echo "== pair $i"; show $OUT/run258-pair$i-a.txt; show $OUT/run258-pair$i-b.txt
done
for v in "X=1" "APR_CUDA_NO_PDL=1" "APR_CUDA_ATTN_TRIGGER_SPLITS=0"; do
  s=$(date +%s)
  env $v timeout 110 compute-sanitizer --tool synccheck /tmp/test_cuda long > $OUT/run258-sync-${v%%=*}.txt 2>&1
  echo "== synccheck $v rc=$? $(( $(date +%s) - s )) s"; show $OUT/run258-sync-${v%%=*}.txt
done
s=$(date +%s)
APR_CUDA_ATTN_SPLIT=16 APR_CUDA_ATTN_SMAX=128 APR_CUDA_ATTN_BPS=8 timeout 200 compute-sanitizer --tool racecheck ./apr-bench -m $G/shared/data/quant/tiny-llama-Q8_0.gguf -ngl 99 -p 0 -n 4 -d 2200 -r 1 --no-warmup > $OUT/run258-racecheck.txt 2>&1
echo "== racecheck apr-bench rc=$? $(( $(date +%s) - s )) s"; grep -E "SUMMARY|hazard" $OUT/run258-racecheck.txt | sort | uniq -c | head
