# session 18, run 176 (H100): cand2.so (2ccaddf + mvs_plan: launch_mvs's block plan as one function, attn_trigger_fits asks it of wo): tests/test_cuda; the plugin's INFO lines (grids, SPLIT, decode form) of cand.so (2ccaddf) and cand2.so for every model, diffed; APR_CUDA_ATTN_TRIGGER_END=0 on 7B tg128; issue 7's protocol with cand2.so
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/apr-models; mkdir -p $MD
(for s in 0.5b 1.5b 7b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1 &
bench/make_models.sh $MD 32b > /tmp/mk32.log 2>&1 &
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/cand2.so timeout 200 /tmp/test_cuda > $OUT/test_cuda.log 2>&1; echo "test_cuda rc=$?"; grep -E "^FAIL|passed" $OUT/test_cuda.log | tail -5
wait; ls -la $MD
for m in 0.5b 1.5b 7b 32b; do
  for v in cand cand2; do
    APR_CUDA_PATH=$PWD/.dev/gpu/$v.so ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 4 -r 1 -v 2>&1 | grep "CUDA:" | grep -v "memory\|MiB\|GiB\|loaded\|upload" > $OUT/info-$m-$v.txt
  done
  echo "== $m: $(diff $OUT/info-$m-cand.txt $OUT/info-$m-cand2.txt > /dev/null && echo same || echo DIFFERENT)"; grep -E "one-token decode" $OUT/info-$m-cand2.txt
done
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do
  t "7b tg128 default" APR_CUDA_PATH=$PWD/.dev/gpu/cand2.so ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  t "7b tg128 TRIGGER_END=0" APR_CUDA_ATTN_TRIGGER_END=0 APR_CUDA_PATH=$PWD/.dev/gpu/cand2.so ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
done
cp .dev/gpu/cand2.so libapr_cuda.so
OUT2=$OUT; OUT=/tmp/o/b MODELS=$MD timeout 330 bench/cuda/gpu_bench.sh 0.5b 1.5b 7b 32b > $OUT2/protocol.txt 2>&1; echo "protocol rc=$?"; grep -E "^==|\[apr-bench\]" $OUT2/protocol.txt
(cd /tmp/o && tar czf $OUT2/protocol-json.tgz b) 2>/dev/null
