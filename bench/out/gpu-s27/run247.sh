#!/bin/bash
# session 27, run 247: mkprobe (16 consumer warps, chunks dealt in turn) with at most 2/4/8/16 copies in flight
# Built: -DNC=16 -DSLOTS=1 -DINTERLEAVE=1 -DMAXFLIGHT=2/4/8/16 (the fence on).
for f in 2 4 8 16; do
  echo "== mk_f$f"
  timeout 120 .dev/gpu/mk/mk_f$f 28 10
done
