# session 19, run 183 (H100): where the switched-off builds lose. A/B final.so (9ba31cb), v0s.so (9ba31cb + the five MVS fields, unused), v0.so (v0s + the ffq buffer allocated), v1.so with APR_CUDA_FFN_Q=0 (the copy prologue); 1.5B, 0.5B, 7B tg128, two rounds; SASS sizes of k_mvs_res<Q4_K> and k_mvs<Q4_K>
export APR_VOCAB=.dev/gpu/shared/data/vocab/ggml-vocab-qwen2.gguf
make -s apr-bench apr-quantize 2>&1 | tail -2
MD=/tmp/m; mkdir -p $MD
(for s in 1.5b 0.5b 7b; do bench/make_models.sh $MD $s; done) > /tmp/mk.log 2>&1 &
for v in final v0s v0 v1; do for f in _Z9k_mvs_resILi12ELb0EEv3MVSi _Z5k_mvsILi12EEv3MVSi _Z5k_mvsILi14EEv3MVSi; do printf "%-6s %-34s %s\n" $v $f "$(cuobjdump -sass -fun $f .dev/gpu/$v.so | grep -cE '^\s+/\*[0-9a-f]{4}\*/')"; done; done
for v in final v1; do cuobjdump -sass -fun _Z9k_mvs_resILi12ELb0EEv3MVSi .dev/gpu/$v.so > $OUT/run183-res-$v.sass; done
wait
t() { name=$1; shift; printf "%-34s" "$name"; o=$(env "$@" 2>&1); r=$(echo "$o" | grep -E "^\| qwen" | awk -F'|' '{printf " %s", $8}'); [ -n "$r" ] && echo "$r" || { echo " FAILED:"; echo "$o" | tail -3; }; }
for round in 1 2; do
  for m in 1.5b 0.5b 7b; do
    for v in final v0s v0 v1off; do
      so=${v%off}; ex=""; [ $so != $v ] && ex="APR_CUDA_FFN_Q=0"
      t "$m tg128 $v" $ex APR_CUDA_PATH=$PWD/.dev/gpu/$so.so ./apr-bench -m $MD/qwen2.5-$m-q4_k_m.gguf -ngl 99 -p 0 -n 128 -r 3
    done
  done
done
