# session 12, run 125: review build (host only: mvs_tasks shared by launch_mvs and attn_trigger_fits; comments): tests/test_cuda; 0.5B tg128 base (605ba41) vs rev
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
cc -O2 -std=c99 -I.dev/gpu/snap -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
(bench/make_models.sh /tmp/m 0.5b > /dev/null 2>&1; echo models done) &
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/rev.so /tmp/test_cuda > $OUT/test_cuda-rev.log 2>&1; echo "test rev rc=$?"; tail -1 $OUT/test_cuda-rev.log; grep FAIL $OUT/test_cuda-rev.log | head -5
wait
t() { name=$1; shift; printf "%-22s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
m=/tmp/m/qwen2.5-0.5b-q4_k_m.gguf
for round in 1 2; do for v in base rev; do t "$v 0.5b d4096" APR_CUDA_PATH=$PWD/.dev/gpu/$v.so ./apr-bench -m $m -ngl 99 -p 0 -n 64 -d 4096 -r 3; done; done
