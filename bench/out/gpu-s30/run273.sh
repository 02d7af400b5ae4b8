# session 30, run 273 (H100): racecheck of persistent_matvec alone (final30.so), through
# bench/cuda/sanitize.sh; in run 271, beside one other process, it reached its last case.
export APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/final30.so
nvidia-smi --query-gpu=name --format=csv,noheader
SAN_OUT=/tmp/san SAN_JOBS=1 SAN_TIMEOUT=575 bench/cuda/sanitize.sh racecheck persistent_matvec; echo "sanitize.sh exit $?"
cp /tmp/san/racecheck-persistent_matvec.txt $OUT/run273-racecheck-pm.txt
