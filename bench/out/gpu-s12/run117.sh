# session 12, run 117: globaltimer stamps of one layer's QKV / attention / wo (st.so) at d4096 and short; attention knobs on 0.5B d4096 (base.so = 27ca0a7 sm_90a)
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
bench/make_models.sh /tmp/m 0.5b 7b > /dev/null 2>&1; echo models done
m=/tmp/m/qwen2.5-0.5b-q4_k_m.gguf; m7=/tmp/m/qwen2.5-7b-q4_k_m.gguf
for i in 1 2; do echo "== st 0.5B d4096 #$i"; APR_CUDA_PATH=$PWD/.dev/gpu/st.so ./apr-bench -m $m -ngl 99 -p 0 -n 16 -d 4096 -r 1 2>&1 | grep -E "^ST|^\| qwen"; done
echo "== st 0.5B d4096 ATTN_PDL=1"; APR_CUDA_ATTN_PDL=1 APR_CUDA_PATH=$PWD/.dev/gpu/st.so ./apr-bench -m $m -ngl 99 -p 0 -n 16 -d 4096 -r 1 2>&1 | grep -E "^ST|^\| qwen"
echo "== st 0.5B d128"; APR_CUDA_PATH=$PWD/.dev/gpu/st.so ./apr-bench -m $m -ngl 99 -p 0 -n 16 -d 128 -r 1 2>&1 | grep -E "^ST|^\| qwen"
echo "== st 7B d4096"; APR_CUDA_PATH=$PWD/.dev/gpu/st.so ./apr-bench -m $m7 -ngl 99 -p 0 -n 16 -d 4096 -r 1 2>&1 | grep -E "^ST|^\| qwen"
t() { n=$1; shift; printf "%-22s" "$n"; env "$@" 2>&1 | grep -E "^\| qwen|rror" | awk -F'|' '{printf " %s", $8}'; echo; }
for round in 1 2; do
 t "base" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $m -ngl 99 -p 0 -n 64 -d 4096 -r 3
 t "pdl" APR_CUDA_ATTN_PDL=1 APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $m -ngl 99 -p 0 -n 64 -d 4096 -r 3
 t "trigger" APR_CUDA_ATTN_TRIGGER=1 APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $m -ngl 99 -p 0 -n 64 -d 4096 -r 3
 t "tile64" APR_CUDA_ATTN_TILE=64 APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $m -ngl 99 -p 0 -n 64 -d 4096 -r 3
 t "smax32" APR_CUDA_ATTN_SMAX=32 APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $m -ngl 99 -p 0 -n 64 -d 4096 -r 3
 t "smax128" APR_CUDA_ATTN_SMAX=128 APR_CUDA_ATTN_BPS=2 APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $m -ngl 99 -p 0 -n 64 -d 4096 -r 3
done
