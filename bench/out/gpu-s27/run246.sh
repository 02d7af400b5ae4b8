#!/bin/bash
# session 27, run 246: mkprobe, rows dealt to blocks in turn (INTERLEAVE=1) against runs; modes 5-6 (counters alone, staging alone)
# Built from the committed file's code of that time (no MAXFLIGHT/FENCE/FAST_STAGE switches yet: all copies
# in flight, the fence): mk_NC_SLOTS_INTERLEAVE = -DNC= -DSLOTS= -DINTERLEAVE=.
for b in mk_16_1_0 mk_16_1_1 mk_8_2_1; do
  echo "== $b"
  timeout 120 .dev/gpu/mk/$b 28 10
done
