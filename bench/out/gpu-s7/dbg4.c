/* session 7 (dbg4): which intermediate vector differs at the off steps: qkv, attn_out, hidden, xw, gate */
#define APR_IMPLEMENTATION
#include "apr.h"
#include <stdio.h>
#include <math.h>
static apr_context *mk(apr_model *m, char kind) {
    if (kind == 'b') { setenv("APR_CUDA_MVS_ALL", "0", 1); setenv("APR_CUDA_NO_MVS", "1", 1); setenv("APR_CUDA_MVS_FFN", "0", 1); }
    else { unsetenv("APR_CUDA_NO_MVS"); setenv("APR_CUDA_MVS_FFN", "1", 1); setenv("APR_CUDA_MVS_ALL", "1", 1); }
    apr_context_params p = apr_context_default_params(); p.n_ctx = 128; p.n_batch = 32; apr_context *c = NULL; apr_error e;
    apr_context_create(m, &p, &c, &e); return c;
}
static double rd(const float *a, const float *b, size_t n, size_t *where) {
    double mx = 0, d = 0; *where = 0;
    for (size_t i = 0; i < n; i++) { if (fabs(b[i]) > mx) mx = fabs(b[i]); if (fabs(a[i]-b[i]) > d) { d = fabs(a[i]-b[i]); *where = i; } }
    return mx > 0 ? d / mx : d;
}
int main(int argc, char **argv) {
    const char *vocab = ".dev/gpu/shared/data/vocab/ggml-vocab-llama-spm.gguf";
    const char *type = argc > 1 ? argv[1] : "Q5_0";
    char path[256]; snprintf(path, sizeof path, "/tmp/tw-%s.gguf", type); apr_error e;
    if (apr_synthetic_model("test-wide", vocab, path, type, NULL, &e) != APR_SUCCESS) { printf("synth: %s\n", e.message); return 1; }
    apr_model_params mp = apr_model_default_params(); mp.n_gpu_layers = -1; apr_model *m = NULL;
    if (apr_model_load(path, &mp, &m, &e) != APR_SUCCESS) { printf("load: %s\n", e.message); return 1; }
    remove("/tmp/dd.1"); remove("/tmp/dd.2");
    setenv("DBG_DUMP", "/tmp/dd", 1);
    apr_context *a = mk(m, 'a'), *b = mk(m, 'b');
    int32_t t[5] = {1, 18, 45, 99, 8};
    apr_eval(a, t, 4, 0); apr_eval(b, t, 4, 0);
    int nv = apr_model_n_vocab(m);
    const float *lb0 = apr_get_logits(b, -1); int am = 0; for (int i = 0; i < nv; i++) if (lb0[i] > lb0[am]) am = i;
    int32_t t1 = am;
    double ld[8];
    for (int st = 0; st < 8; st++) {
        apr_eval(a, &t1, 1, 0); apr_eval(b, &t1, 1, 0);
        size_t w; ld[st] = rd(apr_get_logits(a, -1), apr_get_logits(b, -1), nv, &w);
        const float *lb = apr_get_logits(b, -1); am = 0; for (int i = 0; i < nv; i++) if (lb[i] > lb[am]) am = i;
        t1 = am;
    }
    const size_t E = 2304, QD = 2304, KVD = 256, F = 6144, rec = QD + 2 * KVD + QD + 2 * E + F;
    FILE *fa = fopen("/tmp/dd.1", "rb"), *fb = fopen("/tmp/dd.2", "rb");
    if (!fa || !fb) { printf("no dumps\n"); return 1; }
    float *va = malloc(rec * 4), *vb = malloc(rec * 4);
    const char *names[] = {"q", "k", "v", "attn_out", "hidden", "xw", "gate"};
    const size_t off[] = {0, QD, QD + KVD, QD + 2 * KVD, 2 * QD + 2 * KVD, 2 * QD + 2 * KVD + E, 2 * QD + 2 * KVD + 2 * E};
    const size_t len[] = {QD, KVD, KVD, QD, E, E, F};
    for (int st = 0; st < 8; st++) {
        if (fread(va, 4, rec, fa) != rec || fread(vb, 4, rec, fb) != rec) { printf("short dump\n"); return 1; }
        printf("%s step %d logits %.1e:", type, st, ld[st]);
        for (int k = 0; k < 7; k++) { size_t w; double d = rd(va + off[k], vb + off[k], len[k], &w); printf(" %s %.1e@%zu", names[k], d, w); }
        printf("\n");
    }
    return 0;
}
