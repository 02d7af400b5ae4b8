# session 12, run 122: ncu sections of k_attn_dec at 4,096 positions (0.5B, pg.so PG1); SASS histogram; A/B pg.so vs base.so (fixed t())
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
bench/make_models.sh /tmp/m 0.5b 7b > /dev/null 2>&1; echo models done
m=/tmp/m/qwen2.5-0.5b-q4_k_m.gguf; m7=/tmp/m/qwen2.5-7b-q4_k_m.gguf
cuobjdump -sass -fun '_Z10k_attn_decILi32ELi64ELi1EEv5AttnD' .dev/gpu/pg.so > $OUT/sass_attn_32_64.txt 2>&1
grep -oE "^\s+/\*[0-9a-f]+\*/\s+[A-Z0-9_.]+" $OUT/sass_attn_32_64.txt | awk '{print $2}' | sed 's/\..*//' | sort | uniq -c | sort -rn | head -25
APR_CUDA_PATH=$PWD/.dev/gpu/pg.so timeout 300 ncu --graph-profiling node -k regex:k_attn_dec --launch-count 1 --launch-skip 2 \
  --section ComputeWorkloadAnalysis --section WarpStateStats --section InstructionStats --section SchedulerStats --section SpeedOfLight --section LaunchStats --section Occupancy --print-details all \
  ./apr-bench -m $m -ngl 99 -p 0 -n 2 -d 4096 -r 1 --no-warmup > $OUT/ncu_attn_05b_d4096.txt 2>&1; echo "ncu rc=$?"
grep -iE "pipe|Duration|Issue Slots|Warp Cycles|Stall|Eligible|Executed Ipc|Threads|Registers|Block Limit" $OUT/ncu_attn_05b_d4096.txt | head -60
t() { name=$1; shift; printf "%-22s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for d in 4096 0; do n=64; [ $d = 0 ] && n=128; for round in 1 2; do
 t "base 0.5b d$d" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $m -ngl 99 -p 0 -n $n -d $d -r 3
 t "pg1 0.5b d$d" APR_CUDA_PATH=$PWD/.dev/gpu/pg.so ./apr-bench -m $m -ngl 99 -p 0 -n $n -d $d -r 3
 t "pg1t64 0.5b d$d" APR_CUDA_ATTN_TILE=64 APR_CUDA_PATH=$PWD/.dev/gpu/pg.so ./apr-bench -m $m -ngl 99 -p 0 -n $n -d $d -r 3
done; done
for d in 4096 0; do n=64; [ $d = 0 ] && n=128; for round in 1 2; do
 t "base 7b d$d" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $m7 -ngl 99 -p 0 -n $n -d $d -r 2
 t "pg1 7b d$d" APR_CUDA_PATH=$PWD/.dev/gpu/pg.so ./apr-bench -m $m7 -ngl 99 -p 0 -n $n -d $d -r 2
done; done
