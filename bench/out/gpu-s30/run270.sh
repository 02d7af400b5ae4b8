# session 30, run 270 (H100, the machine of run 269): run 269's tg128 figures of final30.so
# had sd 13-17 tok/s; 1.5B tg128 again, four rounds, rev29 / all32 / final30 in turn.
AB_MODELS="1.5b" . bench/cuda/ab.sh
ab_models_wait
for round in 1 2 3 4; do
  for so in rev29 all32 final30; do t "1.5b tg128 $so" APR_CUDA_PATH=$G/$so.so timeout 60 $(b 1.5b); done
done
