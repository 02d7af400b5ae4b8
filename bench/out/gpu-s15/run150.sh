# session 15, run 150: hilo2.so = HEAD + F16/BF16 prompt GEMMs with hi + lo activations in one GEMM of depth 2K
# (k_f16_hilo packs [hi lo] per token, k_deq_f16 writes each weight row twice), APR_CUDA_GEMM=tiles; base.so = HEAD
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
(APR_TYPE=F16 bench/make_models.sh /tmp/m 0.5b 1.5b > /tmp/mk16.log 2>&1; bench/make_models.sh /tmp/m 0.5b > /tmp/mk.log 2>&1) & MK=$!
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/hilo2.so timeout 200 /tmp/test_cuda > $OUT/test_cuda-hilo2.log 2>&1; echo "test rc=$?"; tail -1 $OUT/test_cuda-hilo2.log; grep -E "FAIL" -A3 $OUT/test_cuda-hilo2.log | head -20
grep -E "hi \+ lo on|through k_gemm|^  (f32|F16|BF16) " $OUT/test_cuda-hilo2.log | head
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/hilo2.so timeout 300 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda > $OUT/memcheck.log 2>&1; echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|passed" $OUT/memcheck.log | tail -2; tail -c 3000 $OUT/memcheck.log > $OUT/memcheck-tail.txt; rm $OUT/memcheck.log
wait $MK
t() { name=$1; shift; printf "%-22s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for m in 0.5b-f16 1.5b-f16; do mm=/tmp/m/qwen2.5-$m.gguf; echo "== $m pp512 tg128"; for r in 1 2; do t base APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $mm -ngl 99 -p 512 -n 128 -r 3; t hilo2 APR_CUDA_PATH=$PWD/.dev/gpu/hilo2.so ./apr-bench -m $mm -ngl 99 -p 512 -n 128 -r 3; t hilo2-f16 APR_CUDA_HALF_ACT=f16 APR_CUDA_PATH=$PWD/.dev/gpu/hilo2.so ./apr-bench -m $mm -ngl 99 -p 512 -n 128 -r 3; done; done
mm=/tmp/m/qwen2.5-0.5b-q4_k_m.gguf; echo "== 0.5b-q4_k_m pp512 tg128"; for r in 1 2; do for v in base hilo2; do t $v APR_CUDA_PATH=$PWD/.dev/gpu/$v.so ./apr-bench -m $mm -ngl 99 -p 512 -n 128 -r 3; done; done
