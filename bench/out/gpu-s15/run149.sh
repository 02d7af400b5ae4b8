# session 15, run 149: hilo.so = HEAD + F16/BF16 prompt GEMM with hi + lo activations (launch_mm); base.so = HEAD (both sm_90a only)
# tests (new: GPU and CPU against exact arithmetic; F16/BF16 GPU vs CPU at 1e-3), memcheck; F16 and Q4_K_M prefill A/B
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
(APR_TYPE=F16 bench/make_models.sh /tmp/m 0.5b 1.5b > /tmp/mk16.log 2>&1; bench/make_models.sh /tmp/m 0.5b > /tmp/mk.log 2>&1) & MK=$!
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
for v in hilo base; do APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/$v.so timeout 200 /tmp/test_cuda > $OUT/test_cuda-$v.log 2>&1; echo "test $v rc=$?"; tail -1 $OUT/test_cuda-$v.log; grep -E "FAIL" -A3 $OUT/test_cuda-$v.log | head -20; done
grep -E "max rel err|vs exact" $OUT/test_cuda-hilo.log | head -32
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/hilo.so timeout 300 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda > $OUT/memcheck.log 2>&1; echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|passed" $OUT/memcheck.log | tail -2; tail -c 3000 $OUT/memcheck.log > $OUT/memcheck-tail.txt; rm $OUT/memcheck.log
wait $MK; cat /tmp/mk16.log /tmp/mk.log | grep -v "^\[" | tail -4
t() { name=$1; shift; printf "%-22s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for m in 0.5b-f16 1.5b-f16 0.5b-q4_k_m; do mm=/tmp/m/qwen2.5-$m.gguf; echo "== $m pp512 tg128"; for r in 1 2; do for v in base hilo; do t "$v" APR_CUDA_PATH=$PWD/.dev/gpu/$v.so ./apr-bench -m $mm -ngl 99 -p 512 -n 128 -r 3; done; done; done
