#!/bin/bash
# Per-kernel time of one decode token (graph nodes), warm caches, unlocked clocks.
# usage (device): bench/cuda/ncu_token.sh MODEL LAUNCHES_PER_TOKEN
export APR_CUDA_PATH=$PWD/libapr_cuda.so
ncu --graph-profiling node --cache-control none --clock-control none --launch-skip $2 --launch-count $2 \
    --metrics gpu__time_duration.sum,dram__bytes_read.sum --csv .dev/cuda/bin/bench $1 --tg-only --no-depth \
    > $OUT/ncu_$1.csv 2>/dev/null
python3 - $OUT/ncu_$1.csv <<'PY'
import csv,collections,sys
rows=list(csv.reader(open(sys.argv[1])))
hdr=None;data=[]
for r in rows:
    if 'Kernel Name' in r: hdr=r; continue
    if hdr and len(r)==len(hdr): data.append(dict(zip(hdr,r)))
t=collections.OrderedDict(); b=collections.defaultdict(float)
for d in data:
    k=(d['Kernel Name'].split('(')[0],d['Grid Size'])
    v=float(d['Metric Value'].replace(',',''))
    if d['Metric Name'].startswith('gpu__time'): t.setdefault(k,[]).append(v)
    else: b[k]+=v
tot=sum(sum(v) for v in t.values())
for k,v in t.items():
    print('%-14s %-14s n=%3d avg %7.1f us  tot %7.1f us  %5.1f%%  %6.0f GB/s'%(k[0],k[1],len(v),sum(v)/len(v)/1e3,sum(v)/1e3,100*sum(v)/tot,b[k]/sum(v)))
print('total %.1f us per token'%(tot/1e3))
PY
