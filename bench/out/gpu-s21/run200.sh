# session 21, run 200 (H100): where the short decode attention's time goes: ncu (kernels one by one, no overlap) of k_attn_dec_mma on 7B (head size 128) and 0.5B (64) at ~100 positions, dyn4.so (the committed kernels): warp states, scheduler, instructions, source counters (top stall locations), the source page with SASS; SASS of k_attn_dec_mma<128, 8>
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/apr-models; mkdir -p $MD
(for s in 0.5b 7b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1
cuobjdump -sass -fun '_Z14k_attn_dec_mmaILi128ELi8EEv5AttnD' .dev/gpu/dyn4.so > $OUT/run200-sass-attn-mma-128-8.txt 2>&1; wc -l $OUT/run200-sass-attn-mma-128-8.txt
for v in 7b:28 0.5b:24; do m=${v%:*}; nl=${v#*:}
  APR_CUDA_PATH=$PWD/.dev/gpu/dyn4.so timeout 200 ncu --graph-profiling node -k regex:k_attn_dec_mma --launch-skip $((nl * 100 + nl / 2)) --launch-count 2 \
    --section WarpStateStats --section SchedulerStats --section InstructionStats --section SpeedOfLight --section LaunchStats --section SourceCounters --print-details all \
    --import-source yes -o $OUT/run200-ncu-$m ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 104 -r 1 --no-warmup > $OUT/run200-ncu-$m-log.txt 2>&1; echo "ncu $m rc=$?"
  ncu --import $OUT/run200-ncu-$m.ncu-rep --print-details all > $OUT/run200-ncu-$m.txt 2>&1
  grep -iE "Duration|Warp Cycles Per|Stall|Eligible|Issued Warp|No Eligible|Executed Ipc|Block Size|Grid Size|SM Frequency" $OUT/run200-ncu-$m.txt | head -40
  ncu --import $OUT/run200-ncu-$m.ncu-rep --page source --csv --print-source sass > $OUT/run200-ncu-$m-source.csv 2>&1; echo "source page rc=$? $(wc -l < $OUT/run200-ncu-$m-source.csv) lines"
done
