#!/usr/bin/env bash
# Inline the section files that apr.h includes during development (#include "src/X.h")
# into apr.h itself, so apr.h is again the whole library. Usage: tools/amalgamate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
while IFS= read -r line; do
  if [[ "$line" =~ ^#include\ \"(src/[a-z_]+\.h)\"$ ]]; then
    cat "${BASH_REMATCH[1]}"
    echo
  else
    printf '%s\n' "$line"
  fi
done < apr.h > "$out"
mv "$out" apr.h
echo "apr.h: $(wc -l < apr.h) lines"
