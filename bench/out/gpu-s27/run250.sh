#!/bin/bash
# session 27, run 250: the committed bench/cuda/mkprobe.cu after the review (unused Net.E gone, one block_run
# helper, no stream argument): its default build, to confirm the check and run 249's figures.
# Built: nvcc -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a (defaults: NC=16 SLOTS=1 INTERLEAVE=1
# MAXFLIGHT=4 FENCE=0 FAST_STAGE=0).
timeout 120 .dev/gpu/mk/mk_default 28 10
