# session 30, run 271 (H100): the two checks whose racecheck did not finish in runs 266-267
# (550-560 s beside 3-15 other processes), with final30.so: persistent_matvec whole, and long
# on its attention kernels only (--kernel-name kns=k_attn: k_attn, k_attn_fa, k_attn_dec,
# k_attn_dec_mma, k_attn_combine; its matvecs and GEMMs are those of the other checks).
G=$PWD/.dev/gpu
nvidia-smi --query-gpu=name --format=csv,noheader
cc -O2 -std=c99 -I. -o /tmp/test_cuda tests/test_cuda.c -lm -lpthread -ldl
export APR_SHARED=$G/shared APR_CUDA_PATH=$G/final30.so
one() {  # one <name> <check> [options]
    local name=$1 check=$2 d=/tmp/rc/$1 s=$(date +%s); shift 2
    mkdir -p $d && cd $d
    timeout 560 compute-sanitizer --tool racecheck "$@" --print-limit 20 --error-exitcode 9 /tmp/test_cuda $check > $OUT/run271-$name.txt 2>&1
    echo "== $name (racecheck $* $check) rc=$? $(( $(date +%s) - s )) s: $(grep -E '[0-9]+ passed' $OUT/run271-$name.txt | tail -1) | $(grep SUMMARY $OUT/run271-$name.txt | tail -1)"
}
one pm persistent_matvec &
one long-attn long --kernel-name kns=k_attn &
wait
