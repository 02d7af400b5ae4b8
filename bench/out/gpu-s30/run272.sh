# session 30, run 272 (H100): bench/cuda/sanitize.sh on the device, with final30.so (the
# committed kernels): racecheck of selftest and carveout; memcheck, synccheck and initcheck of
# ring (the kernel this session changed; runs 268-269 ran them on rev29.so's whole list).
export APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/.dev/gpu/final30.so
nvidia-smi --query-gpu=name --format=csv,noheader
SAN_OUT=/tmp/san bench/cuda/sanitize.sh racecheck selftest carveout; echo "sanitize.sh racecheck exit $?"
for tool in memcheck synccheck initcheck; do SAN_OUT=/tmp/san bench/cuda/sanitize.sh $tool ring; echo "sanitize.sh $tool exit $?"; done
cp /tmp/san/racecheck-carveout.txt $OUT/run272-racecheck-carveout.txt
