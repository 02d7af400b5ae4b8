#!/bin/bash
# session 27, run 245: mkprobe with zero-mean weights, four units a lane in flight, modes 3-4 (no boundaries)
# Built as run 244 but zero-mean weights and four units a lane in flight (the committed row_dot), modes 3-4:
# -DNC=8 -DSLOTS=2 and -DNC=16 -DSLOTS=1 (mk_8_2, mk_16_1), a run of rows a block, the fence.
for b in mk_8_2 mk_16_1; do
  echo "== $b"
  timeout 120 .dev/gpu/mk/$b 28 10
done
