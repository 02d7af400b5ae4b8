/* =====================================================================================
   Tensor types: block formats, dequantization, activation quantization, dot products.

   Block layouts are byte-identical to ggml's (GGUF files store them as they are).

   Internal API used by the CPU backend:
     apr__type_traits_of(type)     name, block size/bytes, activation type, dequant fn;
                                   NULL for ids apr does not know.
     Activation ("act") types, as ggml's vec_dot_type: a weight row is multiplied with an
       activation row quantized to the weight's act type:
         F32, F16, BF16 weights          -> F32 activations (plain floats)
         Q4_0, Q5_0, Q8_0, IQ4_NL        -> Q8_0 (32 int8 + fp16 scale per block)
         Q4_1, Q5_1                      -> Q8_1 (Q8_0 plus fp16 d*sum of the block)
         Q2_K..Q6_K, IQ4_XS              -> Q8_K (256 int8, f32 scale, int16 sums of 16)
     apr__act_row_bytes(act, n)     bytes of one quantized activation row of n floats.
     apr__quantize_act(act, x, dst, n)
                                   quantize n floats (n a multiple of the act block size;
                                   for F32 it is a copy). SIMD chosen by apr__simd_level();
                                   every level gives the same bytes as the scalar one.
     apr__vec_dot_for(wtype, level) -> apr__vec_dot_fn(n, &out, w_row, act_row)
                                   level 0 is the scalar reference; pass apr__simd_level().
                                   The integer paths compute the same integer sums at every
                                   level: only the float accumulation order differs.
     apr__gemm_rows(wtype, n, w, w_stride, n_rows, act, act_stride, n_tok, out, ld_out)
                                   out[t*ld_out + r] = dot(w row r, act row t) for all
                                   r < n_rows, t < n_tok; tiles rows x tokens so a decoded
                                   weight block feeds several tokens. Single-threaded: the
                                   caller splits rows (in multiples of 4 ideally) over threads.
   ===================================================================================== */

#define APR__QK 32     /* elements per block of the 32-element formats */
#define APR__QK_K 256  /* elements per super-block of the K-quants */

typedef struct { uint16_t d; uint8_t qs[16]; } apr__block_q4_0;
typedef struct { uint16_t d, m; uint8_t qs[16]; } apr__block_q4_1;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } apr__block_q5_0;
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; } apr__block_q5_1;
typedef struct { uint16_t d; int8_t qs[32]; } apr__block_q8_0;
typedef struct { uint16_t d, s; int8_t qs[32]; } apr__block_q8_1;   /* s = d * sum(qs) */
typedef struct { uint8_t scales[16]; uint8_t qs[64]; uint16_t d, dmin; } apr__block_q2_K;
typedef struct { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint16_t d; } apr__block_q3_K;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } apr__block_q4_K;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } apr__block_q5_K;
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } apr__block_q6_K;
typedef struct { float d; int8_t qs[256]; int16_t bsums[16]; } apr__block_q8_K;
typedef struct { uint16_t d; uint8_t qs[16]; } apr__block_iq4_nl;
typedef struct { uint16_t d; uint16_t scales_h; uint8_t scales_l[4]; uint8_t qs[128]; } apr__block_iq4_xs;

/* compile-time size checks (a negative array size fails the build) */
typedef char apr__chk_q4_0[sizeof(apr__block_q4_0) == 18 ? 1 : -1];
typedef char apr__chk_q4_1[sizeof(apr__block_q4_1) == 20 ? 1 : -1];
typedef char apr__chk_q5_0[sizeof(apr__block_q5_0) == 22 ? 1 : -1];
typedef char apr__chk_q5_1[sizeof(apr__block_q5_1) == 24 ? 1 : -1];
typedef char apr__chk_q8_0[sizeof(apr__block_q8_0) == 34 ? 1 : -1];
typedef char apr__chk_q8_1[sizeof(apr__block_q8_1) == 36 ? 1 : -1];
typedef char apr__chk_q2_K[sizeof(apr__block_q2_K) == 84 ? 1 : -1];
typedef char apr__chk_q3_K[sizeof(apr__block_q3_K) == 110 ? 1 : -1];
typedef char apr__chk_q4_K[sizeof(apr__block_q4_K) == 144 ? 1 : -1];
typedef char apr__chk_q5_K[sizeof(apr__block_q5_K) == 176 ? 1 : -1];
typedef char apr__chk_q6_K[sizeof(apr__block_q6_K) == 210 ? 1 : -1];
typedef char apr__chk_q8_K[sizeof(apr__block_q8_K) == 292 ? 1 : -1];
typedef char apr__chk_iq4_nl[sizeof(apr__block_iq4_nl) == 18 ? 1 : -1];
typedef char apr__chk_iq4_xs[sizeof(apr__block_iq4_xs) == 136 ? 1 : -1];

/* The 16 non-linear levels of IQ4_NL / IQ4_XS. */
static const int8_t apr__iq4nl_values[16] = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113
};

/* Q4_K / Q5_K pack 8 six-bit scales and 8 six-bit mins into 12 bytes. */
static inline void apr__scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Q3_K packs 16 six-bit scales (biased by 32) into 12 bytes. */
static inline void apr__q3k_scales(const uint8_t *packed, int8_t out[16]) {
    uint32_t aux[4];
    memcpy(aux, packed, 12);
    uint32_t tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & 0x0f0f0f0fu) | (((tmp >> 4) & 0x03030303u) << 4);
    aux[3] = ((aux[1] >> 4) & 0x0f0f0f0fu) | (((tmp >> 6) & 0x03030303u) << 4);
    aux[0] = (aux[0] & 0x0f0f0f0fu) | (((tmp >> 0) & 0x03030303u) << 4);
    aux[1] = (aux[1] & 0x0f0f0f0fu) | (((tmp >> 2) & 0x03030303u) << 4);
    memcpy(out, aux, 16);
    for (int i = 0; i < 16; i++) out[i] = (int8_t)(out[i] - 32);
}

/* IQ4_XS: 6-bit scale of sub-block ib (biased by 32). */
static inline int apr__iq4xs_scale(const apr__block_iq4_xs *b, int ib) {
    return (((b->scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((b->scales_h >> 2 * ib) & 3) << 4)) - 32;
}

/* ---- dequantization (scalar, bit-exact with ggml: same float operations in the same
   order; built without FP contraction so a*b-c is not fused) --------------------------- */

static void apr__dequant_f32(const void *src, float *y, int64_t n) { memcpy(y, src, (size_t)n * 4); }

static void apr__dequant_f16(const void *src, float *y, int64_t n) {
    const uint8_t *p = (const uint8_t *)src;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h; memcpy(&h, p + 2 * i, 2);
        y[i] = apr__fp16_to_fp32(h);
    }
}

static void apr__dequant_bf16(const void *src, float *y, int64_t n) {
    const uint8_t *p = (const uint8_t *)src;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h; memcpy(&h, p + 2 * i, 2);
        y[i] = apr__bf16_to_fp32(h);
    }
}

static void apr__dequant_q4_0(const void *src, float *y, int64_t n) {
    const apr__block_q4_0 *x = (const apr__block_q4_0 *)src;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const float d = apr__fp16_to_fp32(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((x[i].qs[j] & 0xF) - 8) * d;
            y[j + 16] = (float)((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void apr__dequant_q4_1(const void *src, float *y, int64_t n) {
    const apr__block_q4_1 *x = (const apr__block_q4_1 *)src;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const float d = apr__fp16_to_fp32(x[i].d), m = apr__fp16_to_fp32(x[i].m);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(x[i].qs[j] & 0xF) * d + m;
            y[j + 16] = (float)(x[i].qs[j] >> 4) * d + m;
        }
    }
}

static void apr__dequant_q5_0(const void *src, float *y, int64_t n) {
    const apr__block_q5_0 *x = (const apr__block_q5_0 *)src;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const float d = apr__fp16_to_fp32(x[i].d);
        uint32_t qh; memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            int h0 = (int)((qh >> j) << 4) & 0x10, h1 = (int)(qh >> (j + 12)) & 0x10;
            y[j] = (float)(((x[i].qs[j] & 0xF) | h0) - 16) * d;
            y[j + 16] = (float)(((x[i].qs[j] >> 4) | h1) - 16) * d;
        }
    }
}

static void apr__dequant_q5_1(const void *src, float *y, int64_t n) {
    const apr__block_q5_1 *x = (const apr__block_q5_1 *)src;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const float d = apr__fp16_to_fp32(x[i].d), m = apr__fp16_to_fp32(x[i].m);
        uint32_t qh; memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            int h0 = (int)((qh >> j) << 4) & 0x10, h1 = (int)(qh >> (j + 12)) & 0x10;
            y[j] = (float)((x[i].qs[j] & 0xF) | h0) * d + m;
            y[j + 16] = (float)((x[i].qs[j] >> 4) | h1) * d + m;
        }
    }
}

static void apr__dequant_q8_0(const void *src, float *y, int64_t n) {
    const apr__block_q8_0 *x = (const apr__block_q8_0 *)src;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const float d = apr__fp16_to_fp32(x[i].d);
        for (int j = 0; j < 32; j++) y[j] = (float)x[i].qs[j] * d;
    }
}

static void apr__dequant_q8_1(const void *src, float *y, int64_t n) {
    const apr__block_q8_1 *x = (const apr__block_q8_1 *)src;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const float d = apr__fp16_to_fp32(x[i].d);
        for (int j = 0; j < 32; j++) y[j] = (float)x[i].qs[j] * d;
    }
}

static void apr__dequant_q2_K(const void *src, float *y, int64_t n) {
    const apr__block_q2_K *x = (const apr__block_q2_K *)src;
    for (int64_t i = 0; i < n / 256; i++) {
        const float d = apr__fp16_to_fp32(x[i].d), min = apr__fp16_to_fp32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        int is = 0;
        for (int k = 0; k < 256; k += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; half++) {
                    uint8_t sc = x[i].scales[is++];
                    const float dl = d * (float)(sc & 0xF), ml = min * (float)(sc >> 4);
                    for (int l = 0; l < 16; l++) *y++ = dl * (float)((q[l + 16 * half] >> shift) & 3) - ml;
                }
            }
        }
    }
}

static void apr__dequant_q3_K(const void *src, float *y, int64_t n) {
    const apr__block_q3_K *x = (const apr__block_q3_K *)src;
    for (int64_t i = 0; i < n / 256; i++) {
        const float d = apr__fp16_to_fp32(x[i].d);
        int8_t sc[16];
        apr__q3k_scales(x[i].scales, sc);
        const uint8_t *q = x[i].qs, *hm = x[i].hmask;
        int is = 0;
        uint8_t m = 1;
        for (int k = 0; k < 256; k += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m = (uint8_t)(m << 1)) {
                for (int half = 0; half < 2; half++) {
                    const float dl = d * (float)sc[is++];
                    for (int l = 16 * half; l < 16 * half + 16; l++)
                        *y++ = dl * (float)(((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
                }
            }
        }
    }
}

static void apr__dequant_q4_K(const void *src, float *y, int64_t n) {
    const apr__block_q4_K *x = (const apr__block_q4_K *)src;
    for (int64_t i = 0; i < n / 256; i++) {
        const float d = apr__fp16_to_fp32(x[i].d), min = apr__fp16_to_fp32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        for (int j = 0; j < 8; j += 2, q += 32) {
            uint8_t sc, m;
            apr__scale_min_k4(j, x[i].scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = min * (float)m;
            apr__scale_min_k4(j + 1, x[i].scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = min * (float)m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

static void apr__dequant_q5_K(const void *src, float *y, int64_t n) {
    const apr__block_q5_K *x = (const apr__block_q5_K *)src;
    for (int64_t i = 0; i < n / 256; i++) {
        const float d = apr__fp16_to_fp32(x[i].d), min = apr__fp16_to_fp32(x[i].dmin);
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0; j < 8; j += 2, ql += 32, u1 = (uint8_t)(u1 << 2), u2 = (uint8_t)(u2 << 2)) {
            uint8_t sc, m;
            apr__scale_min_k4(j, x[i].scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = min * (float)m;
            apr__scale_min_k4(j + 1, x[i].scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = min * (float)m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)((ql[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
        }
    }
}

static void apr__dequant_q6_K(const void *src, float *y, int64_t n) {
    const apr__block_q6_K *x = (const apr__block_q6_K *)src;
    for (int64_t i = 0; i < n / 256; i++) {
        const float d = apr__fp16_to_fp32(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int k = 0; k < 256; k += 128, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * (float)sc[is] * (float)q1;
                y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}

static void apr__dequant_q8_K(const void *src, float *y, int64_t n) {
    const apr__block_q8_K *x = (const apr__block_q8_K *)src;
    for (int64_t i = 0; i < n / 256; i++)
        for (int j = 0; j < 256; j++) *y++ = x[i].d * (float)x[i].qs[j];
}

static void apr__dequant_iq4_nl(const void *src, float *y, int64_t n) {
    const apr__block_iq4_nl *x = (const apr__block_iq4_nl *)src;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const float d = apr__fp16_to_fp32(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)apr__iq4nl_values[x[i].qs[j] & 0xf];
            y[j + 16] = d * (float)apr__iq4nl_values[x[i].qs[j] >> 4];
        }
    }
}

static void apr__dequant_iq4_xs(const void *src, float *y, int64_t n) {
    const apr__block_iq4_xs *x = (const apr__block_iq4_xs *)src;
    for (int64_t i = 0; i < n / 256; i++) {
        const float d = apr__fp16_to_fp32(x[i].d);
        const uint8_t *qs = x[i].qs;
        for (int ib = 0; ib < 8; ib++, y += 32, qs += 16) {
            const float dl = d * (float)apr__iq4xs_scale(&x[i], ib);
            for (int j = 0; j < 16; j++) {
                y[j] = dl * (float)apr__iq4nl_values[qs[j] & 0xf];
                y[j + 16] = dl * (float)apr__iq4nl_values[qs[j] >> 4];
            }
        }
    }
}

/* ---- activation quantization: scalar reference ---------------------------------------
   Round to nearest even (as the SIMD conversions do), scale = amax/127, so every value
   lies in [-127, 127] (the AVX2 sign trick needs no -128). */

static inline int apr__round_i(float x) { return (int)nearbyintf(x); }

static void apr__quantize_q8_0_ref(const float *x, void *dst, int64_t n) {
    apr__block_q8_0 *y = (apr__block_q8_0 *)dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = APR__MAX(amax, fabsf(x[j]));
        const float d = amax / 127.0f, id = amax != 0 ? 127.0f / amax : 0.0f;
        y[i].d = apr__fp32_to_fp16(d);
        for (int j = 0; j < 32; j++) y[i].qs[j] = (int8_t)apr__round_i(x[j] * id);
    }
}

static void apr__quantize_q8_1_ref(const float *x, void *dst, int64_t n) {
    apr__block_q8_1 *y = (apr__block_q8_1 *)dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = APR__MAX(amax, fabsf(x[j]));
        const float d = amax / 127.0f, id = amax != 0 ? 127.0f / amax : 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            y[i].qs[j] = (int8_t)apr__round_i(x[j] * id);
            sum += y[i].qs[j];
        }
        y[i].d = apr__fp32_to_fp16(d);
        y[i].s = apr__fp32_to_fp16((float)sum * d);
    }
}

static void apr__quantize_q8_K_ref(const float *x, void *dst, int64_t n) {
    apr__block_q8_K *y = (apr__block_q8_K *)dst;
    for (int64_t i = 0; i < n / 256; i++, x += 256) {
        float amax = 0;
        for (int j = 0; j < 256; j++) amax = APR__MAX(amax, fabsf(x[j]));
        const float id = amax != 0 ? 127.0f / amax : 0.0f;
        y[i].d = amax / 127.0f;
        for (int j = 0; j < 256; j++) y[i].qs[j] = (int8_t)apr__round_i(x[j] * id);
        for (int j = 0; j < 16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++) s += y[i].qs[16 * j + l];
            y[i].bsums[j] = (int16_t)s;
        }
    }
}

static void apr__quantize_f32_copy(const float *x, void *dst, int64_t n) { memcpy(dst, x, (size_t)n * 4); }

/* ---- dot products: scalar reference --------------------------------------------------
   A vec_dot multiplies one weight row with one activation row of n elements. The integer
   sums per block are exact; SIMD versions compute the same integers. */

typedef void (*apr__vec_dot_fn)(int64_t n, float *out, const void *w_row, const void *act);

static void apr__vec_dot_f32_ref(int64_t n, float *out, const void *w, const void *a) {
    const float *x = (const float *)w, *y = (const float *)a;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * (double)y[i];
    *out = (float)s;
}

static void apr__vec_dot_f16_ref(int64_t n, float *out, const void *w, const void *a) {
    const uint8_t *x = (const uint8_t *)w;
    const float *y = (const float *)a;
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h; memcpy(&h, x + 2 * i, 2);
        s += (double)apr__fp16_to_fp32(h) * (double)y[i];
    }
    *out = (float)s;
}

static void apr__vec_dot_bf16_ref(int64_t n, float *out, const void *w, const void *a) {
    const uint8_t *x = (const uint8_t *)w;
    const float *y = (const float *)a;
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h; memcpy(&h, x + 2 * i, 2);
        s += (double)apr__bf16_to_fp32(h) * (double)y[i];
    }
    *out = (float)s;
}

static void apr__vec_dot_q4_0_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_q4_0 *x = (const apr__block_q4_0 *)w;
    const apr__block_q8_0 *y = (const apr__block_q8_0 *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++)
            sumi += ((x[i].qs[j] & 0xF) - 8) * y[i].qs[j] + ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
        s += apr__fp16_to_fp32(x[i].d) * apr__fp16_to_fp32(y[i].d) * (float)sumi;
    }
    *out = s;
}

static void apr__vec_dot_q4_1_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_q4_1 *x = (const apr__block_q4_1 *)w;
    const apr__block_q8_1 *y = (const apr__block_q8_1 *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++)
            sumi += (x[i].qs[j] & 0xF) * y[i].qs[j] + (x[i].qs[j] >> 4) * y[i].qs[j + 16];
        s += apr__fp16_to_fp32(x[i].d) * apr__fp16_to_fp32(y[i].d) * (float)sumi +
             apr__fp16_to_fp32(x[i].m) * apr__fp16_to_fp32(y[i].s);
    }
    *out = s;
}

static void apr__vec_dot_q5_0_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_q5_0 *x = (const apr__block_q5_0 *)w;
    const apr__block_q8_0 *y = (const apr__block_q8_0 *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        uint32_t qh; memcpy(&qh, x[i].qh, 4);
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            int h0 = (int)((qh >> j) << 4) & 0x10, h1 = (int)(qh >> (j + 12)) & 0x10;
            sumi += (((x[i].qs[j] & 0xF) | h0) - 16) * y[i].qs[j] + (((x[i].qs[j] >> 4) | h1) - 16) * y[i].qs[j + 16];
        }
        s += apr__fp16_to_fp32(x[i].d) * apr__fp16_to_fp32(y[i].d) * (float)sumi;
    }
    *out = s;
}

static void apr__vec_dot_q5_1_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_q5_1 *x = (const apr__block_q5_1 *)w;
    const apr__block_q8_1 *y = (const apr__block_q8_1 *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        uint32_t qh; memcpy(&qh, x[i].qh, 4);
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            int h0 = (int)((qh >> j) << 4) & 0x10, h1 = (int)(qh >> (j + 12)) & 0x10;
            sumi += ((x[i].qs[j] & 0xF) | h0) * y[i].qs[j] + ((x[i].qs[j] >> 4) | h1) * y[i].qs[j + 16];
        }
        s += apr__fp16_to_fp32(x[i].d) * apr__fp16_to_fp32(y[i].d) * (float)sumi +
             apr__fp16_to_fp32(x[i].m) * apr__fp16_to_fp32(y[i].s);
    }
    *out = s;
}

static void apr__vec_dot_q8_0_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_q8_0 *x = (const apr__block_q8_0 *)w;
    const apr__block_q8_0 *y = (const apr__block_q8_0 *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        int sumi = 0;
        for (int j = 0; j < 32; j++) sumi += x[i].qs[j] * y[i].qs[j];
        s += apr__fp16_to_fp32(x[i].d) * apr__fp16_to_fp32(y[i].d) * (float)sumi;
    }
    *out = s;
}

static void apr__vec_dot_iq4_nl_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_iq4_nl *x = (const apr__block_iq4_nl *)w;
    const apr__block_q8_0 *y = (const apr__block_q8_0 *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++)
            sumi += apr__iq4nl_values[x[i].qs[j] & 0xf] * y[i].qs[j] + apr__iq4nl_values[x[i].qs[j] >> 4] * y[i].qs[j + 16];
        s += apr__fp16_to_fp32(x[i].d) * apr__fp16_to_fp32(y[i].d) * (float)sumi;
    }
    *out = s;
}

static void apr__vec_dot_q2_K_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_q2_K *x = (const apr__block_q2_K *)w;
    const apr__block_q8_K *y = (const apr__block_q8_K *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        const uint8_t *q2 = x[i].qs;
        const int8_t *q8 = y[i].qs;
        int summ = 0, sumi = 0, is = 0;
        for (int j = 0; j < 16; j++) summ += y[i].bsums[j] * (x[i].scales[j] >> 4);
        for (int k = 0; k < 2; k++, q2 += 32) {
            for (int shift = 0; shift < 8; shift += 2, q8 += 32) {
                for (int half = 0; half < 2; half++) {
                    int t = 0;
                    for (int l = 16 * half; l < 16 * half + 16; l++) t += q8[l] * ((q2[l] >> shift) & 3);
                    sumi += (x[i].scales[is++] & 0xF) * t;
                }
            }
        }
        s += y[i].d * apr__fp16_to_fp32(x[i].d) * (float)sumi - y[i].d * apr__fp16_to_fp32(x[i].dmin) * (float)summ;
    }
    *out = s;
}

static void apr__vec_dot_q3_K_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_q3_K *x = (const apr__block_q3_K *)w;
    const apr__block_q8_K *y = (const apr__block_q8_K *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        int8_t sc[16];
        apr__q3k_scales(x[i].scales, sc);
        const uint8_t *q3 = x[i].qs, *hm = x[i].hmask;
        const int8_t *q8 = y[i].qs;
        int sumi = 0, is = 0;
        uint8_t m = 1;
        for (int k = 0; k < 2; k++, q3 += 32) {
            for (int shift = 0; shift < 8; shift += 2, m = (uint8_t)(m << 1), q8 += 32) {
                for (int half = 0; half < 2; half++) {
                    int t = 0;
                    for (int l = 16 * half; l < 16 * half + 16; l++)
                        t += q8[l] * (((q3[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
                    sumi += sc[is++] * t;
                }
            }
        }
        s += y[i].d * apr__fp16_to_fp32(x[i].d) * (float)sumi;
    }
    *out = s;
}

/* Q4_K / Q5_K: the 8 scales and mins of a super-block, unpacked. */
static inline void apr__k4_scales(const uint8_t *packed, uint8_t sc[8], uint8_t m[8]) {
    for (int j = 0; j < 8; j++) apr__scale_min_k4(j, packed, &sc[j], &m[j]);
}

static void apr__vec_dot_q4_K_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_q4_K *x = (const apr__block_q4_K *)w;
    const apr__block_q8_K *y = (const apr__block_q8_K *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        uint8_t sc[8], mn[8];
        apr__k4_scales(x[i].scales, sc, mn);
        const uint8_t *q4 = x[i].qs;
        const int8_t *q8 = y[i].qs;
        int sumi = 0, summ = 0;
        for (int j = 0; j < 8; j++) summ += mn[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        for (int j = 0; j < 8; j += 2, q4 += 32, q8 += 64) {
            int t0 = 0, t1 = 0;
            for (int l = 0; l < 32; l++) {
                t0 += (q4[l] & 0xF) * q8[l];
                t1 += (q4[l] >> 4) * q8[l + 32];
            }
            sumi += sc[j] * t0 + sc[j + 1] * t1;
        }
        s += y[i].d * apr__fp16_to_fp32(x[i].d) * (float)sumi - y[i].d * apr__fp16_to_fp32(x[i].dmin) * (float)summ;
    }
    *out = s;
}

static void apr__vec_dot_q5_K_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_q5_K *x = (const apr__block_q5_K *)w;
    const apr__block_q8_K *y = (const apr__block_q8_K *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        uint8_t sc[8], mn[8];
        apr__k4_scales(x[i].scales, sc, mn);
        const uint8_t *q5 = x[i].qs, *qh = x[i].qh;
        const int8_t *q8 = y[i].qs;
        int sumi = 0, summ = 0;
        for (int j = 0; j < 8; j++) summ += mn[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        for (int j = 0; j < 8; j += 2, q5 += 32, q8 += 64) {
            int t0 = 0, t1 = 0;
            for (int l = 0; l < 32; l++) {
                t0 += ((q5[l] & 0xF) | (((qh[l] >> j) & 1) << 4)) * q8[l];
                t1 += ((q5[l] >> 4) | (((qh[l] >> (j + 1)) & 1) << 4)) * q8[l + 32];
            }
            sumi += sc[j] * t0 + sc[j + 1] * t1;
        }
        s += y[i].d * apr__fp16_to_fp32(x[i].d) * (float)sumi - y[i].d * apr__fp16_to_fp32(x[i].dmin) * (float)summ;
    }
    *out = s;
}

static void apr__vec_dot_q6_K_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_q6_K *x = (const apr__block_q6_K *)w;
    const apr__block_q8_K *y = (const apr__block_q8_K *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales, *q8 = y[i].qs;
        int sumi = 0;
        for (int k = 0; k < 2; k++, ql += 64, qh += 32, sc += 8, q8 += 128) {
            int t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                t[is + 0] += q1 * q8[l];
                t[is + 2] += q2 * q8[l + 32];
                t[is + 4] += q3 * q8[l + 64];
                t[is + 6] += q4 * q8[l + 96];
            }
            for (int j = 0; j < 8; j++) sumi += sc[j] * t[j];
        }
        s += y[i].d * apr__fp16_to_fp32(x[i].d) * (float)sumi;
    }
    *out = s;
}

static void apr__vec_dot_iq4_xs_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_iq4_xs *x = (const apr__block_iq4_xs *)w;
    const apr__block_q8_K *y = (const apr__block_q8_K *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        const uint8_t *qs = x[i].qs;
        const int8_t *q8 = y[i].qs;
        int sumi = 0;
        for (int ib = 0; ib < 8; ib++, qs += 16, q8 += 32) {
            int t = 0;
            for (int j = 0; j < 16; j++)
                t += apr__iq4nl_values[qs[j] & 0xf] * q8[j] + apr__iq4nl_values[qs[j] >> 4] * q8[j + 16];
            sumi += apr__iq4xs_scale(&x[i], ib) * t;
        }
        s += y[i].d * apr__fp16_to_fp32(x[i].d) * (float)sumi;
    }
    *out = s;
}

/* @@SIMD@@ */

/* ---- type table ------------------------------------------------------------------------ */

typedef void (*apr__dequant_fn)(const void *src, float *dst, int64_t n);
typedef void (*apr__quantize_act_fn)(const float *x, void *dst, int64_t n);

typedef struct apr__type_traits {
    const char *name;
    int type;
    int64_t block_size;
    size_t block_bytes;
    int act_type;              /* activation type for dot products; -1: not a weight type */
    bool weight;               /* apr loads weights of this type */
    apr__dequant_fn dequant;
    apr__vec_dot_fn vec_dot_ref;
} apr__type_traits;

static const apr__type_traits apr__traits_table[] = {
    {"F32", APR_TYPE_F32, 1, 4, APR_TYPE_F32, true, apr__dequant_f32, apr__vec_dot_f32_ref},
    {"F16", APR_TYPE_F16, 1, 2, APR_TYPE_F32, true, apr__dequant_f16, apr__vec_dot_f16_ref},
    {"Q4_0", APR_TYPE_Q4_0, 32, 18, APR_TYPE_Q8_0, true, apr__dequant_q4_0, apr__vec_dot_q4_0_ref},
    {"Q4_1", APR_TYPE_Q4_1, 32, 20, APR_TYPE_Q8_1, true, apr__dequant_q4_1, apr__vec_dot_q4_1_ref},
    {"Q5_0", APR_TYPE_Q5_0, 32, 22, APR_TYPE_Q8_0, true, apr__dequant_q5_0, apr__vec_dot_q5_0_ref},
    {"Q5_1", APR_TYPE_Q5_1, 32, 24, APR_TYPE_Q8_1, true, apr__dequant_q5_1, apr__vec_dot_q5_1_ref},
    {"Q8_0", APR_TYPE_Q8_0, 32, 34, APR_TYPE_Q8_0, true, apr__dequant_q8_0, apr__vec_dot_q8_0_ref},
    {"Q8_1", APR_TYPE_Q8_1, 32, 36, -1, false, apr__dequant_q8_1, NULL},
    {"Q2_K", APR_TYPE_Q2_K, 256, 84, APR_TYPE_Q8_K, true, apr__dequant_q2_K, apr__vec_dot_q2_K_ref},
    {"Q3_K", APR_TYPE_Q3_K, 256, 110, APR_TYPE_Q8_K, true, apr__dequant_q3_K, apr__vec_dot_q3_K_ref},
    {"Q4_K", APR_TYPE_Q4_K, 256, 144, APR_TYPE_Q8_K, true, apr__dequant_q4_K, apr__vec_dot_q4_K_ref},
    {"Q5_K", APR_TYPE_Q5_K, 256, 176, APR_TYPE_Q8_K, true, apr__dequant_q5_K, apr__vec_dot_q5_K_ref},
    {"Q6_K", APR_TYPE_Q6_K, 256, 210, APR_TYPE_Q8_K, true, apr__dequant_q6_K, apr__vec_dot_q6_K_ref},
    {"Q8_K", APR_TYPE_Q8_K, 256, 292, -1, false, apr__dequant_q8_K, NULL},
    {"IQ4_NL", APR_TYPE_IQ4_NL, 32, 18, APR_TYPE_Q8_0, true, apr__dequant_iq4_nl, apr__vec_dot_iq4_nl_ref},
    {"IQ4_XS", APR_TYPE_IQ4_XS, 256, 136, APR_TYPE_Q8_K, true, apr__dequant_iq4_xs, apr__vec_dot_iq4_xs_ref},
    {"BF16", APR_TYPE_BF16, 1, 2, APR_TYPE_F32, true, apr__dequant_bf16, apr__vec_dot_bf16_ref},
};

static const apr__type_traits *apr__type_traits_of(int type) {
    for (size_t i = 0; i < APR__ARRAY_LEN(apr__traits_table); i++)
        if (apr__traits_table[i].type == type) return &apr__traits_table[i];
    return NULL;
}

APR__IMPL bool apr_type_supported(int type) {
    const apr__type_traits *t = apr__type_traits_of(type);
    return t && t->weight;
}

APR__IMPL apr_result apr_dequantize_row(int type, const void *src, float *dst, int64_t n) {
    const apr__type_traits *t = apr__type_traits_of(type);
    if (!t) return APR_ERROR_UNSUPPORTED;
    if (!src || !dst || n < 0 || n % t->block_size != 0) return APR_ERROR_INVALID_ARGUMENT;
    t->dequant(src, dst, n);
    return APR_SUCCESS;
}

/* ---- activations ------------------------------------------------------------------------ */

static size_t apr__act_row_bytes(int act_type, int64_t n) {
    switch (act_type) {
    case APR_TYPE_F32: return (size_t)n * 4;
    case APR_TYPE_Q8_0: return (size_t)(n / 32) * sizeof(apr__block_q8_0);
    case APR_TYPE_Q8_1: return (size_t)(n / 32) * sizeof(apr__block_q8_1);
    case APR_TYPE_Q8_K: return (size_t)(n / 256) * sizeof(apr__block_q8_K);
    }
    return 0;
}

static apr__quantize_act_fn apr__quantize_act_for(int act_type, int level) {
    (void)level;
    switch (act_type) {
    case APR_TYPE_F32: return apr__quantize_f32_copy;
    case APR_TYPE_Q8_0:
        /* @@Q8_0_SIMD@@ */
        return apr__quantize_q8_0_ref;
    case APR_TYPE_Q8_1: return apr__quantize_q8_1_ref;
    case APR_TYPE_Q8_K:
        /* @@Q8_K_SIMD@@ */
        return apr__quantize_q8_K_ref;
    }
    return NULL;
}

static void apr__quantize_act(int act_type, const float *x, void *dst, int64_t n) {
    apr__quantize_act_fn f = apr__quantize_act_for(act_type, apr__simd_level());
    if (f) f(x, dst, n);
}

/* ---- kernel selection and the rows x tokens product ------------------------------------- */

static apr__vec_dot_fn apr__vec_dot_for(int weight_type, int simd_level) {
    const apr__type_traits *t = apr__type_traits_of(weight_type);
    if (!t) return NULL;
    (void)simd_level;
    /* @@VEC_DOT_SIMD@@ */
    return t->vec_dot_ref;
}

static void apr__gemm_rows(int weight_type, int64_t n, const void *w, size_t w_row_stride,
                           int64_t n_rows, const void *act, size_t act_stride, int64_t n_tok,
                           float *out, int64_t ld_out) {
    apr__vec_dot_fn dot = apr__vec_dot_for(weight_type, apr__simd_level());
    if (!dot) return;
    const uint8_t *wb = (const uint8_t *)w, *ab = (const uint8_t *)act;
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t t = 0; t < n_tok; t++)
            dot(n, &out[t * ld_out + r], wb + (size_t)r * w_row_stride, ab + (size_t)t * act_stride);
}
