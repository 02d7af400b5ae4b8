/* bench/cuda/xcheck.c - apr's CPU and GPU logits next to llama.cpp's CPU and CUDA logits and an
   exact reference, on one GGUF file: how far apart two correct implementations of the same
   quantized model are (issue 7's accuracy check, bench/NOTES.md session 15).
   cc -O2 -std=gnu99 -I. -o bench/cuda/xcheck bench/cuda/xcheck.c -lm -ldl -lpthread
   usage: bench/cuda/xcheck file.gguf LLAMA_CPU.bin|- LLAMA_CUDA.bin|-
   The .bin files come from bench/cuda/llamacpp_logits.c (same token ids, decoded one at a
   time from position 0). apr's GPU runs if libapr_cuda.so loads (APR_CUDA_PATH or ./).
   For every pair of sources (a against b): the measure, max|a-b| / max|b| of a
   step's logits, worst and median over the steps; the mean KL divergence of b's softmax
   to a's (what llama-perplexity --kl-divergence reports); top-1 agreement. */
#define APR_IMPLEMENTATION
#include "apr.h"
#include "refmodel.h"

enum { SRC_EXACT, SRC_APR_CPU, SRC_APR_GPU, SRC_LLAMA_CPU, SRC_LLAMA_CUDA, N_SRC };
static const char *src_name[N_SRC] = {"exact", "apr CPU", "apr GPU", "llama.cpp CPU", "llama.cpp CUDA"};

static float *read_llama_logits(const char *path, int n_vocab, int *steps, int32_t **tokens) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "%s: cannot open\n", path); return NULL; }
    int32_t nv = 0, ns = 0;
    float *logits = NULL;
    if (fread(&nv, 4, 1, f) == 1 && fread(&ns, 4, 1, f) == 1 && nv == n_vocab && ns > 0 && ns <= 4096) {
        *tokens = (int32_t *)malloc(4 * (size_t)ns);
        logits = (float *)malloc(sizeof(float) * (size_t)ns * (size_t)nv);
        if (fread(*tokens, 4, (size_t)ns, f) != (size_t)ns ||
            fread(logits, sizeof(float), (size_t)ns * (size_t)nv, f) != (size_t)ns * (size_t)nv) {
            free(logits);
            logits = NULL;
        }
        *steps = ns;
    }
    fclose(f);
    if (!logits) fprintf(stderr, "%s: not %d-wide logits from llamacpp_logits\n", path, n_vocab);
    return logits;
}

/* apr's logits for the same tokens, one decode step each; NULL if the backend asked for is
   not what loaded (no GPU plugin) */
static float *apr_logits(const char *path, bool cpu_only, const int32_t *tokens, int steps, int n_vocab) {
    apr_model_params mp = apr_model_default_params();
    mp.cpu_only = cpu_only;
    mp.n_gpu_layers = cpu_only ? 0 : -1;
    apr_model *m = NULL;
    apr_error err;
    if (apr_model_load(path, &mp, &m, &err) != APR_SUCCESS) { fprintf(stderr, "%s: %s\n", path, err.message); return NULL; }
    if (!cpu_only && strcmp(apr_model_backend(m), "CUDA") != 0) { apr_model_free(m); return NULL; }
    apr_context_params cp = apr_context_default_params();
    cp.n_ctx = steps + 16;
    apr_context *c = NULL;
    float *out = NULL;
    if (apr_context_create(m, &cp, &c, &err) == APR_SUCCESS) {
        out = (float *)malloc(sizeof(float) * (size_t)steps * (size_t)n_vocab);
        for (int i = 0; i < steps && out; i++) {
            int32_t t = tokens[i];
            if (apr_eval(c, &t, 1, 0) != APR_SUCCESS) { free(out); out = NULL; break; }
            memcpy(out + (size_t)i * n_vocab, apr_get_logits(c, -1), sizeof(float) * (size_t)n_vocab);
        }
        apr_context_free(c);
    }
    apr_model_free(m);
    return out;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s file.gguf LLAMA_CPU.bin|- LLAMA_CUDA.bin|-\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    ref_model m;
    if (ref_model_open(&m, path)) return 1;
    const int nv = m.view.hp.n_vocab;
    float *logits[N_SRC] = {0};
    int32_t *tokens = NULL;
    int steps = 0;
    for (int s = 0; s < 2; s++) {
        const char *f = argv[2 + s];
        if (!strcmp(f, "-")) continue;
        int32_t *t = NULL;
        int n = 0;
        logits[SRC_LLAMA_CPU + s] = read_llama_logits(f, nv, &n, &t);
        if (!logits[SRC_LLAMA_CPU + s]) return 1;
        if (tokens && (n != steps || memcmp(t, tokens, 4 * (size_t)n))) { fprintf(stderr, "%s: other tokens\n", f); return 1; }
        free(tokens);
        tokens = t;
        steps = n;
    }
    if (!tokens) { fprintf(stderr, "no llama.cpp logits given\n"); return 2; }

    ref_ctx rc;
    ref_init(&rc, &m.view, steps + 16, 1);
    logits[SRC_EXACT] = (float *)malloc(sizeof(float) * (size_t)steps * (size_t)nv);
    for (int i = 0; i < steps; i++) ref_step(&rc, tokens[i], i, 0, logits[SRC_EXACT] + (size_t)i * nv);
    logits[SRC_APR_CPU] = apr_logits(path, true, tokens, steps, nv);
    logits[SRC_APR_GPU] = apr_logits(path, false, tokens, steps, nv);

    printf("%s: %d decode steps, vocab %d\n", path, steps, nv);
    printf("  %-15s %-15s %10s %10s %10s %8s\n", "a", "against b", "worst rel", "median rel", "mean KL", "top-1");
    double *rel = (double *)malloc(sizeof(double) * (size_t)steps);
    for (int a = 1; a < N_SRC; a++) {
        for (int b = 0; b < a; b++) {
            if (!logits[a] || !logits[b]) continue;
            double kl = 0;
            int same_top = 0;
            for (int i = 0; i < steps; i++) {
                const float *la = logits[a] + (size_t)i * nv, *lb = logits[b] + (size_t)i * nv;
                rel[i] = rel_err(la, lb, nv);
                kl += kl_div(la, lb, nv);
                same_top += argmax_f(la, nv) == argmax_f(lb, nv);
            }
            qsort(rel, (size_t)steps, sizeof *rel, cmp_double);
            printf("  %-15s %-15s %10.2e %10.2e %10.2e %4d/%-3d\n", src_name[a], src_name[b], rel[steps - 1],
                   rel[steps / 2], kl / steps, same_top, steps);
        }
    }
    free(rel);
    for (int s = 0; s < N_SRC; s++) free(logits[s]);
    free(tokens);
    ref_free(&rc);
    ref_model_close(&m);
    return 0;
}
