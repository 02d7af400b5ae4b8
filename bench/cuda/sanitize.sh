#!/bin/bash
# bench/cuda/sanitize.sh - tests/test_cuda under one compute-sanitizer tool, check by check,
# several processes at once (on the device machine).
#   bench/cuda/sanitize.sh TOOL [CHECK...]      TOOL: memcheck, racecheck, synccheck, initcheck
#   e.g. APR_SHARED=$PWD/.dev/gpu/shared APR_CUDA_PATH=$PWD/libapr_cuda.so \
#        bench/cuda/sanitize.sh racecheck ring long
# With no CHECK, every check of test_cuda (the list it prints for a name it does not know).
# Why check by check: racecheck takes 20-560 s a check where a plain run of the whole list
# takes ~50 s, and ring, long and persistent_matvec do not finish in one 600 s device call
# (bench/NOTES.md, sessions 29-30). Each process runs in a directory of its own, because
# every test_cuda run writes its test models into tests/tmp.
# Environment:
#   SAN_JOBS     processes at once (default 4; they share the GPU, so each runs slower)
#   SAN_TIMEOUT  seconds a check may take (default 540)
#   SAN_OPTS     more options for the tool, e.g. "--kernel-name kns=k_attn" (instrument the
#                kernels whose names contain k_attn only: racecheck of long then finishes)
#   SAN_OUT      where each check's log goes (default /tmp/sanitize), as TOOL-CHECK.txt
#   COMPUTE_SANITIZER  the tool's path (default compute-sanitizer)
# Prints a line a check; exit status 0 if every check passed with 0 errors, 1 if any check
# failed or the tool reported errors, 3 if none did but some did not finish in time.
set -u
cd "$(dirname "$0")/../.." || exit 1
tool=${1:?usage: bench/cuda/sanitize.sh TOOL [CHECK...]}
shift
case "$tool" in memcheck | racecheck | synccheck | initcheck) ;; *) echo "sanitize.sh: unknown tool '$tool'" >&2; exit 2 ;; esac
: "${APR_SHARED:?set APR_SHARED to a copy of ../shared}"
jobs=${SAN_JOBS:-4} limit=${SAN_TIMEOUT:-540} out=${SAN_OUT:-/tmp/sanitize} san=${COMPUTE_SANITIZER:-compute-sanitizer}
bin=$PWD/tests/bin/test_cuda  # (absolute: each check runs in its own directory)
mkdir -p "$out"
make -s tests/bin/test_cuda || exit 1
checks=("$@")
if [ ${#checks[@]} -eq 0 ]; then
    # a name test_cuda does not know makes it print "...; the names are: a b c"
    read -r -a checks <<< "$("$bin" --list 2>&1 | sed -n 's/.*the names are: *//p')"
    [ ${#checks[@]} -gt 0 ] || { echo "sanitize.sh: test_cuda gave no list of checks" >&2; exit 1; }
fi

# one CHECK: its log, then one line "CHECK: passed|FAILED|UNFINISHED ..." on stdout
one() {
    local check=$1 dir=$out/run-$tool-$1 log=$out/$tool-$1.txt start=$SECONDS rc
    mkdir -p "$dir"
    # shellcheck disable=SC2086  # SAN_OPTS is a list of options
    (cd "$dir" && timeout "$limit" "$san" --tool "$tool" ${SAN_OPTS:-} --print-limit 20 --error-exitcode 9 \
        "$bin" "$check") > "$log" 2>&1
    rc=$?
    local counts summary verdict
    counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    summary=$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$log" | tail -1 | sed 's/^=* *//')
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then verdict=UNFINISHED
    elif grep -q 'GPU checks skipped' "$log"; then verdict=FAILED counts="no GPU check ran"
    elif [ $rc -eq 0 ]; then verdict=passed
    else verdict=FAILED; fi
    printf '%-18s %-10s %4d s  %s | %s (exit %d)\n' "$check:" "$verdict" $((SECONDS - start)) "${counts:-no count}" \
        "${summary:-no summary}" $rc
}

results=$out/results-$tool.txt
: > "$results"
running=0
for check in "${checks[@]}"; do
    one "$check" >> "$results" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait
sort "$results"
if grep -q ' FAILED ' "$results"; then exit 1; fi
if grep -q ' UNFINISHED ' "$results"; then exit 3; fi
exit 0
