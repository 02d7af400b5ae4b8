# session 23, run 211 (H100): ring1.so = k_ring_res (residual matrices' weights streamed by
# bulk copies into shared-memory stages), off unless APR_CUDA_RING=n (n columns or more:
# 8192 = ffn_down of 1.5B and larger); other kernels' PTX identical to final21's.
# test_cuda (with the ring test), then one round of A/B on 7B tg128 over ring switches.
AB_MODELS="1.5b 7b" . bench/cuda/ab.sh
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$G/ring1.so timeout 300 /tmp/test_cuda > $OUT/run211-test_cuda.log 2>&1; echo "test_cuda rc=$?"; grep -E "FAIL|passed|k_ring_res" $OUT/run211-test_cuda.log | tail -14
ab_models_wait
APR_CUDA_RING=8192 APR_CUDA_PATH=$G/ring1.so timeout 60 ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep -iE "ring|error" | head -5
for c in "7b" "7b 4096" "1.5b"; do
  set -- $c; n="$1 tg128"; [ -n "$2" ] && n="$1 @d$2"
  t "$n final21" APR_CUDA_PATH=$G/final21.so timeout 60 $(b $1 $2)
  t "$n ringoff" APR_CUDA_PATH=$G/ring1.so timeout 60 $(b $1 $2)
  t "$n ring" APR_CUDA_RING=8192 APR_CUDA_PATH=$G/ring1.so timeout 60 $(b $1 $2)
  t "$n ring-pre0" APR_CUDA_RING=8192 APR_CUDA_RING_PRE=0 APR_CUDA_PATH=$G/ring1.so timeout 60 $(b $1 $2)
  t "$n ring-preall" APR_CUDA_RING=8192 APR_CUDA_RING_PRE=1000 APR_CUDA_PATH=$G/ring1.so timeout 60 $(b $1 $2)
  t "$n ring-kb192" APR_CUDA_RING=8192 APR_CUDA_RING_KB=192 APR_CUDA_PATH=$G/ring1.so timeout 60 $(b $1 $2)
done
