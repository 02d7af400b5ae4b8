/* CPU backend internals: the chunked thread pool (every chunk exactly once, late and
   sleeping workers, many jobs in a row) and the CPU backend's own kernels against their
   scalar references. */
#define APR_IMPLEMENTATION
#include "apr.h"
#include "test.h"

typedef struct {
    volatile int *count;   /* times each chunk ran */
    int n;
    int slow;              /* chunk 0 sleeps a little: others must go on meanwhile */
} chunk_job;

static void chunk_worker(void *arg, int ith, int nth) {
    chunk_job *j = (chunk_job *)arg;
    if (nth != j->n) return;
    if (j->slow && ith == 0) {
        uint64_t t0 = apr__time_ns();
        while (apr__time_ns() - t0 < 200000) apr__cpu_relax();
    }
    (void)APR__ATOMIC_ADD(&j->count[ith], 1);
}

int main(void) {
    const int quick = getenv("APR_TEST_QUICK") != NULL;

    TEST("pool: every chunk runs exactly once, 1-4 threads, 1..300 chunks, many jobs");
    for (int nt = 1; nt <= 4; nt++) {
        apr__pool *pool = apr__pool_create(nt);
        CHECK(pool != NULL, "pool of %d", nt);
        if (!pool) continue;
        static volatile int count[300];
        int wrong = 0, reps = quick ? 300 : 3000;
        for (int rep = 0; rep < reps; rep++) {
            chunk_job j;
            j.count = count;
            j.n = 1 + (int)(test_rand_u64() % 300);
            j.slow = rep % 97 == 0;
            for (int i = 0; i < j.n; i++) count[i] = 0;
            apr__pool_run_chunks(pool, chunk_worker, &j, j.n);
            for (int i = 0; i < j.n; i++) wrong += count[i] != 1;
        }
        CHECK(wrong == 0, "%d chunks not run exactly once with %d threads", wrong, nt);
        apr__pool_free(pool);
    }

    TEST("pool: jobs after the workers fell asleep, and apr__pool_run's one chunk per thread");
    {
        apr__pool *pool = apr__pool_create(3);
        CHECK(pool != NULL, "pool");
        if (pool) {
            static volatile int count[3];
            int wrong = 0;
            for (int rep = 0; rep < 3; rep++) {
                /* longer than the spin time: the workers sleep on the condition variable */
                uint64_t t0 = apr__time_ns();
                while (apr__time_ns() - t0 < 3 * (uint64_t)APR__POOL_SPIN_NS) apr__thread_yield();
                chunk_job j;
                j.count = count;
                j.n = pool->n_threads;
                j.slow = 1;
                for (int i = 0; i < 3; i++) count[i] = 0;
                apr__pool_run(pool, chunk_worker, &j, 0);
                for (int i = 0; i < j.n; i++) wrong += count[i] != 1;
            }
            CHECK(wrong == 0, "%d chunks wrong", wrong);
            CHECK(APR__ATOMIC_LOAD(&pool->n_sleeping) >= 0, "sleepers counted");
            apr__pool_free(pool);
        }
    }

    TEST("pool: NULL pool and one thread run the chunks in order on the caller");
    {
        static volatile int count[5];
        chunk_job j;
        j.count = count;
        j.n = 5;
        j.slow = 0;
        for (int i = 0; i < 5; i++) count[i] = 0;
        apr__pool_run_chunks(NULL, chunk_worker, &j, 5);
        int wrong = 0;
        for (int i = 0; i < 5; i++) wrong += count[i] != 1;
        CHECK(wrong == 0, "%d chunks wrong", wrong);
    }

    TEST("repacked Q5_0 (8 rows): reference == Q5_0 vec_dot, SIMD levels == reference");
    {
        const int64_t ns[] = {32, 64, 96, 896, 4864};
        const int act = apr__type_traits_of(APR_TYPE_Q5_0)->act_type;
        int bad_ref = 0, bad_simd = 0, runs = 0;
        double worst = 0;
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
            const int64_t n = ns[ni], nb = n / 32, groups = quick && n > 1000 ? 1 : 3, rows = 8 * groups;
            const int max_tok = 9;
            size_t row_bytes = apr_type_row_bytes(APR_TYPE_Q5_0, n), as = apr__act_row_bytes(act, n);
            uint8_t *w = (uint8_t *)malloc(row_bytes * (size_t)rows);
            apr__block_q5_0x8 *pk = (apr__block_q5_0x8 *)malloc(sizeof(apr__block_q5_0x8) * (size_t)(nb * groups));
            uint8_t *a = (uint8_t *)malloc(as * max_tok);
            float *x = (float *)malloc(sizeof(float) * (size_t)n);
            int32_t *sums = (int32_t *)malloc(sizeof(int32_t) * (size_t)(nb * max_tok));
            float *ref = (float *)malloc(sizeof(float) * (size_t)(rows * max_tok));
            float *got = (float *)malloc(sizeof(float) * (size_t)(rows * max_tok));
            for (size_t i = 0; i < row_bytes * (size_t)rows; i++) w[i] = (uint8_t)test_rand_u64();
            for (int64_t r = 0; r < rows; r++)
                for (int64_t i = 0; i < nb; i++) {
                    uint16_t d = apr__fp32_to_fp16(0.001f + 0.01f * test_rand_uniform());
                    memcpy(w + (size_t)r * row_bytes + (size_t)i * 22, &d, 2);
                }
            for (int t = 0; t < max_tok; t++) {
                for (int64_t i = 0; i < n; i++) x[i] = test_rand_normal() * (t == 3 ? 100.0f : 1.0f);
                apr__quantize_act(act, x, a + (size_t)t * as, n);
                apr__q8_0_block_sums(a + (size_t)t * as, n, sums + (size_t)t * nb);
            }
            for (int64_t g = 0; g < groups; g++) apr__repack_q5_0x8(w + (size_t)(8 * g) * row_bytes, row_bytes, n, pk + g * nb);
            for (int nt = 1; nt <= max_tok; nt++) {
                apr__gemm_q5_0x8_ref(n, pk, groups, a, as, sums, nb, nt, got, rows);
                for (int t = 0; t < nt; t++)
                    for (int64_t r = 0; r < rows; r++) {
                        float e;
                        apr__vec_dot_q5_0_ref(n, &e, w + (size_t)r * row_bytes, a + (size_t)t * as);
                        ref[t * rows + r] = e;
                        double d = fabs((double)got[t * rows + r] - e) / (fabs(e) + 1e-3);
                        if (d > 1e-5) bad_ref++;
                    }
                for (int level = 1; level <= 2; level++) {
                    if (apr__q5x8_level(apr__simd_level()) < level) continue;
                    for (int i = 0; i < rows * nt; i++) got[i] = NAN;
                    apr__gemm_q5_0x8(level, n, pk, groups, a, as, sums, nb, nt, got, rows);
                    runs++;
                    for (int t = 0; t < nt; t++)
                        for (int64_t r = 0; r < rows; r++) {
                            float e = ref[t * rows + r];
                            double d = fabs((double)got[t * rows + r] - e) / (fabs(e) + 1e-3);
                            /* one block: one product, exact integer sums; more: rounding of
                               the float accumulation in another order */
                            if (!(d <= (n == 32 ? 1e-6 : 1e-4))) bad_simd++;
                            if (!(d <= worst)) worst = d; /* a NaN counts as worst */
                        }
                }
            }
            free(w); free(pk); free(a); free(x); free(sums); free(ref); free(got);
        }
        CHECK(bad_ref == 0, "%d reference results differ from vec_dot_q5_0_ref", bad_ref);
        CHECK(bad_simd == 0, "%d SIMD results differ from the reference (worst rel %.2e)", bad_simd, worst);
        fprintf(stderr, "    %d SIMD runs (levels up to %d), worst rel err %.2e\n", runs,
                apr__q5x8_level(apr__simd_level()), worst);
    }

    TEST("repacked Q4_K (8 rows): reference == Q4_K vec_dot, SIMD levels == reference");
    {
        const int64_t ns[] = {256, 512, 1536, 8960};
        const int act = apr__type_traits_of(APR_TYPE_Q4_K)->act_type;
        int bad_ref = 0, bad_simd = 0, runs = 0;
        double worst = 0;
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
            /* 3 groups: the 512-bit kernels take groups in pairs and the last one alone */
            const int64_t n = ns[ni], nb = n / 256, groups = quick && n > 1000 ? 1 : 3, rows = 8 * groups;
            const int max_tok = 9;
            size_t row_bytes = apr_type_row_bytes(APR_TYPE_Q4_K, n), as = apr__act_row_bytes(act, n);
            uint8_t *w = (uint8_t *)malloc(row_bytes * (size_t)rows);
            apr__block_q4_Kx8 *pk = (apr__block_q4_Kx8 *)malloc(sizeof(apr__block_q4_Kx8) * (size_t)(nb * groups));
            uint8_t *a = (uint8_t *)malloc(as * max_tok);
            float *x = (float *)malloc(sizeof(float) * (size_t)n);
            float *ref = (float *)malloc(sizeof(float) * (size_t)(rows * max_tok));
            float *got = (float *)malloc(sizeof(float) * (size_t)(rows * max_tok));
            for (size_t i = 0; i < row_bytes * (size_t)rows; i++) w[i] = (uint8_t)test_rand_u64();
            for (int64_t r = 0; r < rows; r++)
                for (int64_t i = 0; i < nb; i++) {
                    uint16_t d = apr__fp32_to_fp16(0.001f + 0.01f * test_rand_uniform());
                    uint16_t dm = apr__fp32_to_fp16(0.001f + 0.01f * test_rand_uniform());
                    memcpy(w + (size_t)r * row_bytes + (size_t)i * 144, &d, 2);
                    memcpy(w + (size_t)r * row_bytes + (size_t)i * 144 + 2, &dm, 2);
                }
            for (int t = 0; t < max_tok; t++) {
                for (int64_t i = 0; i < n; i++) x[i] = test_rand_normal() * (t == 3 ? 100.0f : 1.0f);
                apr__quantize_act(act, x, a + (size_t)t * as, n);
            }
            for (int64_t g = 0; g < groups; g++) apr__repack_q4_Kx8(w + (size_t)(8 * g) * row_bytes, row_bytes, n, pk + g * nb);
            for (int nt = 1; nt <= max_tok; nt++) {
                apr__gemm_q4_Kx8_ref(n, pk, groups, a, as, nt, got, rows);
                for (int t = 0; t < nt; t++)
                    for (int64_t r = 0; r < rows; r++) {
                        float e;
                        apr__vec_dot_q4_K_ref(n, &e, w + (size_t)r * row_bytes, a + (size_t)t * as);
                        ref[t * rows + r] = e;
                        double d = fabs((double)got[t * rows + r] - e) / (fabs(e) + 1e-3);
                        if (d > 1e-5) bad_ref++;
                    }
                for (int level = 1; level <= 2; level++) {
                    if (apr__q5x8_level(apr__simd_level()) < level) continue;
                    for (int i = 0; i < rows * nt; i++) got[i] = NAN;
                    apr__gemm_q4_Kx8(level, n, pk, groups, a, as, nt, got, rows);
                    runs++;
                    for (int t = 0; t < nt; t++)
                        for (int64_t r = 0; r < rows; r++) {
                            float e = ref[t * rows + r];
                            double d = fabs((double)got[t * rows + r] - e) / (fabs(e) + 1e-3);
                            if (!(d <= 1e-4)) bad_simd++;
                            if (!(d <= worst)) worst = d; /* a NaN counts as worst */
                        }
                }
            }
            free(w); free(pk); free(a); free(x); free(ref); free(got);
        }
        CHECK(bad_ref == 0, "%d reference results differ from vec_dot_q4_K_ref", bad_ref);
        CHECK(bad_simd == 0, "%d SIMD results differ from the reference (worst rel %.2e)", bad_simd, worst);
        fprintf(stderr, "    %d SIMD runs (levels up to %d), worst rel err %.2e\n", runs,
                apr__q5x8_level(apr__simd_level()), worst);
    }

    TEST("repacked Q6_K (8 rows): reference == Q6_K vec_dot, SIMD levels == reference");
    {
        const int64_t ns[] = {256, 512, 1536, 8960};
        const int act = apr__type_traits_of(APR_TYPE_Q6_K)->act_type;
        int bad_ref = 0, bad_simd = 0, runs = 0;
        double worst = 0;
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
            /* 3 groups: the 512-bit kernels take groups in pairs and the last one alone */
            const int64_t n = ns[ni], nb = n / 256, groups = quick && n > 1000 ? 1 : 3, rows = 8 * groups;
            const int max_tok = 9;
            size_t row_bytes = apr_type_row_bytes(APR_TYPE_Q6_K, n), as = apr__act_row_bytes(act, n);
            uint8_t *w = (uint8_t *)malloc(row_bytes * (size_t)rows);
            apr__block_q6_Kx8 *pk = (apr__block_q6_Kx8 *)malloc(sizeof(apr__block_q6_Kx8) * (size_t)(nb * groups));
            uint8_t *a = (uint8_t *)malloc(as * max_tok);
            float *x = (float *)malloc(sizeof(float) * (size_t)n);
            float *ref = (float *)malloc(sizeof(float) * (size_t)(rows * max_tok));
            float *got = (float *)malloc(sizeof(float) * (size_t)(rows * max_tok));
            for (size_t i = 0; i < row_bytes * (size_t)rows; i++) w[i] = (uint8_t)test_rand_u64();
            for (int64_t r = 0; r < rows; r++)
                for (int64_t i = 0; i < nb; i++) {
                    uint16_t d = apr__fp32_to_fp16(0.001f + 0.01f * test_rand_uniform());
                    memcpy(w + (size_t)r * row_bytes + (size_t)i * 210 + 208, &d, 2);
                }
            for (int t = 0; t < max_tok; t++) {
                for (int64_t i = 0; i < n; i++) x[i] = test_rand_normal() * (t == 3 ? 100.0f : 1.0f);
                apr__quantize_act(act, x, a + (size_t)t * as, n);
            }
            for (int64_t g = 0; g < groups; g++) apr__repack_q6_Kx8(w + (size_t)(8 * g) * row_bytes, row_bytes, n, pk + g * nb);
            for (int nt = 1; nt <= max_tok; nt++) {
                apr__gemm_q6_Kx8_ref(n, pk, groups, a, as, nt, got, rows);
                for (int t = 0; t < nt; t++)
                    for (int64_t r = 0; r < rows; r++) {
                        float e;
                        apr__vec_dot_q6_K_ref(n, &e, w + (size_t)r * row_bytes, a + (size_t)t * as);
                        ref[t * rows + r] = e;
                        double d = fabs((double)got[t * rows + r] - e) / (fabs(e) + 1e-3);
                        if (d > 1e-5) bad_ref++;
                    }
                for (int level = 1; level <= 2; level++) {
                    if (apr__q5x8_level(apr__simd_level()) < level) continue;
                    for (int i = 0; i < rows * nt; i++) got[i] = NAN;
                    apr__gemm_q6_Kx8(level, n, pk, groups, a, as, nt, got, rows);
                    runs++;
                    for (int t = 0; t < nt; t++)
                        for (int64_t r = 0; r < rows; r++) {
                            float e = ref[t * rows + r];
                            double d = fabs((double)got[t * rows + r] - e) / (fabs(e) + 1e-3);
                            if (!(d <= 1e-4)) bad_simd++;
                            if (!(d <= worst)) worst = d; /* a NaN counts as worst */
                        }
                }
            }
            free(w); free(pk); free(a); free(x); free(ref); free(got);
        }
        CHECK(bad_ref == 0, "%d reference results differ from vec_dot_q6_K_ref", bad_ref);
        CHECK(bad_simd == 0, "%d SIMD results differ from the reference (worst rel %.2e)", bad_simd, worst);
        fprintf(stderr, "    %d SIMD runs (levels up to %d), worst rel err %.2e\n", runs,
                apr__q5x8_level(apr__simd_level()), worst);
    }

    TEST("SwiGLU: AVX2 (polynomial exp) within a few ulp of the reference");
    {
        const int64_t n = 100003;
        float *g = (float *)malloc(sizeof(float) * n), *g2 = (float *)malloc(sizeof(float) * n);
        float *u = (float *)malloc(sizeof(float) * n);
        for (int64_t i = 0; i < n; i++) {
            /* normal values, wide values, and the overflow edges of exp */
            g[i] = i % 3 == 0 ? test_rand_normal() * 4.0f : (test_rand_uniform() - 0.5f) * 240.0f;
            u[i] = test_rand_normal();
        }
        const float edge[] = {0.0f, -0.0f, 87.0f, -87.0f, 88.5f, -88.5f, 89.0f, -89.0f, 100.0f, -100.0f, 1e-30f, -1e-30f};
        for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) g[i] = edge[i];
        memcpy(g2, g, sizeof(float) * n);
        apr__swiglu_ref(g, u, n);
        int bad = 0, checked = 0;
        double worst = 0;
        if (apr__simd_level() >= 1) {
            apr__swiglu(1, g2, u, n);
            checked = 1;
            for (int64_t i = 0; i < n; i++) {
                double d = fabs((double)g2[i] - g[i]), tol = 4e-7 * fabs(g[i]) + 1e-34; /* below x = -88 expf overflows: -0 vs ~1e-36 */
                if (!(d <= tol)) bad++;
                if (fabs(g[i]) > 1e-30 && !(d / fabs(g[i]) <= worst)) worst = d / fabs(g[i]);
            }
        }
        CHECK(bad == 0, "%d of %lld values off (worst rel %.2e)", bad, (long long)n, worst);
        fprintf(stderr, "    %s, worst rel err %.2e\n", checked ? "AVX2 checked" : "no AVX2 here", worst);
        free(g); free(g2); free(u);
    }

    TEST("attention dot/axpy: every SIMD level vs the scalar reference, n = 1..300");
    {
        float a[300], b[300], y0[300], y1[300];
        int bad = 0, runs = 0;
        for (int level = 1; level <= apr__simd_level(); level++)
            for (int n = 1; n <= 300; n += (n < 40 ? 1 : 13)) {
                for (int i = 0; i < n; i++) {
                    a[i] = test_rand_normal();
                    b[i] = test_rand_normal();
                    y0[i] = y1[i] = test_rand_normal();
                }
                const float r = apr__att_dot_ref(a, b, n), v = apr__att_dot(level, a, b, n);
                double mag = 0;
                for (int i = 0; i < n; i++) mag += fabs((double)a[i] * b[i]);
                if (!(fabs((double)r - v) <= 1e-5 * (mag + 1))) bad++;
                apr__att_axpy_ref(y0, 0.37f, a, n);
                apr__att_axpy(level, y1, 0.37f, a, n);
                for (int i = 0; i < n; i++)
                    if (!(fabsf(y0[i] - y1[i]) <= 1e-5f)) bad++;
                runs++;
            }
        CHECK(bad == 0, "%d results off", bad);
        fprintf(stderr, "    %d runs (levels up to %d)\n", runs, apr__simd_level());
    }

    TEST("attention softmax numerators: SIMD exp and sum vs expf, n = 1..300");
    {
        float s0[300], s1[300];
        int bad = 0;
        double worst = 0;
        for (int level = 1; level <= apr__simd_level(); level++)
            for (int n = 1; n <= 300; n += (n < 40 ? 1 : 13)) {
                float mx = -INFINITY;
                for (int i = 0; i < n; i++) {
                    /* scores spread wide enough that some numerators underflow */
                    s0[i] = s1[i] = test_rand_normal() * (i % 5 == 0 ? 40.0f : 3.0f);
                    mx = fmaxf(mx, s0[i]);
                }
                const double r = apr__att_exp_ref(s0, n, mx), v = apr__att_exp(level, s1, n, mx);
                if (!(fabs(r - v) <= 1e-6 * r)) bad++;
                for (int i = 0; i < n; i++) {
                    const double d = fabs((double)s0[i] - s1[i]);
                    if (!(d <= 4e-7 * s0[i] + 1e-37)) bad++;
                    if (s0[i] > 1e-30f && !(d / s0[i] <= worst)) worst = d / s0[i];
                }
            }
        CHECK(bad == 0, "%d results off (worst rel %.2e)", bad, worst);
        fprintf(stderr, "    worst rel err %.2e\n", worst);
    }

    /* Repacking drops the file pages of repacked rows (MADV_DONTNEED) only inside the
       model's own file mapping: a caller's buffer must come back untouched, and a model
       loaded from it must give the same logits as one loaded from the file. */
    TEST("repacked Q4_K model: file load == memory load, caller's buffer untouched");
    {
        const char *path = test_shared("data/quant/tiny-llama-Q4_K.gguf");
        size_t size = 0;
        uint8_t *buf = (uint8_t *)test_read_file(path, &size);
        CHECK(buf != NULL, "cannot read %s", path);
        if (buf) {
            uint8_t *copy = (uint8_t *)malloc(size);
            memcpy(copy, buf, size);
            float *logits[2] = {NULL, NULL};
            int32_t n_vocab = 0;
            for (int from_mem = 0; from_mem < 2; from_mem++) {
                apr_model_params mp = apr_model_default_params();
                mp.cpu_only = true;
                apr_model *m = NULL;
                apr_context *c = NULL;
                apr_error err;
                apr_result r = from_mem ? apr_model_load_memory(buf, size, &mp, &m, &err) : apr_model_load(path, &mp, &m, &err);
                CHECK(r == APR_SUCCESS, "load (%s) failed", from_mem ? "memory" : "file");
                if (r != APR_SUCCESS) continue;
                apr_context_params cp = apr_context_default_params();
                cp.n_ctx = 32;
                cp.n_threads = 2;
                r = apr_context_create(m, &cp, &c, &err);
                CHECK(r == APR_SUCCESS, "context");
                n_vocab = apr_model_n_vocab(m);
                logits[from_mem] = (float *)calloc((size_t)n_vocab * 3, sizeof(float));
                const int32_t prompt[5] = {1, 17, 99, 230, 7};
                for (int s = 0; s < 3 && r == APR_SUCCESS; s++) {
                    /* a 5-token prompt (the tiles), then single tokens (the one-token path) */
                    int32_t t = 40 + 11 * s;
                    r = s == 0 ? apr_eval(c, prompt, 5, 0) : apr_eval(c, &t, 1, 0);
                    const float *l = r == APR_SUCCESS ? apr_get_logits(c, -1) : NULL;
                    if (l) memcpy(logits[from_mem] + (size_t)s * n_vocab, l, sizeof(float) * (size_t)n_vocab);
                }
                CHECK(r == APR_SUCCESS, "eval (%s)", from_mem ? "memory" : "file");
                apr_context_free(c);
                apr_model_free(m);
            }
            if (logits[0] && logits[1]) {
                int diff = 0, nonzero = 0;
                for (int64_t i = 0; i < (int64_t)n_vocab * 3; i++) {
                    diff += logits[0][i] != logits[1][i];
                    nonzero += logits[0][i] != 0;
                }
                CHECK(diff == 0, "%d logits differ between file and memory loads", diff);
                CHECK(nonzero > n_vocab, "logits are mostly zero (%d nonzero)", nonzero);
            }
            CHECK(memcmp(buf, copy, size) == 0, "the caller's buffer changed");
            free(logits[0]); free(logits[1]); free(copy); free(buf);
        }
    }

    /* Under partial CUDA offload the CPU backend runs only the first n_layer - ngl layers:
       it repacks only those, and the output matrix only when it runs every layer. */
    TEST("CPU backend under partial offload repacks only its own layers");
    {
        apr_model_params mp = apr_model_default_params();
        mp.cpu_only = true;
        apr_model *m = NULL;
        apr_error err;
        apr_result r = apr_model_load(test_shared("data/quant/tiny-llama-Q4_K.gguf"), &mp, &m, &err);
        CHECK(r == APR_SUCCESS, "load");
        if (r == APR_SUCCESS) {
            const int nl = m->view.hp.n_layer;
            int packed[3] = {-1, -1, -1}, out_packed[3] = {0, 0, 0};
            const int ngl[3] = {0, 1, nl};
            for (int k = 0; k < 3; k++) {
                void *st = NULL;
                char msg[256];
                r = apr__cpu_backend.model_load(&m->view, &m->host, ngl[k], &st, msg, sizeof msg);
                CHECK(r == APR_SUCCESS, "CPU model_load with %d GPU layers: %s", ngl[k], msg);
                if (r != APR_SUCCESS) continue;
                const apr__cpu_model *cm = (const apr__cpu_model *)st;
                packed[k] = cm->n_packed;
                for (int i = 0; i < cm->n_packed; i++) out_packed[k] |= cm->packed[i].w == &m->view.output;
                apr__cpu_backend.model_free(st);
            }
            CHECK(nl >= 2 && packed[0] > packed[1] && packed[1] > 0 && packed[2] == 0,
                  "repacked matrices with 0 / 1 / all layers on the GPU: %d / %d / %d", packed[0], packed[1], packed[2]);
            CHECK(!out_packed[1] && !out_packed[2], "the output matrix is repacked although it runs on the GPU");
            apr_model_free(m);
        }
    }

    return test_finish();
}
