# session 14, run 145: final3.so = make cuda of the committed code (run 144's final2 + the two attention kernels' shared
# pieces as helpers: attn_split, attn_token_kv, attn_last_split): tests, memcheck; A/B final2 vs final3 on 0.5B
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
cc -O2 -std=c99 -I.dev/gpu/snap -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
(bench/make_models.sh /tmp/m 0.5b > /dev/null 2>&1; echo models done) &
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/final3.so timeout 200 /tmp/test_cuda > $OUT/test_cuda-final3.log 2>&1; echo "test final3 rc=$?"; tail -1 $OUT/test_cuda-final3.log; grep -E "FAIL" -A3 $OUT/test_cuda-final3.log | head
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/final3.so timeout 300 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda > $OUT/memcheck-final3.log 2>&1; echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|passed" $OUT/memcheck-final3.log | tail -2; tail -c 3000 $OUT/memcheck-final3.log > $OUT/memcheck-final3-tail.txt; rm $OUT/memcheck-final3.log
wait
t() { name=$1; shift; printf "%-22s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
mm=/tmp/m/qwen2.5-0.5b-q4_k_m.gguf
for d in 4096 0; do
 t "final2 0.5b d$d" APR_CUDA_PATH=$PWD/.dev/gpu/final2.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
 t "final3 0.5b d$d" APR_CUDA_PATH=$PWD/.dev/gpu/final3.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -d $d -r 3
done
