# session 12, run 119: globaltimer stamps (st.so, buffer in params) of the middle layer's QKV / attention / wo
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
bench/make_models.sh /tmp/m 0.5b 7b > /dev/null 2>&1; echo models done
m=/tmp/m/qwen2.5-0.5b-q4_k_m.gguf; m7=/tmp/m/qwen2.5-7b-q4_k_m.gguf
st() { echo "== $1"; shift; env APR_CUDA_PATH=$PWD/.dev/gpu/st.so "$@" 2>&1 | grep -E "ST|rror|^\| qwen"; }
for i in 1 2; do st "0.5B d4096 tile32 #$i" ./apr-bench -m $m -ngl 99 -p 0 -n 16 -d 4096 -r 1; done
st "0.5B d4096 tile64" APR_CUDA_ATTN_TILE=64 ./apr-bench -m $m -ngl 99 -p 0 -n 16 -d 4096 -r 1
st "0.5B d4096 pdl" APR_CUDA_ATTN_PDL=1 ./apr-bench -m $m -ngl 99 -p 0 -n 16 -d 4096 -r 1
st "0.5B d128" ./apr-bench -m $m -ngl 99 -p 0 -n 16 -d 128 -r 1
st "0.5B d4096 layer 3" ST_LAYER=3 ./apr-bench -m $m -ngl 99 -p 0 -n 16 -d 4096 -r 1
st "7B d4096" ./apr-bench -m $m7 -ngl 99 -p 0 -n 16 -d 4096 -r 1
st "7B d128" ./apr-bench -m $m7 -ngl 99 -p 0 -n 16 -d 128 -r 1
