# session 12, run 121: finer stamps (st2.so: issue / prep / wait for data / compute); A/B pg.so (wo trigger in the last block, sincos early, PG=2) vs base.so
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
bench/make_models.sh /tmp/m 0.5b 7b > /dev/null 2>&1; echo models done
m=/tmp/m/qwen2.5-0.5b-q4_k_m.gguf; m7=/tmp/m/qwen2.5-7b-q4_k_m.gguf
st() { echo "== $1"; shift; env APR_CUDA_PATH=$PWD/.dev/gpu/st2.so "$@" 2>&1 | grep -E "ST|rror|^\| qwen"; }
st "0.5B d4096 PG1" ./apr-bench -m $m -ngl 99 -p 0 -n 16 -d 4096 -r 1
st "0.5B d4096 PG2" APR_CUDA_ATTN_PG=2 ./apr-bench -m $m -ngl 99 -p 0 -n 16 -d 4096 -r 1
st "0.5B d4096 PG1 T64" APR_CUDA_ATTN_TILE=64 ./apr-bench -m $m -ngl 99 -p 0 -n 16 -d 4096 -r 1
st "7B d4096 PG1" ./apr-bench -m $m7 -ngl 99 -p 0 -n 16 -d 4096 -r 1
t() { n=$1; shift; printf "%-22s" "$n"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for d in 4096 0; do n=64; [ $d = 0 ] && n=128; for round in 1 2; do
 t "base 0.5b d$d" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $m -ngl 99 -p 0 -n $n -d $d -r 3
 t "pg1 0.5b d$d" APR_CUDA_PATH=$PWD/.dev/gpu/pg.so ./apr-bench -m $m -ngl 99 -p 0 -n $n -d $d -r 3
 t "pg2 0.5b d$d" APR_CUDA_ATTN_PG=2 APR_CUDA_PATH=$PWD/.dev/gpu/pg.so ./apr-bench -m $m -ngl 99 -p 0 -n $n -d $d -r 3
 t "pg1t64 0.5b d$d" APR_CUDA_ATTN_TILE=64 APR_CUDA_PATH=$PWD/.dev/gpu/pg.so ./apr-bench -m $m -ngl 99 -p 0 -n $n -d $d -r 3
done; done
for d in 4096 0; do n=64; [ $d = 0 ] && n=128; for round in 1 2; do
 t "base 7b d$d" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $m7 -ngl 99 -p 0 -n $n -d $d -r 2
 t "pg1 7b d$d" APR_CUDA_PATH=$PWD/.dev/gpu/pg.so ./apr-bench -m $m7 -ngl 99 -p 0 -n $n -d $d -r 2
done; done
