#!/usr/bin/env bash
# bench/cpu_compare.sh - apr against llama.cpp on this machine's CPU, same models, same
# protocol, same run (ANCHORS.md: machines differ from session to session, so only the
# ratio measured side by side means something).
#
#   bench/cpu_compare.sh [MODEL.gguf ...]
#
# Default models: synthetic Qwen2.5-0.5B and 1.5B Q4_K_M in .dev/models (written by
# bench/make_models.sh when missing). llama.cpp is the CPU build shipped in the npm package
# node-llama-cpp, driven by bench/llamacpp_cpu.mjs; install it once, outside the repo:
#     npm install --prefix DIR node-llama-cpp@3.22.1
# and give DIR in NLC_DIR (default: .dev/nlc).
#
# Environment (defaults are issue 8's protocol):
#   P="64,512"  N="32,128"  THREADS="1 2"  R=5 (timed runs after 1 warm-up)  OUT=bench/out
#   ENGINES="apr llama.cpp" (one of them alone to rerun half)
# For each model and thread count apr-bench and llama.cpp run back to back (so both see
# the same machine state), each test: a fresh context, 1 warm-up, R runs from an empty
# KV cache, prompt = random token ids, generation = greedy (argmax) decode steps.
# The final table prints both engines' mean ± sd t/s and apr / llama.cpp, OUT/MODEL.png
# charts them (apr-bench --from ... --baseline ... --chart); the JSON files
# stay in OUT (llama-bench's field names; `apr-bench --baseline OUT/llamacpp-*.json`
# reads the llama.cpp ones). Timings mean nothing on a loaded machine: the script prints
# the load average before and after; keep the 1-minute figure well below the core count.
set -euo pipefail
cd "$(dirname "$0")/.."
P=${P:-64,512}
N=${N:-32,128}
THREADS=${THREADS:-1 2}
R=${R:-5}
OUT=${OUT:-bench/out}
ENGINES=${ENGINES:-apr llama.cpp}
NLC_DIR=${NLC_DIR:-.dev/nlc}
export NLC_DIR

if [ $# -gt 0 ]; then
    MODELS=("$@")
else
    bench/make_models.sh .dev/models 0.5b 1.5b >&2
    MODELS=(.dev/models/qwen2.5-0.5b-q4_k_m.gguf .dev/models/qwen2.5-1.5b-q4_k_m.gguf)
fi
if [ ! -x ./apr-bench ] || [ ./apr-bench -ot drivers/bench.c ] || [ ./apr-bench -ot apr.h ] ||
   [ -n "$(find src -name '*.h' -newer ./apr-bench 2>/dev/null)" ]; then
    make apr-bench >&2
fi
case " $ENGINES " in *" llama.cpp "*)
    if [ ! -d "$NLC_DIR/node_modules/node-llama-cpp" ] && [ ! -d "$NLC_DIR/node-llama-cpp" ]; then
        echo "node-llama-cpp not found in NLC_DIR=$NLC_DIR: npm install --prefix DIR node-llama-cpp@3.22.1" >&2
        exit 1
    fi;;
esac
mkdir -p "$OUT"

echo "# apr vs llama.cpp (CPU), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//') ($(nproc) cores)"
simd=$(grep -qw avx512f /proc/cpuinfo 2>/dev/null && echo AVX-512 || { grep -qw avx2 /proc/cpuinfo 2>/dev/null && echo AVX2 || echo "no AVX2"; })
echo "apr: commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- apr.h src drivers 2>/dev/null || echo ' + local changes'); CPU has $simd"
echo "llama.cpp: node-llama-cpp $(node -p "require(require('path').resolve(process.argv[1], 'node_modules/node-llama-cpp/package.json')).version" "$NLC_DIR" 2>/dev/null || echo '?') prebuilt CPU libraries"
echo "protocol: -p $P -n $N, threads $THREADS, $R runs after 1 warm-up, random prompt tokens, greedy generation"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
if awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v n="$(nproc)" 'BEGIN{exit !(l > 0.75 * n)}'; then
    echo "WARNING: the machine is busy (1-minute load above 3/4 of the cores): these timings are not comparable"
fi

files=()
for m in "${MODELS[@]}"; do
    [ -f "$m" ] || { echo "missing model $m" >&2; exit 1; }
    base=$(basename "$m" .gguf)
    for t in $THREADS; do
        for e in $ENGINES; do
            if [ "$e" = apr ]; then
                f="$OUT/apr-$base-t$t.json"
                echo "[cpu_compare] apr       $base t=$t" >&2
                ./apr-bench -m "$m" -p "$P" -n "$N" -t "$t" -r "$R" -o json > "$f"
            else
                f="$OUT/llamacpp-$base-t$t.json"
                echo "[cpu_compare] llama.cpp $base t=$t" >&2
                node bench/llamacpp_cpu.mjs --nlc "$NLC_DIR" -m "$m" -p "$P" -n "$N" -t "$t" -r "$R" -o json > "$f"
            fi
            files+=("$f")
        done
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# One chart per model (apr and llama.cpp per test and thread count), from the saved JSON.
if [[ " $ENGINES " == *" apr "* ]]; then
    for m in "${MODELS[@]}"; do
        base=$(basename "$m" .gguf)
        from=(); baseline=()
        for t in $THREADS; do
            from+=(--from "$OUT/apr-$base-t$t.json")
            [ -f "$OUT/llamacpp-$base-t$t.json" ] && baseline+=(--baseline "$OUT/llamacpp-$base-t$t.json")
        done
        ./apr-bench "${from[@]}" "${baseline[@]}" --baseline-name "llama.cpp CPU" --chart "$OUT/$base.png" -o json >/dev/null &&
            echo "chart: $OUT/$base.png" >&2
    done
fi

node - "${files[@]}" <<'EOF'
const fs = require("fs");
const rows = new Map();  // model|threads|test -> {apr, llama}
const order = [];
for (const f of process.argv.slice(2)) {
    const engine = f.includes("/llamacpp-") ? "llama" : "apr";
    for (const r of JSON.parse(fs.readFileSync(f, "utf8"))) {
        const model = r.model_filename.split("/").pop().replace(/\.gguf$/, "");
        const test = r.test || (r.n_gen === 0 ? `pp${r.n_prompt}` : r.n_prompt === 0 ? `tg${r.n_gen}` : `pp${r.n_prompt}+tg${r.n_gen}`);
        const key = `${model}|${r.n_threads}|${test}`;
        if (!rows.has(key)) { rows.set(key, {}); order.push(key); }
        rows.get(key)[engine] = r;
    }
}
const fmt = (r) => r ? `${r.avg_ts.toFixed(2)} ± ${r.stddev_ts.toFixed(2)}` : "-";
console.log("| model | threads | test | apr t/s | llama.cpp t/s | apr / llama.cpp |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
for (const key of order) {
    const [model, t, test] = key.split("|");
    const { apr, llama } = rows.get(key);
    const ratio = apr && llama ? `${(apr.avg_ts / llama.avg_ts).toFixed(2)}x` : "-";
    console.log(`| ${model} | ${t} | ${test} | ${fmt(apr)} | ${fmt(llama)} | ${ratio} |`);
}
console.log("\nt/s = mean ± sample stddev over the timed runs; issue 8's bar at 2 threads: decode (tg) >= 1.2x, prefill (pp) >= 2x.");
EOF
