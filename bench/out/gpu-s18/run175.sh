# session 18, run 175 (H100): cand.so (quant16v + wo launched at the attention's input from 24 splits where not early, the committed source): tests/test_cuda plain and under memcheck; A/B against final.so (a590403) on 0.5B / 1.5B / 7B / 32B tg128 and @ d4096, two rounds
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
(for s in 0.5b 1.5b 7b; do bench/make_models.sh /tmp/m $s; done) > /tmp/mk.log 2>&1 &
bench/make_models.sh /tmp/m 32b > /tmp/mk32.log 2>&1 &
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
C=$PWD/.dev/gpu/cand.so; F=$PWD/.dev/gpu/final.so
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$C timeout 200 /tmp/test_cuda > $OUT/test_cuda.log 2>&1; echo "test_cuda rc=$?"; grep -E "FAIL|passed|wo launched|quant16" $OUT/test_cuda.log | tail -8
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$C timeout 250 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda > /tmp/memcheck.log 2>&1; echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|passed" /tmp/memcheck.log | tail -2; tail -c 3000 /tmp/memcheck.log > $OUT/memcheck-tail.txt
wait; ls -la /tmp/m
APR_CUDA_PATH=$C ./apr-bench -m /tmp/m/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 16 -r 1 2>&1 | grep -E "one-token decode"
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do
  for m in 7b 32b 0.5b 1.5b; do
    for d in 0 4096; do
      for v in final cand; do
        t "$m d$d $v" APR_CUDA_PATH=$PWD/.dev/gpu/$v.so ./apr-bench -m /tmp/m/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d $d -r 3
      done
    done
  done
done
