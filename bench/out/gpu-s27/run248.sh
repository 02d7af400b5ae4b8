#!/bin/bash
# session 27, run 248: mkprobe (16 consumer warps, chunks dealt in turn, 4 copies in flight) with %globaltimer stamps
# Built: -DNC=16 -DSLOTS=1 -DINTERLEAVE=1 -DMAXFLIGHT=4 (the fence on), stamps added.
timeout 120 .dev/gpu/mk/mk_f4 28 10
