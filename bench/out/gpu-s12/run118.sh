# session 12, run 118: stamps (st.so) retry with full output; tile 64 vs 32 on tg128 / d4096 for all sizes (base.so = 27ca0a7 sm_90a)
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
bench/make_models.sh /tmp/m 0.5b 1.5b 7b > /dev/null 2>&1; echo models done
(bench/make_models.sh /tmp/m 32b > /dev/null 2>&1; echo 32b done) &
m=/tmp/m/qwen2.5-0.5b-q4_k_m.gguf; m7=/tmp/m/qwen2.5-7b-q4_k_m.gguf
echo "== st 0.5B d4096"; APR_CUDA_PATH=$PWD/.dev/gpu/st.so ./apr-bench -m $m -ngl 99 -p 0 -n 16 -d 4096 -r 1 -v 2>&1 | grep -E "ST|rror|^\| qwen"
echo "== st 0.5B d4096 #2"; APR_CUDA_PATH=$PWD/.dev/gpu/st.so ./apr-bench -m $m -ngl 99 -p 0 -n 16 -d 4096 -r 1 2>&1 | grep -E "^ST|^\| qwen"
echo "== st 0.5B d4096 tile64"; APR_CUDA_ATTN_TILE=64 APR_CUDA_PATH=$PWD/.dev/gpu/st.so ./apr-bench -m $m -ngl 99 -p 0 -n 16 -d 4096 -r 1 2>&1 | grep -E "^ST|^\| qwen"
echo "== st 0.5B d128"; APR_CUDA_PATH=$PWD/.dev/gpu/st.so ./apr-bench -m $m -ngl 99 -p 0 -n 16 -d 128 -r 1 2>&1 | grep -E "^ST|^\| qwen"
echo "== st 7B d4096"; APR_CUDA_PATH=$PWD/.dev/gpu/st.so ./apr-bench -m $m7 -ngl 99 -p 0 -n 16 -d 4096 -r 1 2>&1 | grep -E "^ST|^\| qwen"
wait
t() { n=$1; shift; printf "%-22s" "$n"; env "$@" 2>&1 | grep -E "^\| qwen|rror" | awk -F'|' '{printf " %s", $8}'; echo; }
for s in 0.5b 1.5b 7b 32b; do mm=/tmp/m/qwen2.5-$s-q4_k_m.gguf
for round in 1 2; do
 t "base $s" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -r 3
 t "tile64 $s" APR_CUDA_ATTN_TILE=64 APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $mm -ngl 99 -p 0 -n 128 -r 3
done
for round in 1 2; do
 t "base $s d4096" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $mm -ngl 99 -p 0 -n 64 -d 4096 -r 2
 t "tile64 $s d4096" APR_CUDA_ATTN_TILE=64 APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $mm -ngl 99 -p 0 -n 64 -d 4096 -r 2
done; done
