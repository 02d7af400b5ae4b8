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
     apr__act_row_bytes(act, n)     bytes of one quantized activation row of n floats
                                   (a Q8_0 row is its ggml blocks plus a float copy of
                                   each block scale: always use this for strides).
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
     apr__expand_to_q8_0(type, src, dst, n)
                                   Q4_0/Q5_0/IQ4_NL row -> Q8_0 row with the same values: a
                                   load-time repack for compute-bound CPUs (Q8_0 kernels do
                                   1.6x the weights/s); dot products stay bit-identical.
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

/* A Q8_0 activation row is its blocks (ggml's layout) followed, at a 4-byte aligned offset,
   by each block's scale as a float: kernels then need not convert the fp16 scale again
   for every weight row. The float equals the fp16 value exactly. */
static inline size_t apr__q8_0_scales_offset(int64_t n) { return ((size_t)(n / 32) * 34 + 3) & ~(size_t)3; }
static inline const float *apr__q8_0_act_scales(const void *act, int64_t n) {
    return (const float *)(const void *)((const uint8_t *)act + apr__q8_0_scales_offset(n));
}
static inline void apr__q8_0_write_scales(void *act, int64_t n) {
    const apr__block_q8_0 *y = (const apr__block_q8_0 *)act;
    uint8_t *base = (uint8_t *)act;
    size_t end = (size_t)(n / 32) * 34, off = apr__q8_0_scales_offset(n);
    memset(base + end, 0, off - end);
    for (int64_t i = 0; i < n / 32; i++) {
        float f = apr__fp16_to_fp32(y[i].d);
        memcpy(base + off + 4 * (size_t)i, &f, 4);
    }
}

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

static inline int apr__round_i(float x) {
    if (!(x >= -127.5f && x <= 127.5f)) return x > 0 ? 127 : x < 0 ? -127 : 0; /* NaN/inf: no UB */
    return (int)nearbyintf(x);
}

static void apr__quantize_q8_0_ref(const float *x, void *dst, int64_t n) {
    apr__block_q8_0 *y = (apr__block_q8_0 *)dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = APR__MAX(amax, fabsf(x[j]));
        const float d = amax / 127.0f, id = amax != 0 ? 127.0f / amax : 0.0f;
        y[i].d = apr__fp32_to_fp16(d);
        for (int j = 0; j < 32; j++) y[i].qs[j] = (int8_t)apr__round_i(x[j] * id);
    }
    apr__q8_0_write_scales(dst, n);
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
/* one weight row times nt (1..4) activation rows act + t*act_stride: res[t] */
typedef void (*apr__tile_fn)(int64_t n, const void *w_row, const uint8_t *act, size_t act_stride, int nt, float *res);
/* two weight rows (w, w + w_stride) times nt activation rows: res[r * 4 + t] */
typedef void (*apr__tile2_fn)(int64_t n, const void *w, size_t w_stride, const uint8_t *act, size_t act_stride, int nt, float *res);

#if defined(__GNUC__) || defined(__clang__)
#define APR__INLINE inline __attribute__((always_inline))
/* the token loops of the tiles must unroll so that their accumulators live in registers */
#define APR__UNROLL _Pragma("GCC unroll 8")
#else
#define APR__INLINE __forceinline
#define APR__UNROLL
#endif

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

/* Q4_K / Q5_K scales and mins, 6 bits each, unpacked to 8 + 8 bytes. */
static inline void apr__k4_unpack(const uint8_t *packed, uint32_t u[4]) {
    memcpy(u, packed, 12);
    u[3] = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);
    const uint32_t t = u[1] & 0x3f3f3f3fu;
    u[1] = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);
    u[2] = t;
    u[0] &= 0x3f3f3f3fu;
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

/* ---- AVX2 kernels ----------------------------------------------------------------------
   Weights are expanded to unsigned bytes (0..15, 0..31, 0..63) and multiplied with the
   signed int8 activations by maddubs (u8 x s8 -> s16 pairs) and madd (-> s32). Offsets
   (the -8 of Q4_0, the -16 of Q5_0, the -32 of Q6_K) are taken off afterwards with the
   activation sums, so the integer result equals the scalar reference's exactly. Signed
   weights (Q8_0, IQ4) use the sign trick: |w| * (a * sign(w)). Activations never hold
   -128, so no pair sum saturates. */

#if defined(APR__HAVE_X86_SIMD)

APR__TARGET_AVX2 static inline float apr__hsum_f32x8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

APR__TARGET_AVX2 static inline int apr__hsum_i32x8(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

APR__TARGET_AVX2 static inline float apr__h2f(uint16_t h) {
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

/* 16 bytes of packed nibbles -> 32 bytes: low nibbles (elements 0..15), then high. */
APR__TARGET_AVX2 static inline __m256i apr__nibbles_x32(const uint8_t *p) {
    __m128i t = _mm_loadu_si128((const __m128i *)p);
    __m256i b = _mm256_insertf128_si256(_mm256_castsi128_si256(t), _mm_srli_epi16(t, 4), 1);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0F));
}

/* 32 bits -> 32 bytes: 0xFF where the bit is set. */
APR__TARGET_AVX2 static inline __m256i apr__bits_x32(const uint8_t *p) {
    uint32_t x;
    memcpy(&x, p, 4);
    const __m256i spread = _mm256_setr_epi64x(0, 0x0101010101010101ll, 0x0202020202020202ll, 0x0303030303030303ll);
    __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), spread);
    b = _mm256_or_si256(b, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfell));
    return _mm256_cmpeq_epi8(b, _mm256_set1_epi64x(-1));
}

/* sum of products of unsigned u and signed s bytes, as 8 int32 */
APR__TARGET_AVX2 static inline __m256i apr__dot_us_x32(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* sum of products of two signed byte vectors (w may hold -128, a may not) */
APR__TARGET_AVX2 static inline __m256i apr__dot_ss_x32(__m256i w, __m256i a) {
    return apr__dot_us_x32(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
}

APR__TARGET_AVX2 static void apr__vec_dot_f32_avx2(int64_t n, float *out, const void *w, const void *a) {
    const float *x = (const float *)w, *y = (const float *)a;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), acc3);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
    float s = apr__hsum_f32x8(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++) s += x[i] * y[i];
    *out = s;
}

APR__TARGET_AVX2 static void apr__vec_dot_f16_avx2(int64_t n, float *out, const void *w, const void *a) {
    const uint16_t *x = (const uint16_t *)w;
    const float *y = (const float *)a;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    int64_t i = 0;
#define APR__F16X8(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(APR__F16X8(x + i), _mm256_loadu_ps(y + i), acc0);
        acc1 = _mm256_fmadd_ps(APR__F16X8(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(APR__F16X8(x + i + 16), _mm256_loadu_ps(y + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(APR__F16X8(x + i + 24), _mm256_loadu_ps(y + i + 24), acc3);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(APR__F16X8(x + i), _mm256_loadu_ps(y + i), acc0);
#undef APR__F16X8
    float s = apr__hsum_f32x8(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++) { uint16_t h; memcpy(&h, x + i, 2); s += apr__fp16_to_fp32(h) * y[i]; }
    *out = s;
}

APR__TARGET_AVX2 static void apr__vec_dot_bf16_avx2(int64_t n, float *out, const void *w, const void *a) {
    const uint16_t *x = (const uint16_t *)w;
    const float *y = (const float *)a;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
#define APR__BF16X8(p) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(APR__BF16X8(x + i), _mm256_loadu_ps(y + i), acc0);
        acc1 = _mm256_fmadd_ps(APR__BF16X8(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(APR__BF16X8(x + i), _mm256_loadu_ps(y + i), acc0);
#undef APR__BF16X8
    float s = apr__hsum_f32x8(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) { uint16_t h; memcpy(&h, x + i, 2); s += apr__bf16_to_fp32(h) * y[i]; }
    *out = s;
}

/* Blocks of 32 against Q8_0: the block's integer dot as 8 int32 lanes. */
APR__TARGET_AVX2 static inline __m256i apr__q4_0_dot_x32(const apr__block_q4_0 *x, __m256i a) {
    __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(apr__nibbles_x32(x->qs), a),
                                 _mm256_maddubs_epi16(_mm256_set1_epi8(8), a));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}
APR__TARGET_AVX2 static inline __m256i apr__q5_0_dot_x32(const apr__block_q5_0 *x, __m256i a) {
    __m256i q = _mm256_or_si256(apr__nibbles_x32(x->qs), _mm256_and_si256(apr__bits_x32(x->qh), _mm256_set1_epi8(0x10)));
    __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q, a), _mm256_maddubs_epi16(_mm256_set1_epi8(16), a));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}
APR__TARGET_AVX2 static inline __m256i apr__q8_0_dot_x32(const apr__block_q8_0 *x, __m256i a) {
    return apr__dot_ss_x32(_mm256_loadu_si256((const __m256i *)x->qs), a);
}
APR__TARGET_AVX2 static inline __m256i apr__iq4_nl_dot_x32(const apr__block_iq4_nl *x, __m256i a) {
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)apr__iq4nl_values));
    return apr__dot_ss_x32(_mm256_shuffle_epi8(table, apr__nibbles_x32(x->qs)), a);
}

/* One kernel per 32-block type: two independent accumulators hide the FMA latency. */
#define APR__DEFINE_DOT32_AVX2(NAME, BLOCK, DOTFN)                                              \
    APR__TARGET_AVX2 static void NAME(int64_t n, float *out, const void *w, const void *act) {  \
        const BLOCK *x = (const BLOCK *)w;                                                      \
        const apr__block_q8_0 *y = (const apr__block_q8_0 *)act;                                \
        const int64_t nb = n / 32;                                                              \
        const float *sa = apr__q8_0_act_scales(act, n);                                         \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();                          \
        int64_t i = 0;                                                                          \
        for (; i + 2 <= nb; i += 2) {                                                           \
            __m256i s0 = DOTFN(&x[i], _mm256_loadu_si256((const __m256i *)y[i].qs));            \
            __m256i s1 = DOTFN(&x[i + 1], _mm256_loadu_si256((const __m256i *)y[i + 1].qs));    \
            __m256 d0 = _mm256_set1_ps(apr__h2f(x[i].d) * sa[i]);                               \
            __m256 d1 = _mm256_set1_ps(apr__h2f(x[i + 1].d) * sa[i + 1]);                       \
            acc0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(s0), acc0);                           \
            acc1 = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(s1), acc1);                           \
        }                                                                                       \
        for (; i < nb; i++) {                                                                   \
            __m256i s0 = DOTFN(&x[i], _mm256_loadu_si256((const __m256i *)y[i].qs));            \
            __m256 d0 = _mm256_set1_ps(apr__h2f(x[i].d) * sa[i]);                               \
            acc0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(s0), acc0);                           \
        }                                                                                       \
        *out = apr__hsum_f32x8(_mm256_add_ps(acc0, acc1));                                      \
    }

APR__DEFINE_DOT32_AVX2(apr__vec_dot_q4_0_avx2, apr__block_q4_0, apr__q4_0_dot_x32)
APR__DEFINE_DOT32_AVX2(apr__vec_dot_q5_0_avx2, apr__block_q5_0, apr__q5_0_dot_x32)
APR__DEFINE_DOT32_AVX2(apr__vec_dot_q8_0_avx2, apr__block_q8_0, apr__q8_0_dot_x32)
APR__DEFINE_DOT32_AVX2(apr__vec_dot_iq4_nl_avx2, apr__block_iq4_nl, apr__iq4_nl_dot_x32)

/* Q4_1 / Q5_1 against Q8_1: unsigned weights, so no offset; the min meets the block sum. */
APR__TARGET_AVX2 static void apr__vec_dot_q4_1_avx2(int64_t n, float *out, const void *w, const void *act) {
    const apr__block_q4_1 *x = (const apr__block_q4_1 *)w;
    const apr__block_q8_1 *y = (const apr__block_q8_1 *)act;
    __m256 acc = _mm256_setzero_ps();
    float sm = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        __m256i s = apr__dot_us_x32(apr__nibbles_x32(x[i].qs), _mm256_loadu_si256((const __m256i *)y[i].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(apr__h2f(x[i].d) * apr__h2f(y[i].d)), _mm256_cvtepi32_ps(s), acc);
        sm += apr__h2f(x[i].m) * apr__h2f(y[i].s);
    }
    *out = apr__hsum_f32x8(acc) + sm;
}

APR__TARGET_AVX2 static void apr__vec_dot_q5_1_avx2(int64_t n, float *out, const void *w, const void *act) {
    const apr__block_q5_1 *x = (const apr__block_q5_1 *)w;
    const apr__block_q8_1 *y = (const apr__block_q8_1 *)act;
    __m256 acc = _mm256_setzero_ps();
    float sm = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        __m256i q = _mm256_or_si256(apr__nibbles_x32(x[i].qs), _mm256_and_si256(apr__bits_x32(x[i].qh), _mm256_set1_epi8(0x10)));
        __m256i s = apr__dot_us_x32(q, _mm256_loadu_si256((const __m256i *)y[i].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(apr__h2f(x[i].d) * apr__h2f(y[i].d)), _mm256_cvtepi32_ps(s), acc);
        sm += apr__h2f(x[i].m) * apr__h2f(y[i].s);
    }
    *out = apr__hsum_f32x8(acc) + sm;
}


/* sum over j of mins[j] * (bsums[2j] + bsums[2j+1]) */
APR__TARGET_AVX2 static inline int apr__k4_min_sum(const uint32_t u[4], const int16_t *bsums) {
    __m128i bs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)bsums), _mm_loadu_si128((const __m128i *)(bsums + 8)));
    __m128i mins = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)u[3], (int)u[2]));
    __m128i p = _mm_madd_epi16(bs, mins);
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0x4e));
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0xb1));
    return _mm_cvtsi128_si32(p);
}

/* int16 scale pairs for 16-element groups g and g+1 of a 16-scale block (Q6_K, Q3_K). */
APR__TARGET_AVX2 static inline __m256i apr__scale_pair16(__m128i sc8, int g) {
    const __m128i idx = _mm_add_epi8(_mm_set1_epi8((char)g), _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
    return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc8, idx));
}

/* Activation quantizers: the same float operations as the scalar ones (max of |x|,
   x * (127/amax), round to nearest even), so the bytes are identical. */
APR__TARGET_AVX2 static inline __m256i apr__round_pack_x32(const float *x, __m256 id) {
    __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), id));
    __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8), id));
    __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16), id));
    __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 24), id));
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

APR__TARGET_AVX2 static inline float apr__amax_f32(const float *x, int n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < n; j += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

APR__TARGET_AVX2 static void apr__quantize_q8_0_avx2(const float *x, void *dst, int64_t n) {
    apr__block_q8_0 *y = (apr__block_q8_0 *)dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        const float amax = apr__amax_f32(x, 32);
        const float id = amax != 0 ? 127.0f / amax : 0.0f;
        y[i].d = apr__fp32_to_fp16(amax / 127.0f);
        _mm256_storeu_si256((__m256i *)y[i].qs, apr__round_pack_x32(x, _mm256_set1_ps(id)));
    }
    apr__q8_0_write_scales(dst, n);
}

APR__TARGET_AVX2 static void apr__quantize_q8_1_avx2(const float *x, void *dst, int64_t n) {
    apr__block_q8_1 *y = (apr__block_q8_1 *)dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        const float amax = apr__amax_f32(x, 32);
        const float d = amax / 127.0f;
        const __m256i q = apr__round_pack_x32(x, _mm256_set1_ps(amax != 0 ? 127.0f / amax : 0.0f));
        _mm256_storeu_si256((__m256i *)y[i].qs, q);
        const int sum = apr__hsum_i32x8(_mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1)));
        y[i].d = apr__fp32_to_fp16(d);
        y[i].s = apr__fp32_to_fp16((float)sum * d);
    }
}

APR__TARGET_AVX2 static void apr__quantize_q8_K_avx2(const float *x, void *dst, int64_t n) {
    apr__block_q8_K *y = (apr__block_q8_K *)dst;
    for (int64_t i = 0; i < n / 256; i++, x += 256) {
        const float amax = apr__amax_f32(x, 256);
        const __m256 id = _mm256_set1_ps(amax != 0 ? 127.0f / amax : 0.0f);
        y[i].d = amax / 127.0f;
        for (int j = 0; j < 8; j++) {
            __m256i q = apr__round_pack_x32(x + 32 * j, id);
            _mm256_storeu_si256((__m256i *)(y[i].qs + 32 * j), q);
            /* two sums of 16: maddubs with ones gives pair sums, madd folds to 4+4 int32 */
            __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
            s = _mm256_hadd_epi32(s, s);
            s = _mm256_hadd_epi32(s, s);
            y[i].bsums[2 * j] = (int16_t)_mm256_extract_epi32(s, 0);
            y[i].bsums[2 * j + 1] = (int16_t)_mm256_extract_epi32(s, 4);
        }
    }
}

#endif /* APR__HAVE_X86_SIMD */

/* ---- AVX2 tiles for apr__gemm_rows: one weight row x up to 4 tokens --------------------
   Each weight block is decoded once and multiplied with the 4 tokens' activations, so
   the unpacking cost (nibbles, high bits, scales) is shared. The integer sums are the
   vec_dot ones; only the float accumulation order differs. */

#if defined(APR__HAVE_X86_SIMD)

/* kind: 0 Q4_0, 1 Q5_0, 2 Q8_0, 3 IQ4_NL (the Q8_0-activation types) */
APR__TARGET_AVX2 static APR__INLINE void apr__tile32_avx2(const int kind, const int NT, int64_t n, const void *w_row,
                                                           const uint8_t *act, size_t act_stride, float *res) {
    const int64_t nb = n / 32;
    __m256 acc[4];
    APR__UNROLL
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)apr__iq4nl_values));
    const __m256i off = _mm256_set1_epi8(kind == 0 ? 8 : 16);
    const uint8_t *wb = (const uint8_t *)w_row;
    const size_t bsz = kind == 0 ? 18 : kind == 1 ? 22 : kind == 2 ? 34 : 18;
    for (int64_t i = 0; i < nb; i++, wb += bsz) {
        uint16_t dh;
        memcpy(&dh, wb, 2);
        __m256i q, sg = _mm256_setzero_si256();
        if (kind == 0) {
            q = apr__nibbles_x32(wb + 2);
        } else if (kind == 1) {
            q = _mm256_or_si256(apr__nibbles_x32(wb + 6), _mm256_and_si256(apr__bits_x32(wb + 2), _mm256_set1_epi8(0x10)));
        } else {
            sg = kind == 2 ? _mm256_loadu_si256((const __m256i *)(wb + 2)) : _mm256_shuffle_epi8(table, apr__nibbles_x32(wb + 2));
            q = _mm256_sign_epi8(sg, sg);
        }
        const float dw = apr__h2f(dh);
        APR__UNROLL
        for (int t = 0; t < NT; t++) {
            const apr__block_q8_0 *y = (const apr__block_q8_0 *)(act + (size_t)t * act_stride) + i;
            const __m256i a = _mm256_loadu_si256((const __m256i *)y->qs);
            __m256i p;
            if (kind <= 1) p = _mm256_sub_epi16(_mm256_maddubs_epi16(q, a), _mm256_maddubs_epi16(off, a));
            else p = _mm256_maddubs_epi16(q, _mm256_sign_epi8(a, sg));
            const __m256i s = _mm256_madd_epi16(p, _mm256_set1_epi16(1));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * apr__q8_0_act_scales(act + (size_t)t * act_stride, n)[i]),
                                     _mm256_cvtepi32_ps(s), acc[t]);
        }
    }
    APR__UNROLL
    for (int t = 0; t < NT; t++) res[t] = apr__hsum_f32x8(acc[t]);
}

/* Two rows x NT tokens of a 32-block type: the rows share each activation load and, for
   Q4_0/Q5_0, the offset term maddubs(8 or 16, a). res[r * 4 + t]. */
APR__TARGET_AVX2 static APR__INLINE void apr__tile32x2_avx2(const int kind, const int NT, int64_t n, const void *w_row,
                                                             size_t w_stride, const uint8_t *act, size_t act_stride,
                                                             float *res) {
    const int64_t nb = n / 32;
    __m256 acc0[4], acc1[4];
    APR__UNROLL
    for (int t = 0; t < NT; t++) { acc0[t] = _mm256_setzero_ps(); acc1[t] = _mm256_setzero_ps(); }
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)apr__iq4nl_values));
    const __m256i off = _mm256_set1_epi8(kind == 0 ? 8 : 16), ones = _mm256_set1_epi16(1);
    const uint8_t *wb0 = (const uint8_t *)w_row, *wb1 = wb0 + w_stride;
    const size_t bsz = kind == 0 ? 18 : kind == 1 ? 22 : kind == 2 ? 34 : 18;
    for (int64_t i = 0; i < nb; i++, wb0 += bsz, wb1 += bsz) {
        uint16_t dh0, dh1;
        memcpy(&dh0, wb0, 2);
        memcpy(&dh1, wb1, 2);
        __m256i q0, q1, sg0 = _mm256_setzero_si256(), sg1 = _mm256_setzero_si256();
        if (kind == 0) {
            q0 = apr__nibbles_x32(wb0 + 2);
            q1 = apr__nibbles_x32(wb1 + 2);
        } else if (kind == 1) {
            q0 = _mm256_or_si256(apr__nibbles_x32(wb0 + 6), _mm256_and_si256(apr__bits_x32(wb0 + 2), _mm256_set1_epi8(0x10)));
            q1 = _mm256_or_si256(apr__nibbles_x32(wb1 + 6), _mm256_and_si256(apr__bits_x32(wb1 + 2), _mm256_set1_epi8(0x10)));
        } else {
            sg0 = kind == 2 ? _mm256_loadu_si256((const __m256i *)(wb0 + 2)) : _mm256_shuffle_epi8(table, apr__nibbles_x32(wb0 + 2));
            sg1 = kind == 2 ? _mm256_loadu_si256((const __m256i *)(wb1 + 2)) : _mm256_shuffle_epi8(table, apr__nibbles_x32(wb1 + 2));
            q0 = _mm256_sign_epi8(sg0, sg0);
            q1 = _mm256_sign_epi8(sg1, sg1);
        }
        const float dw0 = apr__h2f(dh0), dw1 = apr__h2f(dh1);
        APR__UNROLL
        for (int t = 0; t < NT; t++) {
            const apr__block_q8_0 *y = (const apr__block_q8_0 *)(act + (size_t)t * act_stride) + i;
            const __m256i a = _mm256_loadu_si256((const __m256i *)y->qs);
            __m256i p0, p1;
            if (kind <= 1) {
                const __m256i o = _mm256_maddubs_epi16(off, a);
                p0 = _mm256_sub_epi16(_mm256_maddubs_epi16(q0, a), o);
                p1 = _mm256_sub_epi16(_mm256_maddubs_epi16(q1, a), o);
            } else {
                p0 = _mm256_maddubs_epi16(q0, _mm256_sign_epi8(a, sg0));
                p1 = _mm256_maddubs_epi16(q1, _mm256_sign_epi8(a, sg1));
            }
            const float da = apr__q8_0_act_scales(act + (size_t)t * act_stride, n)[i];
            acc0[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw0 * da), _mm256_cvtepi32_ps(_mm256_madd_epi16(p0, ones)), acc0[t]);
            acc1[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw1 * da), _mm256_cvtepi32_ps(_mm256_madd_epi16(p1, ones)), acc1[t]);
        }
    }
    APR__UNROLL
    for (int t = 0; t < NT; t++) {
        res[t] = apr__hsum_f32x8(acc0[t]);
        res[4 + t] = apr__hsum_f32x8(acc1[t]);
    }
}

/* kind: 0 Q4_K, 1 Q5_K */
APR__TARGET_AVX2 static APR__INLINE void apr__tile_k45_avx2(const int kind, const int NT, int64_t n, const void *w_row,
                                                             const uint8_t *act, size_t act_stride, float *res) {
    __m256 acc[4];
    float accm[4];
    APR__UNROLL
    for (int t = 0; t < NT; t++) { acc[t] = _mm256_setzero_ps(); accm[t] = 0; }
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < n / 256; i++) {
        const uint8_t *scales, *qs, *qh = NULL;
        uint16_t dh, dmh;
        if (kind == 0) {
            const apr__block_q4_K *x = (const apr__block_q4_K *)w_row + i;
            scales = x->scales; qs = x->qs; dh = x->d; dmh = x->dmin;
        } else {
            const apr__block_q5_K *x = (const apr__block_q5_K *)w_row + i;
            scales = x->scales; qs = x->qs; qh = x->qh; dh = x->d; dmh = x->dmin;
        }
        uint32_t u[4];
        apr__k4_unpack(scales, u);
        const float dw = apr__h2f(dh), dmw = apr__h2f(dmh);
        const __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)u[1], (int)u[0])));
        const __m256i hb = kind == 1 ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
        __m256i sumi[4];
        APR__UNROLL
        for (int t = 0; t < NT; t++) {
            const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride) + i;
            accm[t] += y->d * dmw * (float)apr__k4_min_sum(u, y->bsums);
            sumi[t] = _mm256_setzero_si256();
        }
        APR__UNROLL
        for (int j = 0; j < 4; j++) {
            const __m256i scl = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(((4 * j + 1) << 8) | (4 * j))));
            const __m256i sch = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(((4 * j + 3) << 8) | (4 * j + 2))));
            const __m256i qb = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
            __m256i ql = _mm256_and_si256(qb, m4), qhh = _mm256_and_si256(_mm256_srli_epi16(qb, 4), m4);
            if (kind == 1) {
                ql = _mm256_or_si256(ql, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), one), 4));
                qhh = _mm256_or_si256(qhh, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), one), 4));
            }
            APR__UNROLL
            for (int t = 0; t < NT; t++) {
                const int8_t *q8 = ((const apr__block_q8_K *)(act + (size_t)t * act_stride) + i)->qs + 64 * j;
                __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(ql, _mm256_loadu_si256((const __m256i *)q8)), scl);
                __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(qhh, _mm256_loadu_si256((const __m256i *)(q8 + 32))), sch);
                sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(pl, ph));
            }
        }
        APR__UNROLL
        for (int t = 0; t < NT; t++) {
            const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride) + i;
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(y->d * dw), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
        }
    }
    APR__UNROLL
    for (int t = 0; t < NT; t++) res[t] = apr__hsum_f32x8(acc[t]) - accm[t];
}

APR__TARGET_AVX2 static APR__INLINE void apr__tile6k_avx2(const int NT, int64_t n, const void *w_row,
                                                              const uint8_t *act, size_t act_stride, float *res) {
    __m256 acc[4];
    APR__UNROLL
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3);
    for (int64_t i = 0; i < n / 256; i++) {
        const apr__block_q6_K *x = (const apr__block_q6_K *)w_row + i;
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)x->scales);
        const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
        __m256i sumi[4];
        APR__UNROLL
        for (int t = 0; t < NT; t++) {
            const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride) + i;
            sumi[t] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                       _mm256_slli_epi32(_mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)y->bsums)), 5));
        }
        APR__UNROLL
        for (int k = 0; k < 2; k++) {
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * k));
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * k + 32));
            const __m256i h = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * k));
            __m256i q[4], s[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m3), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m3), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m3), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m3), 4));
            APR__UNROLL
            for (int g = 0; g < 4; g++) s[g] = apr__scale_pair16(sc8, 8 * k + 2 * g);
            APR__UNROLL
            for (int t = 0; t < NT; t++) {
                const int8_t *q8 = ((const apr__block_q8_K *)(act + (size_t)t * act_stride) + i)->qs + 128 * k;
                __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(q[0], _mm256_loadu_si256((const __m256i *)q8)), s[0]);
                __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q[1], _mm256_loadu_si256((const __m256i *)(q8 + 32))), s[1]);
                __m256i p2 = _mm256_madd_epi16(_mm256_maddubs_epi16(q[2], _mm256_loadu_si256((const __m256i *)(q8 + 64))), s[2]);
                __m256i p3 = _mm256_madd_epi16(_mm256_maddubs_epi16(q[3], _mm256_loadu_si256((const __m256i *)(q8 + 96))), s[3]);
                sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(_mm256_add_epi32(p0, p1), _mm256_add_epi32(p2, p3)));
            }
        }
        const float dw = apr__h2f(x->d);
        APR__UNROLL
        for (int t = 0; t < NT; t++) {
            const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride) + i;
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(y->d * dw), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
        }
    }
    APR__UNROLL
    for (int t = 0; t < NT; t++) res[t] = apr__hsum_f32x8(acc[t]);
}

/* F32/F16 weights: 4 tokens share each weight load and conversion. */
/* f16: 0 F32, 1 F16, 2 BF16 weights */
APR__TARGET_AVX2 static APR__INLINE void apr__tile_f_avx2(const int f16, const int NT, int64_t n, const void *w_row,
                                                           const uint8_t *act, size_t act_stride, float *res) {
    __m256 acc[4];
    APR__UNROLL
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h8 = _mm_loadu_si128((const __m128i *)((const uint16_t *)w_row + i));
        const __m256 wv = f16 == 1 ? _mm256_cvtph_ps(h8)
                          : f16 == 2 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h8), 16))
                                     : _mm256_loadu_ps((const float *)w_row + i);
        APR__UNROLL
        for (int t = 0; t < NT; t++)
            acc[t] = _mm256_fmadd_ps(wv, _mm256_loadu_ps((const float *)(act + (size_t)t * act_stride) + i), acc[t]);
    }
    APR__UNROLL
    for (int t = 0; t < NT; t++) {
        float s = apr__hsum_f32x8(acc[t]);
        const float *y = (const float *)(act + (size_t)t * act_stride);
        for (int64_t j = i; j < n; j++) {
            float wj;
            if (f16) {
                uint16_t h;
                memcpy(&h, (const uint16_t *)w_row + j, 2);
                wj = f16 == 1 ? apr__fp16_to_fp32(h) : apr__bf16_to_fp32(h);
            }
            else wj = ((const float *)w_row)[j];
            s += wj * y[j];
        }
        res[t] = s;
    }
}

/* kind: 0 Q2_K, 1 Q3_K, 2 IQ4_XS: 32-element groups with a per-16 (or per-32) scale */
APR__TARGET_AVX2 static APR__INLINE void apr__tile_k23_avx2(const int kind, const int NT, int64_t n, const void *w_row,
                                                             const uint8_t *act, size_t act_stride, float *res) {
    __m256 acc[4];
    float accm[4];
    APR__UNROLL
    for (int t = 0; t < NT; t++) { acc[t] = _mm256_setzero_ps(); accm[t] = 0; }
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)apr__iq4nl_values));
    for (int64_t i = 0; i < n / 256; i++) {
        __m256i sumi[4];
        __m128i sc8 = _mm_setzero_si128();
        __m256i qb[2], hm = _mm256_setzero_si256();
        float dw;
        const uint8_t *xq = NULL;
        const apr__block_iq4_xs *bx = NULL;
        if (kind == 0) {
            const apr__block_q2_K *x = (const apr__block_q2_K *)w_row + i;
            const __m128i raw = _mm_loadu_si128((const __m128i *)x->scales);
            sc8 = _mm_and_si128(raw, _mm_set1_epi8(0x0F));
            const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0F)));
            const float dmw = apr__h2f(x->dmin);
            APR__UNROLL
            for (int t = 0; t < NT; t++) {
                const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride) + i;
                accm[t] += y->d * dmw * (float)apr__hsum_i32x8(_mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)y->bsums)));
                sumi[t] = _mm256_setzero_si256();
            }
            xq = x->qs;
            dw = apr__h2f(x->d);
        } else if (kind == 1) {
            const apr__block_q3_K *x = (const apr__block_q3_K *)w_row + i;
            int8_t sc[16];
            apr__q3k_scales(x->scales, sc);
            sc8 = _mm_loadu_si128((const __m128i *)sc);
            const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
            APR__UNROLL
            for (int t = 0; t < NT; t++) {
                const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride) + i;
                sumi[t] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                           _mm256_slli_epi32(_mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)y->bsums)), 2));
            }
            hm = _mm256_loadu_si256((const __m256i *)x->hmask);
            xq = x->qs;
            dw = apr__h2f(x->d);
        } else {
            bx = (const apr__block_iq4_xs *)w_row + i;
            APR__UNROLL
            for (int t = 0; t < NT; t++) sumi[t] = _mm256_setzero_si256();
            dw = apr__h2f(bx->d);
        }
        if (kind <= 1) {
            qb[0] = _mm256_loadu_si256((const __m256i *)xq);
            qb[1] = _mm256_loadu_si256((const __m256i *)(xq + 32));
        }
        APR__UNROLL
        for (int g = 0; g < 8; g++) {  /* 32 elements each */
            __m256i q, sc;
            if (kind <= 1) {
                const int k = g / 4, s2 = g % 4;
                q = _mm256_and_si256(_mm256_srli_epi16(qb[k], 2 * s2), m3);
                if (kind == 1) q = _mm256_or_si256(q, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hm, g), one), 2));
                sc = apr__scale_pair16(sc8, 8 * k + 2 * s2);
            } else {
                const __m256i v = _mm256_shuffle_epi8(table, apr__nibbles_x32(bx->qs + 16 * g));
                q = _mm256_sign_epi8(v, v);
                sc = _mm256_set1_epi16((short)apr__iq4xs_scale(bx, g));
                APR__UNROLL
                for (int t = 0; t < NT; t++) {
                    const int8_t *q8 = ((const apr__block_q8_K *)(act + (size_t)t * act_stride) + i)->qs + 32 * g;
                    const __m256i p = _mm256_maddubs_epi16(q, _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)q8), v));
                    sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p, sc));
                }
                continue;
            }
            APR__UNROLL
            for (int t = 0; t < NT; t++) {
                const int8_t *q8 = ((const apr__block_q8_K *)(act + (size_t)t * act_stride) + i)->qs + 32 * g;
                const __m256i p = _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)q8));
                sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p, sc));
            }
        }
        APR__UNROLL
        for (int t = 0; t < NT; t++) {
            const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride) + i;
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(y->d * dw), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
        }
    }
    APR__UNROLL
    for (int t = 0; t < NT; t++) res[t] = apr__hsum_f32x8(acc[t]) - accm[t];
}

/* their vec_dot is the one-token tile: fully unrolled, it measured faster than a loop */
APR__TARGET_AVX2 static void apr__vec_dot_q2_K_avx2(int64_t n, float *out, const void *w, const void *a) {
    apr__tile_k23_avx2(0, 1, n, w, (const uint8_t *)a, 0, out);
}
APR__TARGET_AVX2 static void apr__vec_dot_q3_K_avx2(int64_t n, float *out, const void *w, const void *a) {
    apr__tile_k23_avx2(1, 1, n, w, (const uint8_t *)a, 0, out);
}
APR__TARGET_AVX2 static void apr__vec_dot_iq4_xs_avx2(int64_t n, float *out, const void *w, const void *a) {
    apr__tile_k23_avx2(2, 1, n, w, (const uint8_t *)a, 0, out);
}

/* The K-quants' vec_dot is their one-token tile too: with the sub-block loop unrolled
   (constant scale shuffles) it measured 1.3x the looped kernel (Q5_K, Q6_K). */
APR__TARGET_AVX2 static void apr__vec_dot_q4_K_t1(int64_t n, float *out, const void *w, const void *a) {
    apr__tile_k45_avx2(0, 1, n, w, (const uint8_t *)a, 0, out);
}
APR__TARGET_AVX2 static void apr__vec_dot_q5_K_t1(int64_t n, float *out, const void *w, const void *a) {
    apr__tile_k45_avx2(1, 1, n, w, (const uint8_t *)a, 0, out);
}
APR__TARGET_AVX2 static void apr__vec_dot_q6_K_t1(int64_t n, float *out, const void *w, const void *a) {
    apr__tile6k_avx2(1, n, w, (const uint8_t *)a, 0, out);
}

#define APR__DEFINE_TILE_AVX2(NAME, CALL)                                                                        \
    APR__TARGET_AVX2 static void NAME(int64_t n, const void *w, const uint8_t *act, size_t as, int nt, float *res) { \
        switch (nt) {                                                                                            \
        case 4: CALL(4); break;                                                                                  \
        case 3: CALL(3); break;                                                                                  \
        case 2: CALL(2); break;                                                                                  \
        default: CALL(1); break;                                                                                 \
        }                                                                                                        \
    }
#define APR__T_Q4_0(NT) apr__tile32_avx2(0, NT, n, w, act, as, res)
#define APR__T_Q5_0(NT) apr__tile32_avx2(1, NT, n, w, act, as, res)
#define APR__T_Q8_0(NT) apr__tile32_avx2(2, NT, n, w, act, as, res)
#define APR__T_IQ4_NL(NT) apr__tile32_avx2(3, NT, n, w, act, as, res)
#define APR__T_Q4_K(NT) apr__tile_k45_avx2(0, NT, n, w, act, as, res)
#define APR__T_Q5_K(NT) apr__tile_k45_avx2(1, NT, n, w, act, as, res)
#define APR__T_Q6_K(NT) apr__tile6k_avx2(NT, n, w, act, as, res)
#define APR__T_F32(NT) apr__tile_f_avx2(0, NT, n, w, act, as, res)
#define APR__T_F16(NT) apr__tile_f_avx2(1, NT, n, w, act, as, res)
#define APR__T_BF16(NT) apr__tile_f_avx2(2, NT, n, w, act, as, res)
#define APR__T_Q2_K(NT) apr__tile_k23_avx2(0, NT, n, w, act, as, res)
#define APR__T_Q3_K(NT) apr__tile_k23_avx2(1, NT, n, w, act, as, res)
#define APR__T_IQ4_XS(NT) apr__tile_k23_avx2(2, NT, n, w, act, as, res)
#define APR__DEFINE_TILE2_AVX2(NAME, KIND)                                                                        \
    APR__TARGET_AVX2 static void NAME(int64_t n, const void *w, size_t ws, const uint8_t *act, size_t as, int nt,   \
                                      float *res) {                                                               \
        switch (nt) {                                                                                             \
        case 4: apr__tile32x2_avx2(KIND, 4, n, w, ws, act, as, res); break;                                       \
        case 3: apr__tile32x2_avx2(KIND, 3, n, w, ws, act, as, res); break;                                       \
        case 2: apr__tile32x2_avx2(KIND, 2, n, w, ws, act, as, res); break;                                       \
        default: apr__tile32x2_avx2(KIND, 1, n, w, ws, act, as, res); break;                                      \
        }                                                                                                         \
    }
APR__DEFINE_TILE2_AVX2(apr__tile2_q4_0_avx2, 0)
APR__DEFINE_TILE2_AVX2(apr__tile2_q5_0_avx2, 1)
APR__DEFINE_TILE_AVX2(apr__tile_q4_0_avx2, APR__T_Q4_0)
APR__DEFINE_TILE_AVX2(apr__tile_q5_0_avx2, APR__T_Q5_0)
APR__DEFINE_TILE_AVX2(apr__tile_q8_0_avx2, APR__T_Q8_0)
APR__DEFINE_TILE_AVX2(apr__tile_iq4_nl_avx2, APR__T_IQ4_NL)
APR__DEFINE_TILE_AVX2(apr__tile_q4_K_avx2, APR__T_Q4_K)
APR__DEFINE_TILE_AVX2(apr__tile_q5_K_avx2, APR__T_Q5_K)
APR__DEFINE_TILE_AVX2(apr__tile_q6_K_avx2, APR__T_Q6_K)
APR__DEFINE_TILE_AVX2(apr__tile_f32_avx2, APR__T_F32)
APR__DEFINE_TILE_AVX2(apr__tile_f16_avx2, APR__T_F16)
APR__DEFINE_TILE_AVX2(apr__tile_bf16_avx2, APR__T_BF16)
APR__DEFINE_TILE_AVX2(apr__tile_q2_K_avx2, APR__T_Q2_K)
APR__DEFINE_TILE_AVX2(apr__tile_q3_K_avx2, APR__T_Q3_K)
APR__DEFINE_TILE_AVX2(apr__tile_iq4_xs_avx2, APR__T_IQ4_XS)

#endif /* APR__HAVE_X86_SIMD */

/* ---- AVX-512 kernels (F + BW + VL + DQ) ---------------------------------------------------
   The AVX2 scheme on 64-byte registers: two 32-element blocks, or one 64-element slice of
   a K-quant super-block, per instruction. The AVX2 helpers inline into these. */

#if defined(APR__HAVE_X86_SIMD)

APR__TARGET_AVX512 static inline __m512i apr__cat256(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

APR__TARGET_AVX512 static void apr__vec_dot_f32_avx512(int64_t n, float *out, const void *w, const void *a) {
    const float *x = (const float *)w, *y = (const float *)a;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps(), acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), acc1);
        acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), _mm512_loadu_ps(y + i + 32), acc2);
        acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), _mm512_loadu_ps(y + i + 48), acc3);
    }
    for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), acc0);
    if (i < n) {  /* masked tail: n need not be a multiple of 16 */
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i), acc1);
    }
    *out = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

APR__TARGET_AVX512 static void apr__vec_dot_f16_avx512(int64_t n, float *out, const void *w, const void *a) {
    const uint16_t *x = (const uint16_t *)w;
    const float *y = (const float *)a;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))), _mm512_loadu_ps(y + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i + 16))), _mm512_loadu_ps(y + i + 16), acc1);
    }
    for (; i + 16 <= n; i += 16)
        acc0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))), _mm512_loadu_ps(y + i), acc0);
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        acc1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i)), _mm512_maskz_loadu_ps(m, y + i), acc1);
    }
    *out = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

/* 32-element blocks stay on AVX2 at level 2: 512-bit versions (two blocks per register,
   with maddubs/madd and with VNNI's dpbusd) measured 15-25% slower than the AVX2 kernels
   on a Xeon (Sapphire Rapids class) in bench_quant: the 34/22/18-byte blocks need
   inserts to fill a register, and the per-block scale work does not shrink. */

/* Q4_K / Q5_K stay on AVX2 at level 2: a 512-bit version (one 64-element slice per
   register) measured slower than the unrolled AVX2 one-token tile (Q5_K 12-13 vs 16-17
   GB/s, Xeon). Q6_K's 512-bit kernel is kept: it equals the AVX2 tile there. */

APR__TARGET_AVX512 static void apr__vec_dot_q6_K_avx512(int64_t n, float *out, const void *w, const void *act) {
    const apr__block_q6_K *x = (const apr__block_q6_K *)w;
    const apr__block_q8_K *y = (const apr__block_q8_K *)act;
    __m512 acc = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(3);
    const __m512i sh01 = apr__cat256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
    const __m512i sh23 = apr__cat256(_mm256_set1_epi16(4), _mm256_set1_epi16(6));
    /* int16 lane -> scale index: 8 lanes per 16-element group */
    const __m512i g0 = _mm512_set_epi64(0x0003000300030003ll, 0x0003000300030003ll, 0x0002000200020002ll, 0x0002000200020002ll,
                                        0x0001000100010001ll, 0x0001000100010001ll, 0, 0);
    for (int64_t i = 0; i < n / 256; i++) {
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)x[i].scales);
        const __m256i sc16y = _mm256_cvtepi8_epi16(sc8);
        const __m512i sc16 = _mm512_castsi256_si512(sc16y);
        __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(sc16y, _mm256_loadu_si256((const __m256i *)y[i].bsums)), 5);
        __m512i sumi = _mm512_castsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), corr));
        sumi = _mm512_inserti64x4(sumi, _mm256_setzero_si256(), 1);
        const int8_t *q8 = y[i].qs;
        for (int k = 0; k < 2; k++, q8 += 128) {
            const __m512i L = _mm512_loadu_si512((const void *)(x[i].ql + 64 * k));
            const __m512i H = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * k)));
            const __m512i q01 = _mm512_or_si512(_mm512_and_si512(L, m4), _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(H, sh01), m3), 4));
            const __m512i q23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(L, 4), m4), _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(H, sh23), m3), 4));
            const __m512i s01 = _mm512_permutexvar_epi16(_mm512_add_epi16(g0, _mm512_set1_epi16((short)(8 * k))), sc16);
            const __m512i s23 = _mm512_permutexvar_epi16(_mm512_add_epi16(g0, _mm512_set1_epi16((short)(8 * k + 4))), sc16);
            const __m512i p01 = _mm512_madd_epi16(_mm512_maddubs_epi16(q01, _mm512_loadu_si512((const void *)q8)), s01);
            const __m512i p23 = _mm512_madd_epi16(_mm512_maddubs_epi16(q23, _mm512_loadu_si512((const void *)(q8 + 64))), s23);
            sumi = _mm512_add_epi32(sumi, _mm512_add_epi32(p01, p23));
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(y[i].d * apr__h2f(x[i].d)), _mm512_cvtepi32_ps(sumi), acc);
    }
    *out = _mm512_reduce_add_ps(acc);
}

#endif /* APR__HAVE_X86_SIMD */


/* ---- NEON kernels (AArch64) --------------------------------------------------------------
   Weights are expanded to signed bytes and multiplied with the int8 activations 16 at a
   time: SDOT where the compiler targets it (armv8.2-a+dotprod), widening multiplies and
   pairwise adds otherwise. Same integer sums as the scalar reference. */

#if defined(APR__HAVE_NEON)

static inline int32x4_t apr__sdot_s8x16(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(acc, a, b);
#else
    int16x8_t lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    int16x8_t hi = vmull_high_s8(a, b);
    return vpadalq_s16(vpadalq_s16(acc, lo), hi);
#endif
}

/* 32 products of a 32-element block: w0/w1 are elements 0..15 / 16..31 */
static inline int32x4_t apr__sdot_x32(int8x16_t w0, int8x16_t w1, const int8_t *a) {
    return apr__sdot_s8x16(apr__sdot_s8x16(vdupq_n_s32(0), w0, vld1q_s8(a)), w1, vld1q_s8(a + 16));
}

static void apr__vec_dot_f32_neon(int64_t n, float *out, const void *w, const void *a) {
    const float *x = (const float *)w, *y = (const float *)a;
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0), acc2 = vdupq_n_f32(0), acc3 = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = vfmaq_f32(acc0, vld1q_f32(x + i), vld1q_f32(y + i));
        acc1 = vfmaq_f32(acc1, vld1q_f32(x + i + 4), vld1q_f32(y + i + 4));
        acc2 = vfmaq_f32(acc2, vld1q_f32(x + i + 8), vld1q_f32(y + i + 8));
        acc3 = vfmaq_f32(acc3, vld1q_f32(x + i + 12), vld1q_f32(y + i + 12));
    }
    for (; i + 4 <= n; i += 4) acc0 = vfmaq_f32(acc0, vld1q_f32(x + i), vld1q_f32(y + i));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3)));
    for (; i < n; i++) s += x[i] * y[i];
    *out = s;
}

static void apr__vec_dot_f16_neon(int64_t n, float *out, const void *w, const void *a) {
    const uint16_t *x = (const uint16_t *)w;
    const float *y = (const float *)a;
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(x + i));
        acc0 = vfmaq_f32(acc0, vcvt_f32_f16(vget_low_f16(h)), vld1q_f32(y + i));
        acc1 = vfmaq_f32(acc1, vcvt_high_f32_f16(h), vld1q_f32(y + i + 4));
    }
    float s = vaddvq_f32(vaddq_f32(acc0, acc1));
    for (; i < n; i++) s += apr__fp16_to_fp32(x[i]) * y[i];
    *out = s;
}

static void apr__vec_dot_bf16_neon(int64_t n, float *out, const void *w, const void *a) {
    const uint16_t *x = (const uint16_t *)w;
    const float *y = (const float *)a;
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint16x8_t h = vld1q_u16(x + i);
        acc0 = vfmaq_f32(acc0, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16)), vld1q_f32(y + i));
        acc1 = vfmaq_f32(acc1, vreinterpretq_f32_u32(vshll_high_n_u16(h, 16)), vld1q_f32(y + i + 4));
    }
    float s = vaddvq_f32(vaddq_f32(acc0, acc1));
    for (; i < n; i++) s += apr__bf16_to_fp32(x[i]) * y[i];
    *out = s;
}

/* 32 high bits of Q5 blocks -> two vectors of 0x10 / 0x00 */
static inline void apr__q5_high_neon(const uint8_t *qh4, uint8x16_t *h0, uint8x16_t *h1) {
    static const uint8_t bit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t m = vld1q_u8(bit), v10 = vdupq_n_u8(0x10);
    *h0 = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh4[0]), vdup_n_u8(qh4[1])), m), v10);
    *h1 = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh4[2]), vdup_n_u8(qh4[3])), m), v10);
}

/* kind: 0 Q4_0, 1 Q5_0, 2 Q8_0, 3 IQ4_NL */
static inline void apr__neon_block32(int kind, const uint8_t *b, int8x16_t *w0, int8x16_t *w1) {
    if (kind == 2) {
        *w0 = vld1q_s8((const int8_t *)b + 2);
        *w1 = vld1q_s8((const int8_t *)b + 18);
        return;
    }
    const uint8x16_t v = vld1q_u8(b + (kind == 1 ? 6 : 2));
    uint8x16_t lo = vandq_u8(v, vdupq_n_u8(0x0F)), hi = vshrq_n_u8(v, 4);
    if (kind == 0) {
        *w0 = vsubq_s8(vreinterpretq_s8_u8(lo), vdupq_n_s8(8));
        *w1 = vsubq_s8(vreinterpretq_s8_u8(hi), vdupq_n_s8(8));
    } else if (kind == 1) {
        uint8x16_t h0, h1;
        apr__q5_high_neon(b + 2, &h0, &h1);
        *w0 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo, h0)), vdupq_n_s8(16));
        *w1 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(hi, h1)), vdupq_n_s8(16));
    } else {
        const int8x16_t table = vld1q_s8(apr__iq4nl_values);
        *w0 = vqtbl1q_s8(table, lo);
        *w1 = vqtbl1q_s8(table, hi);
    }
}

static inline void apr__vec_dot32_neon(int kind, size_t bsz, int64_t n, float *out, const void *w, const void *act) {
    const uint8_t *b = (const uint8_t *)w;
    const apr__block_q8_0 *y = (const apr__block_q8_0 *)act;
    const float *sa = apr__q8_0_act_scales(act, n);
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
    const int64_t nb = n / 32;
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2, b += 2 * bsz) {
        int8x16_t w0, w1, w2, w3;
        apr__neon_block32(kind, b, &w0, &w1);
        apr__neon_block32(kind, b + bsz, &w2, &w3);
        uint16_t d0, d1;
        memcpy(&d0, b, 2);
        memcpy(&d1, b + bsz, 2);
        acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(apr__sdot_x32(w0, w1, y[i].qs)), apr__fp16_to_fp32(d0) * sa[i]);
        acc1 = vfmaq_n_f32(acc1, vcvtq_f32_s32(apr__sdot_x32(w2, w3, y[i + 1].qs)), apr__fp16_to_fp32(d1) * sa[i + 1]);
    }
    for (; i < nb; i++, b += bsz) {
        int8x16_t w0, w1;
        apr__neon_block32(kind, b, &w0, &w1);
        uint16_t d0;
        memcpy(&d0, b, 2);
        acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(apr__sdot_x32(w0, w1, y[i].qs)), apr__fp16_to_fp32(d0) * sa[i]);
    }
    *out = vaddvq_f32(vaddq_f32(acc0, acc1));
}

static void apr__vec_dot_q4_0_neon(int64_t n, float *out, const void *w, const void *a) { apr__vec_dot32_neon(0, 18, n, out, w, a); }
static void apr__vec_dot_q5_0_neon(int64_t n, float *out, const void *w, const void *a) { apr__vec_dot32_neon(1, 22, n, out, w, a); }
static void apr__vec_dot_q8_0_neon(int64_t n, float *out, const void *w, const void *a) { apr__vec_dot32_neon(2, 34, n, out, w, a); }
static void apr__vec_dot_iq4_nl_neon(int64_t n, float *out, const void *w, const void *a) { apr__vec_dot32_neon(3, 18, n, out, w, a); }

/* Q4_K (kind 0) / Q5_K (kind 1) */
static inline void apr__vec_dot_k45_neon(int kind, int64_t n, float *out, const void *w, const void *act) {
    const apr__block_q8_K *y = (const apr__block_q8_K *)act;
    float s = 0;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), v10 = vdupq_n_u8(0x10);
    for (int64_t i = 0; i < n / 256; i++) {
        const uint8_t *scales, *qs, *qh = NULL;
        uint16_t dh, dmh;
        if (kind == 0) {
            const apr__block_q4_K *x = (const apr__block_q4_K *)w + i;
            scales = x->scales; qs = x->qs; dh = x->d; dmh = x->dmin;
        } else {
            const apr__block_q5_K *x = (const apr__block_q5_K *)w + i;
            scales = x->scales; qs = x->qs; qh = x->qh; dh = x->d; dmh = x->dmin;
        }
        uint32_t u[4];
        apr__k4_unpack(scales, u);
        const uint8_t *sc = (const uint8_t *)u, *mn = (const uint8_t *)u + 8;
        int summ = 0;
        for (int j = 0; j < 8; j++) summ += mn[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        uint8x16_t hb0 = vdupq_n_u8(0), hb1 = vdupq_n_u8(0);
        if (kind == 1) { hb0 = vld1q_u8(qh); hb1 = vld1q_u8(qh + 16); }
        const int8_t *q8 = y[i].qs;
        int sumi = 0;
        for (int j = 0; j < 4; j++, qs += 32, q8 += 64) {
            const uint8x16_t v0 = vld1q_u8(qs), v1 = vld1q_u8(qs + 16);
            uint8x16_t l0 = vandq_u8(v0, m4), l1 = vandq_u8(v1, m4), h0 = vshrq_n_u8(v0, 4), h1 = vshrq_n_u8(v1, 4);
            if (kind == 1) {
                const uint8x16_t bl = vdupq_n_u8((uint8_t)(1u << (2 * j))), bh = vdupq_n_u8((uint8_t)(2u << (2 * j)));
                l0 = vorrq_u8(l0, vandq_u8(vtstq_u8(hb0, bl), v10));
                l1 = vorrq_u8(l1, vandq_u8(vtstq_u8(hb1, bl), v10));
                h0 = vorrq_u8(h0, vandq_u8(vtstq_u8(hb0, bh), v10));
                h1 = vorrq_u8(h1, vandq_u8(vtstq_u8(hb1, bh), v10));
            }
            int32x4_t pl = apr__sdot_x32(vreinterpretq_s8_u8(l0), vreinterpretq_s8_u8(l1), q8);
            int32x4_t ph = apr__sdot_x32(vreinterpretq_s8_u8(h0), vreinterpretq_s8_u8(h1), q8 + 32);
            sumi += sc[2 * j] * vaddvq_s32(pl) + sc[2 * j + 1] * vaddvq_s32(ph);
        }
        s += y[i].d * apr__fp16_to_fp32(dh) * (float)sumi - y[i].d * apr__fp16_to_fp32(dmh) * (float)summ;
    }
    *out = s;
}
static void apr__vec_dot_q4_K_neon(int64_t n, float *out, const void *w, const void *a) { apr__vec_dot_k45_neon(0, n, out, w, a); }
static void apr__vec_dot_q5_K_neon(int64_t n, float *out, const void *w, const void *a) { apr__vec_dot_k45_neon(1, n, out, w, a); }

static void apr__vec_dot_q6_K_neon(int64_t n, float *out, const void *w, const void *act) {
    const apr__block_q6_K *x = (const apr__block_q6_K *)w;
    const apr__block_q8_K *y = (const apr__block_q8_K *)act;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), m3 = vdupq_n_u8(3);
    const int8x16_t m32 = vdupq_n_s8(32);
    float s = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales, *q8 = y[i].qs;
        int sumi = 0;
        for (int k = 0; k < 2; k++, ql += 64, qh += 32, sc += 8, q8 += 128) {
            for (int hf = 0; hf < 2; hf++) {  /* l in [16*hf, 16*hf + 16) */
                const uint8x16_t a0 = vld1q_u8(ql + 16 * hf), a1 = vld1q_u8(ql + 32 + 16 * hf), h = vld1q_u8(qh + 16 * hf);
                const int8x16_t q1 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(a0, m4), vshlq_n_u8(vandq_u8(h, m3), 4))), m32);
                const int8x16_t q2 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(a1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(h, 2), m3), 4))), m32);
                const int8x16_t q3 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(a0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(h, 4), m3), 4))), m32);
                const int8x16_t q4 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(a1, 4), vshlq_n_u8(vshrq_n_u8(h, 6), 4))), m32);
                const int8_t *y8 = q8 + 16 * hf;
                sumi += sc[hf + 0] * vaddvq_s32(apr__sdot_s8x16(vdupq_n_s32(0), q1, vld1q_s8(y8)));
                sumi += sc[hf + 2] * vaddvq_s32(apr__sdot_s8x16(vdupq_n_s32(0), q2, vld1q_s8(y8 + 32)));
                sumi += sc[hf + 4] * vaddvq_s32(apr__sdot_s8x16(vdupq_n_s32(0), q3, vld1q_s8(y8 + 64)));
                sumi += sc[hf + 6] * vaddvq_s32(apr__sdot_s8x16(vdupq_n_s32(0), q4, vld1q_s8(y8 + 96)));
            }
        }
        s += y[i].d * apr__fp16_to_fp32(x[i].d) * (float)sumi;
    }
    *out = s;
}

/* activation quantizers: vcvtnq rounds to nearest even, as nearbyintf does */
static inline float apr__amax_neon(const float *x, int n) {
    float32x4_t m = vdupq_n_f32(0);
    for (int j = 0; j < n; j += 4) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + j)));
    return vmaxvq_f32(m);
}

static inline int8x16_t apr__round_pack_neon(const float *x, float32x4_t id) {
    int32x4_t i0 = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x), id));
    int32x4_t i1 = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + 4), id));
    int32x4_t i2 = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + 8), id));
    int32x4_t i3 = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + 12), id));
    int16x8_t a = vcombine_s16(vqmovn_s32(i0), vqmovn_s32(i1)), b = vcombine_s16(vqmovn_s32(i2), vqmovn_s32(i3));
    return vcombine_s8(vqmovn_s16(a), vqmovn_s16(b));
}

static void apr__quantize_q8_0_neon(const float *x, void *dst, int64_t n) {
    apr__block_q8_0 *y = (apr__block_q8_0 *)dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        const float amax = apr__amax_neon(x, 32);
        const float32x4_t id = vdupq_n_f32(amax != 0 ? 127.0f / amax : 0.0f);
        y[i].d = apr__fp32_to_fp16(amax / 127.0f);
        vst1q_s8(y[i].qs, apr__round_pack_neon(x, id));
        vst1q_s8(y[i].qs + 16, apr__round_pack_neon(x + 16, id));
    }
    apr__q8_0_write_scales(dst, n);
}

static void apr__quantize_q8_K_neon(const float *x, void *dst, int64_t n) {
    apr__block_q8_K *y = (apr__block_q8_K *)dst;
    for (int64_t i = 0; i < n / 256; i++, x += 256) {
        const float amax = apr__amax_neon(x, 256);
        const float32x4_t id = vdupq_n_f32(amax != 0 ? 127.0f / amax : 0.0f);
        y[i].d = amax / 127.0f;
        for (int j = 0; j < 16; j++) {
            int8x16_t q = apr__round_pack_neon(x + 16 * j, id);
            vst1q_s8(y[i].qs + 16 * j, q);
            y[i].bsums[j] = (int16_t)vaddlvq_s8(q);
        }
    }
}

#endif /* APR__HAVE_NEON */

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

/* Expand a row of Q4_0 / Q5_0 / IQ4_NL blocks into Q8_0 blocks holding the same values
   (same fp16 scale, the int8 levels), so that a CPU backend bound by compute rather than
   memory bandwidth can run them on the Q8_0 kernels (1.5-2x the weights per second) at
   34 instead of 18/22 bytes per 32 weights. Dot products are bit-identical: the same
   integer sums meet the same scales in the same order. false: not one of those types. */
static APR__UNUSED bool apr__expand_to_q8_0(int type, const void *src, void *dst, int64_t n) {
    if (type != APR_TYPE_Q4_0 && type != APR_TYPE_Q5_0 && type != APR_TYPE_IQ4_NL) return false;
    const apr__type_traits *t = apr__type_traits_of(type);
    apr__block_q8_0 *y = (apr__block_q8_0 *)dst;
    float f[32];
    for (int64_t i = 0; i < n / 32; i++) {
        const uint8_t *b = (const uint8_t *)src + (size_t)i * t->block_bytes;
        uint16_t d;
        memcpy(&d, b, 2);
        /* the levels: dequantize with a unit scale, then copy d across */
        uint8_t blk[22];
        memcpy(blk, b, t->block_bytes);
        const uint16_t one = 0x3c00;
        memcpy(blk, &one, 2);
        t->dequant(blk, f, 32);
        y[i].d = d;
        for (int j = 0; j < 32; j++) y[i].qs[j] = (int8_t)f[j];
    }
    return true;
}

/* ---- activations ------------------------------------------------------------------------ */

static size_t apr__act_row_bytes(int act_type, int64_t n) {
    switch (act_type) {
    case APR_TYPE_F32: return (size_t)n * 4;
    case APR_TYPE_Q8_0: return apr__q8_0_scales_offset(n) + (size_t)(n / 32) * 4;
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
#if defined(APR__HAVE_X86_SIMD)
        if (level >= 1) return apr__quantize_q8_0_avx2;
#endif
#if defined(APR__HAVE_NEON)
        if (level >= 2) return apr__quantize_q8_0_neon;
#endif
        return apr__quantize_q8_0_ref;
    case APR_TYPE_Q8_1:
#if defined(APR__HAVE_X86_SIMD)
        if (level >= 1) return apr__quantize_q8_1_avx2;
#endif
        return apr__quantize_q8_1_ref;
    case APR_TYPE_Q8_K:
#if defined(APR__HAVE_X86_SIMD)
        if (level >= 1) return apr__quantize_q8_K_avx2;
#endif
#if defined(APR__HAVE_NEON)
        if (level >= 2) return apr__quantize_q8_K_neon;
#endif
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
#if defined(APR__HAVE_X86_SIMD)
    if (simd_level >= 2) {
        /* the others stay on AVX2, whose kernels measured as fast or faster */
        switch (weight_type) {
        case APR_TYPE_F32: return apr__vec_dot_f32_avx512;
        case APR_TYPE_F16: return apr__vec_dot_f16_avx512;
        case APR_TYPE_Q6_K: return apr__vec_dot_q6_K_avx512;
        }
    }
    if (simd_level >= 1) {
        switch (weight_type) {
        case APR_TYPE_F32: return apr__vec_dot_f32_avx2;
        case APR_TYPE_F16: return apr__vec_dot_f16_avx2;
        case APR_TYPE_BF16: return apr__vec_dot_bf16_avx2;
        case APR_TYPE_Q4_0: return apr__vec_dot_q4_0_avx2;
        case APR_TYPE_Q4_1: return apr__vec_dot_q4_1_avx2;
        case APR_TYPE_Q5_0: return apr__vec_dot_q5_0_avx2;
        case APR_TYPE_Q5_1: return apr__vec_dot_q5_1_avx2;
        case APR_TYPE_Q8_0: return apr__vec_dot_q8_0_avx2;
        case APR_TYPE_Q2_K: return apr__vec_dot_q2_K_avx2;
        case APR_TYPE_Q3_K: return apr__vec_dot_q3_K_avx2;
        case APR_TYPE_Q4_K: return apr__vec_dot_q4_K_t1;
        case APR_TYPE_Q5_K: return apr__vec_dot_q5_K_t1;
        case APR_TYPE_Q6_K: return apr__vec_dot_q6_K_t1;
        case APR_TYPE_IQ4_NL: return apr__vec_dot_iq4_nl_avx2;
        case APR_TYPE_IQ4_XS: return apr__vec_dot_iq4_xs_avx2;
        }
    }
#endif
#if defined(APR__HAVE_NEON)
    if (simd_level >= 2) {
        switch (weight_type) {
        case APR_TYPE_F32: return apr__vec_dot_f32_neon;
        case APR_TYPE_F16: return apr__vec_dot_f16_neon;
        case APR_TYPE_BF16: return apr__vec_dot_bf16_neon;
        case APR_TYPE_Q4_0: return apr__vec_dot_q4_0_neon;
        case APR_TYPE_Q5_0: return apr__vec_dot_q5_0_neon;
        case APR_TYPE_Q8_0: return apr__vec_dot_q8_0_neon;
        case APR_TYPE_IQ4_NL: return apr__vec_dot_iq4_nl_neon;
        case APR_TYPE_Q4_K: return apr__vec_dot_q4_K_neon;
        case APR_TYPE_Q5_K: return apr__vec_dot_q5_K_neon;
        case APR_TYPE_Q6_K: return apr__vec_dot_q6_K_neon;
        }
    }
#endif
    (void)simd_level;
    return t->vec_dot_ref;
}

/* A tile: one weight row times nt (1..4) activation rows; res[t] for token t. */
static apr__tile_fn apr__tile_for(int weight_type, int simd_level) {
#if defined(APR__HAVE_X86_SIMD)
    if (simd_level >= 1) {
        switch (weight_type) {
        case APR_TYPE_F32: return apr__tile_f32_avx2;
        case APR_TYPE_F16: return apr__tile_f16_avx2;
        case APR_TYPE_BF16: return apr__tile_bf16_avx2;
        case APR_TYPE_Q2_K: return apr__tile_q2_K_avx2;
        case APR_TYPE_Q3_K: return apr__tile_q3_K_avx2;
        case APR_TYPE_IQ4_XS: return apr__tile_iq4_xs_avx2;
        case APR_TYPE_Q4_0: return apr__tile_q4_0_avx2;
        case APR_TYPE_Q5_0: return apr__tile_q5_0_avx2;
        case APR_TYPE_Q8_0: return apr__tile_q8_0_avx2;
        case APR_TYPE_IQ4_NL: return apr__tile_iq4_nl_avx2;
        case APR_TYPE_Q4_K: return apr__tile_q4_K_avx2;
        case APR_TYPE_Q5_K: return apr__tile_q5_K_avx2;
        case APR_TYPE_Q6_K: return apr__tile_q6_K_avx2;
        }
    }
#endif
    (void)weight_type;
    (void)simd_level;
    return NULL;
}

/* Two rows at once, for Q4_0/Q5_0 (NULL: use apr__tile_for row by row): +3-9% at 8 tokens. */
static apr__tile2_fn apr__tile2_for(int weight_type, int simd_level) {
#if defined(APR__HAVE_X86_SIMD)
    if (simd_level >= 1) {
        switch (weight_type) {
        /* Q8_0 / IQ4_NL measured no gain from pairing (their sign trick is per row) */
        case APR_TYPE_Q4_0: return apr__tile2_q4_0_avx2;
        case APR_TYPE_Q5_0: return apr__tile2_q5_0_avx2;
        }
    }
#endif
    (void)weight_type;
    (void)simd_level;
    return NULL;
}

/* Rows are taken in chunks whose weights stay in L2 while every group of 4 tokens
   (whose activations stay in L1) passes over them. */
static void apr__gemm_rows(int weight_type, int64_t n, const void *w, size_t w_row_stride,
                           int64_t n_rows, const void *act, size_t act_stride, int64_t n_tok,
                           float *out, int64_t ld_out) {
    const int level = apr__simd_level();
    apr__vec_dot_fn dot = apr__vec_dot_for(weight_type, level);
    apr__tile_fn tile = n_tok > 1 ? apr__tile_for(weight_type, level) : NULL;
    apr__tile2_fn tile2 = n_tok > 1 ? apr__tile2_for(weight_type, level) : NULL; /* decode: no gain measured */
    if (!dot) return;
    const uint8_t *wb = (const uint8_t *)w, *ab = (const uint8_t *)act;
    int64_t chunk = w_row_stride ? (int64_t)((256 * 1024) / w_row_stride) : n_rows;
    if (chunk < 4) chunk = 4;
    for (int64_t r0 = 0; r0 < n_rows; r0 += chunk) {
        const int64_t r1 = APR__MIN(n_rows, r0 + chunk);
        for (int64_t t0 = 0; t0 < n_tok; t0 += 4) {
            const int nt = (int)APR__MIN(4, n_tok - t0);
            const uint8_t *at = ab + (size_t)t0 * act_stride;
            int64_t r = r0;
            if (tile2) {
                for (; r + 2 <= r1; r += 2) {
                    float res[8];
                    tile2(n, wb + (size_t)r * w_row_stride, w_row_stride, at, act_stride, nt, res);
                    for (int k = 0; k < nt; k++) {
                        out[(t0 + k) * ld_out + r] = res[k];
                        out[(t0 + k) * ld_out + r + 1] = res[4 + k];
                    }
                }
            }
            for (; r < r1; r++) {
                const uint8_t *wr = wb + (size_t)r * w_row_stride;
                if (tile) {
                    float res[4];
                    tile(n, wr, at, act_stride, nt, res);
                    for (int k = 0; k < nt; k++) out[(t0 + k) * ld_out + r] = res[k];
                } else {
                    for (int k = 0; k < nt; k++) dot(n, &out[(t0 + k) * ld_out + r], wr, at + (size_t)k * act_stride);
                }
            }
        }
    }
}
