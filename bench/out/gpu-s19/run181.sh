# session 19, run 181 (H100): cand.so (ffn_q: gate/up writes ffn_down's input quantized; sm_90a) : tests/test_cuda; A/B final.so (9ba31cb) vs cand.so vs cand.so with APR_CUDA_FFN_Q=0 (the switched-off build), 7B tg128 / @ d4096, 0.5B, 1.5B tg128, two rounds
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/m; mkdir -p $MD
(for s in 7b 0.5b 1.5b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1 &
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/cand.so timeout 240 /tmp/test_cuda > /tmp/test_cuda.log 2>&1; echo "test_cuda rc=$?"; grep -E "^FAIL|passed|GPU:|test-wide Q4_K" /tmp/test_cuda.log | tail -12
cp /tmp/test_cuda.log $OUT/run181-test_cuda.log
wait
APR_CUDA_PATH=$PWD/.dev/gpu/cand.so ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 16 -r 1 -v 2>&1 | grep -E "CUDA: (k_mvs|one-token)" | head -5
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do
  for c in "7b 0" "7b 4096" "0.5b 0" "1.5b 0"; do
    set -- $c
    for v in final cand candoff; do
      so=$v; ex=""; [ $v = candoff ] && so=cand && ex="APR_CUDA_FFN_Q=0"
      t "$1 d$2 $v" $ex APR_CUDA_PATH=$PWD/.dev/gpu/$so.so ./apr-bench -m $MD/qwen2.5-$1-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d $2 -r 3
    done
  done
done
