# session 12, run 123: new.so (= make cuda of the working tree: attention wo trigger in the last block, rope sincos before pdl_wait, tile 64 by default with 32-row scoring of half-empty tiles)
# tests/test_cuda (default, and APR_CUDA_ATTN_TILE=32), memcheck; A/B base.so (27ca0a7) vs new.so vs new.so TILE=32
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
cc -O2 -std=c99 -I.dev/gpu/snap -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
(bench/make_models.sh /tmp/m 0.5b 1.5b 7b 32b > /dev/null 2>&1; echo models done) &
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/new.so /tmp/test_cuda > $OUT/test_cuda-new.log 2>&1; echo "test new rc=$?"; tail -1 $OUT/test_cuda-new.log; grep FAIL $OUT/test_cuda-new.log | head -5
APR_CUDA_ATTN_TILE=32 APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/new.so /tmp/test_cuda > $OUT/test_cuda-new-t32.log 2>&1; echo "test new t32 rc=$?"; tail -1 $OUT/test_cuda-new-t32.log; grep FAIL $OUT/test_cuda-new-t32.log | head -5
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/new.so compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/test_cuda > $OUT/memcheck-new.log 2>&1; echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|passed" $OUT/memcheck-new.log | tail -2
wait
t() { name=$1; shift; printf "%-22s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for s in 0.5b 1.5b 7b; do mm=/tmp/m/qwen2.5-$s-q4_k_m.gguf
for d in 0 4096; do n=64; [ $d = 0 ] && n=128; for round in 1 2; do
 t "base $s d$d" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $mm -ngl 99 -p 0 -n $n -d $d -r 3
 t "new $s d$d" APR_CUDA_PATH=$PWD/.dev/gpu/new.so ./apr-bench -m $mm -ngl 99 -p 0 -n $n -d $d -r 3
 t "new-t32 $s d$d" APR_CUDA_ATTN_TILE=32 APR_CUDA_PATH=$PWD/.dev/gpu/new.so ./apr-bench -m $mm -ngl 99 -p 0 -n $n -d $d -r 3
done; done; done
mm=/tmp/m/qwen2.5-32b-q4_k_m.gguf
for d in 0 4096; do n=64; [ $d = 0 ] && n=128;
 t "base 32b d$d" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $mm -ngl 99 -p 0 -n $n -d $d -r 2
 t "new 32b d$d" APR_CUDA_PATH=$PWD/.dev/gpu/new.so ./apr-bench -m $mm -ngl 99 -p 0 -n $n -d $d -r 2
done
