/* apr-bench - llama-bench's protocol and output for apr, plus what llama-bench lacks:
   median, 95% confidence interval and coefficient of variation per test, bytes read per
   token with achieved GB/s against a measured (or given) bandwidth roofline, peak memory,
   a PNG bar chart, side-by-side comparison with a llama-bench JSON file or a running
   Ollama / OpenAI-compatible server, and perplexity over a text file.
   Build:  cc -O2 -o apr-bench drivers/bench.c -lm -lpthread -ldl
   MinGW:  x86_64-w64-mingw32-gcc -O2 -o apr-bench.exe drivers/bench.c -lws2_32
           (the chart needs stb_image_write on the include path: Debian libstb-dev)

   apr-bench -m model.gguf                        pp512 and tg128, 5 runs, markdown table
   apr-bench -m m.gguf -p 64,512 -n 32,128 -t 1,2 -o json
   apr-bench -m m.gguf -pg 512,128 -d 0,4096      pp512+tg128, tests at depth 4096
   apr-bench -m m.gguf --baseline llama-bench.json --chart out.png
   apr-bench -m m.gguf -n 128 -p 0 --baseline-url http://127.0.0.1:11434/api/generate
   apr-bench -m m.gguf --perplexity -f wiki.test.raw -c 512

   Protocol (llama-bench's): for every combination of model, threads, -ngl, -b and test,
   a context of n_prompt + n_gen + n_depth positions is created; one warm-up (the prompt,
   then one generated token) is run; then each of the -r repetitions clears the KV cache,
   fills it with n_depth tokens (untimed), and times the prompt of n_prompt random token
   ids (BOS first when the model adds one) and n_gen greedy decode steps
   (apr_decode_argmax, each step's argmax fed back). Tokenization and sampling are not
   timed. t/s of one run = (n_prompt + n_gen) / seconds; avg_ts and stddev_ts are the mean
   and sample standard deviation of the per-run t/s, as llama-bench reports them.
   Exit status: 0 ok, 1 error, 2 usage. */
#define APR_IMPLEMENTATION
#include "../apr.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
#include <errno.h>
#include <ctype.h>

#if defined(__has_include)
#if __has_include(<stb/stb_image_write.h>)
#define BENCH_HAVE_STB 1
#endif
#endif
#ifdef BENCH_HAVE_STB
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBIW_WINDOWS_UTF8
#include <stb/stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#endif

#if defined(_WIN32)
#include <winsock2.h>
#include <ws2tcpip.h>
#include <io.h>
typedef SOCKET bench_sock;
#define BENCH_BAD_SOCK INVALID_SOCKET
#define bench_close_sock closesocket
#define bench_isatty(fd) _isatty(fd)
#else
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <netdb.h>
#include <unistd.h>
typedef int bench_sock;
#define BENCH_BAD_SOCK (-1)
#define bench_close_sock close
#define bench_isatty(fd) isatty(fd)
#endif

/* =====================================================================================
   Small utilities
   ===================================================================================== */

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "apr-bench: error: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory (%zu bytes)", n);
    return p;
}
static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) die("out of memory (%zu bytes)", n);
    return q;
}
static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = (char *)xmalloc(n);
    memcpy(p, s, n);
    return p;
}

static double now_s(void) { return (double)apr__time_ns() * 1e-9; }

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint32_t rng_next(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

typedef struct int_list { int *v; int n; } int_list;

static void int_list_push(int_list *l, int x) {
    l->v = (int *)xrealloc(l->v, sizeof(int) * (size_t)(l->n + 1));
    l->v[l->n++] = x;
}

/* "64,512" (or repeated flags) -> list; a later flag of the same name replaces the list
   given by default but appends to one given on the command line, as llama-bench does. */
static void parse_int_list(const char *flag, const char *s, int_list *l, int min) {
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < min || v > 100000000L) {
            fprintf(stderr, "apr-bench: %s: bad value '%s' (integers >= %d, comma separated)\n", flag, s, min);
            exit(2);
        }
        int_list_push(l, (int)v);
        p = end;
        if (*p == ',') p++;
        else if (*p) { fprintf(stderr, "apr-bench: %s: bad value '%s'\n", flag, s); exit(2); }
    }
}

static uint64_t peak_rss_bytes(void) {
#if defined(_WIN32)
    return 0;
#else
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
#if defined(__APPLE__)
    return (uint64_t)ru.ru_maxrss;
#else
    return (uint64_t)ru.ru_maxrss * 1024u;
#endif
#endif
}

static void cpu_info(char *buf, size_t size) {
    snprintf(buf, size, "%s", "unknown CPU");
#if defined(__linux__)
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t') c++;
                size_t n = strcspn(c, "\r\n");
                snprintf(buf, size, "%.*s", (int)n, c);
            }
            break;
        }
    }
    fclose(f);
#endif
}

static const char *base_name(const char *path) {
    const char *b = path;
    for (const char *p = path; *p; p++)
        if (*p == '/' || *p == '\\') b = p + 1;
    return b;
}

/* =====================================================================================
   Statistics over the per-run samples
   ===================================================================================== */

typedef struct bench_stats {
    int n;
    double mean, stddev, median, ci95, cv, min, max;
} bench_stats;

/* Two-sided 95% quantile of Student's t with df degrees of freedom. */
static double t_quantile_975(int df) {
    static const double t[30] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
                                 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
                                 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
                                 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
    if (df <= 0) return NAN;
    if (df <= 30) return t[df - 1];
    return 1.95996 + 2.37 / df + 2.8 / ((double)df * df);  /* within 0.002 of the table */
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* mean, sample standard deviation (n - 1, as llama-bench), median, half-width of the 95%
   confidence interval of the mean (Student's t), coefficient of variation (sd / mean). */
static bench_stats compute_stats(const double *x, int n) {
    bench_stats s;
    memset(&s, 0, sizeof s);
    s.n = n;
    if (n <= 0) { s.mean = s.stddev = s.median = s.ci95 = s.cv = s.min = s.max = NAN; return s; }
    double sum = 0;
    s.min = s.max = x[0];
    for (int i = 0; i < n; i++) {
        sum += x[i];
        if (x[i] < s.min) s.min = x[i];
        if (x[i] > s.max) s.max = x[i];
    }
    s.mean = sum / n;
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (x[i] - s.mean) * (x[i] - s.mean);
    s.stddev = n > 1 ? sqrt(ss / (n - 1)) : 0.0;
    double *tmp = (double *)xmalloc(sizeof(double) * (size_t)n);
    memcpy(tmp, x, sizeof(double) * (size_t)n);
    qsort(tmp, (size_t)n, sizeof(double), cmp_double);
    s.median = n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
    free(tmp);
    s.ci95 = n > 1 ? t_quantile_975(n - 1) * s.stddev / sqrt((double)n) : 0.0;
    s.cv = s.mean != 0 ? s.stddev / s.mean : NAN;
    return s;
}

/* =====================================================================================
   Memory-bandwidth roofline on the CPU: a multi-threaded read of a buffer much larger than
   the caches, best of a few passes.
   ===================================================================================== */

typedef struct bw_job {
    const uint64_t *buf;
    size_t n;            /* uint64 words */
    uint64_t sums[256];
} bw_job;

static void bw_read(void *arg, int ith, int nth) {
    bw_job *j = (bw_job *)arg;
    int64_t i0, i1;
    apr__split_range((int64_t)j->n / 8, 1, ith, nth, &i0, &i1);
    const uint64_t *p = j->buf + i0 * 8;
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
    for (int64_t i = i0; i < i1; i++, p += 8) {
        a0 += p[0]; a1 += p[1]; a2 += p[2]; a3 += p[3];
        a4 += p[4]; a5 += p[5]; a6 += p[6]; a7 += p[7];
    }
    j->sums[ith & 255] = a0 ^ a1 ^ a2 ^ a3 ^ a4 ^ a5 ^ a6 ^ a7;
}

static double measure_cpu_peak_gbps(int n_threads, size_t mib) {
    size_t bytes = mib << 20;
    uint64_t *buf = (uint64_t *)malloc(bytes);
    if (!buf) return NAN;
    for (size_t i = 0; i < bytes / 8; i++) buf[i] = i;  /* touch every page */
    if (n_threads < 1) n_threads = apr_cpu_count();
    if (n_threads > 256) n_threads = 256;
    apr__pool *pool = apr__pool_create(n_threads);
    bw_job job;
    memset(&job, 0, sizeof job);
    job.buf = buf;
    job.n = bytes / 8;
    double best = 0;
    for (int pass = 0; pass < 4; pass++) {
        double t0 = now_s();
        if (pool) apr__pool_run(pool, bw_read, &job, n_threads);
        else bw_read(&job, 0, 1);
        double dt = now_s() - t0;
        if (dt > 0 && (double)bytes / dt > best) best = (double)bytes / dt;
    }
    if (pool) apr__pool_free(pool);
    free(buf);
    return best * 1e-9;
}

/* =====================================================================================
   Options
   ===================================================================================== */

typedef enum out_format { OUT_MD, OUT_JSON, OUT_JSONL, OUT_CSV } out_format;

typedef struct options {
    char **models;
    int n_models;
    int_list n_prompt, n_gen, pg, depth, threads, ngl, batch;
    bool set_prompt, set_gen, set_pg, set_depth, set_threads, set_ngl, set_batch;
    int reps;
    int warmup;
    out_format format;
    bool verbose;
    bool progress;
    apr_kv_type kv_type;
    double peak_gbps;           /* <= 0: measure on the CPU */
    const char *chart;
    int chart_w, chart_h;
    const char *baseline_file;  /* the first of baseline_files */
    const char *baseline_files[16];
    int n_baseline_files;
    const char *baseline_url;
    const char *baseline_model;
    const char *baseline_name;
    const char *from;           /* results file(s) instead of running */
    const char *from_files[16];
    int n_from;
    bool perplexity;
    const char *text_file;
    int ppl_ctx;
    int ppl_chunks;             /* 0: all */
    uint64_t seed;
} options;

static void usage(FILE *f) {
    fprintf(f,
        "usage: apr-bench [options]\n"
        "llama-bench options (comma lists and repeated flags accepted):\n"
        "  -m, --model FILE          GGUF model (repeat or comma-list for several)\n"
        "  -p, --n-prompt N          prompt tokens (default 512; 0 skips)\n"
        "  -n, --n-gen N             generated tokens (default 128; 0 skips)\n"
        "  -pg P,G                   prompt P then generation G in one test (pp P+tg G)\n"
        "  -d, --n-depth N           tokens already in the KV cache (default 0)\n"
        "  -r, --repetitions N       timed runs per test (default 5; --runs N too)\n"
        "  -t, --threads N           CPU threads (default: all cores)\n"
        "  -ngl, --n-gpu-layers N    layers on the GPU (default 99 = all if a GPU is there;\n"
        "                            0 = CPU)\n"
        "  -b, --batch-size N        tokens per forward pass in prompts (default 512)\n"
        "  -ctk, --cache-type-k T    KV cache type: f16 (default), q8_0, f32\n"
        "  --no-warmup               skip the warm-up run\n"
        "  -o, --output FMT          md (default), json, jsonl, csv\n"
        "  -v, --verbose             per-run times, bytes and launches per token on stderr\n"
        "apr-bench additions:\n"
        "  --runs N, --warmup N      repetitions and warm-up runs (30 runs: rigorous)\n"
        "  --peak-gbps X             roofline bandwidth in GB/s (default: measured on the\n"
        "                            CPU with a large multi-threaded read; GPU: give it)\n"
        "  --chart FILE.png          bar chart of t/s per test and engine\n"
        "  --chart-size WxH          chart size in pixels (default 960x540)\n"
        "  --baseline FILE.json      llama-bench -o json output: side-by-side with ratios\n"
        "                            (repeat for several files)\n"
        "  --baseline-url URL        measure a running server on the same lengths:\n"
        "                            http://H:P/api/generate (Ollama, its eval_duration) or\n"
        "                            http://H:P/v1/completions (OpenAI-compatible: the\n"
        "                            server's timings if it sends llama-server's, else\n"
        "                            timed here from the streamed events)\n"
        "  --baseline-model NAME     model name sent to the server (default: file name)\n"
        "  --baseline-name NAME      label of the baseline (default llama.cpp / server)\n"
        "  --from FILE.json          no run: results of earlier apr-bench -o json (repeat\n"
        "                            for several files), to print in another format,\n"
        "                            chart or compare\n"
        "  --perplexity -f FILE      perplexity over a text file, chunks of -c tokens\n"
        "  -c, --ctx-size N          perplexity chunk length (default 512)\n"
        "  --chunks N                perplexity: at most N chunks\n"
        "  --progress                progress line on stderr even when it is not a terminal\n"
        "  --seed N                  random token ids (default 1234)\n"
        "  --selftest-stats X...     print the statistics of the numbers X (for tests)\n");
}

static const char *need_arg(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        fprintf(stderr, "apr-bench: %s needs a value\n", argv[*i]);
        exit(2);
    }
    return argv[++*i];
}

static int parse_int(const char *flag, const char *s, int min, int max) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < min || v > max) {
        fprintf(stderr, "apr-bench: %s: bad value '%s' (%d..%d)\n", flag, s, min, max);
        exit(2);
    }
    return (int)v;
}

static void parse_args(options *o, int argc, char **argv) {
    memset(o, 0, sizeof *o);
    o->reps = 5;
    o->warmup = 1;
    o->chart_w = 960;
    o->chart_h = 540;
    o->ppl_ctx = 512;
    o->seed = 1234;
    o->progress = bench_isatty(2) != 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define IS(x) (strcmp(a, x) == 0)
        if (IS("-h") || IS("--help")) { usage(stdout); exit(0); }
        else if (IS("-m") || IS("--model")) {
            char *list = xstrdup(need_arg(argc, argv, &i));
            for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
                o->models = (char **)xrealloc(o->models, sizeof(char *) * (size_t)(o->n_models + 1));
                o->models[o->n_models++] = xstrdup(tok);
            }
            free(list);
        }
        else if (IS("-p") || IS("--n-prompt")) { parse_int_list(a, need_arg(argc, argv, &i), &o->n_prompt, 0); o->set_prompt = true; }
        else if (IS("-n") || IS("--n-gen")) { parse_int_list(a, need_arg(argc, argv, &i), &o->n_gen, 0); o->set_gen = true; }
        else if (IS("-pg")) {
            int_list l = {NULL, 0};
            parse_int_list(a, need_arg(argc, argv, &i), &l, 0);
            if (l.n != 2) { fprintf(stderr, "apr-bench: -pg takes two numbers: P,G\n"); exit(2); }
            int_list_push(&o->pg, l.v[0]);
            int_list_push(&o->pg, l.v[1]);
            free(l.v);
            o->set_pg = true;
        }
        else if (IS("-d") || IS("--n-depth")) { parse_int_list(a, need_arg(argc, argv, &i), &o->depth, 0); o->set_depth = true; }
        else if (IS("-r") || IS("--repetitions") || IS("--runs")) o->reps = parse_int(a, need_arg(argc, argv, &i), 1, 100000);
        else if (IS("--warmup")) o->warmup = parse_int(a, need_arg(argc, argv, &i), 0, 1000);
        else if (IS("--no-warmup")) o->warmup = 0;
        else if (IS("-t") || IS("--threads")) { parse_int_list(a, need_arg(argc, argv, &i), &o->threads, 1); o->set_threads = true; }
        else if (IS("-ngl") || IS("--n-gpu-layers")) { parse_int_list(a, need_arg(argc, argv, &i), &o->ngl, 0); o->set_ngl = true; }
        else if (IS("-b") || IS("--batch-size") || IS("-ub") || IS("--ubatch-size")) { parse_int_list(a, need_arg(argc, argv, &i), &o->batch, 1); o->set_batch = true; }
        else if (IS("-ctk") || IS("--cache-type-k") || IS("-ctv") || IS("--cache-type-v")) {
            const char *t = need_arg(argc, argv, &i);
            if (!strcmp(t, "f16")) o->kv_type = APR_KV_F16;
            else if (!strcmp(t, "q8_0")) o->kv_type = APR_KV_Q8_0;
            else if (!strcmp(t, "f32")) o->kv_type = APR_KV_F32;
            else { fprintf(stderr, "apr-bench: %s: f16, q8_0 or f32\n", a); exit(2); }
        }
        else if (IS("-o") || IS("--output")) {
            const char *f = need_arg(argc, argv, &i);
            if (!strcmp(f, "md")) o->format = OUT_MD;
            else if (!strcmp(f, "json")) o->format = OUT_JSON;
            else if (!strcmp(f, "jsonl")) o->format = OUT_JSONL;
            else if (!strcmp(f, "csv")) o->format = OUT_CSV;
            else { fprintf(stderr, "apr-bench: -o: md, json, jsonl or csv\n"); exit(2); }
        }
        else if (IS("-v") || IS("--verbose")) o->verbose = true;
        else if (IS("--progress")) o->progress = true;
        else if (IS("--peak-gbps")) {
            const char *s = need_arg(argc, argv, &i);
            o->peak_gbps = atof(s);
            if (!(o->peak_gbps > 0)) { fprintf(stderr, "apr-bench: --peak-gbps: a positive number\n"); exit(2); }
        }
        else if (IS("--chart")) o->chart = need_arg(argc, argv, &i);
        else if (IS("--chart-size")) {
            const char *s = need_arg(argc, argv, &i);
            if (sscanf(s, "%dx%d", &o->chart_w, &o->chart_h) != 2 || o->chart_w < 160 || o->chart_h < 120 ||
                o->chart_w > 8192 || o->chart_h > 8192) {
                fprintf(stderr, "apr-bench: --chart-size: WxH, 160x120 to 8192x8192\n");
                exit(2);
            }
        }
        else if (IS("--baseline")) {
            if (o->n_baseline_files == 16) { fprintf(stderr, "apr-bench: at most 16 --baseline files\n"); exit(2); }
            o->baseline_files[o->n_baseline_files++] = o->baseline_file = need_arg(argc, argv, &i);
        }
        else if (IS("--baseline-url")) o->baseline_url = need_arg(argc, argv, &i);
        else if (IS("--baseline-model")) o->baseline_model = need_arg(argc, argv, &i);
        else if (IS("--baseline-name")) o->baseline_name = need_arg(argc, argv, &i);
        else if (IS("--from")) {
            if (o->n_from == 16) { fprintf(stderr, "apr-bench: at most 16 --from files\n"); exit(2); }
            o->from_files[o->n_from++] = need_arg(argc, argv, &i);
            o->from = o->from_files[0];
        }
        else if (IS("--perplexity")) o->perplexity = true;
        else if (IS("-f") || IS("--file")) o->text_file = need_arg(argc, argv, &i);
        else if (IS("-c") || IS("--ctx-size")) o->ppl_ctx = parse_int(a, need_arg(argc, argv, &i), 8, 1 << 20);
        else if (IS("--chunks")) o->ppl_chunks = parse_int(a, need_arg(argc, argv, &i), 1, 1 << 30);
        else if (IS("--seed")) o->seed = (uint64_t)strtoull(need_arg(argc, argv, &i), NULL, 10);
        else if (IS("-fa") || IS("--flash-attn") || IS("-mmp") || IS("--mmap")) (void)need_arg(argc, argv, &i); /* accepted, apr always does */
        else { fprintf(stderr, "apr-bench: unknown option '%s' (-h lists them)\n", a); exit(2); }
#undef IS
    }
    if (!o->n_models && !o->from) { fprintf(stderr, "apr-bench: -m MODEL is required (-h for help)\n"); exit(2); }
    if (o->perplexity && !o->text_file) { fprintf(stderr, "apr-bench: --perplexity needs -f FILE\n"); exit(2); }
    if (!o->set_prompt) int_list_push(&o->n_prompt, 512);
    if (!o->set_gen) int_list_push(&o->n_gen, 128);
    if (!o->set_depth) int_list_push(&o->depth, 0);
    if (!o->set_threads) int_list_push(&o->threads, apr_cpu_count());
    if (!o->set_ngl) int_list_push(&o->ngl, 99);
    if (!o->set_batch) int_list_push(&o->batch, 512);
    if (o->baseline_file && o->baseline_url) { fprintf(stderr, "apr-bench: --baseline and --baseline-url: one or the other\n"); exit(2); }
}

static void free_options(options *o) {
    for (int i = 0; i < o->n_models; i++) free(o->models[i]);
    free(o->models);
    free(o->n_prompt.v); free(o->n_gen.v); free(o->pg.v); free(o->depth.v); free(o->threads.v); free(o->ngl.v);
    free(o->batch.v);
}

/* =====================================================================================
   One test: results of one (model, threads, ngl, batch, n_prompt, n_gen, n_depth)
   ===================================================================================== */

typedef struct bench_result {
    /* configuration */
    const char *model_path;
    char model_type[128];
    uint64_t model_size, model_n_params;
    char backend[16];
    char engine[32];            /* "apr"; another engine's name in files read with --from */
    char gpu_info[128];
    int n_threads, n_gpu_layers, n_batch;
    int n_prompt, n_gen, n_depth;
    char test_time[32];
    /* measurements */
    double *samples_ns;
    double *samples_ts;
    int n_samples;
    bench_stats ts;             /* over samples_ts */
    bench_stats ns;             /* over samples_ns */
    double bytes_per_token;     /* decode tests only; 0 otherwise */
    double gbps, roofline_pct;  /* achieved (median t/s x bytes), percent of peak */
    uint64_t peak_rss;
    uint64_t gpu_memory;        /* device bytes of the model and this test's context */
    int launches_per_token;
    /* baseline beside it */
    bool has_baseline;
    double base_ts, base_sd;
} bench_result;

static void test_name(const bench_result *r, char *buf, size_t size) {
    int n;
    if (r->n_prompt > 0 && r->n_gen == 0) n = snprintf(buf, size, "pp%d", r->n_prompt);
    else if (r->n_gen > 0 && r->n_prompt == 0) n = snprintf(buf, size, "tg%d", r->n_gen);
    else n = snprintf(buf, size, "pp%d+tg%d", r->n_prompt, r->n_gen);
    if (r->n_depth > 0 && n > 0 && (size_t)n < size) snprintf(buf + n, size - (size_t)n, " @ d%d", r->n_depth);
}

static void iso_time(char *buf, size_t size) {
    time_t t = time(NULL);
    struct tm tmv;
#if defined(_WIN32)
    gmtime_s(&tmv, &t);
#else
    gmtime_r(&t, &tmv);
#endif
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tmv);
}

/* KV cache bytes one decode step at position `pos` reads (keys and values of pos + 1
   positions over all layers), from the model's metadata. */
typedef struct kv_geom { int64_t n_layer, n_head_kv, head_dim; } kv_geom;

static kv_geom model_kv_geom(const apr_model *m) {
    kv_geom g;
    const apr_gguf *gg = apr_model_gguf(m);
    const char *arch = apr_model_arch(m);
    char key[160];
    int64_t n_head = 0, n_head_kv = 0, key_len = 0;
    g.n_layer = apr_model_n_layer(m);
    snprintf(key, sizeof key, "%s.attention.head_count", arch);
    apr_gguf_get_i64(gg, key, &n_head);
    snprintf(key, sizeof key, "%s.attention.head_count_kv", arch);
    if (!apr_gguf_get_i64(gg, key, &n_head_kv)) n_head_kv = n_head;
    snprintf(key, sizeof key, "%s.attention.key_length", arch);
    if (!apr_gguf_get_i64(gg, key, &key_len)) key_len = n_head > 0 ? apr_model_n_embd(m) / n_head : 0;
    g.n_head_kv = n_head_kv;
    g.head_dim = key_len;
    return g;
}

static double kv_elem_bytes(apr_kv_type t) {
    return t == APR_KV_F32 ? 4.0 : t == APR_KV_Q8_0 ? 34.0 / 32.0 : 2.0;
}

/* =====================================================================================
   Running apr
   ===================================================================================== */

typedef struct runner {
    apr_model *model;
    apr_context *ctx;
    int32_t n_vocab;
    int32_t bos;
    bool add_bos;
    int32_t *tokens;
    int cap;
} runner;

static void fill_random(runner *r, int n) {
    if (n > r->cap) {
        r->tokens = (int32_t *)xrealloc(r->tokens, sizeof(int32_t) * (size_t)n);
        r->cap = n;
    }
    for (int i = 0; i < n; i++) r->tokens[i] = (int32_t)(rng_next() % (uint32_t)r->n_vocab);
}

static void run_prompt(runner *r, int n, bool first_bos) {
    fill_random(r, n);
    if (first_bos && r->add_bos && r->bos >= 0) r->tokens[0] = r->bos;
    apr_result rc = apr_eval(r->ctx, r->tokens, n, 0);
    if (rc != APR_SUCCESS) die("prompt of %d tokens failed: %s (%s)", n, apr_result_string(rc), apr_context_last_error(r->ctx));
}

static void run_gen(runner *r, int n, bool first_bos) {
    int32_t tok = (first_bos && r->add_bos && r->bos >= 0) ? r->bos : (int32_t)(rng_next() % (uint32_t)r->n_vocab);
    for (int i = 0; i < n; i++) {
        apr_batch b;
        memset(&b, 0, sizeof b);
        b.n_tokens = 1;
        b.tokens = &tok;
        int32_t next = 0;
        apr_result rc = apr_decode_argmax(r->ctx, &b, &next);
        if (rc != APR_SUCCESS) die("decode step %d failed: %s (%s)", i, apr_result_string(rc), apr_context_last_error(r->ctx));
        tok = next;
    }
}

static void log_stderr(void *user, apr_log_level level, const char *message) {
    (void)user;
    fprintf(stderr, "%s%s\n", level == APR_LOG_ERROR ? "error: " : level == APR_LOG_WARN ? "warning: " : "", message);
}

static apr_model *load_model(const char *path, int ngl, bool verbose) {
    apr_model_params mp = apr_model_default_params();
    mp.n_gpu_layers = ngl;
    if (ngl == 0) mp.cpu_only = true;
    if (verbose) { mp.log_fn = log_stderr; mp.log_level = APR_LOG_INFO; }
    apr_model *m = NULL;
    apr_error err;
    memset(&err, 0, sizeof err);
    if (apr_model_load(path, &mp, &m, &err) != APR_SUCCESS) die("cannot load %s: %s", path, err.message);
    return m;
}

static void progress(const options *o, const char *fmt, ...) {
    if (!o->progress) return;
    va_list ap;
    va_start(ap, fmt);
    fputc('\r', stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\x1b[K", stderr);
    fflush(stderr);
    va_end(ap);
}
static void progress_end(const options *o) {
    if (o->progress) { fputs("\r\x1b[K", stderr); fflush(stderr); }
}

static void run_test(const options *o, runner *rn, bench_result *res, double peak_gbps) {
    apr_context_params cp = apr_context_default_params();
    int n_ctx = res->n_prompt + res->n_gen + res->n_depth;
    cp.n_ctx = n_ctx > 1 ? n_ctx : 2;
    cp.n_batch = res->n_batch;
    cp.n_threads = res->n_threads;
    cp.n_seq = 1;
    cp.kv_type = o->kv_type;
    apr_error err;
    memset(&err, 0, sizeof err);
    if (apr_context_create(rn->model, &cp, &rn->ctx, &err) != APR_SUCCESS)
        die("cannot create a context of %d positions: %s", cp.n_ctx, err.message);
    char name[64];
    test_name(res, name, sizeof name);
    iso_time(res->test_time, sizeof res->test_time);

    for (int w = 0; w < o->warmup; w++) {
        progress(o, "[apr-bench] %s t%d %s: warm-up", base_name(res->model_path), res->n_threads, name);
        apr_seq_truncate(rn->ctx, 0, 0);
        if (res->n_prompt > 0) run_prompt(rn, res->n_prompt, true);
        if (res->n_gen > 0) run_gen(rn, 1, res->n_prompt == 0);
    }
    res->samples_ns = (double *)xmalloc(sizeof(double) * (size_t)o->reps);
    res->samples_ts = (double *)xmalloc(sizeof(double) * (size_t)o->reps);
    for (int r = 0; r < o->reps; r++) {
        apr_seq_truncate(rn->ctx, 0, 0);
        if (res->n_depth > 0) run_prompt(rn, res->n_depth, true);
        double t0 = now_s();
        if (res->n_prompt > 0) run_prompt(rn, res->n_prompt, res->n_depth == 0);
        if (res->n_gen > 0) run_gen(rn, res->n_gen, res->n_depth == 0 && res->n_prompt == 0);
        double dt = now_s() - t0;
        if (dt <= 0) dt = 1e-9;
        res->samples_ns[r] = dt * 1e9;
        res->samples_ts[r] = (res->n_prompt + res->n_gen) / dt;
        res->n_samples = r + 1;
        if (o->verbose) fprintf(stderr, "[apr-bench] %s run %d/%d: %.3f ms, %.2f t/s\n", name, r + 1, o->reps, dt * 1e3, res->samples_ts[r]);
        progress(o, "[apr-bench] %s t%d %s: run %d/%d, %.2f t/s", base_name(res->model_path), res->n_threads, name,
                 r + 1, o->reps, res->samples_ts[r]);
    }
    progress_end(o);
    res->ts = compute_stats(res->samples_ts, res->n_samples);
    res->ns = compute_stats(res->samples_ns, res->n_samples);
    res->launches_per_token = apr_context_launches_per_token(rn->ctx);
    res->gpu_memory = apr_model_device_memory(rn->model);

    /* Cost model (DESIGN.md): a decode step reads the weights once (the embedding table
       only as one row) plus the keys and values of every position before it. */
    if (res->n_gen > 0 && res->n_prompt == 0) {
        kv_geom g = model_kv_geom(rn->model);
        double kv_per_pos = 2.0 * (double)g.n_layer * (double)g.n_head_kv * (double)g.head_dim * kv_elem_bytes(o->kv_type);
        double avg_positions = res->n_depth + (res->n_gen + 1) / 2.0;
        res->bytes_per_token = (double)apr_model_decode_bytes(rn->model) + kv_per_pos * avg_positions;
        res->gbps = res->bytes_per_token * res->ts.median * 1e-9;
        res->roofline_pct = peak_gbps > 0 ? 100.0 * res->gbps / peak_gbps : NAN;
    } else {
        res->gbps = res->roofline_pct = NAN;
    }
    res->peak_rss = peak_rss_bytes();
    if (o->verbose) {
        fprintf(stderr, "[apr-bench] %s: median %.2f t/s, 95%% CI ±%.2f, CV %.2f%%", name, res->ts.median, res->ts.ci95, 100 * res->ts.cv);
        if (res->bytes_per_token > 0) fprintf(stderr, ", %.1f MB/token, %.2f GB/s", res->bytes_per_token * 1e-6, res->gbps);
        fprintf(stderr, ", launches/token %d, peak RSS %.1f MiB", res->launches_per_token, res->peak_rss / 1048576.0);
        if (res->gpu_memory) fprintf(stderr, ", GPU memory %.1f MiB", res->gpu_memory / 1048576.0);
        fputc('\n', stderr);
    }
    apr_context_free(rn->ctx);
    rn->ctx = NULL;
}

/* =====================================================================================
   Baselines: a llama-bench JSON file, or a server measured over HTTP
   ===================================================================================== */

typedef struct base_row { int n_prompt, n_gen, n_depth, n_threads; double avg_ts, stddev_ts; } base_row;

static char *read_text_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = (char *)xmalloc(cap);
    for (;;) {
        if (n + 4096 + 1 > cap) { cap *= 2; buf = (char *)xrealloc(buf, cap); }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

/* Calls fn for every object of a llama-bench/apr-bench JSON file: an array of objects
   (-o json), one object, or one object per line (-o jsonl). Returns the object count. */
typedef void (*json_row_fn)(const json_value *obj, void *user);

static int for_each_json_row(const char *path, json_row_fn fn, void *user) {
    size_t len;
    char *text = read_text_file(path, &len);
    if (!text) die("cannot read %s", path);
    json_doc doc;
    char err[160];
    int n = 0;
    if (json_parse(&doc, text, len, 32, err, sizeof err)) {
        const json_value *root = doc.root;
        if (json_is(root, JSON_ARRAY)) {
            for (const json_value *e = json_first(root); e; e = e->next)
                if (json_is(e, JSON_OBJECT)) { fn(e, user); n++; }
        } else if (json_is(root, JSON_OBJECT)) {
            fn(root, user);
            n++;
        }
        json_doc_free(&doc);
    } else {
        char first_err[160];
        snprintf(first_err, sizeof first_err, "%s", err);
        for (char *line = text; *line;) {
            char *end = strchr(line, '\n');
            size_t ll = end ? (size_t)(end - line) : strlen(line);
            if (ll > 1 && json_parse(&doc, line, ll, 32, err, sizeof err)) {
                if (json_is(doc.root, JSON_OBJECT)) { fn(doc.root, user); n++; }
                json_doc_free(&doc);
            }
            if (!end) break;
            line = end + 1;
        }
        if (n == 0) die("%s: not llama-bench JSON or JSONL (%s)", path, first_err);
    }
    free(text);
    return n;
}

typedef struct base_load { base_row *rows; int n; char label[96]; } base_load;

static void base_row_fn(const json_value *e, void *user) {
    base_load *bl = (base_load *)user;
    int64_t p = 0, g = 0, d = 0, t = 0;
    double ts = NAN, sd = 0;
    json_get_int(e, "n_prompt", 0, &p);
    json_get_int(e, "n_gen", 0, &g);
    json_get_int(e, "n_depth", 0, &d);
    json_get_int(e, "n_threads", 0, &t);
    json_get_number(e, "avg_ts", NAN, &ts);
    json_get_number(e, "stddev_ts", 0, &sd);
    if (!(ts > 0)) return;
    if (bl->n == 0) {
        const char *engine = NULL, *bk = NULL;
        json_get_string(e, "engine", NULL, &engine);
        json_get_string(e, "backends", NULL, &bk);
        if (engine && strcmp(engine, "llama.cpp") != 0) snprintf(bl->label, sizeof bl->label, "%s", engine);
        else snprintf(bl->label, sizeof bl->label, "llama.cpp%s%s", bk ? " " : "", bk ? bk : "");
    }
    bl->rows = (base_row *)xrealloc(bl->rows, sizeof(base_row) * (size_t)(bl->n + 1));
    base_row *r = &bl->rows[bl->n++];
    r->n_prompt = (int)p; r->n_gen = (int)g; r->n_depth = (int)d; r->n_threads = (int)t;
    r->avg_ts = ts; r->stddev_ts = sd;
}

static base_row *load_llama_bench_json(const char *path, int *n_rows, char *label, size_t label_size) {
    base_load bl;
    memset(&bl, 0, sizeof bl);
    snprintf(bl.label, sizeof bl.label, "llama.cpp");
    for_each_json_row(path, base_row_fn, &bl);
    if (bl.n == 0) die("baseline %s: no result with avg_ts", path);
    snprintf(label, label_size, "%s", bl.label);
    *n_rows = bl.n;
    return bl.rows;
}

/* --from FILE: results of an earlier apr-bench -o json (or any llama-bench JSON) instead of
   running, to print them again, chart them or set them beside a baseline. */
typedef struct result_load { bench_result *rs; int n; double peak_gbps; } result_load;

static void result_row_fn(const json_value *e, void *user) {
    result_load *rl = (result_load *)user;
    double ts = NAN;
    json_get_number(e, "avg_ts", NAN, &ts);
    if (!(ts > 0)) return;
    rl->rs = (bench_result *)xrealloc(rl->rs, sizeof(bench_result) * (size_t)(rl->n + 1));
    bench_result *r = &rl->rs[rl->n++];
    memset(r, 0, sizeof *r);
    const char *s = NULL;
    int64_t v = 0;
    double d = 0;
    json_get_string(e, "model_filename", "", &s); r->model_path = xstrdup(s ? s : "");
    json_get_string(e, "engine", NULL, &s);
    if (!s) { json_get_string(e, "build_commit", "", &s); s = s && !strncmp(s, "apr", 3) ? "apr" : "llama.cpp"; }
    snprintf(r->engine, sizeof r->engine, "%s", s);
    json_get_string(e, "model_type", "", &s); snprintf(r->model_type, sizeof r->model_type, "%s", s ? s : "");
    json_get_string(e, "backends", "CPU", &s); snprintf(r->backend, sizeof r->backend, "%s", s && *s ? s : "CPU");
    json_get_string(e, "gpu_info", "", &s); snprintf(r->gpu_info, sizeof r->gpu_info, "%s", s ? s : "");
    json_get_string(e, "test_time", "", &s); snprintf(r->test_time, sizeof r->test_time, "%s", s ? s : "");
    json_get_number(e, "model_size", 0, &d); r->model_size = (uint64_t)d;
    json_get_number(e, "model_n_params", 0, &d); r->model_n_params = (uint64_t)d;
    json_get_int(e, "n_threads", 0, &v); r->n_threads = (int)v;
    json_get_int(e, "n_gpu_layers", 0, &v); r->n_gpu_layers = (int)v;
    json_get_int(e, "n_batch", 0, &v); r->n_batch = (int)v;
    json_get_int(e, "n_prompt", 0, &v); r->n_prompt = (int)v;
    json_get_int(e, "n_gen", 0, &v); r->n_gen = (int)v;
    json_get_int(e, "n_depth", 0, &v); r->n_depth = (int)v;
    json_get_number(e, "bytes_per_token", 0, &r->bytes_per_token);
    json_get_number(e, "gbps", NAN, &r->gbps);
    json_get_number(e, "roofline_pct", NAN, &r->roofline_pct);
    if (!(rl->peak_gbps > 0)) json_get_number(e, "peak_gbps", 0, &rl->peak_gbps);
    json_get_number(e, "peak_rss_bytes", 0, &d); r->peak_rss = (uint64_t)d;
    json_get_int(e, "launches_per_token", 0, &v); r->launches_per_token = (int)v;
    json_get_number(e, "gpu_memory_bytes", 0, &d); r->gpu_memory = (uint64_t)d;
    const json_value *sts = json_get(e, "samples_ts"), *sns = json_get(e, "samples_ns");
    int n = json_is(sts, JSON_ARRAY) ? (int)sts->len : 0;
    if (n > 0) {
        r->samples_ts = (double *)xmalloc(sizeof(double) * (size_t)n);
        r->samples_ns = (double *)xmalloc(sizeof(double) * (size_t)n);
        int i = 0;
        for (const json_value *x = json_first(sts); x && i < n; x = x->next, i++) r->samples_ts[i] = x->number;
        i = 0;
        for (const json_value *x = json_first(sns); x && i < n; x = x->next, i++) r->samples_ns[i] = x->number;
        for (; i < n; i++) r->samples_ns[i] = (r->n_prompt + r->n_gen) * 1e9 / r->samples_ts[i];
        r->n_samples = n;
        r->ts = compute_stats(r->samples_ts, n);
        r->ns = compute_stats(r->samples_ns, n);
    } else {
        /* only the summary: keep llama-bench's mean and stddev */
        double sd = 0;
        json_get_number(e, "stddev_ts", 0, &sd);
        r->ts = compute_stats(&ts, 1);
        r->ts.stddev = sd;
        r->ts.cv = sd / ts;
        r->ts.ci95 = NAN;
        json_get_number(e, "avg_ns", 0, &d);
        r->ns = compute_stats(&d, 1);
    }
}

/* Same test, same threads if the file has them, else the same test at any thread count. */
static const base_row *match_baseline(const base_row *rows, int n, const bench_result *r) {
    const base_row *any = NULL;
    for (int i = 0; i < n; i++) {
        if (rows[i].n_prompt != r->n_prompt || rows[i].n_gen != r->n_gen || rows[i].n_depth != r->n_depth) continue;
        if (rows[i].n_threads == r->n_threads) return &rows[i];
        if (!any) any = &rows[i];
    }
    return any;
}

/* ---- minimal HTTP/1.1 client (POST, Connection: close) --------------------------------- */

typedef struct http_url { char host[256]; char port[8]; char path[512]; } http_url;

static bool parse_url(const char *url, http_url *u) {
    memset(u, 0, sizeof *u);
    if (strncmp(url, "http://", 7) != 0) return false;
    const char *h = url + 7;
    const char *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    const char *colon = (const char *)memchr(h, ':', hl);
    size_t host_len = colon ? (size_t)(colon - h) : hl;
    if (host_len == 0 || host_len >= sizeof u->host) return false;
    memcpy(u->host, h, host_len);
    if (colon) {
        size_t pl = hl - host_len - 1;
        if (pl == 0 || pl >= sizeof u->port) return false;
        memcpy(u->port, colon + 1, pl);
    } else {
        strcpy(u->port, "80");
    }
    snprintf(u->path, sizeof u->path, "%s", slash ? slash : "/");
    return true;
}

/* Events seen while a response streams in: their arrival times. */
typedef struct http_reply {
    int status;
    char *body;          /* de-chunked */
    size_t body_len;
    double t_sent, t_first_event, t_last_event, t_done;
    int n_events;        /* SSE "data: {" events */
} http_reply;

static void http_reply_free(http_reply *r) { free(r->body); memset(r, 0, sizeof *r); }

static size_t dechunk(char *p, size_t n) {
    size_t in = 0, out = 0;
    while (in < n) {
        char *end;
        unsigned long sz = strtoul(p + in, &end, 16);
        char *nl = (char *)memchr(p + in, '\n', n - in);
        if (!nl || end == p + in) break;
        in = (size_t)(nl - p) + 1;
        if (sz == 0 || in + sz > n) break;
        memmove(p + out, p + in, sz);
        out += sz;
        in += sz;
        if (in < n && p[in] == '\r') in++;
        if (in < n && p[in] == '\n') in++;
    }
    return out;
}

static bool http_post(const http_url *u, const char *body, double timeout_s, http_reply *rep, char *err, size_t err_size) {
    memset(rep, 0, sizeof *rep);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(u->host, u->port, &hints, &ai) != 0 || !ai) { snprintf(err, err_size, "cannot resolve %s", u->host); return false; }
    bench_sock s = BENCH_BAD_SOCK;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        s = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (s == BENCH_BAD_SOCK) continue;
        if (connect(s, a->ai_addr, (int)a->ai_addrlen) == 0) break;
        bench_close_sock(s);
        s = BENCH_BAD_SOCK;
    }
    freeaddrinfo(ai);
    if (s == BENCH_BAD_SOCK) { snprintf(err, err_size, "cannot connect to %s:%s", u->host, u->port); return false; }
#if !defined(_WIN32)
    struct timeval tv;
    tv.tv_sec = (long)timeout_s;
    tv.tv_usec = 0;
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char *)&tv, sizeof tv);
#else
    DWORD tv = (DWORD)(timeout_s * 1000);
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char *)&tv, sizeof tv);
#endif
    size_t blen = strlen(body);
    char head[1024];
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                      "Accept: */*\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                      u->path, u->host, u->port, blen);
    rep->t_sent = now_s();
    if (send(s, head, hn, 0) != hn || send(s, body, (int)blen, 0) != (int)blen) {
        bench_close_sock(s);
        snprintf(err, err_size, "send to %s:%s failed", u->host, u->port);
        return false;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = (char *)xmalloc(cap);
    size_t scanned = 0;
    for (;;) {
        if (n + 8192 + 1 > cap) { cap *= 2; buf = (char *)xrealloc(buf, cap); }
        int got = (int)recv(s, buf + n, (int)(cap - n - 1), 0);
        if (got <= 0) break;
        double t = now_s();
        n += (size_t)got;
        buf[n] = 0;
        /* count SSE events as they arrive (tokens, for OpenAI-style streams) */
        for (;;) {
            char *ev = strstr(buf + scanned, "data: {");
            if (!ev) { scanned = n > 8 ? n - 8 : 0; break; }
            if (rep->n_events == 0) rep->t_first_event = t;
            rep->t_last_event = t;
            rep->n_events++;
            scanned = (size_t)(ev - buf) + 7;
        }
    }
    rep->t_done = now_s();
    bench_close_sock(s);
    buf[n] = 0;
    char *hend = strstr(buf, "\r\n\r\n");
    if (!hend || sscanf(buf, "HTTP/%*d.%*d %d", &rep->status) != 1) {
        free(buf);
        snprintf(err, err_size, "no HTTP response from %s:%s (timeout %.0f s?)", u->host, u->port, timeout_s);
        return false;
    }
    *hend = 0;
    bool chunked = false;
    for (char *p = buf; *p; p++) {
        if ((*p == '\n') && (strncmp(p + 1, "Transfer-Encoding:", 18) == 0 || strncmp(p + 1, "transfer-encoding:", 18) == 0)) {
            char *v = p + 19;
            while (*v == ' ') v++;
            if (strncmp(v, "chunked", 7) == 0) chunked = true;
        }
    }
    char *b = hend + 4;
    size_t bl = n - (size_t)(b - buf);
    if (chunked) bl = dechunk(b, bl);
    rep->body = (char *)xmalloc(bl + 1);
    memcpy(rep->body, b, bl);
    rep->body[bl] = 0;
    rep->body_len = bl;
    free(buf);
    return true;
}

/* A prompt text of about n tokens of the model: random common words, different per run
   (servers cache prompt prefixes), cut to n tokens with the model's tokenizer. */
static char *make_prompt_text(const apr_model *m, int n, unsigned run) {
    static const char *words[] = {"the", "cat", "sat", "on", "a", "warm", "mat", "while", "little", "girl",
                                  "named", "Lily", "found", "shiny", "red", "ball", "in", "park", "and", "her",
                                  "friend", "Tom", "said", "hello", "to", "big", "dog", "under", "tree", "sun"};
    const int n_words = (int)(sizeof words / sizeof words[0]);
    if (n <= 0) return xstrdup("Once upon a time");
    const apr_vocab *v = apr_model_vocab(m);
    size_t cap = (size_t)n * 8 + 64, len = 0;
    char *text = (char *)xmalloc(cap);
    uint64_t st = 0x9E3779B97F4A7C15ull * (run + 1);
    text[0] = 0;
    int32_t *toks = (int32_t *)xmalloc(sizeof(int32_t) * ((size_t)n * 4 + 64));
    for (;;) {
        for (int k = 0; k < n; k++) {
            st ^= st << 13; st ^= st >> 7; st ^= st << 17;
            const char *w = words[st % (uint64_t)n_words];
            size_t wl = strlen(w);
            if (len + wl + 2 >= cap) { cap *= 2; text = (char *)xrealloc(text, cap); }
            if (len) text[len++] = ' ';
            memcpy(text + len, w, wl);
            len += wl;
            text[len] = 0;
        }
        int64_t nt = apr_tokenize(v, text, len, toks, (int64_t)n * 4 + 64, 0);
        if (nt < 0 || nt >= n) {
            if (nt > n && nt <= (int64_t)n * 4 + 64) {
                int64_t need = apr_detokenize(v, toks, n, NULL, 0, false);
                char *cut = (char *)xmalloc((size_t)need + 1);
                apr_detokenize(v, toks, n, cut, need + 1, false);
                free(text);
                text = cut;
            }
            break;
        }
    }
    free(toks);
    return text;
}

/* One request; returns t/s of the test's kind (prompt, generation, or both). */
static bool server_run(const http_url *u, bool ollama, const char *model_name, const char *prompt, int n_prompt,
                       int n_gen, double *ts, int *got_gen, char *err, size_t err_size) {
    json_buf b;
    json_buf_init(&b);
    json_obj_begin(&b);
    json_key(&b, "model"); json_strz(&b, model_name);
    json_key(&b, "prompt"); json_strz(&b, prompt);
    if (ollama) {
        json_key(&b, "stream"); json_bool(&b, false);
        json_key(&b, "raw"); json_bool(&b, true);
        json_key(&b, "options"); json_obj_begin(&b);
        json_key(&b, "num_predict"); json_int(&b, n_gen > 0 ? n_gen : 1);
        json_key(&b, "temperature"); json_int(&b, 0);
        json_key(&b, "seed"); json_int(&b, 0);
        json_obj_end(&b);
    } else {
        json_key(&b, "max_tokens"); json_int(&b, n_gen > 0 ? n_gen : 1);
        json_key(&b, "temperature"); json_int(&b, 0);
        json_key(&b, "ignore_eos"); json_bool(&b, true);
        json_key(&b, "stream"); json_bool(&b, true);
        json_key(&b, "stream_options"); json_obj_begin(&b); json_key(&b, "include_usage"); json_bool(&b, true); json_obj_end(&b);
    }
    json_obj_end(&b);
    http_reply rep;
    bool ok = http_post(u, b.data, 600, &rep, err, err_size);
    json_buf_free(&b);
    if (!ok) return false;
    if (rep.status != 200) {
        snprintf(err, err_size, "server answered %d: %.200s", rep.status, rep.body);
        http_reply_free(&rep);
        return false;
    }
    ok = false;
    if (ollama) {
        json_doc doc;
        char perr[128];
        if (!json_parse(&doc, rep.body, rep.body_len, 32, perr, sizeof perr)) {
            snprintf(err, err_size, "reply is not JSON: %s", perr);
        } else {
            double pc = 0, pd = 0, ec = 0, ed = 0;
            json_get_number(doc.root, "prompt_eval_count", 0, &pc);
            json_get_number(doc.root, "prompt_eval_duration", 0, &pd);
            json_get_number(doc.root, "eval_count", 0, &ec);
            json_get_number(doc.root, "eval_duration", 0, &ed);
            *got_gen = (int)ec;
            if (n_gen > 0 && n_prompt == 0) { if (ed > 0 && ec > 0) { *ts = ec / (ed * 1e-9); ok = true; } }
            else if (n_gen == 0) { if (pd > 0 && pc > 0) { *ts = pc / (pd * 1e-9); ok = true; } }
            else if (pd + ed > 0) { *ts = (pc + ec) / ((pd + ed) * 1e-9); ok = true; }
            if (!ok) snprintf(err, err_size, "reply lacks eval_count/eval_duration (or prompt_eval_*)");
            json_doc_free(&doc);
        }
    } else {
        /* client-side timing: the first event ends the prompt, the rest are tokens */
        *got_gen = rep.n_events;
        const char *usage = strstr(rep.body, "\"completion_tokens\"");
        if (usage) {
            int ct = atoi(strchr(usage, ':') + 1);
            if (ct > 0) { *got_gen = ct; if (rep.n_events > ct) rep.n_events = ct; }
        }
        /* llama-server reports its own timings in the last chunk: better than ours */
        const char *pps = strstr(rep.body, "\"predicted_per_second\""), *ppp = strstr(rep.body, "\"prompt_per_second\"");
        double server_tg = pps ? atof(strchr(pps, ':') + 1) : 0, server_pp = ppp ? atof(strchr(ppp, ':') + 1) : 0;
        if (n_gen > 0 && n_prompt == 0 && server_tg > 0) { *ts = server_tg; ok = true; }
        else if (n_gen == 0 && server_pp > 0) { *ts = server_pp; ok = true; }
        else if (rep.n_events < 1) snprintf(err, err_size, "no streamed events in the reply");
        else if (n_gen > 0 && n_prompt == 0) {
            if (rep.n_events >= 2 && rep.t_last_event > rep.t_first_event) {
                *ts = (rep.n_events - 1) / (rep.t_last_event - rep.t_first_event);
                ok = true;
            } else snprintf(err, err_size, "too few streamed tokens to time generation");
        } else if (n_gen == 0) {
            *ts = n_prompt / (rep.t_first_event - rep.t_sent);
            ok = true;
        } else {
            *ts = (n_prompt + n_gen) / (rep.t_last_event - rep.t_sent);
            ok = true;
        }
    }
    http_reply_free(&rep);
    return ok;
}

static void measure_server(const options *o, const apr_model *m, bench_result *res) {
    http_url u;
    if (!parse_url(o->baseline_url, &u)) die("--baseline-url: http://HOST:PORT/PATH expected, got '%s'", o->baseline_url);
    bool ollama;
    if (strstr(u.path, "/api/")) ollama = true;
    else if (strstr(u.path, "/v1/")) ollama = false;
    else {
        ollama = strcmp(u.port, "11434") == 0;
        snprintf(u.path, sizeof u.path, "%s", ollama ? "/api/generate" : "/v1/completions");
    }
    char model_name[256];
    snprintf(model_name, sizeof model_name, "%s", o->baseline_model ? o->baseline_model : base_name(res->model_path));
    int n_runs = o->warmup + o->reps;
    double *ts = (double *)xmalloc(sizeof(double) * (size_t)o->reps);
    int n = 0;
    char name[64];
    test_name(res, name, sizeof name);
    for (int r = 0; r < n_runs; r++) {
        int np = res->n_prompt + res->n_depth;
        char *prompt = make_prompt_text(m, np, (unsigned)r + 1000u * (unsigned)res->n_prompt + 7u * (unsigned)res->n_gen);
        double v = 0;
        int got = 0;
        char err[300];
        progress(o, "[apr-bench] %s %s: request %d/%d", o->baseline_url, name, r + 1, n_runs);
        if (!server_run(&u, ollama, model_name, prompt, res->n_prompt, res->n_gen, &v, &got, err, sizeof err))
            die("baseline server %s: %s", o->baseline_url, err);
        free(prompt);
        if (o->verbose) fprintf(stderr, "[apr-bench] server %s request %d: %.2f t/s (%d tokens generated)\n", name, r + 1, v, got);
        if (r >= o->warmup) ts[n++] = v;
    }
    progress_end(o);
    bench_stats s = compute_stats(ts, n);
    res->has_baseline = true;
    res->base_ts = s.mean;
    res->base_sd = s.stddev;
    free(ts);
}

/* =====================================================================================
   Output: llama-bench's markdown table, JSON, JSONL, CSV
   ===================================================================================== */

static void fmt_size(uint64_t bytes, char *buf, size_t size) {
    if (bytes >= (1ull << 30)) snprintf(buf, size, "%.2f GiB", bytes / 1073741824.0);
    else snprintf(buf, size, "%.2f MiB", bytes / 1048576.0);
}
static void fmt_params(uint64_t n, char *buf, size_t size) {
    if (n >= 1000000000ull) snprintf(buf, size, "%.2f B", n / 1e9);
    else if (n >= 1000000ull) snprintf(buf, size, "%.2f M", n / 1e6);
    else snprintf(buf, size, "%.2f K", n / 1e3);
}

static bool is_gpu(const bench_result *r) { return strcmp(r->backend, "CPU") != 0; }

static void print_md(const options *o, bench_result *rs, int n, const char *base_label) {
    bool any_gpu = false, any_base = false, any_roof = false;
    for (int i = 0; i < n; i++) {
        any_gpu |= is_gpu(&rs[i]);
        any_base |= rs[i].has_baseline;
        any_roof |= rs[i].gbps == rs[i].gbps;
    }
    (void)o;
    printf("| model | size | params | backend | %s | test | t/s | median | 95%% CI | CV |%s%s\n",
           any_gpu ? "ngl" : "threads", any_roof ? " GB/s | % roof |" : "",
           any_base ? " baseline t/s | ratio |" : "");
    printf("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |%s%s\n",
           any_roof ? " ---: | ---: |" : "", any_base ? " ---: | ---: |" : "");
    for (int i = 0; i < n; i++) {
        bench_result *r = &rs[i];
        char size[32], params[32], name[64], cfg[32];
        fmt_size(r->model_size, size, sizeof size);
        fmt_params(r->model_n_params, params, sizeof params);
        test_name(r, name, sizeof name);
        if (any_gpu) snprintf(cfg, sizeof cfg, "%d", r->n_gpu_layers);
        else snprintf(cfg, sizeof cfg, "%d", r->n_threads);
        printf("| %s | %s | %s | %s | %s | %s | %.2f ± %.2f | %.2f | ± %.2f | %.1f%% |", r->model_type, size, params,
               r->backend, cfg, name, r->ts.mean, r->ts.stddev, r->ts.median, r->ts.ci95, 100 * r->ts.cv);
        if (any_roof) {
            if (r->gbps == r->gbps) {
                printf(" %.2f |", r->gbps);
                if (r->roofline_pct == r->roofline_pct) printf(" %.1f%% |", r->roofline_pct);
                else printf(" - |");
            } else printf(" - | - |");
        }
        if (any_base) {
            if (r->has_baseline) printf(" %.2f ± %.2f | %.2fx |", r->base_ts, r->base_sd, r->ts.mean / r->base_ts);
            else printf(" - | - |");
        }
        printf("\n");
    }
    if (any_base) printf("\nbaseline: %s; ratio = apr mean t/s / baseline mean t/s\n", base_label);
}

typedef struct common_info {
    char cpu[256];
    const char *gpu;
    double peak_gbps;
    char build_commit[16];
} common_info;

static const char *kv_name(apr_kv_type t) { return t == APR_KV_Q8_0 ? "q8_0" : t == APR_KV_F32 ? "f32" : "f16"; }

static void json_result(json_buf *b, const options *o, const common_info *ci, const bench_result *r) {
    char name[64];
    test_name(r, name, sizeof name);
    json_obj_begin(b);
    json_key(b, "build_commit"); json_strz(b, ci->build_commit);
    json_key(b, "build_number"); json_int(b, 0);
    json_key(b, "cpu_info"); json_strz(b, ci->cpu);
    json_key(b, "gpu_info"); json_strz(b, r->gpu_info);
    json_key(b, "backends"); json_strz(b, r->backend);
    json_key(b, "model_filename"); json_strz(b, r->model_path);
    json_key(b, "model_type"); json_strz(b, r->model_type);
    json_key(b, "model_size"); json_uint(b, r->model_size);
    json_key(b, "model_n_params"); json_uint(b, r->model_n_params);
    json_key(b, "n_batch"); json_int(b, r->n_batch);
    json_key(b, "n_ubatch"); json_int(b, r->n_batch);
    json_key(b, "n_threads"); json_int(b, r->n_threads);
    json_key(b, "type_k"); json_strz(b, kv_name(o->kv_type));
    json_key(b, "type_v"); json_strz(b, kv_name(o->kv_type));
    json_key(b, "n_gpu_layers"); json_int(b, r->n_gpu_layers);
    json_key(b, "flash_attn"); json_bool(b, true);
    json_key(b, "use_mmap"); json_bool(b, true);
    json_key(b, "embeddings"); json_bool(b, false);
    json_key(b, "n_prompt"); json_int(b, r->n_prompt);
    json_key(b, "n_gen"); json_int(b, r->n_gen);
    json_key(b, "n_depth"); json_int(b, r->n_depth);
    json_key(b, "test_time"); json_strz(b, r->test_time);
    json_key(b, "avg_ns"); json_uint(b, (uint64_t)llround(r->ns.mean));
    json_key(b, "stddev_ns"); json_uint(b, (uint64_t)llround(r->ns.stddev));
    json_key(b, "avg_ts"); json_double(b, r->ts.mean);
    json_key(b, "stddev_ts"); json_double(b, r->ts.stddev);
    json_key(b, "samples_ns"); json_arr_begin(b);
    for (int i = 0; i < r->n_samples; i++) json_uint(b, (uint64_t)llround(r->samples_ns[i]));
    json_arr_end(b);
    json_key(b, "samples_ts"); json_arr_begin(b);
    for (int i = 0; i < r->n_samples; i++) json_double(b, r->samples_ts[i]);
    json_arr_end(b);
    /* apr's additions */
    json_key(b, "engine"); json_strz(b, r->engine);
    json_key(b, "test"); json_strz(b, name);
    json_key(b, "median_ts"); json_double(b, r->ts.median);
    json_key(b, "ci95_ts"); json_double(b, r->ts.ci95);
    json_key(b, "cv"); json_double(b, r->ts.cv);
    json_key(b, "min_ts"); json_double(b, r->ts.min);
    json_key(b, "max_ts"); json_double(b, r->ts.max);
    json_key(b, "bytes_per_token"); json_double(b, r->bytes_per_token > 0 ? r->bytes_per_token : NAN);
    json_key(b, "gbps"); json_double(b, r->gbps);
    json_key(b, "peak_gbps"); json_double(b, ci->peak_gbps > 0 ? ci->peak_gbps : NAN);
    json_key(b, "roofline_pct"); json_double(b, r->roofline_pct);
    json_key(b, "peak_rss_bytes"); json_uint(b, r->peak_rss);
    json_key(b, "launches_per_token"); json_int(b, r->launches_per_token);
    json_key(b, "gpu_memory_bytes"); json_uint(b, r->gpu_memory);
    if (r->has_baseline) {
        json_key(b, "baseline_avg_ts"); json_double(b, r->base_ts);
        json_key(b, "baseline_stddev_ts"); json_double(b, r->base_sd);
        json_key(b, "ratio"); json_double(b, r->ts.mean / r->base_ts);
    }
    json_obj_end(b);
}

static void csv_field(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void print_csv(const options *o, const common_info *ci, bench_result *rs, int n) {
    printf("build_commit,build_number,cpu_info,gpu_info,backends,model_filename,model_type,model_size,"
           "model_n_params,n_batch,n_ubatch,n_threads,type_k,type_v,n_gpu_layers,flash_attn,use_mmap,embeddings,"
           "n_prompt,n_gen,n_depth,test_time,avg_ns,stddev_ns,avg_ts,stddev_ts,"
           "engine,test,median_ts,ci95_ts,cv,min_ts,max_ts,bytes_per_token,gbps,peak_gbps,roofline_pct,"
           "peak_rss_bytes,launches_per_token,baseline_avg_ts,ratio\n");
    for (int i = 0; i < n; i++) {
        bench_result *r = &rs[i];
        char name[64];
        test_name(r, name, sizeof name);
        csv_field(ci->build_commit); printf(",0,");
        csv_field(ci->cpu); putchar(',');
        csv_field(r->gpu_info); putchar(',');
        csv_field(r->backend); putchar(',');
        csv_field(r->model_path); putchar(',');
        csv_field(r->model_type);
        printf(",%llu,%llu,%d,%d,%d,%s,%s,%d,1,1,0,%d,%d,%d,", (unsigned long long)r->model_size,
               (unsigned long long)r->model_n_params, r->n_batch, r->n_batch, r->n_threads, kv_name(o->kv_type),
               kv_name(o->kv_type), r->n_gpu_layers, r->n_prompt, r->n_gen, r->n_depth);
        csv_field(r->test_time);
        printf(",%llu,%llu,%.6f,%.6f,", (unsigned long long)llround(r->ns.mean), (unsigned long long)llround(r->ns.stddev),
               r->ts.mean, r->ts.stddev);
        csv_field(r->engine);
        putchar(',');
        csv_field(name);
        printf(",%.6f,%.6f,%.6f,%.6f,%.6f,", r->ts.median, r->ts.ci95, r->ts.cv, r->ts.min, r->ts.max);
        if (r->bytes_per_token > 0) printf("%.0f,%.6f,", r->bytes_per_token, r->gbps); else printf(",,");
        if (ci->peak_gbps > 0) printf("%.3f,", ci->peak_gbps); else printf(",");
        if (r->roofline_pct == r->roofline_pct) printf("%.3f,", r->roofline_pct); else printf(",");
        printf("%llu,%d,", (unsigned long long)r->peak_rss, r->launches_per_token);
        if (r->has_baseline) printf("%.6f,%.6f\n", r->base_ts, r->ts.mean / r->base_ts); else printf(",\n");
    }
}

/* =====================================================================================
   Chart: grouped bars (apr and the baseline) per test, drawn into an RGB buffer with a
   5x7 bitmap font, written as PNG by stb_image_write.
   ===================================================================================== */

#ifdef BENCH_HAVE_STB
typedef struct canvas { int w, h; unsigned char *px; } canvas;

static void fill_rect(canvas *c, int x0, int y0, int x1, int y1, uint32_t rgb) {
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > c->w) x1 = c->w;
    if (y1 > c->h) y1 = c->h;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            unsigned char *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
            p[0] = (unsigned char)(rgb >> 16); p[1] = (unsigned char)(rgb >> 8); p[2] = (unsigned char)rgb;
        }
}

/* 5x7 glyphs, one byte per row, bit 4 = leftmost column. Lower case is drawn as upper. */
static const char font_chars[] = " 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.,+-@/%():_=#x*";
static const unsigned char font_rows[][7] = {
    {0, 0, 0, 0, 0, 0, 0},
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}, {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}, {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}, {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}, {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}, {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},
    {0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11}, {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}, /* A B */
    {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}, {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}, /* C D */
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}, {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}, /* E F */
    {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}, {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}, /* G H */
    {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}, {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}, /* I J */
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}, {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}, /* K L */
    {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}, {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}, /* M N */
    {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}, {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}, /* O P */
    {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}, {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}, /* Q R */
    {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}, {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* S T */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}, {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}, /* U V */
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}, {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}, /* W X */
    {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}, {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}, /* Y Z */
    {0, 0, 0, 0, 0, 0x0C, 0x0C}, {0, 0, 0, 0, 0x0C, 0x04, 0x08},                             /* . , */
    {0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0}, {0, 0, 0, 0x1F, 0, 0, 0},                         /* + - */
    {0x0E, 0x11, 0x17, 0x15, 0x17, 0x10, 0x0F}, {0, 0x01, 0x02, 0x04, 0x08, 0x10, 0},       /* @ / */
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}, {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}, /* % ( */
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}, {0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0},         /* ) : */
    {0, 0, 0, 0, 0, 0, 0x1F}, {0, 0, 0x1F, 0, 0x1F, 0, 0},                                 /* _ = */
    {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A}, {0, 0, 0x11, 0x0A, 0x04, 0x0A, 0x11},       /* # x */
    {0, 0x15, 0x0E, 0x1F, 0x0E, 0x15, 0},                                                   /* * */
};

static int text_width(const char *s, int scale) { return (int)strlen(s) * 6 * scale - scale; }

/* The 5x7 rows of a character: the font is upper case (plus 'x' for ratios); anything it
   lacks is drawn as '#'. */
static const unsigned char *glyph_rows(char ch) {
    if (ch >= 'a' && ch <= 'z' && ch != 'x') ch = (char)(ch - 'a' + 'A');
    const char *f = strchr(font_chars, ch);
    if (!f || !ch) f = strchr(font_chars, '#');
    return font_rows[f - font_chars];
}

static void draw_text(canvas *c, int x, int y, const char *s, int scale, uint32_t rgb) {
    for (; *s; s++, x += 6 * scale) {
        const unsigned char *g = glyph_rows(*s);
        for (int row = 0; row < 7; row++)
            for (int col = 0; col < 5; col++)
                if (g[row] & (0x10 >> col))
                    fill_rect(c, x + col * scale, y + row * scale, x + (col + 1) * scale, y + (row + 1) * scale, rgb);
    }
}

/* Text drawn bottom to top (the y axis label). */
static void draw_text_vertical(canvas *c, int x, int y_bottom, const char *s, int scale, uint32_t rgb) {
    int y = y_bottom;
    for (; *s; s++, y -= 6 * scale) {
        const unsigned char *g = glyph_rows(*s);
        for (int row = 0; row < 7; row++)
            for (int col = 0; col < 5; col++)
                if (g[row] & (0x10 >> col))
                    fill_rect(c, x + row * scale, y - (col + 1) * scale, x + (row + 1) * scale, y - col * scale, rgb);
    }
}

static double nice_step(double max, int ticks) {
    double raw = max / ticks, mag = pow(10, floor(log10(raw))), f = raw / mag;
    double nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
    return nf * mag;
}

static void fmt_value(double v, char *buf, size_t size) {
    if (v >= 1000) snprintf(buf, size, "%.0f", v);
    else if (v >= 100) snprintf(buf, size, "%.1f", v);
    else snprintf(buf, size, "%.2f", v);
}

#endif

static bool write_chart(const char *path, int W, int H, const char *title, bench_result *rs, int n,
                        const char *base_label, char *err, size_t err_size) {
#ifndef BENCH_HAVE_STB
    (void)path; (void)W; (void)H; (void)title; (void)rs; (void)n; (void)base_label;
    snprintf(err, err_size, "apr-bench was built without stb_image_write (install libstb-dev)");
    return false;
#else
    canvas c;
    c.w = W; c.h = H;
    c.px = (unsigned char *)xmalloc((size_t)W * (size_t)H * 3);
    fill_rect(&c, 0, 0, W, H, 0xFFFFFF);
    int s = (W >= 640 && H >= 360) ? 2 : 1;       /* font scale */
    int ch = 7 * s, cw = 6 * s;
    bool any_base = false, vary_threads = false, vary_model = false;
    double vmax = 0;
    for (int i = 0; i < n; i++) {
        any_base |= rs[i].has_baseline;
        if (rs[i].n_threads != rs[0].n_threads) vary_threads = true;
        if (strcmp(rs[i].model_path, rs[0].model_path) != 0) vary_model = true;
        if (rs[i].ts.mean > vmax) vmax = rs[i].ts.mean;
        if (rs[i].has_baseline && rs[i].base_ts > vmax) vmax = rs[i].base_ts;
    }
    if (!(vmax > 0)) vmax = 1;
    const uint32_t col_apr = 0x2E7D32, col_base = 0x1565C0, col_axis = 0x222222, col_grid = 0xDDDDDD;
    /* title and legend */
    draw_text(&c, (W - text_width(title, s)) / 2 > 4 ? (W - text_width(title, s)) / 2 : 4, 6 * s, title, s, col_axis);
    int ly = 6 * s + ch + 6 * s, lx = W / 2 - (any_base ? 12 + (int)strlen(base_label) : 4) * cw / 2;
    fill_rect(&c, lx, ly, lx + ch, ly + ch, col_apr);
    draw_text(&c, lx + ch + cw, ly, "apr", s, col_axis);
    if (any_base) {
        int bx = lx + ch + cw * 6;
        fill_rect(&c, bx, ly, bx + ch, ly + ch, col_base);
        draw_text(&c, bx + ch + cw, ly, base_label, s, col_axis);
    }
    /* plot area */
    double step = nice_step(vmax * 1.1, 5);
    double ymax = step * ceil(vmax * 1.12 / step);
    char lab[64];
    snprintf(lab, sizeof lab, "%g", ymax);
    int left = (int)strlen(lab) * cw + 3 * ch + 8, right = W - 10 * s;
    int top = ly + ch + 12 * s, bottom = any_base ? H - 3 * ch - 22 * s : H - 2 * ch - 16 * s;
    if (bottom - top < 20 || right - left < 20) { free(c.px); snprintf(err, err_size, "chart size too small"); return false; }
    for (double v = 0; v <= ymax + step * 0.01; v += step) {
        int y = bottom - (int)((bottom - top) * (v / ymax));
        fill_rect(&c, left, y, right, y + 1, col_grid);
        snprintf(lab, sizeof lab, "%g", v);
        draw_text(&c, left - text_width(lab, s) - 4 * s, y - ch / 2, lab, s, col_axis);
    }
    fill_rect(&c, left, top, left + s, bottom + 1, col_axis);
    fill_rect(&c, left, bottom, right, bottom + s, col_axis);
    draw_text_vertical(&c, 4 * s, (top + bottom) / 2 + text_width("tokens/s", s) / 2, "tokens/s", s, col_axis);
    /* bars */
    int bars = any_base ? 2 : 1;
    double gw = (double)(right - left) / n;
    for (int i = 0; i < n; i++) {
        bench_result *r = &rs[i];
        int gx = left + (int)(gw * i);
        int bw = (int)(gw * 0.7 / bars);
        if (bw < 2) bw = 2;
        int x0 = gx + (int)(gw * 0.15);
        for (int b = 0; b < bars; b++) {
            double v = b == 0 ? r->ts.mean : (r->has_baseline ? r->base_ts : NAN);
            if (!(v == v)) continue;
            int y = bottom - (int)((bottom - top) * (v / ymax));
            fill_rect(&c, x0 + b * bw, y, x0 + (b + 1) * bw - s, bottom, b == 0 ? col_apr : col_base);
            fmt_value(v, lab, sizeof lab);
            int tw = text_width(lab, s), tx = x0 + b * bw + (bw - tw) / 2;
            int ts_ = s;
            if (tw > bw + 4 * s && s > 1) { ts_ = 1; tw = text_width(lab, 1); tx = x0 + b * bw + (bw - tw) / 2; }
            draw_text(&c, tx, y - 7 * ts_ - 3 * s, lab, ts_, col_axis);
        }
        char name[64], full[96];
        test_name(r, name, sizeof name);
        int model_index = 0;
        for (int j = 1; j <= i; j++)
            if (strcmp(rs[j].model_path, rs[j - 1].model_path) != 0) model_index++;
        if (vary_model && vary_threads) snprintf(full, sizeof full, "%s m%d t%d", name, model_index + 1, r->n_threads);
        else if (vary_model) snprintf(full, sizeof full, "%s m%d", name, model_index + 1);
        else if (vary_threads) snprintf(full, sizeof full, "%s t%d", name, r->n_threads);
        else snprintf(full, sizeof full, "%s", name);
        int tw = text_width(full, s), tsc = s;
        if (tw > (int)gw && s > 1) { tsc = 1; tw = text_width(full, 1); }
        draw_text(&c, gx + ((int)gw - tw) / 2, bottom + 6 * s, full, tsc, col_axis);
        if (r->has_baseline) {
            snprintf(full, sizeof full, "%.2fx", r->ts.mean / r->base_ts);
            tw = text_width(full, tsc);
            draw_text(&c, gx + ((int)gw - tw) / 2, bottom + 6 * s + 7 * tsc + 5 * s, full, tsc, 0x666666);
        }
    }
    snprintf(lab, sizeof lab, "test (prompt pp, generation tg)");
    draw_text(&c, left + (right - left - text_width(lab, s)) / 2, H - ch - 4 * s, lab, s, col_axis);
    int ok = stbi_write_png(path, W, H, 3, c.px, W * 3);
    free(c.px);
    if (!ok) { snprintf(err, err_size, "cannot write %s", path); return false; }
    return true;
#endif
}

/* =====================================================================================
   Perplexity (llama-perplexity's method): the text is tokenized once (BOS first), cut
   into chunks of n_ctx tokens, each chunk evaluated from an empty cache with its first
   token replaced by BOS when the model adds one, and only the second half of each chunk
   scored, so every scored token has at least n_ctx/2 tokens of context.
   ===================================================================================== */

static int run_perplexity(const options *o) {
    apr_model *m = load_model(o->models[0], o->ngl.v[0], o->verbose);
    size_t len;
    char *text = read_text_file(o->text_file, &len);
    if (!text) die("cannot read %s", o->text_file);
    const apr_vocab *v = apr_model_vocab(m);
    int64_t nt = apr_tokenize(v, text, len, NULL, 0, APR_TOKENIZE_ADD_BOS);
    if (nt < 0) die("cannot tokenize %s", o->text_file);
    int32_t *toks = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)(nt + 1));
    nt = apr_tokenize(v, text, len, toks, nt + 1, APR_TOKENIZE_ADD_BOS);
    free(text);
    int n_ctx = o->ppl_ctx;
    int64_t n_chunk = nt / n_ctx;
    if (n_chunk < 1) die("%s has %lld tokens: fewer than one chunk of -c %d", o->text_file, (long long)nt, n_ctx);
    if (o->ppl_chunks > 0 && n_chunk > o->ppl_chunks) n_chunk = o->ppl_chunks;
    apr_context_params cp = apr_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_batch = o->batch.v[0] < n_ctx ? o->batch.v[0] : n_ctx;
    cp.n_threads = o->threads.v[0];
    cp.kv_type = o->kv_type;
    apr_context *ctx = NULL;
    apr_error err;
    memset(&err, 0, sizeof err);
    if (apr_context_create(m, &cp, &ctx, &err) != APR_SUCCESS) die("cannot create a context: %s", err.message);
    int first = n_ctx / 2;
    int32_t n_vocab = apr_model_n_vocab(m);
    int8_t *want = (int8_t *)xmalloc((size_t)n_ctx);
    for (int j = 0; j < n_ctx; j++) want[j] = (int8_t)(j >= first && j < n_ctx - 1);
    int32_t *chunk = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)n_ctx);
    double nll = 0, nll2 = 0;
    int64_t count = 0;
    double t0 = now_s();
    if (o->format == OUT_MD)
        printf("perplexity: %lld tokens, %lld chunks of %d (scoring the second half of each)\n", (long long)nt,
               (long long)n_chunk, n_ctx);
    for (int64_t c = 0; c < n_chunk; c++) {
        memcpy(chunk, toks + c * n_ctx, sizeof(int32_t) * (size_t)n_ctx);
        if (apr_vocab_add_bos(v) && apr_vocab_bos(v) >= 0) chunk[0] = apr_vocab_bos(v);
        apr_seq_truncate(ctx, 0, 0);
        apr_batch b;
        memset(&b, 0, sizeof b);
        b.n_tokens = n_ctx;
        b.tokens = chunk;
        b.want_logits = want;
        apr_result rc = apr_decode(ctx, &b);
        if (rc != APR_SUCCESS) die("chunk %lld: %s (%s)", (long long)c, apr_result_string(rc), apr_context_last_error(ctx));
        for (int j = first; j < n_ctx - 1; j++) {
            const float *lg = apr_get_logits(ctx, j - first);
            if (!lg) die("no logits for token %d of chunk %lld", j, (long long)c);
            double mx = lg[0];
            for (int32_t k = 1; k < n_vocab; k++) if (lg[k] > mx) mx = lg[k];
            double se = 0;
            for (int32_t k = 0; k < n_vocab; k++) se += exp((double)lg[k] - mx);
            int32_t target = toks[c * n_ctx + j + 1];
            double lp = (double)lg[target] - mx - log(se);
            nll += -lp;
            nll2 += lp * lp;
            count++;
        }
        if (o->format == OUT_MD) { printf("[%lld]%.4f,", (long long)c + 1, exp(nll / count)); fflush(stdout); }
        progress(o, "[apr-bench] perplexity chunk %lld/%lld, %.1f s", (long long)c + 1, (long long)n_chunk, now_s() - t0);
    }
    progress_end(o);
    double mean = nll / count, mean2 = nll2 / count;
    double ppl = exp(mean);
    double var = mean2 - mean * mean;
    double err_ppl = count > 1 && var > 0 ? ppl * sqrt(var / (double)(count - 1)) : 0;
    if (o->format == OUT_MD) {
        printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", ppl, err_ppl);
    } else {
        json_buf jb;
        json_buf_init(&jb);
        json_obj_begin(&jb);
        json_key(&jb, "model_filename"); json_strz(&jb, o->models[0]);
        json_key(&jb, "text_file"); json_strz(&jb, o->text_file);
        json_key(&jb, "n_tokens"); json_int(&jb, nt);
        json_key(&jb, "n_ctx"); json_int(&jb, n_ctx);
        json_key(&jb, "n_chunks"); json_int(&jb, n_chunk);
        json_key(&jb, "n_scored"); json_int(&jb, count);
        json_key(&jb, "perplexity"); json_double(&jb, ppl);
        json_key(&jb, "perplexity_error"); json_double(&jb, err_ppl);
        json_key(&jb, "seconds"); json_double(&jb, now_s() - t0);
        json_obj_end(&jb);
        printf("%s\n", jb.data);
        json_buf_free(&jb);
    }
    free(chunk); free(want); free(toks);
    apr_context_free(ctx);
    apr_model_free(m);
    return 0;
}

/* =====================================================================================
   main
   ===================================================================================== */

static int selftest_stats(int argc, char **argv, int first) {
    int n = argc - first;
    double *x = (double *)xmalloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) x[i] = atof(argv[first + i]);
    bench_stats s = compute_stats(x, n);
    json_buf b;
    json_buf_init(&b);
    json_obj_begin(&b);
    json_key(&b, "n"); json_int(&b, s.n);
    json_key(&b, "mean"); json_double(&b, s.mean);
    json_key(&b, "stddev"); json_double(&b, s.stddev);
    json_key(&b, "median"); json_double(&b, s.median);
    json_key(&b, "ci95"); json_double(&b, s.ci95);
    json_key(&b, "cv"); json_double(&b, s.cv);
    json_key(&b, "min"); json_double(&b, s.min);
    json_key(&b, "max"); json_double(&b, s.max);
    json_obj_end(&b);
    printf("%s\n", b.data);
    json_buf_free(&b);
    free(x);
    return 0;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--selftest-stats")) return selftest_stats(argc, argv, i + 1);
#if defined(_WIN32)
    WSADATA wsa;
    WSAStartup(MAKEWORD(2, 2), &wsa);
#endif
    options o;
    parse_args(&o, argc, argv);
    rng_state ^= o.seed * 0x9E3779B97F4A7C15ull;
    if (o.perplexity) {
        int rc = run_perplexity(&o);
        free_options(&o);
        return rc;
    }

    /* the test list, in llama-bench's order: prompts, generations, then pg pairs */
    typedef struct tspec { int p, g; } tspec;
    tspec *tests = NULL;
    int n_tests = 0;
    for (int i = 0; i < o.n_prompt.n; i++)
        if (o.n_prompt.v[i] > 0) { tests = (tspec *)xrealloc(tests, sizeof(tspec) * (size_t)(n_tests + 1)); tests[n_tests].p = o.n_prompt.v[i]; tests[n_tests++].g = 0; }
    for (int i = 0; i < o.n_gen.n; i++)
        if (o.n_gen.v[i] > 0) { tests = (tspec *)xrealloc(tests, sizeof(tspec) * (size_t)(n_tests + 1)); tests[n_tests].p = 0; tests[n_tests++].g = o.n_gen.v[i]; }
    for (int i = 0; i + 1 < o.pg.n; i += 2)
        if (o.pg.v[i] > 0 || o.pg.v[i + 1] > 0) { tests = (tspec *)xrealloc(tests, sizeof(tspec) * (size_t)(n_tests + 1)); tests[n_tests].p = o.pg.v[i]; tests[n_tests++].g = o.pg.v[i + 1]; }
    if (n_tests == 0 && !o.from) die("no tests: every -p, -n and -pg is 0");
    if (o.from && o.baseline_url) die("--from and --baseline-url: a server is measured beside a run, not a file");

    int n_res = o.n_models * o.ngl.n * o.threads.n * o.batch.n * n_tests * o.depth.n;
    double peak = o.peak_gbps;
    bench_result *rs;
    if (o.from) {
        result_load rl;
        memset(&rl, 0, sizeof rl);
        for (int f = 0; f < o.n_from; f++) for_each_json_row(o.from_files[f], result_row_fn, &rl);
        if (rl.n == 0) die("%s: no results with avg_ts", o.from);
        rs = rl.rs;
        n_res = rl.n;
        if (!(peak > 0)) peak = rl.peak_gbps;
    } else {
        rs = (bench_result *)calloc((size_t)n_res, sizeof(bench_result));
        if (!rs) die("out of memory");
    }
    common_info ci;
    memset(&ci, 0, sizeof ci);
    cpu_info(ci.cpu, sizeof ci.cpu);
    snprintf(ci.build_commit, sizeof ci.build_commit, "apr-%s", apr_version());

    base_row *brows = NULL;
    int n_brows = 0;
    char base_label[96] = "server";
    for (int f = 0; f < o.n_baseline_files; f++) {
        int nb = 0;
        char lab[96];
        base_row *more = load_llama_bench_json(o.baseline_files[f], &nb, lab, sizeof lab);
        brows = (base_row *)xrealloc(brows, sizeof(base_row) * (size_t)(n_brows + nb));
        memcpy(brows + n_brows, more, sizeof(base_row) * (size_t)nb);
        n_brows += nb;
        free(more);
        if (f == 0) snprintf(base_label, sizeof base_label, "%s", lab);
    }
    if (o.baseline_name) snprintf(base_label, sizeof base_label, "%s", o.baseline_name);

    int k = 0;
    bool any_cpu = false;
    for (int mi = 0; mi < o.n_models && !o.from; mi++) {
        for (int gi = 0; gi < o.ngl.n; gi++) {
            runner rn;
            memset(&rn, 0, sizeof rn);
            rn.model = load_model(o.models[mi], o.ngl.v[gi], o.verbose);
            rn.n_vocab = apr_model_n_vocab(rn.model);
            const apr_vocab *voc = apr_model_vocab(rn.model);
            rn.bos = voc ? apr_vocab_bos(voc) : -1;
            rn.add_bos = voc && apr_vocab_add_bos(voc);
            const char *backend = apr_model_backend(rn.model);
            if (backend && !strcmp(backend, "CPU")) any_cpu = true;
            if (o.verbose)
                fprintf(stderr, "[apr-bench] %s: %s, backend %s, decode bytes %.1f MB, SIMD %s\n", o.models[mi],
                        apr_model_arch(rn.model), backend, apr_model_decode_bytes(rn.model) * 1e-6, apr_cpu_simd_name());
            for (int ti = 0; ti < o.threads.n; ti++)
                for (int bi = 0; bi < o.batch.n; bi++)
                    for (int tj = 0; tj < n_tests; tj++)
                        for (int di = 0; di < o.depth.n; di++) {
                            bench_result *r = &rs[k++];
                            r->model_path = xstrdup(o.models[mi]);
                            snprintf(r->engine, sizeof r->engine, "apr");
                            apr_model_desc(rn.model, r->model_type, sizeof r->model_type);
                            r->model_size = apr_model_size(rn.model);
                            r->model_n_params = apr_model_n_params(rn.model);
                            snprintf(r->backend, sizeof r->backend, "%s", backend ? backend : "CPU");
                            snprintf(r->gpu_info, sizeof r->gpu_info, "%s", apr_model_gpu_name(rn.model) ? apr_model_gpu_name(rn.model) : "");
                            r->n_threads = o.threads.v[ti];
                            r->n_gpu_layers = o.ngl.v[gi];
                            r->n_batch = o.batch.v[bi];
                            r->n_prompt = tests[tj].p;
                            r->n_gen = tests[tj].g;
                            r->n_depth = o.depth.v[di];
                            run_test(&o, &rn, r, o.peak_gbps);
                            if (o.baseline_url) measure_server(&o, rn.model, r);
                        }
            free(rn.tokens);
            apr_model_free(rn.model);
        }
    }
    /* The roofline is measured after the tests so that its buffer stays out of the
       tests' peak RSS. */
    if (!(peak > 0) && any_cpu) {
        int mt = apr_cpu_count();
        for (int ti = 0; ti < o.threads.n; ti++) if (o.threads.v[ti] > mt) mt = o.threads.v[ti];
        progress(&o, "[apr-bench] measuring memory bandwidth");
        peak = measure_cpu_peak_gbps(mt, 256);
        progress_end(&o);
        if (o.verbose) fprintf(stderr, "[apr-bench] CPU read bandwidth (%d threads, 256 MiB): %.2f GB/s\n", mt, peak);
    }
    ci.peak_gbps = peak;
    for (int i = 0; i < n_res && brows; i++) {
        const base_row *br = match_baseline(brows, n_brows, &rs[i]);
        if (br) { rs[i].has_baseline = true; rs[i].base_ts = br->avg_ts; rs[i].base_sd = br->stddev_ts; }
    }
    for (int i = 0; i < n_res && !o.from; i++)
        if (rs[i].gbps == rs[i].gbps && peak > 0 && (!strcmp(rs[i].backend, "CPU") || o.peak_gbps > 0))
            rs[i].roofline_pct = 100.0 * rs[i].gbps / peak;
    if (o.format == OUT_JSON || o.format == OUT_JSONL) {
        if (o.format == OUT_JSON) printf("[\n");
        for (int i = 0; i < n_res; i++) {
            json_buf b;
            json_buf_init(&b);
            json_result(&b, &o, &ci, &rs[i]);
            if (o.format == OUT_JSONL) printf("%s\n", b.data);
            else printf("  %s%s\n", b.data, i + 1 < n_res ? "," : "");
            json_buf_free(&b);
        }
        if (o.format == OUT_JSON) printf("]\n");
    }
    else if (o.format == OUT_CSV) print_csv(&o, &ci, rs, n_res);
    else if (o.format == OUT_MD) {
        print_md(&o, rs, n_res, base_label);
        if (o.from) printf("\nresults from %s; t/s = mean ± sample stddev; 95%% CI of the mean (Student t); CV = stddev/mean", o.from);
        else printf("\n%s; %d run%s after %d warm-up; t/s = mean ± sample stddev; 95%% CI of the mean (Student t); "
                    "CV = stddev/mean", ci.cpu, o.reps, o.reps == 1 ? "" : "s", o.warmup);
        if (peak > 0) printf("; GB/s = bytes per token x median t/s, roofline %.2f GB/s (%s)", peak, o.peak_gbps > 0 ? "given" : o.from ? "from the file" : "measured read");
        uint64_t rss = 0;
        for (int i = 0; i < n_res; i++) if (rs[i].peak_rss > rss) rss = rs[i].peak_rss;
        uint64_t gmem = 0;
        int launches = 0;
        for (int i = 0; i < n_res; i++) {
            if (rs[i].gpu_memory > gmem) gmem = rs[i].gpu_memory;
            if (rs[i].launches_per_token > launches) launches = rs[i].launches_per_token;
        }
        printf("; peak RSS %.1f MiB", rss / 1048576.0);
        if (gmem) printf("; GPU memory %.1f MiB; %d kernel launches per decoded token", gmem / 1048576.0, launches);
        putchar('\n');
    }
    if (o.chart) {
        char title[256], err[200];
        snprintf(title, sizeof title, "%s, %s", rs[0].model_type, rs[0].backend);
        if (!write_chart(o.chart, o.chart_w, o.chart_h, title, rs, n_res, base_label, err, sizeof err)) die("chart: %s", err);
        if (o.verbose) fprintf(stderr, "[apr-bench] chart written to %s\n", o.chart);
    }
    for (int i = 0; i < n_res; i++) { free(rs[i].samples_ns); free(rs[i].samples_ts); free((char *)rs[i].model_path); }
    free(rs); free(tests); free(brows);
    free_options(&o);
    return 0;
}
