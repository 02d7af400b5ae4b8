/* apr-quantize - convert a GGUF to another type or llama.cpp recipe, or write a synthetic
   model of real dimensions for benchmarks.
   Build:  cc -O2 -o apr-quantize drivers/quantize.c -lm -lpthread -ldl

   apr-quantize [options] in.gguf out.gguf TYPE
   apr-quantize [options] --synthetic NAME out.gguf TYPE --vocab VOCAB.gguf

   TYPE is a recipe (llama.cpp's file types: Q4_K_M, Q5_K_M, Q6_K, Q8_0, Q4_0, IQ4_XS, F16,
   ...) or a plain type (Q3_K, Q4_K, Q5_K: every weight in that type). Options:
     -t N, --threads N   threads (default: all cores)
     --pure              no per-tensor mixture: every weight in the recipe's default type
     --seed N            random weights of --synthetic (default 42)
     --plan              print the tensor data size the recipe gives a synthetic model, write
                         nothing
     -q, --quiet         no progress lines
   NAME: qwen2.5-0.5b qwen2.5-1.5b qwen2.5-3b qwen2.5-7b qwen2.5-14b qwen2.5-32b llama3-8b
         qwen3-0.6b qwen3-1.7b qwen3-4b qwen3-8b (llama3-8b: with a non-Llama-3 vocabulary,
         e.g. ggml-vocab-gpt-2.gguf, padded to 128256 tokens with Llama 3's special tokens) */
#define APR_IMPLEMENTATION
#include "../apr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void log_stderr(void *user, apr_log_level level, const char *message) {
    (void)user;
    fprintf(stderr, "%s%s\n", level == APR_LOG_ERROR ? "error: " : level == APR_LOG_WARN ? "warning: " : "", message);
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: apr-quantize [options] in.gguf out.gguf TYPE\n"
            "       apr-quantize [options] --synthetic NAME out.gguf TYPE --vocab VOCAB.gguf\n"
            "options: -t N (threads)  --pure  --seed N  --plan  -q\n"
            "TYPE: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K_S Q3_K_M Q3_K_L Q4_K_S\n"
            "      Q4_K_M Q5_K_S Q5_K_M Q6_K IQ4_NL IQ4_XS (llama.cpp's recipes), Q3_K Q4_K Q5_K\n"
            "NAME:");
    for (const char *const *n = apr_synthetic_names(); *n; n++) fprintf(f, " %s", *n);
    fprintf(f, "\n");
}

int main(int argc, char **argv) {
    apr_quantize_params p = apr_quantize_default_params();
    p.log_fn = log_stderr;
    const char *synthetic = NULL, *vocab = NULL;
    const char *pos[3];
    int n_pos = 0;
    bool plan = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_next = i + 1 < argc;
        if ((!strcmp(a, "-t") || !strcmp(a, "--threads")) && has_next) p.n_threads = atoi(argv[++i]);
        else if (!strcmp(a, "--pure")) p.pure = true;
        else if (!strcmp(a, "--seed") && has_next) p.seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--synthetic") && has_next) synthetic = argv[++i];
        else if (!strcmp(a, "--vocab") && has_next) vocab = argv[++i];
        else if (!strcmp(a, "--plan")) plan = true;
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) p.log_fn = NULL;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (a[0] == '-' && a[1]) { fprintf(stderr, "unknown option %s\n", a); usage(stderr); return 2; }
        else if (n_pos < 3) pos[n_pos++] = a;
        else { usage(stderr); return 2; }
    }
    apr_error err;
    apr_result r;
    uint64_t t0 = apr__time_ns();
    if (synthetic && plan) {
        const char *type = n_pos >= 1 ? pos[n_pos - 1] : "Q4_K_M";
        uint64_t bytes = 0, params = 0;
        r = apr_synthetic_plan(synthetic, type, p.pure, &bytes, &params);
        if (r != APR_SUCCESS) { fprintf(stderr, "unknown model or type\n"); return 1; }
        printf("%s %s: %.2f MiB (%.3f GiB) of tensor data, %.3f B parameters\n", synthetic, type,
               bytes / 1048576.0, bytes / 1073741824.0, params / 1e9);
        return 0;
    }
    if (synthetic) {
        if (n_pos != 2 || !vocab) { usage(stderr); return 2; }
        r = apr_synthetic_model(synthetic, vocab, pos[0], pos[1], &p, &err);
    } else {
        if (n_pos != 3) { usage(stderr); return 2; }
        r = apr_quantize_model(pos[0], pos[1], pos[2], &p, &err);
    }
    if (r != APR_SUCCESS) {
        fprintf(stderr, "apr-quantize: %s (%s)\n", err.message, apr_result_string(r));
        return 1;
    }
    if (p.log_fn) fprintf(stderr, "done in %.1f s\n", (apr__time_ns() - t0) / 1e9);
    return 0;
}
