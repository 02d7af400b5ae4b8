/* session 26 (experiment): 7B logits with APR_CUDA_FFN_EARLY on and off, 12 decode steps */
#define APR_IMPLEMENTATION
#include "../../apr.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static apr_context *mk(apr_model *m) {
    apr_context_params cp = apr_context_default_params();
    cp.n_ctx = 256; cp.n_seq = 1; cp.n_batch = 32;
    apr_context *c = NULL; apr_error err;
    if (apr_context_create(m, &cp, &c, &err) != APR_SUCCESS) { fprintf(stderr, "ctx: %s\n", err.message); exit(1); }
    return c;
}
int main(int argc, char **argv) {
    apr_model_params mp = apr_model_default_params();
    mp.n_gpu_layers = 99;
    apr_model *m = NULL; apr_error err;
    if (apr_model_load(argv[1], &mp, &m, &err) != APR_SUCCESS) { fprintf(stderr, "load: %s\n", err.message); return 1; }
    setenv("APR_CUDA_FFN_EARLY", argc > 2 ? argv[2] : "2", 1);
    apr_context *a = mk(m);
    unsetenv("APR_CUDA_FFN_EARLY");
    apr_context *b = mk(m);
    const int nv = apr_model_n_vocab(m);
    int32_t toks[5] = {1, 17, 42, 99, 7}, t = 7;
    if (apr_eval(a, toks, 5, 0) || apr_eval(b, toks, 5, 0)) return 1;
    int exact = 0;
    for (int s = 0; s < 12; s++) {
        if (apr_eval(a, &t, 1, 0) || apr_eval(b, &t, 1, 0)) return 1;
        const float *la = apr_get_logits(a, -1), *lb = apr_get_logits(b, -1);
        exact += memcmp(la, lb, sizeof(float) * nv) == 0;
        int best = 0; for (int i = 1; i < nv; i++) if (lb[i] > lb[best]) best = i;
        t = best;
    }
    printf("EARLY vs off, 7B: %d of 12 steps bit-identical\n", exact);
    return exact == 12 ? 0 : 2;
}
