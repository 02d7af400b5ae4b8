# bench/cuda/stamps_report.py STAMPS.txt - one decode layer's kernels from the stamps of a
# bench/cuda/stamps.py build: per kernel the blocks' entry, pdl_wait return, activation
# ready and exit times (min / median / max, us from the layer's first stamp), and the
# kernel's share of the layer: from the previous kernel's last exit (QKV: its first
# pdl_wait return) to its own last exit; then the four points inside the attention.
import sys, statistics
names = ['QKV', 'attention', 'wo', 'gate/up', 'ffn_down']
if len(sys.argv) != 2:
    sys.exit('usage: stamps_report.py STAMPS.txt')
try:
    rows = [list(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
except OSError as e:
    sys.exit('stamps_report.py: %s: %s' % (sys.argv[1], e.strerror))
except ValueError:
    sys.exit('stamps_report.py: %s: not a stamps file (lines of integers)' % sys.argv[1])
if not rows or any(len(r) != 6 for r in rows):
    sys.exit('stamps_report.py: %s: not a stamps file (6 integers a line: kernel block entry waited ready exit)' % sys.argv[1])


def col(r, i):  # stamp i of the blocks r that wrote it, in us, sorted
    return sorted(x[2 + i] / 1e3 for x in r if x[2 + i] >= 0)


def fmt(v):  # min / median / max
    return '%6.2f %6.2f %6.2f' % (v[0], statistics.median(v), v[-1]) if v else '%22s' % '-'


prev_end = None
total = 0.0
print('%-10s %5s  %-22s %-22s %-22s %-22s %7s' % ('kernel', 'blocks', 'entry min/med/max', 'waited min/med/max',
                                                  'ready min/med/max', 'exit min/med/max', 'share'))
for k, nm in enumerate(names):
    r = [x for x in rows if x[0] == k]
    if not r:
        continue
    ent, wai, rdy, ext = col(r, 0), col(r, 1), col(r, 2), col(r, 3)
    start = prev_end if prev_end is not None else (wai[0] if wai else ent[0])
    share = ext[-1] - start
    total += share
    print('%-10s %5d  %-22s %-22s %-22s %-22s %7.2f' % (nm, len(r), fmt(ent), fmt(wai), fmt(rdy), fmt(ext), share))
    prev_end = ext[-1]
print('layer: %.2f us from QKV\'s first pdl_wait return to ffn_down\'s last exit' % total)
# inside the attention (kernel 5): queries ready, first tile landed, tile loop done, outputs
# (or partials) written; min / median / max over its blocks
inner = [x for x in rows if x[0] == 5]
if inner:
    print('attention inside (%d blocks):' % len(inner))
    for i, what in enumerate(['queries ready', 'first tile landed', 'tile loop done', 'outputs written']):
        v = col(inner, i)
        if v:
            print('  %-18s %s' % (what, fmt(v)))
