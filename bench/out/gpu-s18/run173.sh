# session 18, run 173 (H100): new.so (quant16v by the 1.5*2^23 add; APR_CUDA_ATTN_TRIGGER_SPLITS=n, default off) and mut.so (new.so with quant16v's byte order broken: the self-test must fail): tests/test_cuda; A/B final vs new (the quantization alone); attention trigger at the start (SPLITS=1) against the default by depth
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
(for s in 0.5b 1.5b 7b; do bench/make_models.sh /tmp/m $s; done) > /tmp/mk.log 2>&1 &
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/new.so timeout 200 /tmp/test_cuda > $OUT/test_cuda-new.log 2>&1; echo "test_cuda new rc=$?"; grep -E "FAIL|passed" $OUT/test_cuda-new.log | tail -5
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/mut.so timeout 200 /tmp/test_cuda > $OUT/test_cuda-mut.log 2>&1; echo "test_cuda mut rc=$?"; grep -E "quant16|passed" $OUT/test_cuda-mut.log | tail -4
wait; ls -la /tmp/m
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
F=$PWD/.dev/gpu/final.so; N=$PWD/.dev/gpu/new.so
for round in 1 2; do
  for m in 7b 0.5b 1.5b; do
    for d in 0 4096; do
      t "$m d$d final" APR_CUDA_PATH=$F ./apr-bench -m /tmp/m/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d $d -r 3
      t "$m d$d new" APR_CUDA_PATH=$N ./apr-bench -m /tmp/m/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d $d -r 3
    done
  done
  for d in 0 512 1024 2048 4096; do
    [ $d = 0 ] || [ $d = 4096 ] || t "7b d$d new" APR_CUDA_PATH=$N ./apr-bench -m /tmp/m/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d $d -r 3
    t "7b d$d new SPLITS=1" APR_CUDA_ATTN_TRIGGER_SPLITS=1 APR_CUDA_PATH=$N ./apr-bench -m /tmp/m/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d $d -r 3
  done
  for m in 0.5b 1.5b; do t "$m d4096 new SPLITS=1" APR_CUDA_ATTN_TRIGGER_SPLITS=1 APR_CUDA_PATH=$N ./apr-bench -m /tmp/m/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d 4096 -r 3; done
done
