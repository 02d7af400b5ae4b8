/* bench/cuda/check.c - GPU logits against a float CPU reference, for any GGUF file.
   cc -O2 -std=gnu99 -I. -o bench/cuda/check bench/cuda/check.c -lm -ldl -lpthread
   usage: bench/cuda/check [--greedy N] file.gguf...   (libapr_cuda.so from APR_CUDA_PATH or ./)
   Scenario per file: a 20-token prompt (GEMM path), a 5-token prompt on a second sequence
   with logits for every token (matvec, 5 columns), 8 single-token steps (CUDA graph),
   a 2-sequence batched step, a 12-token batch with all logits (GEMM output), argmax
   agreement; prints the max relative error max|gpu-cpu|/max|cpu| of every step. */
#define APR_IMPLEMENTATION
#include "apr.h"
#include "refmodel.h"

static void logfn(void *u, apr_log_level lv, const char *m) { (void)u; fprintf(stderr, "[%d] %s\n", lv, m); }

static const apr_backend_vtable *vt;
static unsigned rng = 12345;
static int rnd(int n) { rng = rng * 1103515245u + 12345u; return (int)((rng >> 8) % (unsigned)n); }

static double worst;
static void cmp(const char *what, const float *g, const float *c, int n) {
    double e = rel_err(g, c, n);
    if (!(e <= worst)) worst = e;
    printf("    %-28s rel err %.2e  argmax gpu %d cpu %d\n", what, e, argmax_f(g, n), argmax_f(c, n));
}

static int run_file(const char *path, int greedy) {
    ref_model m;
    if (ref_model_open(&m, path)) return 1;
    const apr_hparams *hp = &m.view.hp;
    const int V = hp->n_vocab;
    printf("%s: arch %d, embd %d, layers %d, heads %d/%d, hd %d, ff %d, vocab %d, types q=%s ffn_down=%s out=%s\n",
           path, hp->arch, hp->n_embd, hp->n_layer, hp->n_head, hp->n_head_kv, hp->head_dim, hp->n_ff, V,
           apr_type_name(m.layers[0].wq.type), apr_type_name(m.layers[0].ffn_down.type),
           apr_type_name(m.view.output.type));
    apr_backend_host host;
    memset(&host, 0, sizeof host);
    host.log = logfn;
    void *ms = NULL, *cs = NULL;
    char err[512];
    if (vt->model_load(&m.view, &host, -1, &ms, err, sizeof err) != APR_SUCCESS) {
        printf("  model_load failed: %s\n", err);
        return 1;
    }
    apr_backend_context_params cp = {256, 2, 32, 1, APR_KV_F16};
    if (vt->context_create(ms, &cp, &cs, err, sizeof err) != APR_SUCCESS) {
        printf("  context_create failed: %s\n", err);
        return 1;
    }
    ref_ctx rc;
    ref_init(&rc, &m.view, 256, 2);
    float *lg = (float *)malloc(sizeof(float) * V * 16), *lc = (float *)malloc(sizeof(float) * V * 16);
    int32_t toks[32], pos[32], seq[32], rows[32], am[32];
    worst = 0;
    int fails = 0;
    /* 1. 20-token prompt on seq 0, last logits */
    for (int i = 0; i < 20; i++) { toks[i] = rnd(V); pos[i] = i; seq[i] = 0; }
    rows[0] = 19;
    apr_backend_batch b = {20, toks, pos, seq, rows, 1};
    if (vt->forward(cs, &b, lg) != APR_SUCCESS) { printf("  forward failed\n"); return 1; }
    for (int i = 0; i < 20; i++) ref_step(&rc, toks[i], i, 0, lc);
    cmp("prompt 20 (gemm)", lg, lc, V);
    /* 2. 5-token prompt on seq 1, all logits */
    for (int i = 0; i < 5; i++) { toks[i] = rnd(V); pos[i] = i; seq[i] = 1; rows[i] = i; }
    apr_backend_batch b2 = {5, toks, pos, seq, rows, 5};
    if (vt->forward(cs, &b2, lg) != APR_SUCCESS) { printf("  forward failed\n"); return 1; }
    for (int i = 0; i < 5; i++) {
        ref_step(&rc, toks[i], i, 1, lc);
        char w[64];
        snprintf(w, sizeof w, "seq1 prompt tok %d (mv5)", i);
        cmp(w, lg + (size_t)i * V, lc, V);
    }
    /* 3. single-token steps on seq 0 (graph), logits and argmax */
    int p0 = 20, p1 = 5;
    for (int s = 0; s < 8; s++) {
        toks[0] = rnd(V); pos[0] = p0; seq[0] = 0; rows[0] = 0;
        apr_backend_batch b1 = {1, toks, pos, seq, rows, 1};
        if (vt->forward(cs, &b1, lg) != APR_SUCCESS) { printf("  forward failed\n"); return 1; }
        ref_step(&rc, toks[0], p0, 0, lc);
        char w[64];
        snprintf(w, sizeof w, "decode pos %d (graph)", p0);
        cmp(w, lg, lc, V);
        p0++;
    }
    /* argmax path: re-run the last position (overwrites the same KV slot) */
    {
        pos[0] = p0 - 1;
        apr_backend_batch b1 = {1, toks, pos, seq, rows, 1};
        if (vt->forward_argmax(cs, &b1, am) != APR_SUCCESS) { printf("  argmax failed\n"); return 1; }
        printf("    argmax graph %d, gpu logits argmax %d\n", am[0], argmax_f(lg, V));
        if (am[0] != argmax_f(lg, V)) fails++;
    }
    /* 4. batched decode of both sequences */
    toks[0] = rnd(V); pos[0] = p0; seq[0] = 0; rows[0] = 0;
    toks[1] = rnd(V); pos[1] = p1; seq[1] = 1; rows[1] = 1;
    apr_backend_batch b3 = {2, toks, pos, seq, rows, 2};
    if (vt->forward(cs, &b3, lg) != APR_SUCCESS) { printf("  forward failed\n"); return 1; }
    ref_step(&rc, toks[0], p0, 0, lc);
    cmp("batched seq0", lg, lc, V);
    ref_step(&rc, toks[1], p1, 1, lc);
    cmp("batched seq1", lg + V, lc, V);
    if (vt->forward_argmax(cs, &b3, am) != APR_SUCCESS) { printf("  argmax failed\n"); return 1; }
    if (am[0] != argmax_f(lg, V) || am[1] != argmax_f(lg + V, V)) { printf("    batched argmax mismatch\n"); fails++; }
    p0++; p1++;
    /* 5. 12 tokens on seq 1 with every logit (GEMM output) */
    for (int i = 0; i < 12; i++) { toks[i] = rnd(V); pos[i] = p1 + i; seq[i] = 1; rows[i] = i; }
    apr_backend_batch b4 = {12, toks, pos, seq, rows, 12};
    if (vt->forward(cs, &b4, lg) != APR_SUCCESS) { printf("  forward failed\n"); return 1; }
    double w12 = 0;
    for (int i = 0; i < 12; i++) {
        ref_step(&rc, toks[i], p1 + i, 1, lc);
        double e = rel_err(lg + (size_t)i * V, lc, V);
        if (e > w12) w12 = e;
    }
    if (!(w12 <= worst)) worst = w12;
    printf("    %-28s rel err %.2e\n", "12 tokens all logits (gemm)", w12);
    /* 6. greedy generation from BOS on a fresh sequence: GPU argmax graph vs CPU */
    if (greedy > 0) {
        ref_ctx rg;
        ref_init(&rg, &m.view, 256, 1);
        apr_backend_context_params cp1 = {256, 1, 32, 1, APR_KV_F16};
        void *cg;
        vt->context_create(ms, &cp1, &cg, err, sizeof err);
        int tg = 1, tc = 1, same = 1;
        for (int i = 0; i < greedy && i < 255; i++) {
            toks[0] = tg; pos[0] = i; seq[0] = 0; rows[0] = 0;
            apr_backend_batch bg = {1, toks, pos, seq, rows, 1};
            vt->forward_argmax(cg, &bg, am);
            ref_step(&rg, tc, i, 0, lc);
            tg = am[0];
            tc = argmax_f(lc, V);
            if (tg != tc) { printf("    greedy differs at step %d: gpu %d cpu %d\n", i, tg, tc); same = 0; fails++; break; }
        }
        if (same) printf("    greedy %d tokens: identical\n", greedy);
        printf("    launches per token: %d\n", vt->launches_per_token(cg));
        vt->context_free(cg);
    }
    const char *tn = apr_type_name(m.layers[0].wq.type);
    const double tol = (!strcmp(tn, "F32") || !strcmp(tn, "F16") || !strcmp(tn, "BF16")) ? 1e-3 : 1e-2;
    printf("  %s max rel err %.2e (tolerance %.0e): %s\n", path, worst, tol, worst <= tol && !fails ? "PASS" : "FAIL");
    printf("  device %s, memory used %.1f MiB\n", vt->device_name(ms), vt->memory_used(ms) / 1048576.0);
    vt->context_free(cs);
    vt->model_free(ms);
    return worst <= tol && !fails ? 0 : 1;
}

int main(int argc, char **argv) {
    apr__logger lg = {logfn, NULL, APR_LOG_DEBUG};
    void *lib;
    if (!apr__cuda_plugin_open(NULL, &lg, &lib, &vt)) return 2;
    int greedy = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--greedy") && i + 1 < argc) { greedy = atoi(argv[++i]); continue; }
        bad += run_file(argv[i], greedy);
    }
    printf("%d file(s) failed\n", bad);
    apr__cuda_plugin_close(lib);
    return bad ? 1 : 0;
}
