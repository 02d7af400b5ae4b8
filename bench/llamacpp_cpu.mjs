#!/usr/bin/env node
// bench/llamacpp_cpu.mjs - llama.cpp's CPU build (the prebuilt libraries of the npm package
// node-llama-cpp) measured with llama-bench's protocol, for side-by-side runs with apr-bench
// (bench/cpu_compare.sh). Output: llama-bench JSON (an array of objects with its field
// names: n_prompt, n_gen, n_depth, n_threads, avg_ts, stddev_ts, samples_ts, ...), which
// `apr-bench --baseline FILE` reads, or a markdown table.
//
// Install node-llama-cpp once, anywhere (it is not part of the repository):
//     npm install --prefix DIR node-llama-cpp@3.22.1
// then point this script at DIR/node_modules (or DIR) with --nlc DIR or $NLC_DIR:
//     node bench/llamacpp_cpu.mjs --nlc DIR -m model.gguf -p 64,512 -n 32,128 -t 1,2 -r 5
//
// Protocol (as llama-bench): for each thread count and test, a fresh context of
// n_prompt + n_gen positions (batch size -b, default 512, one sequence, flash attention
// off, F16 KV cache: node-llama-cpp's defaults on the CPU); one warm-up (the prompt, then
// one generated token), then -r timed runs, each starting from an empty KV cache:
//   pp N: N random token ids (BOS first when the model adds one) evaluated with
//         sequence.controlledEvaluate, logits (and a greedy pick) for the last token only,
//         as llama-bench's prompt test and apr-bench's apr_eval;
//   tg N: starting from one token, N steps of sequence.evaluate with greedy sampling
//         (temperature 0): each step decodes one token, computes its logits and picks
//         the argmax in llama.cpp's sampler chain, the same work apr-bench's
//         apr_decode_argmax does. The JavaScript generator adds a few microseconds per
//         token (negligible at CPU speeds: < 0.1% at 100 t/s).
// t/s of a run = tokens / seconds; avg_ts / stddev_ts = mean and sample stddev of runs.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import fs from "node:fs";
import path from "node:path";
import os from "node:os";

function usage(code) {
    console.error(`usage: node bench/llamacpp_cpu.mjs [--nlc DIR] -m MODEL [-p 512] [-n 128] [-pg P,G] [-t N,...]
       [-r 5] [--warmup 1] [-b 512] [-o json|md] [--flash-attn]
       node bench/llamacpp_cpu.mjs -m MODEL --perplexity TEXT [-c 512] [--chunks K] [-t N]
  --perplexity  llama-perplexity's method (second half of each -c chunk scored), as
                apr-bench --perplexity: a cross-check of apr's logits against llama.cpp
  --nlc DIR   node-llama-cpp install (DIR or DIR/node_modules; default $NLC_DIR)`);
    process.exit(code);
}

const args = process.argv.slice(2);
const opt = { nlc: process.env.NLC_DIR || "", model: "", p: [512], n: [128], pg: [], t: [Math.min(os.cpus().length, 4)],
              r: 5, warmup: 1, b: 512, o: "json", fa: false, seed: 1234, ppl: "", c: 512, chunks: 0 };
const list = (s) => s.split(",").map((x) => { const v = Number(x); if (!Number.isInteger(v) || v < 0) usage(2); return v; });
for (let i = 0; i < args.length; i++) {
    const a = args[i], v = () => { if (i + 1 >= args.length) usage(2); return args[++i]; };
    if (a === "--nlc") opt.nlc = v();
    else if (a === "-m") opt.model = v();
    else if (a === "-p") opt.p = list(v());
    else if (a === "-n") opt.n = list(v());
    else if (a === "-pg") { const l = list(v()); if (l.length !== 2) usage(2); opt.pg.push(l); }
    else if (a === "-t") opt.t = list(v());
    else if (a === "-r") opt.r = Number(v());
    else if (a === "--warmup") opt.warmup = Number(v());
    else if (a === "--no-warmup") opt.warmup = 0;
    else if (a === "-b") opt.b = Number(v());
    else if (a === "-o") opt.o = v();
    else if (a === "--flash-attn") opt.fa = true;
    else if (a === "--seed") opt.seed = Number(v());
    else if (a === "--perplexity") opt.ppl = v();
    else if (a === "-c") opt.c = Number(v());
    else if (a === "--chunks") opt.chunks = Number(v());
    else if (a === "-h" || a === "--help") usage(0);
    else { console.error(`unknown option ${a}`); usage(2); }
}
if (!opt.model) usage(2);
if (!opt.nlc) { console.error("node-llama-cpp location: --nlc DIR or $NLC_DIR (npm install --prefix DIR node-llama-cpp@3.22.1)"); process.exit(2); }

// Resolve the package from DIR or DIR/node_modules without touching this repository.
let entry;
for (const base of [opt.nlc, path.join(opt.nlc, "node_modules")]) {
    try {
        entry = createRequire(path.join(path.resolve(base), "noop.js")).resolve("node-llama-cpp");
        break;
    } catch { /* try the next */ }
    const direct = path.join(path.resolve(base), "node-llama-cpp", "dist", "index.js");
    if (fs.existsSync(direct)) { entry = direct; break; }
}
if (!entry) { console.error(`node-llama-cpp not found under ${opt.nlc}`); process.exit(1); }
const nlc = await import(pathToFileURL(entry).href);
const nlcVersion = JSON.parse(fs.readFileSync(path.join(path.dirname(entry), "..", "package.json"), "utf8")).version;

// maxThreads 0: the threads given to a context are used as given (no sharing heuristics).
const llama = await nlc.getLlama({ gpu: false, build: "never", maxThreads: 0, logLevel: "error", progressLogs: false });
const model = await llama.loadModel({ modelPath: opt.model, gpuLayers: 0 });

// Vocabulary size from the token embedding's shape (ne[1]).
let nVocab = 0;
for (const t of model.fileInfo.tensorInfo ?? []) if (t.name === "token_embd.weight") nVocab = Number(t.dimensions[1]);
if (!nVocab) { console.error("cannot find token_embd.weight to size the vocabulary"); process.exit(1); }
let nParams = 0;
for (const t of model.fileInfo.tensorInfo ?? []) nParams += t.dimensions.reduce((a, d) => a * Number(d), 1);
const meta = model.fileInfo.metadata?.general ?? {};
const modelType = `${meta.architecture ?? "?"} ${meta.size_label ?? ""}`.replace(/ +$/, "");
const bos = model.tokens.bos;
const addBos = (model.tokens.shouldPrependBosToken ?? model.shouldPrependBosToken ?? false) && bos != null;

let rng = BigInt(opt.seed) * 0x9E3779B97F4A7C15n & 0xFFFFFFFFFFFFFFFFn || 1n;
function rand() {  // xorshift64
    rng ^= (rng << 13n) & 0xFFFFFFFFFFFFFFFFn; rng ^= rng >> 7n; rng ^= (rng << 17n) & 0xFFFFFFFFFFFFFFFFn;
    return Number(rng % BigInt(nVocab));
}
const randomTokens = (n, first) => { const a = []; for (let i = 0; i < n; i++) a.push(rand()); if (first && addBos && n > 0) a[0] = bos; return a; };

// Logits of the last prompt token only (and its greedy pick), as llama-bench's prompt test.
async function prompt(seq, n, first) {
    const toks = randomTokens(n, first);
    const input = toks.map((t, i) => i === n - 1 ? [t, { generateNext: { token: true, options: { temperature: 0 } } }] : t);
    const out = await seq.controlledEvaluate(input);
    if (!out[n - 1] || out[n - 1].next?.token == null) throw new Error("no token after the prompt");
}
async function generate(seq, n, first) {
    const start = first && addBos ? bos : rand();
    let k = 0;
    if (n <= 0) return;
    for await (const tok of seq.evaluate([start], { temperature: 0 })) {
        void tok;
        if (++k >= n) break;
    }
}

// Perplexity exactly as apr-bench computes it (same chunks, same scored positions).
if (opt.ppl) {
    const text = fs.readFileSync(opt.ppl, "utf8");
    const toks = model.tokenize(text, false);
    if (addBos) toks.unshift(bos);
    const nCtx = opt.c, first = nCtx >> 1;
    let nChunk = Math.floor(toks.length / nCtx);
    if (opt.chunks > 0) nChunk = Math.min(nChunk, opt.chunks);
    if (nChunk < 1) { console.error(`${toks.length} tokens: fewer than one chunk of ${nCtx}`); process.exit(1); }
    const ctx = await model.createContext({ contextSize: nCtx, batchSize: Math.min(opt.b, nCtx), sequences: 1,
                                            threads: { ideal: opt.t[0], min: opt.t[0] } });
    const seq = ctx.getSequence();
    let nll = 0, nll2 = 0, count = 0;
    for (let c = 0; c < nChunk; c++) {
        const chunk = toks.slice(c * nCtx, (c + 1) * nCtx);
        if (addBos) chunk[0] = bos;
        await seq.clearHistory();
        const input = chunk.map((t, j) => j >= first && j < nCtx - 1 ? [t, { generateNext: { logits: true } }] : t);
        const out = await seq.controlledEvaluate(input);
        for (let j = first; j < nCtx - 1; j++) {
            const lg = out[j].next.logits;
            let mx = -Infinity;
            for (const v of lg.values()) if (v > mx) mx = v;
            let se = 0;
            for (const v of lg.values()) se += Math.exp(v - mx);
            const lp = lg.get(toks[c * nCtx + j + 1]) - mx - Math.log(se);
            nll -= lp; nll2 += lp * lp; count++;
        }
    }
    await ctx.dispose();
    const m = nll / count, ppl = Math.exp(m), v = nll2 / count - m * m;
    console.log(JSON.stringify({ engine: "llama.cpp", model_filename: opt.model, text_file: opt.ppl, n_tokens: toks.length,
                                 n_ctx: nCtx, n_chunks: nChunk, n_scored: count, perplexity: ppl,
                                 perplexity_error: count > 1 && v > 0 ? ppl * Math.sqrt(v / (count - 1)) : 0 }));
    await model.dispose();
    await llama.dispose();
    process.exit(0);
}

const mean = (x) => x.reduce((s, v) => s + v, 0) / x.length;
const sd = (x) => { if (x.length < 2) return 0; const m = mean(x); return Math.sqrt(x.reduce((s, v) => s + (v - m) ** 2, 0) / (x.length - 1)); };
const median = (x) => { const s = [...x].sort((a, b) => a - b), h = s.length >> 1; return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2; };

const tests = [];
for (const p of opt.p) if (p > 0) tests.push([p, 0]);
for (const n of opt.n) if (n > 0) tests.push([0, n]);
for (const [p, g] of opt.pg) tests.push([p, g]);

const cpuInfo = (os.cpus()[0]?.model ?? "").trim();
const fileSize = fs.statSync(opt.model).size;
const results = [];
for (const threads of opt.t) {
    for (const [np, ng] of tests) {
        const ctx = await model.createContext({ contextSize: Math.max(np + ng, 16), batchSize: opt.b, sequences: 1,
                                                threads: { ideal: threads, min: threads }, flashAttention: opt.fa });
        const seq = ctx.getSequence();
        const name = np > 0 && ng === 0 ? `pp${np}` : ng > 0 && np === 0 ? `tg${ng}` : `pp${np}+tg${ng}`;
        for (let w = 0; w < opt.warmup; w++) {
            await seq.clearHistory();
            if (np > 0) await prompt(seq, np, true);
            if (ng > 0) await generate(seq, 1, np === 0);
        }
        const samplesNs = [], samplesTs = [];
        for (let r = 0; r < opt.r; r++) {
            await seq.clearHistory();
            const t0 = process.hrtime.bigint();
            if (np > 0) await prompt(seq, np, true);
            if (ng > 0) await generate(seq, ng, np === 0);
            const ns = Number(process.hrtime.bigint() - t0);
            samplesNs.push(ns);
            samplesTs.push((np + ng) * 1e9 / ns);
            if (process.stderr.isTTY) process.stderr.write(`\r[llama.cpp] t${threads} ${name}: run ${r + 1}/${opt.r}, ${samplesTs.at(-1).toFixed(2)} t/s\x1b[K`);
        }
        if (process.stderr.isTTY) process.stderr.write("\r\x1b[K");
        await ctx.dispose();
        results.push({
            build_commit: `node-llama-cpp-${nlcVersion}`, build_number: 0, cpu_info: cpuInfo, gpu_info: "",
            backends: "CPU", engine: "llama.cpp",
            llama_cpp_release: llama.llamaCppRelease?.release ?? "", model_filename: opt.model,
            model_type: modelType, model_size: fileSize, model_n_params: nParams, cpu_features: llama.systemInfo,
            n_batch: opt.b, n_ubatch: opt.b, n_threads: threads, type_k: "f16", type_v: "f16",
            n_gpu_layers: 0, flash_attn: opt.fa, use_mmap: true, embeddings: false,
            n_prompt: np, n_gen: ng, n_depth: 0, test: name, test_time: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
            avg_ns: Math.round(mean(samplesNs)), stddev_ns: Math.round(sd(samplesNs)),
            avg_ts: mean(samplesTs), stddev_ts: sd(samplesTs), median_ts: median(samplesTs),
            samples_ns: samplesNs, samples_ts: samplesTs,
        });
    }
}
await model.dispose();
await llama.dispose();

if (opt.o === "md") {
    console.log("| engine | threads | test | t/s | median |");
    console.log("| --- | ---: | ---: | ---: | ---: |");
    for (const r of results)
        console.log(`| llama.cpp (node-llama-cpp ${nlcVersion}) | ${r.n_threads} | ${r.test} | ${r.avg_ts.toFixed(2)} ± ${r.stddev_ts.toFixed(2)} | ${r.median_ts.toFixed(2)} |`);
} else {
    console.log(JSON.stringify(results, null, 1));
}
