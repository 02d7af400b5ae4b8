# session 17, run 167 (H100): ahead.so (MVS::l2_ahead, APR_CUDA_MVS_L2_AHEAD=n steps pulled into L2 ahead of each warp's register loads; default 0): test_cuda at n=2; stamps2.so (the same source with stamps) of 7B layer 13 at n=0 / 2; A/B of n = 0, 1, 2, 4 on 0.5B, 1.5B, 7B tg128, n = 0, 2 on 7B @ d4096 and 32B tg128, two rounds
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
for s in 0.5b 1.5b 7b 32b; do bench/make_models.sh /tmp/m $s > /dev/null 2>&1 & done
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_CUDA_MVS_L2_AHEAD=2 APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/ahead.so timeout 250 /tmp/test_cuda > $OUT/test_cuda.log 2>&1; echo "test rc=$?"; tail -1 $OUT/test_cuda.log; grep -E "FAIL" -A3 $OUT/test_cuda.log | head -20
wait
ls /tmp/m
M=/tmp/m/qwen2.5
for a in 0 2; do
  APR_CUDA_MVS_L2_AHEAD=$a ST_LAYER=13 ST_OUT=$OUT/stamps-7b-tg128-L13-a$a.txt APR_CUDA_PATH=$PWD/.dev/gpu/stamps2.so ./apr-bench -m $M-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 1 2>&1 | grep -E "^\| qwen"
  echo "== 7B tg128 layer 13, ahead $a"; python3 bench/cuda/stamps_report.py $OUT/stamps-7b-tg128-L13-a$a.txt
done
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do
  for a in 0 1 2 4; do for s in 0.5b 1.5b 7b; do
    t "$s tg128 ahead=$a" APR_CUDA_MVS_L2_AHEAD=$a APR_CUDA_PATH=$PWD/.dev/gpu/ahead.so ./apr-bench -m $M-$s-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  done; done
  for a in 0 2; do
    t "7b d4096 ahead=$a" APR_CUDA_MVS_L2_AHEAD=$a APR_CUDA_PATH=$PWD/.dev/gpu/ahead.so ./apr-bench -m $M-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d 4096 -r 3
    t "32b tg128 ahead=$a" APR_CUDA_MVS_L2_AHEAD=$a APR_CUDA_PATH=$PWD/.dev/gpu/ahead.so ./apr-bench -m $M-32b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  done
done
