/* bench/cuda/bench.c - speed of the CUDA plugin on synthetic Qwen2.5 models built in
   memory (real dimensions, llama.cpp's Q4_K_M type mix, random blocks with sane scales),
   same protocol as llama-bench: 1 warm-up + 5 repetitions, mean +- stddev.
   cc -O2 -std=gnu99 -I. -o bench/cuda/bench bench/cuda/bench.c -lm -ldl -lpthread
   usage: bench [0.5B|1.5B|7B|32B]... [--no-depth] */
#define APR_IMPLEMENTATION
#include "apr.h"
#include <time.h>

static void logfn(void *u, apr_log_level lv, const char *m) { (void)u; (void)lv; fprintf(stderr, "  log: %s\n", m); }
static const apr_backend_vtable *vt;

static uint64_t rs = 88172645463325252ull;
static uint64_t xr(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return rs; }

static void fill_rand(uint8_t *p, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) { uint64_t v = xr(); memcpy(p + i, &v, 8); }
    for (; i < n; i++) p[i] = (uint8_t)xr();
}
static void put_h(uint8_t *p, float f) { uint16_t h = apr__fp32_to_fp16(f); memcpy(p, &h, 2); }

/* random blocks; every f16 scale field set to a small sane value */
static void *make_tensor(apr_tensor_view *v, int type, int64_t cols, int64_t rows) {
    memset(v, 0, sizeof *v);
    v->type = type;
    v->n_dims = rows > 1 ? 2 : 1;
    v->ne[0] = cols; v->ne[1] = rows; v->ne[2] = v->ne[3] = 1;
    size_t bb = (size_t)apr_type_block_bytes(type), be = (size_t)apr_type_block_size(type);
    size_t nblk = (size_t)(cols / be) * rows, n = nblk * bb;
    uint8_t *p = (uint8_t *)malloc(n);
    if (type == APR_TYPE_F32) {
        float *f = (float *)p;
        for (size_t i = 0; i < (size_t)cols * rows; i++) f[i] = 1.0f + 0.01f * (float)(xr() % 100);
    } else {
        fill_rand(p, n);
        for (size_t b = 0; b < nblk; b++) {
            uint8_t *q = p + b * bb;
            switch (type) {
            case APR_TYPE_Q4_K: put_h(q, 0.001f); put_h(q + 2, 0.001f); break;
            case APR_TYPE_Q6_K: put_h(q + 208, 0.001f); break;
            case APR_TYPE_Q5_0: case APR_TYPE_Q8_0: put_h(q, 0.001f); break;
            }
        }
    }
    v->data = p;
    v->size = n;
    return p;
}

typedef struct { const char *name; int E, L, H, KV, F, V; bool tied; } dims;
static const dims DIMS[] = {
    {"0.5B", 896, 24, 14, 2, 4864, 151936, true},
    {"1.5B", 1536, 28, 12, 2, 8960, 151936, true},
    {"7B", 3584, 28, 28, 4, 18944, 151936, false},
    {"32B", 5120, 64, 40, 8, 27648, 151936, false},
};

/* llama.cpp's Q4_K_M choice, with its fallbacks for rows that are not multiples of 256 */
static int qtype(int want, int64_t cols) {
    if (cols % 256 == 0) return want;
    return want == APR_TYPE_Q6_K ? APR_TYPE_Q8_0 : APR_TYPE_Q5_0;
}
static bool more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static void stats(const double *v, int n, double *mean, double *sd) {
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) q += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(q / (n - 1)) : 0;
}

static bool skip_pp;
static int bench(const dims *d, bool depth) {
    apr_model_view mv;
    memset(&mv, 0, sizeof mv);
    apr_hparams *hp = &mv.hp;
    hp->arch = APR_ARCH_QWEN2; hp->n_vocab = d->V; hp->n_embd = d->E; hp->n_layer = d->L; hp->n_head = d->H;
    hp->n_head_kv = d->KV; hp->head_dim = d->E / d->H; hp->n_ff = d->F; hp->n_ctx_train = 32768;
    hp->norm_eps = 1e-6f; hp->rope_freq_base = 1e6f; hp->rope_freq_scale = 1; hp->rope_dim = hp->head_dim;
    hp->rope_kind = APR_ROPE_NEOX;
    const int hd = hp->head_dim, qd = d->H * hd, kvd = d->KV * hd;
    uint64_t bytes = 0, decode_bytes = 0;
    make_tensor(&mv.tok_embd, qtype(d->tied ? APR_TYPE_Q6_K : APR_TYPE_Q4_K, d->E), d->E, d->V);
    bytes += mv.tok_embd.size;
    if (d->tied) mv.output = mv.tok_embd;
    else { make_tensor(&mv.output, qtype(APR_TYPE_Q6_K, d->E), d->E, d->V); bytes += mv.output.size; }
    decode_bytes += mv.output.size;
    make_tensor(&mv.output_norm, APR_TYPE_F32, d->E, 1);
    apr_layer_view *L = (apr_layer_view *)calloc(d->L, sizeof *L);
    for (int l = 0; l < d->L; l++) {
        int q4 = APR_TYPE_Q4_K, hv = more_bits(l, d->L) ? APR_TYPE_Q6_K : APR_TYPE_Q4_K;
        make_tensor(&L[l].attn_norm, APR_TYPE_F32, d->E, 1);
        make_tensor(&L[l].ffn_norm, APR_TYPE_F32, d->E, 1);
        make_tensor(&L[l].wq, qtype(q4, d->E), d->E, qd);
        make_tensor(&L[l].wk, qtype(q4, d->E), d->E, kvd);
        make_tensor(&L[l].wv, qtype(hv, d->E), d->E, kvd);
        make_tensor(&L[l].wo, qtype(q4, qd), qd, d->E);
        make_tensor(&L[l].bq, APR_TYPE_F32, qd, 1);
        make_tensor(&L[l].bk, APR_TYPE_F32, kvd, 1);
        make_tensor(&L[l].bv, APR_TYPE_F32, kvd, 1);
        make_tensor(&L[l].ffn_gate, qtype(q4, d->E), d->E, d->F);
        make_tensor(&L[l].ffn_up, qtype(q4, d->E), d->E, d->F);
        make_tensor(&L[l].ffn_down, qtype(hv, d->F), d->F, d->E);
        uint64_t lb = L[l].wq.size + L[l].wk.size + L[l].wv.size + L[l].wo.size + L[l].ffn_gate.size +
                      L[l].ffn_up.size + L[l].ffn_down.size;
        bytes += lb;
        decode_bytes += lb;
    }
    mv.layers = L;
    printf("== Qwen2.5-%s synthetic Q4_K_M: %.1f MiB of weights, %.1f MB read per token (no KV)\n", d->name,
           bytes / 1048576.0, decode_bytes / 1e6);
    apr_backend_host host;
    memset(&host, 0, sizeof host);
    host.log = logfn;
    void *ms, *cs;
    char err[512];
    double t0 = now();
    if (vt->model_load(&mv, &host, -1, &ms, err, sizeof err) != APR_SUCCESS) { printf("load failed: %s\n", err); return 1; }
    printf("   load %.2f s\n", now() - t0);
    apr_backend_context_params cp = {depth ? 4096 + 256 : 1024, 1, 512, 1, APR_KV_F16};
    if (vt->context_create(ms, &cp, &cs, err, sizeof err) != APR_SUCCESS) { printf("ctx failed: %s\n", err); return 1; }
    int32_t *tok = (int32_t *)malloc(sizeof(int32_t) * 512), *pos = (int32_t *)malloc(sizeof(int32_t) * 512);
    int32_t *seq = (int32_t *)calloc(512, sizeof(int32_t)), row, out;
    for (int i = 0; i < 512; i++) { tok[i] = (int32_t)(xr() % d->V); pos[i] = i; }
    /* pp512 */
    double v[6], mean, sd;
    for (int r = 0; r < (skip_pp ? 0 : 6); r++) {
        row = 511;
        apr_backend_batch b = {512, tok, pos, seq, &row, 1};
        double t = now();
        if (vt->forward_argmax(cs, &b, &out) != APR_SUCCESS) { printf("pp failed\n"); return 1; }
        v[r] = 512 / (now() - t);
    }
    if (!skip_pp) stats(v + 1, 5, &mean, &sd);
    if (!skip_pp) printf("   pp512          %10.1f +- %.1f tok/s\n", mean, sd);
    /* tg128 from an empty context */
    for (int r = 0; r < 6; r++) {
        int32_t t1 = 1, p1;
        double t = now();
        for (int i = 0; i < 128; i++) {
            p1 = i; row = 0;
            apr_backend_batch b = {1, &t1, &p1, seq, &row, 1};
            if (vt->forward_argmax(cs, &b, &out) != APR_SUCCESS) { printf("tg failed\n"); return 1; }
            t1 = out;
        }
        v[r] = 128 / (now() - t);
    }
    stats(v + 1, 5, &mean, &sd);
    printf("   tg128          %10.1f +- %.1f tok/s   launches/token %d   roofline (3.0 TB/s) %.0f tok/s\n", mean, sd,
           vt->launches_per_token(cs), 3.0e12 / decode_bytes);
    if (depth) {
        for (int c = 0; c < 8; c++) {
            for (int i = 0; i < 512; i++) pos[i] = c * 512 + i;
            row = 511;
            apr_backend_batch b = {512, tok, pos, seq, &row, 1};
            if (vt->forward_argmax(cs, &b, &out) != APR_SUCCESS) { printf("fill failed\n"); return 1; }
        }
        for (int r = 0; r < 6; r++) {
            int32_t t1 = 1, p1;
            double t = now();
            for (int i = 0; i < 128; i++) {
                p1 = 4096 + i; row = 0;
                apr_backend_batch b = {1, &t1, &p1, seq, &row, 1};
                if (vt->forward_argmax(cs, &b, &out) != APR_SUCCESS) { printf("tg failed\n"); return 1; }
                t1 = out;
            }
            v[r] = 128 / (now() - t);
        }
        stats(v + 1, 5, &mean, &sd);
        printf("   tg128 @ d4096  %10.1f +- %.1f tok/s\n", mean, sd);
    }
    printf("   GPU memory used by apr: %.1f MiB\n", vt->memory_used(ms) / 1048576.0);
    vt->context_free(cs);
    vt->model_free(ms);
    return 0;
}

int main(int argc, char **argv) {
    apr__logger lg = {logfn, NULL, APR_LOG_DEBUG};
    void *lib;
    if (!apr__cuda_plugin_open(NULL, &lg, &lib, &vt)) return 2;
    bool depth = true;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--no-depth")) depth = false;
        else if (!strcmp(argv[i], "--tg-only")) skip_pp = true;
    for (int i = 1; i < argc; i++)
        for (size_t k = 0; k < sizeof DIMS / sizeof DIMS[0]; k++)
            if (!strcmp(argv[i], DIMS[k].name)) bench(&DIMS[k], depth);
    return 0;
}
