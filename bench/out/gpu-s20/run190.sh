# session 20, run 190 (H100): dyn.so with the task-size rule (APR_CUDA_MVS_DYN_MIN, default 3000 bytes: 7B's and 32B's gate/up and output, not 1.5B's): tests/test_cuda; A/B final.so (9ba31cb), dyn.so DYN=0, defaults (DYN=1 POOLS=8 MIN=3000), MIN=5000 (7B: output only), DYN=2, POOLS=16; 7B tg128, 7B @ d4096, 1.5B, 32B tg128, two rounds
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/m; mkdir -p $MD
(for s in 7b 1.5b 32b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1 &
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/dyn.so timeout 300 /tmp/test_cuda > /tmp/test_cuda.log 2>&1; echo "test_cuda rc=$?"; grep -E "^FAIL|passed|DYN vs.*:" /tmp/test_cuda.log | tail -14
cp /tmp/test_cuda.log $OUT/run190-test_cuda.log
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
while [ ! -s $MD/qwen2.5-1.5b-q4_k_m.gguf ] || pgrep -f "make_models.sh $MD 1.5b" >/dev/null; do sleep 2; done
for m in 7b 1.5b; do APR_CUDA_PATH=$PWD/.dev/gpu/dyn.so ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 8 -r 1 -v 2>&1 | grep -E "DYN"; done
for round in 1 2; do
  for v in final D0 cand M5000 D2 P16; do
    case $v in final) so=final; ex=;; D0) so=dyn; ex=APR_CUDA_MVS_DYN=0;; cand) so=dyn; ex=;; M5000) so=dyn; ex=APR_CUDA_MVS_DYN_MIN=5000;; D2) so=dyn; ex=APR_CUDA_MVS_DYN=2;; P16) so=dyn; ex=APR_CUDA_MVS_DYN_POOLS=16;; esac
    t "7b tg128 $v" $ex APR_CUDA_PATH=$PWD/.dev/gpu/$so.so ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  done
  for v in final D0 cand; do
    case $v in final) so=final; ex=;; D0) so=dyn; ex=APR_CUDA_MVS_DYN=0;; cand) so=dyn; ex=;; esac
    t "7b @d4096 $v" $ex APR_CUDA_PATH=$PWD/.dev/gpu/$so.so ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d 4096 -r 3
    t "1.5b tg128 $v" $ex APR_CUDA_PATH=$PWD/.dev/gpu/$so.so ./apr-bench -m $MD/qwen2.5-1.5b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  done
done
wait
for round in 1 2; do
  for v in final D0 cand D2; do
    case $v in final) so=final; ex=;; D0) so=dyn; ex=APR_CUDA_MVS_DYN=0;; cand) so=dyn; ex=;; D2) so=dyn; ex=APR_CUDA_MVS_DYN=2;; esac
    t "32b tg128 $v" $ex APR_CUDA_PATH=$PWD/.dev/gpu/$so.so ./apr-bench -m $MD/qwen2.5-32b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  done
done
