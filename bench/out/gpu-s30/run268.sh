# session 30, run 268 (H100): run 267's racecheck of ring gave the same 319 hazards with the
# proxy fence (fence.so) as without, all in the one form with one stage per consumer warp
# (2 blocks, 1 KB). Is it the warp's other lanes' reads, ordered before lane 0's arrive by
# __syncwarp only? all32.so: the stages' empty barriers count 32 arrivals and every lane
# arrives after its reads (no __syncwarp); all32f.so: the same with the proxy fence before
# each lane's arrive (sm_90a, -lineinfo). Beside them, with rev29.so: the whole of test_cuda
# under memcheck, synccheck and initcheck, and racecheck of long on the decode attention
# kernels only (--kernel-name kns=k_attn_dec). Each process in its own directory.
G=$PWD/.dev/gpu
nvidia-smi --query-gpu=name --format=csv,noheader
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
export APR_SHARED=$G/shared
one() {  # one <name> <so> <tool and options> -- [check]
    local name=$1 so=$2 d=/tmp/rc/$1 s=$(date +%s); shift 2
    local opts=(); while [ "$1" != "--" ]; do opts+=("$1"); shift; done; shift
    mkdir -p $d && cd $d
    APR_CUDA_PATH=$G/$so.so timeout ${LIM:-560} compute-sanitizer "${opts[@]}" --print-limit 20 --error-exitcode 9 /tmp/test_cuda "$@" > $OUT/run268-$name.txt 2>&1
    echo "== $name ($so ${opts[*]} ${*:-all}) rc=$? $(( $(date +%s) - s )) s: $(grep -E '[0-9]+ passed' $OUT/run268-$name.txt | tail -1) | $(grep -E 'SUMMARY' $OUT/run268-$name.txt | tail -1)"
}
one ring-all32 all32 --tool racecheck -- ring &
one ring-all32f all32f --tool racecheck -- ring &
one long-attn rev29 --tool racecheck --kernel-name kns=k_attn_dec -- long &
one memcheck rev29 --tool memcheck -- &
one synccheck rev29 --tool synccheck -- &
one initcheck rev29 --tool initcheck -- &
wait
