# session 19, run 184 (H100): the added code out of line (act_copy and qo_store __noinline__). A/B final.so (9ba31cb), v1n.so (copy prologue only) with APR_CUDA_FFN_Q=0, candn.so (ffn_q) with APR_CUDA_FFN_Q=0 and on; 7B, 1.5B, 0.5B tg128, two rounds; SASS sizes
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/m; mkdir -p $MD
(for s in 7b 1.5b 0.5b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1 &
for v in final v1n candn; do for f in _Z9k_mvs_resILi12ELb0EEv3MVSi _Z5k_mvsILi12EEv3MVSi _Z5k_mvsILi14EEv3MVSi; do printf "%-6s %-34s %s\n" $v $f "$(cuobjdump -sass -fun $f .dev/gpu/$v.so 2>/dev/null | grep -cE '^\s+/\*[0-9a-f]{4}\*/')"; done; done
for v in final candn; do for f in _Z9k_mvs_resILi12ELb0EEv3MVSi _Z5k_mvsILi12EEv3MVSi; do cuobjdump -sass -fun $f .dev/gpu/$v.so > $OUT/run184-$f-$v.sass 2>/dev/null; done; done
wait
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do
  for m in 7b 1.5b 0.5b; do
    for v in final v1noff candnoff candn; do
      so=${v%off}; ex=""; [ $so != $v ] && ex="APR_CUDA_FFN_Q=0"
      t "$m tg128 $v" $ex APR_CUDA_PATH=$PWD/.dev/gpu/$so.so ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
    done
  done
done
