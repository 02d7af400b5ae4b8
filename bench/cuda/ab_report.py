#!/usr/bin/env python3
"""bench/cuda/ab_report.py - summarise the `t` lines of a run (bench/cuda/ab.sh): for each
cell ("7b tg128"), every variant's tok/s per round and its mean against the first variant
named in the file.
usage: ab_report.py runNNN-out.txt"""
import collections
import re
import sys

if len(sys.argv) != 2:
    sys.exit("usage: ab_report.py runNNN-out.txt")
try:
    lines = open(sys.argv[1]).readlines()
except OSError as e:
    sys.exit("ab_report.py: %s: %s" % (sys.argv[1], e.strerror))
by_cell = collections.defaultdict(list)
variants = []
for line in lines:
    # "<model> <cell> <variant>   <tok/s> ± <sd>"
    m = re.match(r'^(\S+ \S+) (.+?)\s{2,}([\d.]+) ±', line)
    if not m:
        continue
    cell, variant, rate = m.group(1), m.group(2).strip(), float(m.group(3))
    by_cell[(cell, variant)].append(rate)
    if variant not in variants:
        variants.append(variant)
if not variants:
    sys.exit("no A/B lines in " + sys.argv[1])
mean = lambda xs: sum(xs) / len(xs)
for cell in sorted(set(c for c, _ in by_cell)):
    base = by_cell.get((cell, variants[0]))
    parts = []
    for v in variants:
        if (cell, v) not in by_cell:
            continue
        xs = by_cell[(cell, v)]
        s = "%s %s" % (v, "/".join("%.1f" % x for x in xs))
        if base and v != variants[0]:
            s += " (%+.1f%%)" % (100 * (mean(xs) / mean(base) - 1))
        parts.append(s)
    print("%-14s %s" % (cell, "  ".join(parts)))
