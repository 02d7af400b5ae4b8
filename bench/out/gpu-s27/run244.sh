#!/bin/bash
# session 27, run 244: bench/cuda/mkprobe.cu (a persistent decode kernel's feasibility) on the H100.
# Binaries built locally: nvcc -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -DNC=n -DSLOTS=s
# Built from the first version of bench/cuda/mkprobe.cu (weights of mean > 0, so h overflowed and the
# check's h half read NaN; one unit a lane in flight): -DNC=8 -DSLOTS=2, -DNC=16 -DSLOTS=1, -DNC=4 -DSLOTS=4,
# a run of rows a block, every stage's copy in flight, the fence.
nvidia-smi --query-gpu=name,clocks.max.sm,clocks.max.mem --format=csv
for b in mk_8_2 mk_16_1 mk_4_4; do
  echo "== $b"
  timeout 120 .dev/gpu/mk/$b 28 10
done
echo "== mk_8_2, 2 layers (the check's own size, timing too)"
timeout 60 .dev/gpu/mk/mk_8_2 2 10
