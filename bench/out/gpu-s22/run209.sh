# session 22, run 209 (H100): what k_mvs_res's prologue (pdl_wait to the quantized input) waits
# on: ncu (kernels one by one) of 7B's wo and ffn_down in layers 13-14, final21.so (the committed
# kernels): warp states and source counters with SASS; the source page as CSV.
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/apr-models; mkdir -p $MD
bench/make_models.sh $MD 7b > /tmp/mk.log 2>&1
APR_CUDA_PATH=$PWD/.dev/gpu/final21.so timeout 300 ncu --graph-profiling node -k regex:k_mvs_res --launch-skip $((56 * 40 + 26)) --launch-count 4 \
  --section WarpStateStats --section SchedulerStats --section SpeedOfLight --section LaunchStats --section SourceCounters --print-details all \
  --import-source yes -o $OUT/run209-ncu ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 44 -r 1 --no-warmup > $OUT/run209-ncu-log.txt 2>&1; echo "ncu rc=$?"
ncu --import $OUT/run209-ncu.ncu-rep --print-details all > $OUT/run209-ncu.txt 2>&1
grep -iE "k_mvs_res|Duration|Warp Cycles Per Issued|Stall|Issued Warp|No Eligible|Grid Size" $OUT/run209-ncu.txt | head -60
ncu --import $OUT/run209-ncu.ncu-rep --page source --csv --print-source sass > $OUT/run209-source.csv 2>&1; echo "source rc=$? $(wc -l < $OUT/run209-source.csv) lines"; head -c 600 $OUT/run209-source.csv
