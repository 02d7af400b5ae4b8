#!/bin/bash
# session 27, run 249: mkprobe (16 consumer warps, chunks dealt in turn, 4 copies in flight): the fence before the
# counter (FENCE=1/0) and the input staged with all loads in flight (FAST_STAGE=1)
# Built: -DNC=16 -DSLOTS=1 -DINTERLEAVE=1 -DMAXFLIGHT=4 -DFENCE=1/0 -DFAST_STAGE=0/1 (the committed defaults:
# FENCE=0 FAST_STAGE=0, mk_fence0_fs0).
for b in mk_fence1_fs0 mk_fence0_fs0 mk_fence0_fs1; do
  echo "== $b"
  timeout 120 .dev/gpu/mk/$b 28 10
done
