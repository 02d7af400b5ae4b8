#!/usr/bin/env bash
# Runs every built test program (tests/bin/test_*), prints each one's result and the
# failing checks, and ends with one line "N passed, N failed" for the whole suite.
# Usage: tests/run_tests.sh [WRAPPER...]   (e.g. a qemu-aarch64 command for cross tests)
set -u
cd "$(dirname "$0")/.."
bindir=${APR_TEST_BIN:-tests/bin}
total_pass=0; total_fail=0; failed_programs=""
for t in "$bindir"/test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  start=$(date +%s)
  out=$("$@" "$t" 2>"$bindir/$name.stderr"); rc=$?
  last=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
  p=$(printf '%s' "$last" | sed -E 's/^([0-9]+) passed.*/\1/'); p=${p:-0}
  f=$(printf '%s' "$last" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/'); f=${f:-0}
  if [ -z "$last" ] || [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=$((f + 1)); fi
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  printf '%-28s %6s passed %4s failed  (%ss)\n' "$name" "$p" "$f" "$(( $(date +%s) - start ))"
  if [ "$f" -ne 0 ]; then
    failed_programs="$failed_programs $name"
    grep -E '^FAIL' "$bindir/$name.stderr" | head -n 40
    [ -z "$last" ] && { echo "  $name ended without a summary line (exit $rc):"; tail -n 20 "$bindir/$name.stderr"; }
  fi
done
[ -n "$failed_programs" ] && echo "failing programs:$failed_programs"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
