/* bench_quant: single-thread matrix-vector (and small matrix-matrix) speed of the CPU
   kernels, per weight type and SIMD level. Not part of the test suite.
     cc -O2 -std=c99 -I. -o bench_quant tests/bench_quant.c -lm -lpthread -ldl
     ./bench_quant [seconds_per_case] [n_tok] [small] */
#define APR_IMPLEMENTATION
#include "apr.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static void fill_weights(int type, uint8_t *p, int64_t n, int64_t rows) {
    const apr__type_traits *t = apr__type_traits_of(type);
    size_t bytes = (size_t)(n / t->block_size) * t->block_bytes * (size_t)rows;
    for (size_t i = 0; i < bytes; i++) p[i] = (uint8_t)rnd();
    if (t->block_size == 1) {  /* float types: keep the values finite */
        for (size_t i = 0; i < bytes; i += t->block_bytes) {
            if (type == APR_TYPE_F32) { float v = (float)(rnd() % 1000) * 1e-3f; memcpy(p + i, &v, 4); }
            else if (type == APR_TYPE_F16) p[i + 1] &= 0x3b;
            else p[i + 1] = (uint8_t)((p[i + 1] & 0x80) | 0x3c); /* bf16: no subnormals */
        }
        return;
    }
    /* fp16 scale fields: clear their top exponent bits so they stay finite */
    for (size_t b = 0; b < bytes; b += t->block_bytes) {
        int off = type == APR_TYPE_Q2_K ? 80 : type == APR_TYPE_Q3_K ? 108 : type == APR_TYPE_Q6_K ? 208 : 0;
        p[b + off + 1] &= 0x1b;
    }
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 0.3;
    int64_t n_tok = argc > 2 ? atoi(argv[2]) : 1;
    /* "small": ~1 MiB matrices that stay in L2, to see the kernels' compute speed rather
       than the cache/memory bandwidth */
    int small = argc > 3 && strcmp(argv[3], "small") == 0;
    struct { int type; int64_t n, rows; } cases[] = {
        {APR_TYPE_Q5_0, 4864, 896},  {APR_TYPE_Q8_0, 896, 4864}, {APR_TYPE_Q8_0, 4864, 896}, {APR_TYPE_Q4_0, 4864, 896},
        {APR_TYPE_IQ4_NL, 4864, 896}, {APR_TYPE_Q4_1, 4864, 896}, {APR_TYPE_Q5_1, 4864, 896},
        {APR_TYPE_Q4_K, 8960, 1536}, {APR_TYPE_Q5_K, 8960, 1536}, {APR_TYPE_Q6_K, 8960, 1536},
        {APR_TYPE_Q2_K, 8960, 1536}, {APR_TYPE_Q3_K, 8960, 1536}, {APR_TYPE_IQ4_XS, 8960, 1536},
        {APR_TYPE_F16, 896, 4864},   {APR_TYPE_BF16, 896, 4864}, {APR_TYPE_F32, 896, 4864},
    };
    apr_cpu_set_max_simd(99);
    int max_level = apr__simd_level();
    printf("CPU SIMD: %s, n_tok %lld, 1 thread; GB/s of weights read per second "
           "(x n_tok for the work done)\n", apr_cpu_simd_name(), (long long)n_tok);
    printf("%-8s %6s %6s %9s", "type", "n", "rows", "MiB");
    for (int l = 0; l <= max_level; l++) printf("  %10s", l == 0 ? "scalar" : l == 1 ? "AVX2" : "AVX512/NEON");
    printf("\n");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const apr__type_traits *t = apr__type_traits_of(cases[c].type);
        int64_t n = cases[c].n, rows = cases[c].rows;
        size_t row_bytes = (size_t)(n / t->block_size) * t->block_bytes;
        if (small) rows = APR__MAX(4, (int64_t)((1 << 20) / row_bytes));
        uint8_t *w = (uint8_t *)malloc(row_bytes * (size_t)rows);
        fill_weights(cases[c].type, w, n, rows);
        float *x = (float *)malloc((size_t)(n * n_tok) * 4);
        for (int64_t i = 0; i < n * n_tok; i++) x[i] = (float)((int64_t)(rnd() % 2001) - 1000) * 1e-3f;
        size_t ab = apr__act_row_bytes(t->act_type, n);
        uint8_t *a = (uint8_t *)malloc(ab * (size_t)n_tok);
        float *out = (float *)malloc((size_t)(rows * n_tok) * 4);
        printf("%-8s %6lld %6lld %9.2f", t->name, (long long)n, (long long)rows, (double)(row_bytes * rows) / 1048576.0);
        for (int l = 0; l <= max_level; l++) {
            apr_cpu_set_max_simd(l);
            for (int64_t k = 0; k < n_tok; k++) apr__quantize_act(t->act_type, x + k * n, a + k * ab, n);
            /* best of 5 rounds: other processes share the machine */
            double per = 1e30;
            for (int round = 0; round < 5; round++) {
                int iters = 0;
                uint64_t t0 = apr__time_ns(), t1;
                do {
                    apr__gemm_rows(cases[c].type, n, w, row_bytes, rows, a, ab, n_tok, out, rows);
                    iters++;
                    t1 = apr__time_ns();
                } while ((double)(t1 - t0) * 1e-9 < (l == 0 ? secs / 20 : secs / 5));
                per = APR__MIN(per, (double)(t1 - t0) * 1e-9 / iters);
            }
            printf("  %10.2f", (double)(row_bytes * rows) / per / 1e9);
            fflush(stdout);
        }
        apr_cpu_set_max_simd(99);
        printf("\n");
        free(w); free(x); free(a); free(out);
    }
    return 0;
}
