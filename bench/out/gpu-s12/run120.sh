# session 12, run 120: pg.so (attention: wo trigger in the last block, rope sincos before pdl_wait, APR_CUDA_ATTN_PG=2 position groups) vs base.so; tests; stamps st2.so
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
cc -O2 -std=c99 -I.dev/gpu/snap -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
(bench/make_models.sh /tmp/m 0.5b 7b > /dev/null 2>&1; echo models done) &
for v in "PG=1" "PG=2" "PG=2 TILE=64"; do
  set -- $v; e=""; for kv in "$@"; do e="$e APR_CUDA_ATTN_$kv"; done
  env $e APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/pg.so /tmp/test_cuda > "$OUT/test_cuda-$1$2.log" 2>&1; echo "test [$v] rc=$?"; tail -1 "$OUT/test_cuda-$1$2.log"; grep FAIL "$OUT/test_cuda-$1$2.log" | head -5
done
wait
m=/tmp/m/qwen2.5-0.5b-q4_k_m.gguf; m7=/tmp/m/qwen2.5-7b-q4_k_m.gguf
st() { echo "== $1"; shift; env APR_CUDA_PATH=$PWD/.dev/gpu/st2.so "$@" 2>&1 | grep -E "ST|rror|^\| qwen"; }
st "0.5B d4096 PG1" ./apr-bench -m $m -ngl 99 -p 0 -n 16 -d 4096 -r 1
st "0.5B d4096 PG2" APR_CUDA_ATTN_PG=2 ./apr-bench -m $m -ngl 99 -p 0 -n 16 -d 4096 -r 1
st "7B d4096 PG2" APR_CUDA_ATTN_PG=2 ./apr-bench -m $m7 -ngl 99 -p 0 -n 16 -d 4096 -r 1
t() { n=$1; shift; printf "%-22s" "$n"; env "$@" 2>&1 | grep -E "^\| qwen|rror" | awk -F'|' '{printf " %s", $8}'; echo; }
for d in 4096 0; do n=64; [ $d = 0 ] && n=128; for round in 1 2; do
 t "base 0.5b d$d" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $m -ngl 99 -p 0 -n $n -d $d -r 3
 t "pg1 0.5b d$d" APR_CUDA_PATH=$PWD/.dev/gpu/pg.so ./apr-bench -m $m -ngl 99 -p 0 -n $n -d $d -r 3
 t "pg2 0.5b d$d" APR_CUDA_ATTN_PG=2 APR_CUDA_PATH=$PWD/.dev/gpu/pg.so ./apr-bench -m $m -ngl 99 -p 0 -n $n -d $d -r 3
 t "pg2t64 0.5b d$d" APR_CUDA_ATTN_PG=2 APR_CUDA_ATTN_TILE=64 APR_CUDA_PATH=$PWD/.dev/gpu/pg.so ./apr-bench -m $m -ngl 99 -p 0 -n $n -d $d -r 3
 t "pg1t64 0.5b d$d" APR_CUDA_ATTN_TILE=64 APR_CUDA_PATH=$PWD/.dev/gpu/pg.so ./apr-bench -m $m -ngl 99 -p 0 -n $n -d $d -r 3
done; done
for d in 4096 0; do n=64; [ $d = 0 ] && n=128; for round in 1 2; do
 t "base 7b d$d" APR_CUDA_PATH=$PWD/.dev/gpu/base.so ./apr-bench -m $m7 -ngl 99 -p 0 -n $n -d $d -r 2
 t "pg1 7b d$d" APR_CUDA_PATH=$PWD/.dev/gpu/pg.so ./apr-bench -m $m7 -ngl 99 -p 0 -n $n -d $d -r 2
 t "pg2 7b d$d" APR_CUDA_ATTN_PG=2 APR_CUDA_PATH=$PWD/.dev/gpu/pg.so ./apr-bench -m $m7 -ngl 99 -p 0 -n $n -d $d -r 2
done; done
