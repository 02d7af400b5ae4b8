# session 21, run 198 (H100): attn1.so = dyn4.so's source with k_attn_dec_mma's merge rows padded (SO = HD + 8, no bank conflicts), st1.so its stamps build; tests/test_cuda of 7ab040a (tests only changed since 49ac776) against dyn4.so (49ac776's kernels) while the models are written; A/B of the short attention's wo trigger (APR_CUDA_ATTN_TRIGGER_END default 1 / 0) at tg128 and @ d1024, two rounds; stamps of 7B layer 13 at tg128 with the trigger off
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/apr-models; mkdir -p $MD
(for s in 0.5b 1.5b 7b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1 &
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/dyn4.so timeout 250 /tmp/test_cuda > $OUT/run198-test_cuda.log 2>&1; echo "test_cuda rc=$?"; grep -E "^FAIL|passed" $OUT/run198-test_cuda.log | tail -5
wait; ls $MD
st() { tag=$1; L=$2; shift 2; ST_LAYER=$L ST_OUT=$OUT/run198-stamps-$tag.txt APR_CUDA_PATH=$PWD/.dev/gpu/${ST:-st}.so "$@" -ngl 99 -p 0 -r 1 2>&1 | grep -E "^\| qwen"; echo "== $tag"; python3 bench/cuda/stamps_report.py $OUT/run198-stamps-$tag.txt; }
st 7b-L13-tg128-te0 13 env APR_CUDA_ATTN_TRIGGER_END=0 ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -n 128
ST=st1 st 7b-L13-tg128-attn1 13 ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -n 128
st 1.5b-L14-tg128-te0 14 env APR_CUDA_ATTN_TRIGGER_END=0 ./apr-bench -m $MD/qwen2.5-1.5b-q4_k_m.gguf -n 128
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do for v in dyn4:1 dyn4:0 attn1:1 attn1:0; do so=${v%:*}; te=${v#*:}; for m in 0.5b 1.5b 7b; do
  t "$m tg128 $so trigger_end $te" APR_CUDA_ATTN_TRIGGER_END=$te APR_CUDA_PATH=$PWD/.dev/gpu/$so.so ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  t "$m @d1024 $so trigger_end $te" APR_CUDA_ATTN_TRIGGER_END=$te APR_CUDA_PATH=$PWD/.dev/gpu/$so.so ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 64 -d 1024 -r 3
done; done; done
