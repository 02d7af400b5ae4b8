# session 14, run 140: protocol on final.so (make cuda of the session's code); same-run A/B base.so (3c882a9) vs final.so; test_cuda again (+ test-wide reference vs itself)
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
cc -O2 -std=c99 -I.dev/gpu/snap -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
(bench/make_models.sh /tmp/apr-models 0.5b 1.5b 7b 32b > /dev/null 2>&1; echo models done) &
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/final.so timeout 200 /tmp/test_cuda > $OUT/test_cuda-final.log 2>&1; echo "test final rc=$?"; tail -1 $OUT/test_cuda-final.log; grep -E "FAIL" -A3 $OUT/test_cuda-final.log | head; grep -E "test-wide.*positions \(" $OUT/test_cuda-final.log
wait
cp .dev/gpu/final.so libapr_cuda.so
OUT2=$OUT; OUT=/tmp/o/b MODELS=/tmp/apr-models bench/cuda/gpu_bench.sh 0.5b 1.5b 7b 32b > $OUT2/protocol.txt 2>&1; echo "protocol rc=$?"; tail -30 $OUT2/protocol.txt
(cd /tmp/o && tar czf $OUT2/protocol-json.tgz b) 2>/dev/null
t() { name=$1; shift; printf "%-22s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for m in 0.5b 1.5b 7b 32b; do
 mm=/tmp/apr-models/qwen2.5-$m-q4_k_m.gguf
  for d in 4096 0; do
  t "base $m d$d" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  t "final $m d$d" APR_CUDA_PATH=$PWD/.dev/gpu/final.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
  done
done
