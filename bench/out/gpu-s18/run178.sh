# session 18, run 178 (H200): tests/test_cuda with cand2.so (b209b15); A/B a59.so (a590403, session 17's code) against cand2.so on 0.5B / 1.5B / 7B tg128 and @ d4096, two rounds
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/m; mkdir -p $MD
(for s in 0.5b 1.5b 7b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1 &
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/cand2.so timeout 200 /tmp/test_cuda > /tmp/test_cuda.log 2>&1; echo "test_cuda rc=$?"; grep -E "^FAIL|passed|GPU:" /tmp/test_cuda.log | tail -5
wait; ls -la $MD
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do
  for m in 7b 0.5b 1.5b; do
    for d in 0 4096; do
      for v in a59 cand2; do
        t "$m d$d $v" APR_CUDA_PATH=$PWD/.dev/gpu/$v.so ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d $d -r 3
      done
    done
  done
done
