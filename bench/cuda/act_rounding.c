/* bench/cuda/act_rounding.c - how far apart can two correct implementations of a
   quantized model be? CPU only (no GPU, no plugin):

     cc -O2 -std=gnu99 -I. -o /tmp/act_rounding bench/cuda/act_rounding.c -lm -ldl -lpthread
     /tmp/act_rounding ../shared/data/quant/tiny-llama-Q4_K.gguf ...
     (add -DAPR_NO_SIMD to run apr's scalar kernels instead of its SIMD ones)

   Per file: 40 random tokens decoded one at a time by apr's CPU backend and by the float
   reference of refmodel.h with four activation roundings: exact, the CPU's own scheme
   (same groups, same scales, same round-to-nearest-even; see ref_round_act), groups of 16
   and groups of 32 with f32 scales (what the GPU's decode kernels use). Prints the worst
   max|a-b|/max|b| of the logits over the 40 steps (tests/test_cuda.c's measure) for each
   reference against the CPU, and for each rounded reference against the exact one. */
#define APR_IMPLEMENTATION
#include "apr.h"
#include "refmodel.h"

enum { STEPS = 40, NREF = 4 };

int main(int argc, char **argv) {
    static const int rounding[NREF] = {REF_ROUND_EXACT, REF_ROUND_CPU, 16, 32};
    if (argc < 2) {
        fprintf(stderr, "usage: %s file.gguf...\n", argv[0]);
        return 2;
    }
    printf("%-24s %-36s %s\n", "", "reference vs apr's CPU backend", "rounded reference vs exact");
    printf("%-24s %8s %8s %8s %8s   %8s %8s %8s\n", "file", "exact", "as CPU", "per 16", "per 32", "as CPU",
           "per 16", "per 32");
    for (int a = 1; a < argc; a++) {
        apr_model_params mp = apr_model_default_params();
        mp.cpu_only = true;
        apr_model *m = NULL;
        apr_context *c = NULL;
        apr_error err;
        ref_model rm;
        if (apr_model_load(argv[a], &mp, &m, &err) != APR_SUCCESS) {
            fprintf(stderr, "%s: %s\n", argv[a], err.message);
            continue;
        }
        apr_context_params cp = apr_context_default_params();
        cp.n_ctx = 64;
        if (apr_context_create(m, &cp, &c, &err) != APR_SUCCESS || ref_model_open(&rm, argv[a]) != 0) {
            fprintf(stderr, "%s: cannot set up\n", argv[a]);
            apr_context_free(c);
            apr_model_free(m);
            continue;
        }
        const int nv = rm.view.hp.n_vocab;
        ref_ctx rc[NREF];
        float *logits[NREF];
        double vs_cpu[NREF] = {0}, vs_exact[NREF] = {0};
        for (int k = 0; k < NREF; k++) {
            ref_init(&rc[k], &rm.view, 64, 1);
            logits[k] = (float *)malloc(sizeof(float) * nv);
        }
        unsigned r = 7;
        for (int i = 0; i < STEPS; i++) {
            r = r * 1103515245u + 12345u;
            int32_t t = (int32_t)((r >> 8) % (unsigned)nv);
            if (apr_eval(c, &t, 1, 0) != APR_SUCCESS) break;
            const float *cpu = apr_get_logits(c, -1);
            for (int k = 0; k < NREF; k++) {
                ref_act_round = rounding[k];
                ref_step(&rc[k], t, i, 0, logits[k]);
                const double e = rel_err(logits[k], cpu, nv), x = rel_err(logits[k], logits[0], nv);
                if (e > vs_cpu[k]) vs_cpu[k] = e;
                if (x > vs_exact[k]) vs_exact[k] = x;
            }
        }
        const char *name = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];
        printf("%-24s %8.2e %8.2e %8.2e %8.2e   %8.2e %8.2e %8.2e\n", name, vs_cpu[0], vs_cpu[1], vs_cpu[2],
               vs_cpu[3], vs_exact[1], vs_exact[2], vs_exact[3]);
        for (int k = 0; k < NREF; k++) free(logits[k]);
        apr_context_free(c);
        apr_model_free(m);
    }
    return 0;
}
