#!/bin/bash
# bench/cuda/ncu_decode.sh MODEL [LAUNCHES_PER_TOKEN] - per-kernel time and DRAM bytes of one
# decode token (the third; graph nodes profiled one by one, so no overlap between kernels),
# through apr-bench -ngl 99. Prints one line per (kernel, grid) and the sum. Device only.
m=$1; n=${2:-$(./apr-bench -m "$m" -ngl 99 -p 0 -n 2 -r 1 --no-warmup -o json 2>/dev/null | grep -o '"launches_per_token":[0-9]*' | cut -d: -f2)}
csv=${OUT:-/tmp}/ncu_$(basename "$m" .gguf).csv
ncu --graph-profiling node --cache-control none --clock-control none --launch-skip $((2 * n)) --launch-count "$n" \
    --metrics gpu__time_duration.sum,dram__bytes_read.sum --csv ./apr-bench -m "$m" -ngl 99 -p 0 -n 4 -r 1 --no-warmup \
    > "$csv" 2>/dev/null
python3 - "$csv" <<'PY'
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
    print('%-14s %-16s n=%3d avg %7.2f us  tot %8.1f us  %5.1f%%  %6.0f GB/s'%(k[0][:14],k[1],len(v),sum(v)/len(v)/1e3,sum(v)/1e3,100*sum(v)/tot,b[k]/sum(v)))
print('total %.1f us per token (kernels back to back, no launch gaps)'%(tot/1e3))
PY
