# session 19, run 185 (H100): st.so = bench/cuda/stamps.py on candn's source (ffn-q-experiment.diff applied to 9ba31cb; run then with a copy of stamps.py whose two launch anchors matched it; stamps.py since 32cde50 writes the same file, checked): one 7B layer's five kernels at tg128, layers 13 (Q4_K down) and 14 (Q6_K down), APR_CUDA_FFN_Q on and 0
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/m; mkdir -p $MD; bench/make_models.sh $MD 7b > /tmp/mk.log 2>&1
M7=$MD/qwen2.5-7b-q4_k_m.gguf
for L in 13 14; do for q in 1 0; do
  ST_LAYER=$L ST_OUT=$OUT/stamps-7b-L$L-q$q.txt APR_CUDA_FFN_Q=$q APR_CUDA_PATH=$PWD/.dev/gpu/st.so ./apr-bench -m $M7 -ngl 99 -p 0 -n 128 -r 1 2>&1 | grep -E "^\| qwen"
  echo "== 7B tg128 layer $L FFN_Q=$q"; python3 bench/cuda/stamps_report.py $OUT/stamps-7b-L$L-q$q.txt
done; done
