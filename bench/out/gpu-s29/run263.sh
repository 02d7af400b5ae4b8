# session 29, run 263 (H100): where the ~0.3% that runs 260-262 measured against li.so comes
# from. All sm_90a builds as in run 259: li.so = 897cb41's kernels; nop.so = the same source
# with one comment line added, built in another folder (a control: only the build differs);
# f4np.so = the kept tile_load and the zeroed KV cache without the poisoned instances;
# fin.so = the kept code (final29.so's source). 7B tg128 and @ d4096, two rounds.
AB_MODELS="7b" . bench/cuda/ab.sh
ab_models_wait
for round in 1 2; do
  for so in li nop f4np fin; do t "7b tg128 $so" APR_CUDA_PATH=$G/$so.so timeout 60 $(b 7b); done
  for so in li nop f4np fin; do t "7b @d4096 $so" APR_CUDA_PATH=$G/$so.so timeout 60 $(b 7b 4096); done
done
