/* Tensor types: dequantization against reference dumps (bit-exact), every SIMD kernel
   against its scalar reference, activation quantizers, dot products against
   dequantize-then-float-dot, and the rows x tokens product against vec_dot. */
#define APR_IMPLEMENTATION
#include "apr.h"
#include "test.h"

/* ---- dequantization against the reference dumps ------------------------------------- */

static void test_dequant_refs(void) {
    TEST("dequantize == reference .f32 (bitwise)");
    size_t msize;
    char *man = (char *)test_read_file(test_shared("data/quant/MANIFEST.tsv"), &msize);
    CHECK(man != NULL, "data/quant/MANIFEST.tsv is readable");
    if (!man) return;
    int n_files = 0;
    char *save = NULL, *line = strtok_r(man, "\n", &save);
    for (line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char file[256], tensor[256], tname[32], ref[256];
        if (sscanf(line, "%255s %255s %31s %*[^]] ] %255s", file, tensor, tname, ref) != 4) {
            CHECK(0, "manifest line parses: %s", line);
            continue;
        }
        char path[600];
        snprintf(path, sizeof path, "data/quant/%s", file);
        apr_gguf *g = NULL;
        apr_error err;
        apr_result rc = apr_gguf_open(test_shared(path), &g, &err);
        CHECK(rc == APR_SUCCESS, "open %s: %s", file, rc ? err.message : "");
        snprintf(path, sizeof path, "data/quant/%s", ref);
        size_t rsize;
        float *want = (float *)test_read_file(test_shared(path), &rsize);
        CHECK(want != NULL, "%s readable", ref);
        const apr_gguf_tensor *ti = g ? apr_gguf_find_tensor(g, tensor) : NULL;
        CHECK(!g || ti, "tensor %s in %s", tensor, file);
        if (ti && want) {
            int type = ti->type;
            int64_t nel = ti->ne[0] * ti->ne[1] * ti->ne[2] * ti->ne[3];
            const apr__type_traits *tr = apr__type_traits_of(type);
            CHECK(tr && strcmp(tr->name, tname) == 0, "%s: type %d is %s", file, type, tname);
            CHECK(apr_type_supported(type), "%s supported", tname);
            CHECK(tr && (int64_t)tr->block_bytes == apr_type_block_bytes(type) &&
                  tr->block_size == apr_type_block_size(type), "%s: block size/bytes agree with the type table", tname);
            CHECK(apr_type_row_bytes(type, ti->ne[0]) * (uint64_t)(nel / ti->ne[0]) == ti->size, "%s: tensor size", tname);
            CHECK((size_t)nel * 4 == rsize, "%s: reference has %zu bytes for %lld elements", ref, rsize, (long long)nel);
            if (tr && (size_t)nel * 4 == rsize) {
                float *got = (float *)malloc((size_t)nel * 4);
                CHECK(apr_dequantize_row(type, ti->data, got, nel) == APR_SUCCESS, "dequantize %s", tname);
                int64_t mism = 0, first = -1;
                for (int64_t i = 0; i < nel; i++)
                    if (memcmp(&got[i], &want[i], 4) != 0) { if (first < 0) first = i; mism++; }
                CHECK(mism == 0, "%s %s: %lld of %lld values differ (first at %lld: %.9g vs %.9g)", tname,
                      tensor, (long long)mism, (long long)nel, (long long)first,
                      first >= 0 ? got[first] : 0.0, first >= 0 ? want[first] : 0.0);
                free(got);
                n_files++;
            }
        }
        apr_gguf_close(g);
        free(want);
    }
    CHECK(n_files == 30, "30 reference tensors checked (got %d)", n_files);
    free(man);
}

/* ---- random weights of each type ------------------------------------------------------ */

static const int weight_types[] = {APR_TYPE_F32, APR_TYPE_F16, APR_TYPE_BF16, APR_TYPE_Q4_0, APR_TYPE_Q4_1,
                                   APR_TYPE_Q5_0, APR_TYPE_Q5_1, APR_TYPE_Q8_0, APR_TYPE_Q2_K, APR_TYPE_Q3_K,
                                   APR_TYPE_Q4_K, APR_TYPE_Q5_K, APR_TYPE_Q6_K, APR_TYPE_IQ4_NL, APR_TYPE_IQ4_XS};
#define N_WEIGHT_TYPES ((int)(sizeof weight_types / sizeof weight_types[0]))

static void put_f16(uint8_t *p, float v) { uint16_t h = apr__fp32_to_fp16(v); memcpy(p, &h, 2); }
static float rand_scale(void) { return (0.002f + 0.02f * test_rand_uniform()) * (test_rand_u64() & 1 ? -1.0f : 1.0f); }

/* Random bytes, with the fp16 scales made finite and of a plausible size. */
static void random_weights(int type, void *dst, int64_t n) {
    const apr__type_traits *t = apr__type_traits_of(type);
    uint8_t *p = (uint8_t *)dst;
    int64_t nb = n / t->block_size;
    if (type == APR_TYPE_F32 || type == APR_TYPE_F16 || type == APR_TYPE_BF16) {
        for (int64_t i = 0; i < n; i++) {
            float v = test_rand_normal();
            if (type == APR_TYPE_F32) memcpy(p + 4 * i, &v, 4);
            else if (type == APR_TYPE_F16) put_f16(p + 2 * i, v);
            else { uint16_t h = apr__fp32_to_bf16(v); memcpy(p + 2 * i, &h, 2); }
        }
        return;
    }
    for (int64_t i = 0; i < nb * (int64_t)t->block_bytes; i++) p[i] = (uint8_t)test_rand_u64();
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *q = p + b * (int64_t)t->block_bytes;
        switch (type) {
        case APR_TYPE_Q4_1: case APR_TYPE_Q5_1:
            put_f16(q, fabsf(rand_scale())); put_f16(q + 2, rand_scale() * 8); break;
        case APR_TYPE_Q2_K: put_f16(q + 80, fabsf(rand_scale())); put_f16(q + 82, fabsf(rand_scale())); break;
        case APR_TYPE_Q3_K: put_f16(q + 108, rand_scale()); break;
        case APR_TYPE_Q4_K: case APR_TYPE_Q5_K:
            put_f16(q, fabsf(rand_scale()) * 0.1f); put_f16(q + 2, fabsf(rand_scale()) * 0.1f); break;
        case APR_TYPE_Q6_K: put_f16(q + 208, rand_scale() * 0.1f); break;
        default: put_f16(q, rand_scale()); break; /* d first: Q4_0 Q5_0 Q8_0 IQ4_NL IQ4_XS */
        }
    }
}

static void random_floats(float *x, int64_t n) {
    float scale = 0.1f + 3.0f * test_rand_uniform();
    for (int64_t i = 0; i < n; i++) x[i] = test_rand_normal() * scale;
    if (n > 3 && (test_rand_u64() & 3) == 0) x[test_rand_u64() % n] *= 20; /* an outlier */
    if (n >= 64 && (test_rand_u64() & 3) == 0) memset(x, 0, 32 * sizeof(float)); /* a zero block */
}

static const int64_t sizes_32[] = {32, 64, 96, 160, 288, 896, 4864};
static const int64_t sizes_256[] = {256, 512, 768, 1536, 2304};
static const int64_t sizes_f[] = {1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100, 896, 1003};

static int level_max;  /* the highest SIMD level this CPU has */

/* ---- activation quantizers: SIMD bytes == scalar bytes --------------------------------- */

static void test_act_quantizers(void) {
    TEST("activation quantizers: every level gives the scalar bytes");
    static const int acts[] = {APR_TYPE_Q8_0, APR_TYPE_Q8_1, APR_TYPE_Q8_K, APR_TYPE_F32};
    for (int ai = 0; ai < 4; ai++) {
        int act = acts[ai];
        int64_t bs = act == APR_TYPE_Q8_K ? 256 : act == APR_TYPE_F32 ? 1 : 32;
        for (int rep = 0; rep < 20; rep++) {
            int64_t n = bs * (1 + (int64_t)(test_rand_u64() % 24));
            float *x = (float *)malloc((size_t)n * 4);
            random_floats(x, n);
            size_t rb = apr__act_row_bytes(act, n);
            uint8_t *ref = (uint8_t *)malloc(rb), *got = (uint8_t *)malloc(rb);
            apr__quantize_act_for(act, 0)(x, ref, n);
            for (int lvl = 1; lvl <= level_max; lvl++) {
                memset(got, 0xAB, rb);
                apr__quantize_act_for(act, lvl)(x, got, n);
                CHECK(memcmp(ref, got, rb) == 0, "act %d level %d n %lld", act, lvl, (long long)n);
            }
            /* dequantized activations are within half a step of the input */
            if (act != APR_TYPE_F32) {
                float *back = (float *)malloc((size_t)n * 4);
                apr_dequantize_row(act, ref, back, n);
                int bad = 0;
                for (int64_t b = 0; b < n; b += bs) {
                    float amax = 0;
                    for (int64_t j = b; j < b + bs; j++) amax = fmaxf(amax, fabsf(x[j]));
                    for (int64_t j = b; j < b + bs; j++)
                        if (fabsf(back[j] - x[j]) > amax / 127 * 0.502f + amax * 1e-3f) bad++;
                }
                CHECK(bad == 0, "act %d: %d values off by more than half a step", act, bad);
                free(back);
            }
            free(x); free(ref); free(got);
        }
    }
}

/* ---- dot products ------------------------------------------------------------------------ */

typedef struct {
    int type, act;
    int64_t n;
    void *w;
    float *wf, *x;  /* dequantized weights, float activations */
    void *a;        /* quantized activations */
    float *af;      /* dequantized activations */
} dot_case;

static void make_case(dot_case *c, int type, int64_t n) {
    const apr__type_traits *t = apr__type_traits_of(type);
    c->type = type; c->act = t->act_type; c->n = n;
    c->w = malloc(apr__act_row_bytes(APR_TYPE_F32, n) + 64);
    random_weights(type, c->w, n);
    c->wf = (float *)malloc((size_t)n * 4);
    apr_dequantize_row(type, c->w, c->wf, n);
    c->x = (float *)malloc((size_t)n * 4);
    random_floats(c->x, n);
    c->a = malloc(apr__act_row_bytes(c->act, n) + 64);
    apr__quantize_act_for(c->act, 0)(c->x, c->a, n);
    c->af = (float *)malloc((size_t)n * 4);
    if (c->act == APR_TYPE_F32) memcpy(c->af, c->x, (size_t)n * 4);
    else apr_dequantize_row(c->act, c->a, c->af, n);
}
static void free_case(dot_case *c) { free(c->w); free(c->wf); free(c->x); free(c->a); free(c->af); }

static void test_vec_dot(void) {
    TEST("vec_dot: SIMD levels == scalar reference; scalar == dequantized float dot");
    for (int ti = 0; ti < N_WEIGHT_TYPES; ti++) {
        int type = weight_types[ti];
        const apr__type_traits *t = apr__type_traits_of(type);
        const int64_t *sizes = t->block_size == 256 ? sizes_256 : t->block_size == 32 ? sizes_32 : sizes_f;
        int n_sizes = t->block_size == 256 ? 5 : t->block_size == 32 ? 7 : 13;
        CHECK(apr__vec_dot_for(type, 0) != NULL, "%s has a scalar vec_dot", t->name);
        for (int si = 0; si < n_sizes; si++) {
            for (int rep = 0; rep < 3; rep++) {
                dot_case c;
                make_case(&c, type, sizes[si]);
                float ref = 0;
                apr__vec_dot_for(type, 0)(c.n, &ref, c.w, c.a);
                /* the same product in double from the dequantized rows: the reference's
                   integer sums are exact, so only float rounding (and fp16 s) separates them */
                double exact = 0, mag = 0, wabs = 0;
                for (int64_t i = 0; i < c.n; i++) {
                    exact += (double)c.wf[i] * c.af[i];
                    mag += fabs((double)c.wf[i] * c.af[i]);
                    wabs += fabs((double)c.wf[i]);
                }
                double tol = 2e-5 * mag + 1e-30;
                if (c.act == APR_TYPE_Q8_1) tol += 2e-3 * wabs * 4; /* the fp16 d*sum */
                CHECK(fabs(ref - exact) <= tol, "%s n=%lld scalar %.8g vs dequantized %.8g (tol %.3g)", t->name,
                      (long long)c.n, ref, exact, tol);
                /* and against the unquantized activations, within quantization error */
                double fl = 0, qerr = 0;
                for (int64_t b = 0; b < c.n; b += (c.act == APR_TYPE_Q8_K ? 256 : 32)) {
                    int64_t e = b + (c.act == APR_TYPE_Q8_K ? 256 : 32);
                    if (c.act == APR_TYPE_F32) e = c.n;
                    float amax = 0;
                    for (int64_t j = b; j < e; j++) amax = fmaxf(amax, fabsf(c.x[j]));
                    for (int64_t j = b; j < e; j++) {
                        fl += (double)c.wf[j] * c.x[j];
                        qerr += fabs((double)c.wf[j]) * (amax / 127.0 * 0.51 + amax * 1e-3);
                    }
                    if (c.act == APR_TYPE_F32) break;
                }
                if (c.act == APR_TYPE_F32) qerr = 0;
                CHECK(fabs(ref - fl) <= qerr + tol + 1e-4 * mag, "%s n=%lld scalar %.8g vs float %.8g (qerr %.3g)",
                      t->name, (long long)c.n, ref, fl, qerr);
                for (int lvl = 1; lvl <= level_max; lvl++) {
                    apr__vec_dot_fn f = apr__vec_dot_for(type, lvl);
                    float got = -12345;
                    f(c.n, &got, c.w, c.a);
                    double tl = (c.act == APR_TYPE_F32 ? 1e-5 : 2e-6) * mag + 1e-30;
                    if (c.act == APR_TYPE_Q8_1) tl += 1e-6 * wabs;
                    CHECK(fabs(got - ref) <= tl, "%s n=%lld level %d: %.8g vs scalar %.8g", t->name,
                          (long long)c.n, lvl, got, ref);
                }
                free_case(&c);
            }
        }
    }
}

/* ---- gemm_rows == vec_dot ----------------------------------------------------------------- */

static void test_gemm_rows(void) {
    TEST("gemm_rows == vec_dot at every level, odd tiles");
    static const int64_t rows_list[] = {1, 3, 4, 5, 8, 13};
    static const int64_t tok_list[] = {1, 2, 3, 4, 7};
    for (int ti = 0; ti < N_WEIGHT_TYPES; ti++) {
        int type = weight_types[ti];
        const apr__type_traits *t = apr__type_traits_of(type);
        int64_t n = t->block_size == 256 ? 512 : t->block_size == 32 ? 96 : 40;
        int64_t max_rows = 13, max_tok = 7;
        size_t wrow = (size_t)(n / t->block_size) * t->block_bytes;
        size_t arow = apr__act_row_bytes(t->act_type, n);
        size_t wstride = wrow + 16, astride = arow + 8;  /* strides need not equal row sizes */
        uint8_t *w = (uint8_t *)malloc(wstride * (size_t)max_rows);
        uint8_t *a = (uint8_t *)malloc(astride * (size_t)max_tok);
        float *x = (float *)malloc((size_t)n * 4);
        for (int64_t r = 0; r < max_rows; r++) random_weights(type, w + r * wstride, n);
        for (int64_t k = 0; k < max_tok; k++) {
            random_floats(x, n);
            apr__quantize_act_for(t->act_type, 0)(x, a + k * astride, n);
        }
        for (int lvl = 0; lvl <= level_max; lvl++) {
            apr_cpu_set_max_simd(lvl);
            apr__vec_dot_fn f = apr__vec_dot_for(type, lvl);
            for (int ri = 0; ri < 6; ri++) {
                for (int ki = 0; ki < 5; ki++) {
                    int64_t nr = rows_list[ri], nt = tok_list[ki], ld = nr + 3;
                    float *out = (float *)malloc((size_t)(ld * nt) * 4);
                    for (int64_t i = 0; i < ld * nt; i++) out[i] = -777.0f;
                    apr__gemm_rows(type, n, w, wstride, nr, a, astride, nt, out, ld);
                    int bad = 0, untouched = 0;
                    for (int64_t k = 0; k < nt; k++) {
                        for (int64_t r = 0; r < nr; r++) {
                            float want;
                            f(n, &want, w + r * wstride, a + k * astride);
                            if (fabsf(out[k * ld + r] - want) > 1e-5f * (fabsf(want) + 1.0f)) bad++;
                        }
                        for (int64_t r = nr; r < ld; r++) untouched += out[k * ld + r] != -777.0f;
                    }
                    CHECK(bad == 0 && untouched == 0, "%s level %d rows %lld tokens %lld: %d differ, %d written outside",
                          t->name, lvl, (long long)nr, (long long)nt, bad, untouched);
                    free(out);
                }
            }
        }
        apr_cpu_set_max_simd(99);
        free(w); free(a); free(x);
    }
}

static void test_expand_q8_0(void) {
    TEST("Q4_0/Q5_0/IQ4_NL expanded to Q8_0: bit-identical dot products");
    static const int types[] = {APR_TYPE_Q4_0, APR_TYPE_Q5_0, APR_TYPE_IQ4_NL};
    for (int ti = 0; ti < 3; ti++) {
        for (int si = 0; si < 7; si++) {
            dot_case c;
            make_case(&c, types[ti], sizes_32[si]);
            void *e = malloc((size_t)(c.n / 32) * 34);
            CHECK(apr__expand_to_q8_0(types[ti], c.w, e, c.n), "expand type %d", types[ti]);
            float *ef = (float *)malloc((size_t)c.n * 4);
            apr_dequantize_row(APR_TYPE_Q8_0, e, ef, c.n);
            CHECK(memcmp(ef, c.wf, (size_t)c.n * 4) == 0, "type %d n %lld: same values", types[ti], (long long)c.n);
            for (int lvl = 0; lvl <= level_max; lvl++) {
                float a = 1, b = 2;
                apr__vec_dot_for(types[ti], lvl)(c.n, &a, c.w, c.a);
                apr__vec_dot_for(APR_TYPE_Q8_0, lvl)(c.n, &b, e, c.a);
                CHECK(memcmp(&a, &b, 4) == 0, "type %d n %lld level %d: %.9g vs %.9g", types[ti], (long long)c.n, lvl, a, b);
            }
            free(e); free(ef);
            free_case(&c);
        }
    }
    CHECK(!apr__expand_to_q8_0(APR_TYPE_Q4_K, NULL, NULL, 256), "other types refused");
}

static void test_traits(void) {
    TEST("type traits");
    for (int ti = 0; ti < N_WEIGHT_TYPES; ti++) {
        const apr__type_traits *t = apr__type_traits_of(weight_types[ti]);
        CHECK(t && t->weight && apr_type_supported(weight_types[ti]), "type %d supported", weight_types[ti]);
        CHECK(t && apr__act_row_bytes(t->act_type, 256 * 3) > 0, "type %d has an act type", weight_types[ti]);
    }
    CHECK(!apr_type_supported(APR_TYPE_Q8_K) && !apr_type_supported(APR_TYPE_Q8_1), "activation-only types");
    CHECK(!apr_type_supported(4) && !apr_type_supported(99) && !apr_type_supported(-1), "unknown ids");
    float y[32];
    uint8_t blk[34] = {0};
    CHECK(apr_dequantize_row(APR_TYPE_Q8_0, blk, y, 31) == APR_ERROR_INVALID_ARGUMENT, "n not a multiple of 32");
    CHECK(apr_dequantize_row(77, blk, y, 32) == APR_ERROR_UNSUPPORTED, "unknown type");
}

int main(void) {
    apr_cpu_set_max_simd(99);
    level_max = apr__simd_level();
    fprintf(stderr, "  SIMD: %s (level %d)\n", apr_cpu_simd_name(), level_max);
    test_traits();
    test_dequant_refs();
    test_act_quantizers();
    test_vec_dot();
    test_gemm_rows();
    test_expand_q8_0();
    return test_finish();
}
