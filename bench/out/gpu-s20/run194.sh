# session 20, run 194 (H200): where DYN's loss on the H200's 7B comes from. dyn3.so = dyn2.so + APR_CUDA_MVS_DYN_NO_GRABS (every task at the fixed stride in the DYN loop: one failing grab per warp). A/B final.so, dyn3 DYN=0, dyn3 default (output matrix only), MIN_NS=0 (gate/up too), MIN_NS=0 NO_GRABS; 7B tg128 and @ d4096, two rounds
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
nvidia-smi --query-gpu=name --format=csv,noheader
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/apr-models; mkdir -p $MD
bench/make_models.sh $MD 7b > /tmp/mk.log 2>&1
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do for v in final D0 default all nograbs; do
  case $v in final) so=final; ex=;; D0) so=dyn3; ex=APR_CUDA_MVS_DYN=0;; default) so=dyn3; ex=;; all) so=dyn3; ex=APR_CUDA_MVS_DYN_MIN_NS=0;; nograbs) so=dyn3; ex="APR_CUDA_MVS_DYN_MIN_NS=0 APR_CUDA_MVS_DYN_NO_GRABS=1";; esac
  t "7b tg128 $v" $ex APR_CUDA_PATH=$PWD/.dev/gpu/$so.so ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
  t "7b @d4096 $v" $ex APR_CUDA_PATH=$PWD/.dev/gpu/$so.so ./apr-bench -m $MD/qwen2.5-7b-q4_k_m.gguf -ngl 99 -p 0 -n 128 -d 4096 -r 3
done; done
