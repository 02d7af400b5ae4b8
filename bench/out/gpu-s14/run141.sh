# session 14, run 141: final.so: ncu duration of the decode attention at 4,096 positions (0.5B; k_attn_dec_mma vs k_attn_dec);
# same-run A/B base.so (3c882a9) vs final.so on 7B and 32B (two rounds); positions per split 192 / 256 at d4096
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
bench/make_models.sh /tmp/m 0.5b > /dev/null 2>&1
(bench/make_models.sh /tmp/m 7b 32b > /dev/null 2>&1; echo models done) &
m=/tmp/m/qwen2.5-0.5b-q4_k_m.gguf
for v in mma ref; do e=""; [ $v = ref ] && e="APR_CUDA_ATTN_MMA=0 APR_CUDA_ATTN_SPLIT=32"
 env $e APR_CUDA_PATH=$PWD/.dev/gpu/final.so timeout 200 ncu --graph-profiling node -k regex:k_attn_dec --launch-count 3 --launch-skip 24 \
  --section SpeedOfLight --section LaunchStats --section Occupancy ./apr-bench -m $m -ngl 99 -p 0 -n 2 -d 4096 -r 1 --no-warmup > $OUT/ncu_$v.txt 2>&1; echo "ncu $v rc=$?"
 grep -E "k_attn_dec|Duration|Registers Per|Dynamic Shared|Block Size|Grid Size|Memory Throughput|Achieved Occupancy" $OUT/ncu_$v.txt | head -24
done
wait
t() { name=$1; shift; printf "%-30s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for mdl in 7b 32b; do
 mm=/tmp/m/qwen2.5-$mdl-q4_k_m.gguf
 for round in 1 2; do
  for d in 4096 0; do
  t "base $mdl d$d" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  t "final $mdl d$d" APR_CUDA_PATH=$PWD/.dev/gpu/final.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  done
 done
done
for mdl in 0.5b 7b; do
 mm=/tmp/m/qwen2.5-$mdl-q4_k_m.gguf
 for k in APR_CUDA_ATTN_SPLIT=128 APR_CUDA_ATTN_SPLIT=192 APR_CUDA_ATTN_SPLIT=256 APR_CUDA_ATTN_SPLIT=128; do
  t "final $mdl d4096 $k" $k APR_CUDA_PATH=$PWD/.dev/gpu/final.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d 4096 -r 3
 done
done
