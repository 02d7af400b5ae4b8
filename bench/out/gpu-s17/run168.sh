# session 17, run 168 (H100): cl.so (APR_CUDA_MVS_CLUSTER=n: clusters of n k_mvs blocks share the activation's quantization through distributed shared memory; default 1): test_cuda at n=2 and n=4; stamps3.so (the same source with stamps) of 7B layer 13 at n=1 / 2; A/B against head.so (ca8b610's kernels), two rounds; attention switches (APR_CUDA_ATTN_EARLY=1, APR_CUDA_ATTN_PDL=1) on 7B
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
for s in 0.5b 1.5b 7b 32b; do bench/make_models.sh /tmp/m $s > /dev/null 2>&1 & done
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
for n in 2 4; do APR_CUDA_MVS_CLUSTER=$n APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/cl.so timeout 250 /tmp/test_cuda > $OUT/test_cuda-cl$n.log 2>&1; echo "test cluster $n rc=$?"; tail -1 $OUT/test_cuda-cl$n.log; grep -E "FAIL" -A3 $OUT/test_cuda-cl$n.log | head -10; done
wait
ls /tmp/m
M=/tmp/m/qwen2.5
APR_CUDA_MVS_CLUSTER=2 APR_CUDA_PATH=$PWD/.dev/gpu/cl.so ./apr-bench -m $M-7b-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep -i "cuda" | head -5
for n in 1 2; do
  APR_CUDA_MVS_CLUSTER=$n ST_LAYER=13 ST_OUT=$OUT/stamps-7b-tg128-L13-cl$n.txt APR_CUDA_PATH=$PWD/.dev/gpu/stamps3.so ./apr-bench -m $M-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 1 2>&1 | grep -E "^\| qwen"
  echo "== 7B tg128 layer 13, cluster $n"; python3 bench/cuda/stamps_report.py $OUT/stamps-7b-tg128-L13-cl$n.txt
done
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do
  for s in 0.5b 1.5b 7b; do
    t "$s tg128 head" APR_CUDA_PATH=$PWD/.dev/gpu/head.so ./apr-bench -m $M-$s-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
    for n in 1 2 4; do
      t "$s tg128 cl$n" APR_CUDA_MVS_CLUSTER=$n APR_CUDA_PATH=$PWD/.dev/gpu/cl.so ./apr-bench -m $M-$s-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
    done
  done
  t "7b d4096 head" APR_CUDA_PATH=$PWD/.dev/gpu/head.so ./apr-bench -m $M-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d 4096 -r 3
  t "7b d4096 cl2" APR_CUDA_MVS_CLUSTER=2 APR_CUDA_PATH=$PWD/.dev/gpu/cl.so ./apr-bench -m $M-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d 4096 -r 3
  t "32b tg128 head" APR_CUDA_PATH=$PWD/.dev/gpu/head.so ./apr-bench -m $M-32b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  t "32b tg128 cl2" APR_CUDA_MVS_CLUSTER=2 APR_CUDA_PATH=$PWD/.dev/gpu/cl.so ./apr-bench -m $M-32b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  t "7b tg128 head ATTN_EARLY=1" APR_CUDA_ATTN_EARLY=1 APR_CUDA_PATH=$PWD/.dev/gpu/head.so ./apr-bench -m $M-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  t "7b tg128 head ATTN_PDL=1" APR_CUDA_ATTN_PDL=1 APR_CUDA_PATH=$PWD/.dev/gpu/head.so ./apr-bench -m $M-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  t "7b d4096 head ATTN_EARLY=1" APR_CUDA_ATTN_EARLY=1 APR_CUDA_PATH=$PWD/.dev/gpu/head.so ./apr-bench -m $M-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d 4096 -r 3
done
