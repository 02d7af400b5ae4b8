/* bench/cuda/offsteps.c - per-step logit differences of test-wide (one layer, attn_output bias):
   all-k_mvs (a) against the k_mvw reference (b), a against itself, and the f32 form (f:
   k_mvs for gate/up and output only) against b; prompts of 3, 4 and 5 tokens, 8 steps each.
   Device only; run from the repo root with the llama-spm vocabulary at
   .dev/gpu/shared/data/vocab/ (a git-ignored copy of ../shared):
     cc -O2 -std=c99 -I. -o /tmp/offsteps bench/cuda/offsteps.c -lm -lpthread -ldl
     APR_CUDA_PATH=$PWD/libapr_cuda.so /tmp/offsteps Q5_0 Q4_K_M
   bench/NOTES.md, session 7 (the open off steps). */
#define APR_IMPLEMENTATION
#include "apr.h"
#include <stdio.h>
#include <math.h>
static apr_context *mk(apr_model *m, char kind) {
    if (kind == 'b') { setenv("APR_CUDA_MVS_ALL", "0", 1); setenv("APR_CUDA_NO_MVS", "1", 1); setenv("APR_CUDA_MVS_FFN", "0", 1); }
    else { unsetenv("APR_CUDA_NO_MVS"); setenv("APR_CUDA_MVS_FFN", "1", 1); setenv("APR_CUDA_MVS_ALL", kind == 'a' ? "1" : "0", 1); }
    apr_context_params p = apr_context_default_params(); p.n_ctx = 128; p.n_batch = 32; apr_context *c = NULL; apr_error e;
    apr_context_create(m, &p, &c, &e); return c;
}
static double diff(const float *la, const float *lb, int nv, int *am) {
    double mx = 0, d = 0; *am = 0;
    for (int i = 0; i < nv; i++) { if (fabs(lb[i]) > mx) mx = fabs(lb[i]); if (fabs(la[i]-lb[i]) > d) d = fabs(la[i]-lb[i]); if (lb[i] > lb[*am]) *am = i; }
    return d / mx;
}
int main(int argc, char **argv) {
    const char *vocab = ".dev/gpu/shared/data/vocab/ggml-vocab-llama-spm.gguf";
    for (int ai = 1; ai < argc; ai++) {
        char path[256]; snprintf(path, sizeof path, "/tmp/tw-%s.gguf", argv[ai]); apr_error e;
        if (apr_synthetic_model("test-wide", vocab, path, argv[ai], NULL, &e) != APR_SUCCESS) { printf("synth: %s\n", e.message); return 1; }
        apr_model_params mp = apr_model_default_params(); mp.n_gpu_layers = -1; apr_model *m = NULL;
        if (apr_model_load(path, &mp, &m, &e) != APR_SUCCESS) { printf("load: %s\n", e.message); return 1; }
        int nv = apr_model_n_vocab(m);
        const char *pairs[] = {"ab", "aa", "fb"};  /* f: the f32 form (k_mvs for gate/up and output only) */
        for (int pi = 0; pi < 3; pi++) {
            for (int pr = 0; pr < 3; pr++) {
                apr_context *a = mk(m, pairs[pi][0]), *b = mk(m, pairs[pi][1]);
                int32_t t[5] = {1, 17 + pr, 42 + 3 * pr, 99, 7 + pr};
                int np = 3 + pr;
                apr_eval(a, t, np, 0); apr_eval(b, t, np, 0);
                int am; double d0 = diff(apr_get_logits(a, -1), apr_get_logits(b, -1), nv, &am);
                printf("%s %s prompt %d (prefill %.1e):", argv[ai], pairs[pi], np, d0);
                int32_t t1 = am;
                for (int st = 0; st < 8; st++) {
                    apr_eval(a, &t1, 1, 0); apr_eval(b, &t1, 1, 0);
                    printf(" %.1e", diff(apr_get_logits(a, -1), apr_get_logits(b, -1), nv, &am));
                    t1 = am;
                }
                printf("\n");
                apr_context_free(a); apr_context_free(b);
            }
        }
        apr_model_free(m);
    }
    return 0;
}
