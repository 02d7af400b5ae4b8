/* ====================================================================================
   Weight quantization
   apr_quantize_row turns float rows into any weight type. Without an importance matrix the
   K-quants and the legacy types follow ggml's reference ("_ref") algorithms, so a file apr
   writes matches llama-quantize's byte for byte where the float arithmetic agrees. Then:
   llama.cpp's per-tensor recipes (Q4_K_M and friends, general.file_type), the streaming
   model converter behind apr-quantize, and synthetic models of real dimensions.
   Blocks are written through byte offsets (little-endian fp16 scales), the layouts being
   GGUF's: see apr__qz_put_f16 users below for each one.
   ==================================================================================== */

#define APR__QK_K 256

/* The quantizers are bit-exact float code: a fused multiply-add (which GCC forms by itself
   under -march=native in GNU C modes) would round differently from llama.cpp's reference
   and change the bytes, so contraction is off for this section. */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

static inline int apr__qz_nearest(float f) {
    /* round half to even through the float adder, as ggml's nearest_int (|f| < 2^22) */
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, 4);
    return (i & 0x007fffff) - 0x00400000;
}
static inline void apr__qz_put_f16(uint8_t *p, float f) {
    uint16_t h = apr__fp32_to_fp16(f);
    p[0] = (uint8_t)(h & 0xff);
    p[1] = (uint8_t)(h >> 8);
}
static inline float apr__qz_get_f16(const uint8_t *p) {
    return apr__fp16_to_fp32((uint16_t)(p[0] | (p[1] << 8)));
}
/* float -> small int by truncation with the clamp the callers need (never UB on NaN) */
static inline int apr__qz_trunc(float v, int lo, int hi) {
    if (!(v > (float)lo)) return lo;
    if (v >= (float)hi) return hi;
    return (int)v;
}
#define APR__QZ_CLAMP(v, lo, hi) ((v) < (lo) ? (lo) : (v) > (hi) ? (hi) : (v))

/* ---- 32-element legacy blocks ------------------------------------------------------------
   Q4_0 {f16 d; u8 qs[16]}  Q4_1 {f16 d, m; u8 qs[16]}  Q5_0 {f16 d; u8 qh[4]; u8 qs[16]}
   Q5_1 {f16 d, m; u8 qh[4]; u8 qs[16]}  Q8_0 {f16 d; i8 qs[32]}. Element j and j+16 share
   a byte (low, high nibble). */

/* the signed value of largest magnitude: its sign decides the sign of d */
static float apr__qz_absmax_signed(const float *x, int n, float *amax_out) {
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
    }
    if (amax_out) *amax_out = amax;
    return max;
}

static void apr__qz_q4_0(const float *x, uint8_t *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32, y += 18) {
        const float d = apr__qz_absmax_signed(x, 32, NULL) / -8;
        const float id = d ? 1.0f / d : 0.0f;
        apr__qz_put_f16(y, d);
        for (int j = 0; j < 16; j++) {
            int q0 = apr__qz_trunc(x[j] * id + 8.5f, 0, 15);
            int q1 = apr__qz_trunc(x[j + 16] * id + 8.5f, 0, 15);
            y[2 + j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

static void apr__qz_minmax(const float *x, int n, float *mn, float *mx) {
    float a = FLT_MAX, b = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < a) a = x[j];
        if (x[j] > b) b = x[j];
    }
    *mn = a; *mx = b;
}

static void apr__qz_q4_1(const float *x, uint8_t *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32, y += 20) {
        float min, max;
        apr__qz_minmax(x, 32, &min, &max);
        const float d = (max - min) / 15;
        const float id = d ? 1.0f / d : 0.0f;
        apr__qz_put_f16(y, d);
        apr__qz_put_f16(y + 2, min);
        for (int j = 0; j < 16; j++) {
            int q0 = apr__qz_trunc((x[j] - min) * id + 0.5f, 0, 15);
            int q1 = apr__qz_trunc((x[j + 16] - min) * id + 0.5f, 0, 15);
            y[4 + j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

static void apr__qz_put_qh(uint8_t *p, uint32_t qh) {
    p[0] = (uint8_t)qh; p[1] = (uint8_t)(qh >> 8); p[2] = (uint8_t)(qh >> 16); p[3] = (uint8_t)(qh >> 24);
}

static void apr__qz_q5_0(const float *x, uint8_t *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32, y += 22) {
        const float d = apr__qz_absmax_signed(x, 32, NULL) / -16;
        const float id = d ? 1.0f / d : 0.0f;
        apr__qz_put_f16(y, d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = apr__qz_trunc(x[j] * id + 16.5f, 0, 31);
            int q1 = apr__qz_trunc(x[j + 16] * id + 16.5f, 0, 31);
            y[6 + j] = (uint8_t)((q0 & 15) | ((q1 & 15) << 4));
            qh |= (uint32_t)(q0 >> 4) << j;
            qh |= (uint32_t)(q1 >> 4) << (j + 16);
        }
        apr__qz_put_qh(y + 2, qh);
    }
}

static void apr__qz_q5_1(const float *x, uint8_t *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32, y += 24) {
        float min, max;
        apr__qz_minmax(x, 32, &min, &max);
        const float d = (max - min) / 31;
        const float id = d ? 1.0f / d : 0.0f;
        apr__qz_put_f16(y, d);
        apr__qz_put_f16(y + 2, min);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = apr__qz_trunc((x[j] - min) * id + 0.5f, 0, 31);
            int q1 = apr__qz_trunc((x[j + 16] - min) * id + 0.5f, 0, 31);
            y[8 + j] = (uint8_t)((q0 & 15) | ((q1 & 15) << 4));
            qh |= (uint32_t)(q0 >> 4) << j;
            qh |= (uint32_t)(q1 >> 4) << (j + 16);
        }
        apr__qz_put_qh(y + 4, qh);
    }
}

static void apr__qz_q8_0(const float *x, uint8_t *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32, y += 34) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = APR__MAX(amax, fabsf(x[j]));
        const float d = amax / 127;
        const float id = d ? 1.0f / d : 0.0f;
        apr__qz_put_f16(y, d);
        for (int j = 0; j < 32; j++) {
            float v = roundf(x[j] * id);           /* half away from zero, as ggml */
            v = APR__QZ_CLAMP(v, -127.0f, 127.0f); /* also maps NaN to -127..127 range */
            y[2 + j] = (uint8_t)(int8_t)(v == v ? (int)v : 0);
        }
    }
}

/* ---- helpers of the K-quants (ggml's make_qx_quants, make_q3_quants, make_qkx2_quants) --- */

/* Symmetric levels in [-nmax, nmax-1] minimising sum w*(x - s*l)^2 (w = x^2 or given),
   searching 19 candidate scales around nmax/max. Returns s; L gets l + nmax. */
static float apr__qz_make_qx(int n, int nmax, const float *x, int8_t *L, const float *qw) {
    float amax = 0;
    float max = apr__qz_absmax_signed(x, n, &amax);
    if (amax < 1e-15f) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = apr__qz_nearest(iscale * x[i]);
        l = APR__QZ_CLAMP(l, -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = qw ? qw[i] : x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = apr__qz_nearest(iscale * x[i]);
            l = APR__QZ_CLAMP(l, -nmax, nmax - 1);
            float w = qw ? qw[i] : x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                int l = apr__qz_nearest(iscale * x[i]);
                L[i] = (int8_t)(nmax + APR__QZ_CLAMP(l, -nmax, nmax - 1));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Q3_K's sub-block levels: start at nmax/max, then move single levels while that lowers
   the x^2-weighted error (at most 5 sweeps). L gets l + nmax. */
static float apr__qz_make_q3(int n, int nmax, const float *x, int8_t *L) {
    float amax = 0;
    float max = apr__qz_absmax_signed(x, n, &amax);
    if (amax < 1e-15f) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = apr__qz_nearest(iscale * x[i]);
        l = APR__QZ_CLAMP(l, -nmax, nmax - 1);
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (slx > 0) {
                float sl2 = suml2 - w * L[i] * L[i];
                int new_l = apr__qz_nearest(x[i] * sl2 / slx);
                new_l = APR__QZ_CLAMP(new_l, -nmax, nmax - 1);
                if (new_l != L[i]) {
                    slx += w * x[i] * new_l;
                    sl2 += w * new_l * new_l;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)new_l; sumlx = slx; suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Asymmetric levels 0..nmax with x ~ scale*l - min: tries nstep+1 scales from
   (nmax + rmin)/(max - min) in steps of rdelta, each followed by a weighted least-squares
   fit of scale and min. Returns scale; *the_min gets the (positive) offset. */
static float apr__qz_make_qkx2(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                               float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep,
                               bool use_mad) {
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; i++) L[i] = 0;
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        int l = apr__qz_nearest(iscale * (x[i] - min));
        L[i] = (uint8_t)APR__QZ_CLAMP(l, 0, nmax);
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_error += weights[i] * diff;
    }
    if (nstep < 1) {
        *the_min = -min;
        return scale;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = apr__qz_nearest(iscale * (x[i] - min));
            l = APR__QZ_CLAMP(l, 0, nmax);
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                cur_error += weights[i] * diff;
            }
            if (cur_error < best_error) {
                for (int i = 0; i < n; i++) L[i] = Laux[i];
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* apr__qz_make_qkx2 (squared errors, n = 32) on the 8 sub-blocks of a super-block at once.
   Lane j performs exactly the operations of the scalar search on sub-block j, in the same
   order, so the results are the same bits; but eight independent chains of additions run
   side by side instead of one chain of dependent ones, and the compiler may vectorize
   across the lanes. Several times faster: Q4_K and Q5_K dominate a Q4_K_M conversion. */
#if defined(__GNUC__) || defined(__clang__)
#define APR__QZ_INLINE static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define APR__QZ_INLINE static __forceinline
#else
#define APR__QZ_INLINE static inline
#endif

APR__QZ_INLINE void apr__qz_make_qkx2_x8_body(int nmax, const float *x, const float *w, uint8_t *L, float *scales,
                                              float *the_mins, float rmin, float rdelta, int nstep) {
    /* levels are kept as floats: round(v) is (v + 1.5*2^23) - 1.5*2^23 exactly, the value
       apr__qz_nearest gives, and then all lane operations are plain float arithmetic */
    const float magic = 12582912.f, fmax_l = (float)nmax;
    float xt[32][8], wt[32][8], Lt[32][8], Lx[32][8];
    float mn[8], mx[8], sw[8], sx[8], scale[8], best[8], isc[8], ce[8], ts[8], tm[8];
    float sl[8], sl2[8], sxl[8];
    bool live[8], ok[8];
    for (int i = 0; i < 32; i++)
        for (int j = 0; j < 8; j++) {
            xt[i][j] = x[32 * j + i];
            wt[i][j] = w[32 * j + i];
        }
    for (int j = 0; j < 8; j++) {
        mn[j] = mx[j] = xt[0][j];
        sw[j] = wt[0][j];
        sx[j] = sw[j] * xt[0][j];
    }
    for (int i = 1; i < 32; i++)
        for (int j = 0; j < 8; j++) {
            mn[j] = xt[i][j] < mn[j] ? xt[i][j] : mn[j];
            mx[j] = xt[i][j] > mx[j] ? xt[i][j] : mx[j];
            sw[j] += wt[i][j];
            sx[j] += wt[i][j] * xt[i][j];
        }
    for (int j = 0; j < 8; j++) {
        if (mn[j] > 0) mn[j] = 0;
        live[j] = !(mx[j] == mn[j]);
        isc[j] = live[j] ? nmax / (mx[j] - mn[j]) : 0.0f;
        scale[j] = live[j] ? 1 / isc[j] : 0.0f;
        best[j] = 0;
    }
    for (int i = 0; i < 32; i++)
        for (int j = 0; j < 8; j++) {
            float l = (isc[j] * (xt[i][j] - mn[j]) + magic) - magic;
            l = l < 0.0f ? 0.0f : l > fmax_l ? fmax_l : l;
            Lt[i][j] = l;
            float diff = scale[j] * l + mn[j] - xt[i][j];
            best[j] += wt[i][j] * (diff * diff);
        }
    for (int is = 0; is <= nstep; is++) {
        for (int j = 0; j < 8; j++) {
            isc[j] = live[j] ? (rmin + rdelta * is + nmax) / (mx[j] - mn[j]) : 0.0f;
            sl[j] = sl2[j] = sxl[j] = ce[j] = 0;
        }
        for (int i = 0; i < 32; i++)
            for (int j = 0; j < 8; j++) {
                float l = (isc[j] * (xt[i][j] - mn[j]) + magic) - magic;
                l = l < 0.0f ? 0.0f : l > fmax_l ? fmax_l : l;
                Lx[i][j] = l;
                float wv = wt[i][j];
                sl[j] += wv * l;
                sl2[j] += wv * l * l;
                sxl[j] += wv * l * xt[i][j];
            }
        for (int j = 0; j < 8; j++) {
            float D = sw[j] * sl2[j] - sl[j] * sl[j];
            ok[j] = live[j] && D > 0;
            ts[j] = tm[j] = 0;
            if (ok[j]) {
                ts[j] = (sw[j] * sxl[j] - sx[j] * sl[j]) / D;
                tm[j] = (sl2[j] * sx[j] - sl[j] * sxl[j]) / D;
                if (tm[j] > 0) {
                    tm[j] = 0;
                    ts[j] = sxl[j] / sl2[j];
                }
            }
        }
        for (int i = 0; i < 32; i++)
            for (int j = 0; j < 8; j++) {
                float diff = ts[j] * Lx[i][j] + tm[j] - xt[i][j];
                ce[j] += wt[i][j] * (diff * diff);
            }
        for (int j = 0; j < 8; j++) {
            if (!ok[j] || !(ce[j] < best[j])) continue;
            for (int i = 0; i < 32; i++) Lt[i][j] = Lx[i][j];
            best[j] = ce[j];
            scale[j] = ts[j];
            mn[j] = tm[j];
        }
    }
    for (int j = 0; j < 8; j++) {
        scales[j] = live[j] ? scale[j] : 0.0f;
        the_mins[j] = -mn[j];
        for (int i = 0; i < 32; i++) L[32 * j + i] = live[j] ? (uint8_t)(int)Lt[i][j] : 0;
    }
}

static void apr__qz_make_qkx2_x8_generic(int nmax, const float *x, const float *w, uint8_t *L, float *scales,
                                         float *the_mins, float rmin, float rdelta, int nstep) {
    apr__qz_make_qkx2_x8_body(nmax, x, w, L, scales, the_mins, rmin, rdelta, nstep);
}
#if defined(APR__HAVE_X86_SIMD) && (defined(__GNUC__) || defined(__clang__))
/* The same code with 256-bit vectors for the 8 lanes. AVX2 without FMA on purpose: a fused
   multiply-add would round differently from the reference. */
__attribute__((target("avx2"))) static void apr__qz_make_qkx2_x8_avx2(int nmax, const float *x, const float *w,
                                                                      uint8_t *L, float *scales, float *the_mins,
                                                                      float rmin, float rdelta, int nstep) {
    apr__qz_make_qkx2_x8_body(nmax, x, w, L, scales, the_mins, rmin, rdelta, nstep);
}
#endif
static void apr__qz_make_qkx2_x8(int nmax, const float *x, const float *w, uint8_t *L, float *scales,
                                 float *the_mins, float rmin, float rdelta, int nstep) {
#if defined(APR__HAVE_X86_SIMD) && (defined(__GNUC__) || defined(__clang__))
    if (apr__simd_level() >= 1) {
        apr__qz_make_qkx2_x8_avx2(nmax, x, w, L, scales, the_mins, rmin, rdelta, nstep);
        return;
    }
#endif
    apr__qz_make_qkx2_x8_generic(nmax, x, w, L, scales, the_mins, rmin, rdelta, nstep);
}

/* apr__qz_make_qx (n = 16) on the 16 sub-blocks of a Q6_K super-block at once, lane by
   lane the same operations as the scalar search (see apr__qz_make_qkx2_x8). w: the
   weights of the 256 elements (x^2, or the imatrix). */
APR__QZ_INLINE void apr__qz_make_qx_x16_body(int nmax, const float *x, const float *w, int8_t *L, float *scales) {
    const float magic = 12582912.f, lo = (float)-nmax, hi = (float)(nmax - 1);
    float xt[16][16], wt[16][16], Lt[16][16], Lx[16][16];
    float amax[16], max[16], isc[16], slx[16], sl2[16], scale[16], best[16];
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            xt[i][j] = x[16 * j + i];
            wt[i][j] = w[16 * j + i];
        }
    for (int j = 0; j < 16; j++) amax[j] = max[j] = 0;
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            float ax = fabsf(xt[i][j]);
            bool gt = ax > amax[j];
            amax[j] = gt ? ax : amax[j];
            max[j] = gt ? xt[i][j] : max[j];
        }
    for (int j = 0; j < 16; j++) {
        isc[j] = amax[j] < 1e-15f ? 0.0f : -nmax / max[j];
        slx[j] = sl2[j] = 0;
    }
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            float l = (isc[j] * xt[i][j] + magic) - magic;
            l = l < lo ? lo : l > hi ? hi : l;
            Lt[i][j] = l;
            slx[j] += wt[i][j] * xt[i][j] * l;
            sl2[j] += wt[i][j] * l * l;
        }
    for (int j = 0; j < 16; j++) {
        scale[j] = sl2[j] ? slx[j] / sl2[j] : 0.0f;
        best[j] = scale[j] * slx[j];
    }
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        for (int j = 0; j < 16; j++) {
            isc[j] = amax[j] < 1e-15f ? 0.0f : -(nmax + 0.1f * is) / max[j];
            slx[j] = sl2[j] = 0;
        }
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 16; j++) {
                float l = (isc[j] * xt[i][j] + magic) - magic;
                l = l < lo ? lo : l > hi ? hi : l;
                Lx[i][j] = l;
                slx[j] += wt[i][j] * xt[i][j] * l;
                sl2[j] += wt[i][j] * l * l;
            }
        for (int j = 0; j < 16; j++) {
            if (!(sl2[j] > 0 && slx[j] * slx[j] > best[j] * sl2[j])) continue;
            for (int i = 0; i < 16; i++) Lt[i][j] = Lx[i][j];
            scale[j] = slx[j] / sl2[j];
            best[j] = scale[j] * slx[j];
        }
    }
    for (int j = 0; j < 16; j++) {
        bool dead = amax[j] < 1e-15f;
        scales[j] = dead ? 0.0f : scale[j];
        for (int i = 0; i < 16; i++) L[16 * j + i] = dead ? 0 : (int8_t)((int)Lt[i][j] + nmax);
    }
}

static void apr__qz_make_qx_x16_generic(int nmax, const float *x, const float *w, int8_t *L, float *scales) {
    apr__qz_make_qx_x16_body(nmax, x, w, L, scales);
}
#if defined(APR__HAVE_X86_SIMD) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2"))) static void apr__qz_make_qx_x16_avx2(int nmax, const float *x, const float *w,
                                                                     int8_t *L, float *scales) {
    apr__qz_make_qx_x16_body(nmax, x, w, L, scales);
}
#endif
static void apr__qz_make_qx_x16(int nmax, const float *x, const float *w, int8_t *L, float *scales) {
#if defined(APR__HAVE_X86_SIMD) && (defined(__GNUC__) || defined(__clang__))
    if (apr__simd_level() >= 1) {
        apr__qz_make_qx_x16_avx2(nmax, x, w, L, scales);
        return;
    }
#endif
    apr__qz_make_qx_x16_generic(nmax, x, w, L, scales);
}

/* 6-bit scale and min of sub-block j in the 12-byte packing of Q4_K / Q5_K */
static void apr__qz_pack_k4(uint8_t *s, int j, uint8_t ls, uint8_t lm) {
    if (j < 4) {
        s[j] = ls;
        s[j + 4] = lm;
    } else {
        s[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
        s[j - 4] |= (uint8_t)((ls >> 4) << 6);
        s[j] |= (uint8_t)((lm >> 4) << 6);
    }
}
static void apr__qz_unpack_k4(const uint8_t *q, int j, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63; *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* ---- K-quants: super-blocks of 256 -------------------------------------------------------- */

/* Q2_K {u8 scales[16] (lo: scale, hi: min); u8 qs[64]; f16 d; f16 dmin} = 84 bytes.
   Once d, dmin and the scales are set, every element's level is found again with them
   (L holds the search's levels for sub-blocks whose scale rounded to 0). */
static void apr__qz_q2_levels(const float *x, uint8_t *y, uint8_t *L) {
    const uint8_t *sc = y;
    const float dd = apr__qz_get_f16(y + 80), dmin = apr__qz_get_f16(y + 82);
    for (int j = 0; j < 16; j++) {
        const float d = dd * (sc[j] & 0xF);
        if (!d) continue;
        const float dm = dmin * (sc[j] >> 4);
        for (int ii = 0; ii < 16; ii++) {
            int l = apr__qz_nearest((x[16 * j + ii] + dm) / d);
            L[16 * j + ii] = (uint8_t)APR__QZ_CLAMP(l, 0, 3);
        }
    }
    for (int j = 0; j < APR__QK_K; j += 128)
        for (int l = 0; l < 32; l++)
            y[16 + j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

static void apr__qz_q2_k(const float *x, uint8_t *y, int64_t nb) {
    uint8_t L[APR__QK_K], Laux[16];
    float weights[16], mins[16], scales[16];
    for (int64_t i = 0; i < nb; i++, x += APR__QK_K, y += 84) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; j++) {
            for (int l = 0; l < 16; l++) weights[l] = fabsf(x[16 * j + l]);
            scales[j] = apr__qz_make_qkx2(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux,
                                          -0.5f, 0.1f, 15, true);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        uint8_t *sc = y;
        if (max_scale > 0) {
            float iscale = 15.f / max_scale;
            for (int j = 0; j < 16; j++) sc[j] = (uint8_t)apr__qz_nearest(iscale * scales[j]);
            apr__qz_put_f16(y + 80, max_scale / 15.f);
        } else {
            for (int j = 0; j < 16; j++) sc[j] = 0;
            apr__qz_put_f16(y + 80, 0.f);
        }
        if (max_min > 0) {
            float iscale = 15.f / max_min;
            for (int j = 0; j < 16; j++) sc[j] |= (uint8_t)(apr__qz_nearest(iscale * mins[j]) << 4);
            apr__qz_put_f16(y + 82, max_min / 15.f);
        } else {
            apr__qz_put_f16(y + 82, 0.f);
        }
        apr__qz_q2_levels(x, y, L);
    }
}

/* Q3_K's 6-bit scale j (0..63, 32 meaning 0) into the 12-byte packing */
static void apr__qz_pack_k3(uint8_t *sc, int j, int l) {
    if (j < 8) sc[j] = (uint8_t)(l & 0xF);
    else sc[j - 8] |= (uint8_t)((l & 0xF) << 4);
    sc[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
}

/* Levels of every element from d and the scales, then high bits into hmask, low 2 bits
   into qs */
static void apr__qz_q3_levels(const float *x, uint8_t *y, int8_t *L) {
    const uint8_t *sc = y + 96;
    const float dd = apr__qz_get_f16(y + 108);
    for (int j = 0; j < 16; j++) {
        int s = j < 8 ? sc[j] & 0xF : sc[j - 8] >> 4;
        s = (s | (((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
        float d = dd * s;
        if (!d) continue;
        for (int ii = 0; ii < 16; ii++) {
            int l = apr__qz_nearest(x[16 * j + ii] / d);
            L[16 * j + ii] = (int8_t)(APR__QZ_CLAMP(l, -4, 3) + 4);
        }
    }
    uint8_t *hmask = y, *qs = y + 32;
    memset(hmask, 0, 32);
    int m = 0;
    uint8_t hm = 1;
    for (int j = 0; j < APR__QK_K; j++) {
        if (L[j] > 3) {
            hmask[m] |= hm;
            L[j] -= 4;
        }
        if (++m == 32) { m = 0; hm = (uint8_t)(hm << 1); }
    }
    for (int j = 0; j < APR__QK_K; j += 128)
        for (int l = 0; l < 32; l++)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

/* Q3_K {u8 hmask[32]; u8 qs[64]; u8 scales[12] (16 x 6-bit); f16 d} = 110 bytes */
static void apr__qz_q3_k(const float *x, uint8_t *y, int64_t nb) {
    int8_t L[APR__QK_K];
    float scales[16];
    for (int64_t i = 0; i < nb; i++, x += APR__QK_K, y += 110) {
        float max_scale = 0, amax = 0;
        for (int j = 0; j < 16; j++) {
            scales[j] = apr__qz_make_q3(16, 4, x + 16 * j, L + 16 * j);
            float a = fabsf(scales[j]);
            if (a > amax) { amax = a; max_scale = scales[j]; }
        }
        uint8_t *sc = y + 96;
        memset(sc, 0, 12);
        if (max_scale) {
            float iscale = -32.f / max_scale;
            for (int j = 0; j < 16; j++) {
                int l = apr__qz_nearest(iscale * scales[j]);
                apr__qz_pack_k3(sc, j, APR__QZ_CLAMP(l, -32, 31) + 32);
            }
            apr__qz_put_f16(y + 108, 1 / iscale);
        } else {
            apr__qz_put_f16(y + 108, 0.f);
        }
        apr__qz_q3_levels(x, y, L);
    }
}

/* Q4_K / Q5_K: every element's level from d, dmin and the 6-bit scales, then packed */
static void apr__qz_q45_levels(const float *x, uint8_t *y, int nmax) {
    uint8_t L[APR__QK_K];
    const uint8_t *sc = y + 4;
    const float dd = apr__qz_get_f16(y), dmin = apr__qz_get_f16(y + 2);
    for (int j = 0; j < 8; j++) {
        uint8_t s, m;
        apr__qz_unpack_k4(sc, j, &s, &m);
        const float d = dd * s;
        if (!d) continue;
        const float dm = dmin * m;
        for (int ii = 0; ii < 32; ii++) {
            int l = apr__qz_nearest((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = (uint8_t)APR__QZ_CLAMP(l, 0, nmax);
        }
    }
    if (nmax == 15) {
        uint8_t *q = y + 16;
        for (int j = 0; j < APR__QK_K; j += 64, q += 32)
            for (int l = 0; l < 32; l++) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    } else {
        uint8_t *qh = y + 16, *ql = y + 48;
        memset(qh, 0, 32);
        uint8_t m1 = 1, m2 = 2;
        for (int n = 0; n < APR__QK_K; n += 64, ql += 32) {
            for (int j = 0; j < 32; j++) {
                int l1 = L[n + j], l2 = L[n + j + 32];
                if (l1 > 15) { l1 -= 16; qh[j] |= m1; }
                if (l2 > 15) { l2 -= 16; qh[j] |= m2; }
                ql[j] = (uint8_t)(l1 | (l2 << 4));
            }
            m1 = (uint8_t)(m1 << 2);
            m2 = (uint8_t)(m2 << 2);
        }
    }
}

/* Q4_K {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]} = 144 and
   Q5_K {f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]} = 176 share the search */
static void apr__qz_q45_k(const float *x, uint8_t *y, int64_t nb, int nmax) {
    uint8_t L[APR__QK_K];
    float weights[APR__QK_K], mins[8], scales[8];
    const int bytes = nmax == 15 ? 144 : 176;
    for (int64_t i = 0; i < nb; i++, x += APR__QK_K, y += bytes) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 8; j++) {
            float sum_x2 = 0;
            for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
            float av_x = sqrtf(sum_x2 / 32);
            for (int l = 0; l < 32; l++) weights[32 * j + l] = av_x + fabsf(x[32 * j + l]);
        }
        if (nmax == 15) apr__qz_make_qkx2_x8(15, x, weights, L, scales, mins, -1.f, 0.1f, 20);
        else apr__qz_make_qkx2_x8(31, x, weights, L, scales, mins, -0.5f, 0.1f, 15);
        for (int j = 0; j < 8; j++) {
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
        float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
        uint8_t *sc = y + 4;
        memset(sc, 0, 12);
        for (int j = 0; j < 8; j++) {
            uint8_t ls = (uint8_t)apr__qz_nearest(inv_scale * scales[j]);
            uint8_t lm = (uint8_t)apr__qz_nearest(inv_min * mins[j]);
            apr__qz_pack_k4(sc, j, APR__MIN(63, ls), APR__MIN(63, lm));
        }
        apr__qz_put_f16(y, max_scale / 63.f);
        apr__qz_put_f16(y + 2, max_min / 63.f);
        apr__qz_q45_levels(x, y, nmax);
    }
}

/* Q6_K {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d} = 210 bytes */
static void apr__qz_q6_k(const float *x, uint8_t *y, int64_t nb, const float *qw) {
    int8_t L[APR__QK_K];
    float scales[16], weights[APR__QK_K];
    for (int64_t i = 0; i < nb; i++, x += APR__QK_K, y += 210) {
        float max_scale = 0, max_abs_scale = 0;
        /* with an imatrix its values are the weights, as in llama.cpp; else x^2 */
        for (int l = 0; l < APR__QK_K; l++) weights[l] = qw ? qw[APR__QK_K * i + l] : x[l] * x[l];
        apr__qz_make_qx_x16(32, x, weights, L, scales);
        for (int ib = 0; ib < 16; ib++) {
            const float scale = scales[ib];
            if (fabsf(scale) > max_abs_scale) { max_abs_scale = fabsf(scale); max_scale = scale; }
        }
        if (max_abs_scale < 1e-15f) {
            memset(y, 0, 210);
            continue;
        }
        float iscale = -128.f / max_scale;
        apr__qz_put_f16(y + 208, 1 / iscale);
        int8_t *sc = (int8_t *)(y + 192);
        for (int ib = 0; ib < 16; ib++) sc[ib] = (int8_t)APR__MIN(127, apr__qz_nearest(iscale * scales[ib]));
        const float dd = apr__qz_get_f16(y + 208);
        for (int j = 0; j < 16; j++) {
            float d = dd * sc[j];
            if (!d) continue;
            for (int ii = 0; ii < 16; ii++) {
                int l = apr__qz_nearest(x[16 * j + ii] / d);
                L[16 * j + ii] = (int8_t)(APR__QZ_CLAMP(l, -32, 31) + 32);
            }
        }
        uint8_t *ql = y, *qh = y + 128;
        for (int j = 0; j < APR__QK_K; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; l++) {
                const uint8_t q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF;
                const uint8_t q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                ql[l] = (uint8_t)(q1 | (q3 << 4));
                ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
                qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                                  ((L[j + l + 96] >> 4) << 6));
            }
        }
    }
}

/* ---- with an importance matrix (llama.cpp's *_impl paths): each element's error counts
   with weight imatrix[col] * sqrt(sigma2 + x^2); the scales of K-quant sub-blocks are then
   fit to the sub-blocks' total weights instead of following the largest one. ----------- */

/* make_qkx2's search with 37 finer steps and squared errors */
static float apr__qz_make_qkx3(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min,
                               uint8_t *Laux) {
    const float rmin = -0.9f, rdelta = 0.05f;
    const int nstep = 36;
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += weights[i];
        sum_x += weights[i] * x[i];
    }
    if (min > 0) min = 0;
    if (!(max > min)) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_mad = 0;
    for (int i = 0; i < n; i++) {
        int l = apr__qz_nearest(iscale * (x[i] - min));
        L[i] = (uint8_t)APR__QZ_CLAMP(l, 0, nmax);
        float diff = scale * L[i] + min - x[i];
        best_mad += weights[i] * diff * diff;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            const float v = iscale * (x[i] - min);
            const int l = v > 0 ? apr__qz_nearest(APR__MIN(v, (float)nmax)) : 0;
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float mad = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                mad += weights[i] * diff * diff;
            }
            if (mad < best_mad) {
                memcpy(L, Laux, (size_t)n);
                best_mad = mad;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* Levels 0..nmax for non-negative values (the sub-block scales or mins themselves). */
static float apr__qz_make_qp(int n, int nmax, const float *x, uint8_t *L, const float *qw) {
    float max = 0;
    for (int i = 0; i < n; i++) max = APR__MAX(max, x[i]);
    if (max < 1e-15f) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = nmax / max;
    for (int i = 0; i < n; i++) L[i] = (uint8_t)apr__qz_nearest(iscale * x[i]);
    float scale = 1 / iscale;
    float best_mse = 0;
    for (int i = 0; i < n; i++) {
        float diff = x[i] - scale * L[i];
        best_mse += qw[i] * diff * diff;
    }
    for (int is = -4; is <= 4; is++) {
        if (is == 0) continue;
        float iscale_is = (0.1f * is + nmax) / max;
        float scale_is = 1 / iscale_is;
        float mse = 0;
        for (int i = 0; i < n; i++) {
            int l = APR__MIN(nmax, apr__qz_nearest(iscale_is * x[i]));
            float diff = x[i] - scale_is * l;
            mse += qw[i] * diff * diff;
        }
        if (mse < best_mse) {
            best_mse = mse;
            iscale = iscale_is;
        }
    }
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = APR__MIN(nmax, apr__qz_nearest(iscale * x[i]));
        L[i] = (uint8_t)l;
        sumlx += qw[i] * x[i] * l;
        suml2 += qw[i] * l * l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            float w = qw[i];
            float slx = sumlx - w * x[i] * L[i];
            float sl2 = suml2 - w * L[i] * L[i];
            if (slx > 0 && sl2 > 0) {
                int new_l = APR__MIN(nmax, apr__qz_nearest(x[i] * sl2 / slx));
                if (new_l != L[i]) {
                    slx += w * x[i] * new_l;
                    sl2 += w * new_l * new_l;
                    if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (uint8_t)new_l; sumlx = slx; suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Q4_0 / Q5_0 (levels -8..7 / -16..15) and Q4_1 / Q5_1 (0..15 / 0..31) of one row; sigma2
   is the row's mean square */
static void apr__qz_legacy_w(int type, const float *x, uint8_t *y, int64_t n, const float *qw) {
    float sigma2 = 0;
    for (int64_t j = 0; j < n; j++) sigma2 += x[j] * x[j];
    sigma2 /= n;
    float weight[32];
    int8_t L[32];
    uint8_t U[32], Laux[32];
    const int bytes = type == APR_TYPE_Q4_0 ? 18 : type == APR_TYPE_Q4_1 ? 20 : type == APR_TYPE_Q5_0 ? 22 : 24;
    for (int64_t ib = 0; ib < n / 32; ib++, y += bytes) {
        const float *xb = x + 32 * ib;
        for (int j = 0; j < 32; j++) weight[j] = qw[32 * ib + j] * sqrtf(sigma2 + xb[j] * xb[j]);
        uint8_t *qs;
        if (type == APR_TYPE_Q4_0 || type == APR_TYPE_Q5_0) {
            float d = apr__qz_make_qx(32, type == APR_TYPE_Q4_0 ? 8 : 16, xb, L, weight);
            apr__qz_put_f16(y, d);
            for (int j = 0; j < 32; j++) U[j] = (uint8_t)L[j];
            qs = y + (type == APR_TYPE_Q4_0 ? 2 : 6);
        } else {
            float min;
            float d = apr__qz_make_qkx3(32, type == APR_TYPE_Q4_1 ? 15 : 31, xb, weight, U, &min, Laux);
            apr__qz_put_f16(y, d);
            apr__qz_put_f16(y + 2, -min);
            qs = y + (type == APR_TYPE_Q4_1 ? 4 : 8);
        }
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            qs[j] = (uint8_t)((U[j] & 15) | ((U[j + 16] & 15) << 4));
            qh |= (uint32_t)((U[j] >> 4) & 1) << j;
            qh |= (uint32_t)((U[j + 16] >> 4) & 1) << (j + 16);
        }
        if (type == APR_TYPE_Q5_0) apr__qz_put_qh(y + 2, qh);
        if (type == APR_TYPE_Q5_1) apr__qz_put_qh(y + 4, qh);
    }
}

static void apr__qz_q2_k_w(const float *x, uint8_t *y, int64_t nb, const float *qw) {
    uint8_t L[APR__QK_K], Laux[16], Ls[16], Lm[16];
    float mins[16], scales[16], sw[16], weight[16];
    for (int64_t i = 0; i < nb; i++, x += APR__QK_K, y += 84) {
        float sumx2 = 0;
        for (int j = 0; j < APR__QK_K; j++) sumx2 += x[j] * x[j];
        float sigma2 = sumx2 / APR__QK_K;
        for (int j = 0; j < 16; j++) {
            const float *w = qw + APR__QK_K * i + 16 * j;
            for (int l = 0; l < 16; l++) weight[l] = w[l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
            sw[j] = 0;
            for (int l = 0; l < 16; l++) sw[j] += weight[l];
            scales[j] = apr__qz_make_qkx3(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], Laux);
        }
        float dm = apr__qz_make_qp(16, 15, scales, Ls, sw);
        float mm = apr__qz_make_qp(16, 15, mins, Lm, sw);
        apr__qz_put_f16(y + 80, dm);
        apr__qz_put_f16(y + 82, mm);
        for (int j = 0; j < 16; j++) y[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));
        apr__qz_q2_levels(x, y, L);
    }
}

static void apr__qz_q3_k_w(const float *x, uint8_t *y, int64_t nb, const float *qw) {
    int8_t L[APR__QK_K], Ls[16];
    float scales[16], weight[16], sw[16];
    for (int64_t i = 0; i < nb; i++, x += APR__QK_K, y += 110) {
        float sumx2 = 0;
        for (int j = 0; j < APR__QK_K; j++) sumx2 += x[j] * x[j];
        float sigma2 = 2 * sumx2 / APR__QK_K;
        for (int j = 0; j < 16; j++) {
            const float *w = qw + APR__QK_K * i + 16 * j;
            for (int l = 0; l < 16; l++) weight[l] = w[l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
            float sumw = 0;
            for (int l = 0; l < 16; l++) sumw += weight[l];
            sw[j] = sumw;
            scales[j] = apr__qz_make_qx(16, 4, x + 16 * j, L + 16 * j, weight);
        }
        uint8_t *sc = y + 96;
        memset(sc, 0, 12);
        float d_block = apr__qz_make_qx(16, 32, scales, Ls, sw);
        for (int j = 0; j < 16; j++) apr__qz_pack_k3(sc, j, Ls[j]);
        apr__qz_put_f16(y + 108, d_block);
        apr__qz_q3_levels(x, y, L);
    }
}

static void apr__qz_q45_k_w(const float *x, uint8_t *y, int64_t nb, int nmax, const float *qw) {
    uint8_t L[APR__QK_K], Laux[32], Ls[8], Lm[8];
    float weights[32], sw[8], mins[8], scales[8];
    const int bytes = nmax == 15 ? 144 : 176;
    for (int64_t i = 0; i < nb; i++, x += APR__QK_K, y += bytes) {
        float sum_x2 = 0;
        for (int l = 0; l < APR__QK_K; l++) sum_x2 += x[l] * x[l];
        float sigma2 = 2 * sum_x2 / APR__QK_K;
        for (int j = 0; j < 8; j++) {
            const float *w = qw + APR__QK_K * i + 32 * j;
            for (int l = 0; l < 32; l++) weights[l] = w[l] * sqrtf(sigma2 + x[32 * j + l] * x[32 * j + l]);
            float sumw = 0;
            for (int l = 0; l < 32; l++) sumw += weights[l];
            sw[j] = sumw;
            scales[j] = apr__qz_make_qkx3(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux);
        }
        float d_block = apr__qz_make_qp(8, 63, scales, Ls, sw);
        float m_block = apr__qz_make_qp(8, 63, mins, Lm, sw);
        uint8_t *sc = y + 4;
        memset(sc, 0, 12);
        for (int j = 0; j < 8; j++) apr__qz_pack_k4(sc, j, APR__MIN(63, Ls[j]), APR__MIN(63, Lm[j]));
        apr__qz_put_f16(y, d_block);
        apr__qz_put_f16(y + 2, m_block);
        apr__qz_q45_levels(x, y, nmax);
    }
}

/* ---- IQ4_NL {f16 d; u8 qs[16]} and IQ4_XS {f16 d; u16 scales_h; u8 scales_l[4]; u8 qs[128]}:
   16 non-linear levels; the scale is searched over 15 candidates per block of 32 ------------ */

static const int8_t apr__qz_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                                1,    13,   25,  38,  53,  69,  89,  113};

static int apr__qz_iq4_index(float x) {
    /* the nearest level; at a midpoint the upper one */
    const int8_t *v = apr__qz_iq4nl_values;
    const float x2 = x + x;
    int idx = 0;
    for (int step = 8; step > 0; step >>= 1) {
        const int j = idx + step;
        idx = (x2 >= (float)(v[j - 1] + v[j])) ? j : idx;
    }
    return idx;
}

/* One super-block of sb elements in blocks of 32 (sb == 32: IQ4_NL, 256: IQ4_XS). */
static void apr__qz_iq4_super(int sb, const float *x, uint8_t *dh, uint8_t *q4, uint8_t *scales_h,
                              uint8_t *scales_l, const float *qw) {
    const int8_t *values = apr__qz_iq4nl_values;
    const int ntry = 7;
    float scales[APR__QK_K / 32], weight[32];
    uint8_t L[APR__QK_K];
    float sigma2 = 0;
    for (int j = 0; j < sb; j++) sigma2 += x[j] * x[j];
    sigma2 *= 2.f / sb;
    memset(q4, 0, (size_t)sb / 2);
    apr__qz_put_f16(dh, 0.f);
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < sb / 32; ib++) {
        const float *xb = x + ib * 32;
        uint8_t *Lb = L + ib * 32;
        if (qw) {
            for (int j = 0; j < 32; j++) weight[j] = qw[ib * 32 + j] * sqrtf(sigma2 + xb[j] * xb[j]);
        } else {
            for (int j = 0; j < 32; j++) weight[j] = xb[j] * xb[j];
        }
        float amax = 0;
        float max = apr__qz_absmax_signed(xb, 32, &amax);
        if (amax < 1e-15f) {
            scales[ib] = 0;
            for (int j = 0; j < 32; j++) Lb[j] = 0;
            continue;
        }
        float d = -max / values[0];
        float id = 1 / d;
        float sumqx = 0, sumq2 = 0;
        for (int j = 0; j < 32; j++) {
            int l = apr__qz_iq4_index(id * xb[j]);
            Lb[j] = (uint8_t)l;
            float q = values[l], w = weight[j];
            sumqx += w * q * xb[j];
            sumq2 += w * q * q;
        }
        d = sumqx / sumq2;
        float best = d * sumqx;
        for (int itry = -ntry; itry <= ntry; itry++) {
            id = (itry + values[0]) / max;
            sumqx = sumq2 = 0;
            for (int j = 0; j < 32; j++) {
                int l = apr__qz_iq4_index(id * xb[j]);
                float q = values[l], w = weight[j];
                sumqx += w * q * xb[j];
                sumq2 += w * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        scales[ib] = d;
        if (fabsf(d) > amax_scale) { amax_scale = fabsf(d); max_scale = d; }
    }
    if (sb > 32) {
        int nb = sb / 32;
        scales_h[0] = scales_h[1] = 0;
        float d = -max_scale / 32;
        apr__qz_put_f16(dh, d);
        float id = d ? 1 / d : 0.f;
        uint16_t sh = 0;
        for (int ib = 0; ib < nb; ib++) {
            int l = apr__qz_nearest(id * scales[ib]);
            l = APR__QZ_CLAMP(l, -32, 31);
            float dl = d * l;
            float idl = dl ? 1 / dl : 0.f;
            uint8_t *Lb = L + ib * 32;
            const float *xb = x + ib * 32;
            for (int j = 0; j < 32; j++) Lb[j] = (uint8_t)apr__qz_iq4_index(idl * xb[j]);
            l += 32;
            if (ib % 2 == 0) scales_l[ib / 2] = (uint8_t)(l & 0xf);
            else scales_l[ib / 2] |= (uint8_t)((l & 0xf) << 4);
            sh |= (uint16_t)((l >> 4) << (2 * (ib % 8)));
        }
        scales_h[0] = (uint8_t)(sh & 0xff);
        scales_h[1] = (uint8_t)(sh >> 8);
    } else {
        apr__qz_put_f16(dh, scales[0]);
        float id = scales[0] ? 1 / scales[0] : 0;
        for (int j = 0; j < sb; j++) L[j] = (uint8_t)apr__qz_iq4_index(id * x[j]);
    }
    for (int i = 0; i < sb / 32; i++)
        for (int j = 0; j < 16; j++) q4[16 * i + j] = (uint8_t)(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

static void apr__qz_iq4_nl(const float *x, uint8_t *y, int64_t nb, const float *qw) {
    for (int64_t i = 0; i < nb; i++)
        apr__qz_iq4_super(32, x + 32 * i, y + 18 * i, y + 18 * i + 2, NULL, NULL, qw ? qw + 32 * i : NULL);
}

static void apr__qz_iq4_xs(const float *x, uint8_t *y, int64_t nb, const float *qw) {
    for (int64_t i = 0; i < nb; i++) {
        uint8_t *b = y + 136 * i;
        apr__qz_iq4_super(APR__QK_K, x + APR__QK_K * i, b, b + 8, b + 2, b + 4,
                          qw ? qw + APR__QK_K * i : NULL);
    }
}

/* Without an imatrix n may span several rows. With one, n is ONE row and imatrix has n
   weights (one per column), as llama.cpp's quantize_* functions use it. */
APR__IMPL apr_result apr_quantize_row(int type, const float *src, void *dst, int64_t n,
                                      const float *imatrix) {
    if (!src || !dst || n < 0) return APR_ERROR_INVALID_ARGUMENT;
    int64_t bs = apr_type_block_size(type);
    if (bs <= 0 || n % bs != 0) return APR_ERROR_INVALID_ARGUMENT;
    int64_t nb = n / bs;
    uint8_t *y = (uint8_t *)dst;
    switch (type) {
    case APR_TYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); return APR_SUCCESS;
    case APR_TYPE_F16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = apr__fp32_to_fp16(src[i]);
            y[2 * i] = (uint8_t)h; y[2 * i + 1] = (uint8_t)(h >> 8);
        }
        return APR_SUCCESS;
    case APR_TYPE_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = apr__fp32_to_bf16(src[i]);
            y[2 * i] = (uint8_t)h; y[2 * i + 1] = (uint8_t)(h >> 8);
        }
        return APR_SUCCESS;
    case APR_TYPE_Q4_0: case APR_TYPE_Q4_1: case APR_TYPE_Q5_0: case APR_TYPE_Q5_1:
        if (imatrix) apr__qz_legacy_w(type, src, y, n, imatrix);
        else if (type == APR_TYPE_Q4_0) apr__qz_q4_0(src, y, nb);
        else if (type == APR_TYPE_Q4_1) apr__qz_q4_1(src, y, nb);
        else if (type == APR_TYPE_Q5_0) apr__qz_q5_0(src, y, nb);
        else apr__qz_q5_1(src, y, nb);
        return APR_SUCCESS;
    case APR_TYPE_Q8_0: apr__qz_q8_0(src, y, nb); return APR_SUCCESS;   /* imatrix unused, as llama.cpp */
    case APR_TYPE_Q2_K:
        if (imatrix) apr__qz_q2_k_w(src, y, nb, imatrix); else apr__qz_q2_k(src, y, nb);
        return APR_SUCCESS;
    case APR_TYPE_Q3_K:
        if (imatrix) apr__qz_q3_k_w(src, y, nb, imatrix); else apr__qz_q3_k(src, y, nb);
        return APR_SUCCESS;
    case APR_TYPE_Q4_K: case APR_TYPE_Q5_K: {
        int nmax = type == APR_TYPE_Q4_K ? 15 : 31;
        if (imatrix) apr__qz_q45_k_w(src, y, nb, nmax, imatrix); else apr__qz_q45_k(src, y, nb, nmax);
        return APR_SUCCESS;
    }
    case APR_TYPE_Q6_K: apr__qz_q6_k(src, y, nb, imatrix); return APR_SUCCESS;
    case APR_TYPE_IQ4_NL: apr__qz_iq4_nl(src, y, nb, imatrix); return APR_SUCCESS;
    case APR_TYPE_IQ4_XS: apr__qz_iq4_xs(src, y, nb, imatrix); return APR_SUCCESS;
    default: return APR_ERROR_UNSUPPORTED;
    }
}

/* True for the types apr_quantize_row writes (weights; not the activation-only Q8_1/Q8_K). */
static bool apr__qz_can_write(int type) {
    switch (type) {
    case APR_TYPE_F32: case APR_TYPE_F16: case APR_TYPE_BF16: case APR_TYPE_Q4_0: case APR_TYPE_Q4_1:
    case APR_TYPE_Q5_0: case APR_TYPE_Q5_1: case APR_TYPE_Q8_0: case APR_TYPE_Q2_K: case APR_TYPE_Q3_K:
    case APR_TYPE_Q4_K: case APR_TYPE_Q5_K: case APR_TYPE_Q6_K: case APR_TYPE_IQ4_NL: case APR_TYPE_IQ4_XS:
        return true;
    default: return false;
    }
}

/* ---- recipes: llama.cpp's file types and its per-tensor choices ---------------------------
   A recipe name is a general.file_type of llama.cpp ("Q4_K_M" = 15): its default type goes
   to every 2-D weight, then the mixture moves some tensors up (output Q6_K, attn_v and
   ffn_down Q6_K in the layers use_more_bits picks, ...), then a tensor whose row length is
   not a multiple of the type's block falls back to a 32-element type (Q4_K -> Q5_0,
   Q6_K -> Q8_0, ...). That is why most of Qwen2.5-0.5B (896 = 3.5 x 256) is Q5_0/Q8_0. */

typedef struct apr__qz_ftype {
    const char *name;
    int ftype;        /* general.file_type */
    int type;         /* default tensor type */
    bool pure;        /* a plain type name that is no llama.cpp recipe: no mixture */
} apr__qz_ftype;

static const apr__qz_ftype apr__qz_ftypes[] = {
    {"F32", 0, APR_TYPE_F32, false},      {"F16", 1, APR_TYPE_F16, false},
    {"BF16", 32, APR_TYPE_BF16, false},   {"Q4_0", 2, APR_TYPE_Q4_0, false},
    {"Q4_1", 3, APR_TYPE_Q4_1, false},    {"Q8_0", 7, APR_TYPE_Q8_0, false},
    {"Q5_0", 8, APR_TYPE_Q5_0, false},    {"Q5_1", 9, APR_TYPE_Q5_1, false},
    /* (Q2_K_S, 21, is left out: llama.cpp makes it only with an importance matrix) */
    {"Q2_K", 10, APR_TYPE_Q2_K, false},
    {"Q3_K_S", 11, APR_TYPE_Q3_K, false}, {"Q3_K_M", 12, APR_TYPE_Q3_K, false},
    {"Q3_K_L", 13, APR_TYPE_Q3_K, false}, {"Q4_K_S", 14, APR_TYPE_Q4_K, false},
    {"Q4_K_M", 15, APR_TYPE_Q4_K, false}, {"Q5_K_S", 16, APR_TYPE_Q5_K, false},
    {"Q5_K_M", 17, APR_TYPE_Q5_K, false}, {"Q6_K", 18, APR_TYPE_Q6_K, false},
    {"IQ4_NL", 25, APR_TYPE_IQ4_NL, false}, {"IQ4_XS", 30, APR_TYPE_IQ4_XS, false},
    /* plain types: the file type llama-quantize --pure writes for them */
    {"Q3_K", 12, APR_TYPE_Q3_K, true},    {"Q4_K", 15, APR_TYPE_Q4_K, true},
    {"Q5_K", 17, APR_TYPE_Q5_K, true},
};

static bool apr__qz_ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        int ca = (*a >= 'a' && *a <= 'z') ? *a - 32 : *a, cb = (*b >= 'a' && *b <= 'z') ? *b - 32 : *b;
        if (ca != cb) return false;
    }
    return *a == *b;
}

static const apr__qz_ftype *apr__qz_find_ftype(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < APR__ARRAY_LEN(apr__qz_ftypes); i++)
        if (apr__qz_ieq(apr__qz_ftypes[i].name, name)) return &apr__qz_ftypes[i];
    return NULL;
}

APR__IMPL int apr_ftype_from_name(const char *name) {
    const apr__qz_ftype *f = apr__qz_find_ftype(name);
    return f ? f->ftype : -1;
}

APR__IMPL const char *apr_ftype_name(int ftype) {
    for (size_t i = 0; i < APR__ARRAY_LEN(apr__qz_ftypes); i++)
        if (apr__qz_ftypes[i].ftype == ftype && !apr__qz_ftypes[i].pure) return apr__qz_ftypes[i].name;
    return NULL;
}

static bool apr__qz_ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* llama.cpp quantizes 2-D (and 3-D expert) ".weight" tensors except norms and a few small
   special ones. */
static bool apr__qz_allows(const char *name, int n_dims) {
    static const char *const never[] = {"_norm.weight", "ffn_gate_inp.weight", "altup", "laurel",
                                        "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight",
                                        "time_mix_", "attn_rel_b.weight", "position_embd", "pos_embd",
                                        "token_types", ".rel_pos", ".patch_embd", ".patch_merger"};
    if (n_dims < 2 || !apr__qz_ends_with(name, "weight")) return false;
    for (size_t i = 0; i < APR__ARRAY_LEN(never); i++)
        if (strstr(name, never[i])) return false;
    return true;
}

enum { APR__QZ_OTHER, APR__QZ_TOKEN_EMBD, APR__QZ_OUTPUT, APR__QZ_ATTN_V, APR__QZ_ATTN_K, APR__QZ_ATTN_Q,
       APR__QZ_ATTN_QKV, APR__QZ_ATTN_OUT, APR__QZ_FFN_UP, APR__QZ_FFN_GATE, APR__QZ_FFN_DOWN };

static int apr__qz_category(const char *name) {
    if (strcmp(name, "output.weight") == 0) return APR__QZ_OUTPUT;
    if (strcmp(name, "token_embd.weight") == 0) return APR__QZ_TOKEN_EMBD;
    if (strstr(name, "attn_qkv.weight")) return APR__QZ_ATTN_QKV;
    if (strstr(name, "attn_kv_b.weight") || strstr(name, "attn_v.weight")) return APR__QZ_ATTN_V;
    if (strstr(name, "attn_k.weight")) return APR__QZ_ATTN_K;
    if (strstr(name, "attn_q.weight")) return APR__QZ_ATTN_Q;
    if (strstr(name, "attn_output.weight")) return APR__QZ_ATTN_OUT;
    if (strstr(name, "ffn_up")) return APR__QZ_FFN_UP;
    if (strstr(name, "ffn_gate")) return APR__QZ_FFN_GATE;
    if (strstr(name, "ffn_down")) return APR__QZ_FFN_DOWN;
    return APR__QZ_OTHER;
}

/* llama.cpp's use_more_bits: the first and last eighth of the layers and every third one */
static bool apr__qz_more_bits(int i, int n) {
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* A row of n elements cannot take a type whose block does not divide it. (The table of
   llama.cpp since 2025; older builds sent Q2_K and Q3_K to IQ4_NL instead of Q4_0.) */
static int apr__qz_fallback(int type, int64_t ncols) {
    int64_t bs = apr_type_block_size(type);
    if (bs <= 0 || ncols % bs == 0) return type;
    int t;
    switch (type) {
    case APR_TYPE_IQ4_XS: t = APR_TYPE_IQ4_NL; break;
    case APR_TYPE_Q2_K: case APR_TYPE_Q3_K: t = APR_TYPE_Q4_0; break;
    case APR_TYPE_Q4_K: t = APR_TYPE_Q5_0; break;
    case APR_TYPE_Q5_K: t = APR_TYPE_Q5_1; break;
    case APR_TYPE_Q6_K: t = APR_TYPE_Q8_0; break;
    default: t = APR_TYPE_F16; break;
    }
    if (ncols % apr_type_block_size(t) != 0) t = APR_TYPE_F16;
    return t;
}

/* The mixture of llama.cpp's llama_tensor_get_type for the file types apr writes. */
static int apr__qz_mix(const apr__qz_ftype *ft, const apr_quantize_model_info *mi, const char *name,
                       const int64_t *ne, int type) {
    const int f = ft->ftype;
    const int cat = apr__qz_category(name);
    const bool falcon = mi->arch && strcmp(mi->arch, "falcon") == 0;
    const int n_layer = mi->n_layer > 0 ? mi->n_layer : 1;
    const int gqa = mi->n_head_kv > 0 ? mi->n_head / mi->n_head_kv : 1;
    const bool is70b = mi->arch && strcmp(mi->arch, "llama") == 0 && mi->n_layer == 80 && mi->n_head != mi->n_head_kv;
    int layer = 0;
    if (strncmp(name, "blk.", 4) == 0) layer = atoi(name + 4);
    if (cat == APR__QZ_OUTPUT || (!mi->has_output && cat == APR__QZ_TOKEN_EMBD)) {
        if (falcon || ne[0] % apr_type_block_size(type) != 0) return APR_TYPE_Q8_0;
        return type != APR_TYPE_Q8_0 ? APR_TYPE_Q6_K : type;
    }
    switch (cat) {
    case APR__QZ_ATTN_V:
        if (f == 10) type = gqa >= 4 ? APR_TYPE_Q4_K : APR_TYPE_Q3_K;
        else if (f == 12) type = layer < 2 ? APR_TYPE_Q5_K : APR_TYPE_Q4_K;
        else if (f == 13) type = APR_TYPE_Q5_K;
        else if ((f == 25 || f == 30) && gqa >= 4) type = APR_TYPE_Q5_K;
        else if ((f == 15 || f == 17) && apr__qz_more_bits(layer, n_layer)) type = APR_TYPE_Q6_K;
        else if (f == 14 && layer < 4) type = APR_TYPE_Q5_K;
        if (is70b && (type == APR_TYPE_Q3_K || type == APR_TYPE_Q4_K)) type = APR_TYPE_Q5_K;
        if (mi->n_expert == 8) type = APR_TYPE_Q8_0;
        break;
    case APR__QZ_ATTN_K:
        if (mi->n_expert == 8) type = APR_TYPE_Q8_0;
        break;
    case APR__QZ_FFN_DOWN:
        if (f == 10) type = APR_TYPE_Q3_K;
        else if (f == 12)
            type = layer < n_layer / 16 ? APR_TYPE_Q5_K
                 : (!falcon || apr__qz_more_bits(layer, n_layer)) ? APR_TYPE_Q4_K : APR_TYPE_Q3_K;
        else if (f == 13) type = falcon ? APR_TYPE_Q4_K : APR_TYPE_Q5_K;
        else if (f == 15) {
            if (falcon)
                type = layer < n_layer / 16 ? APR_TYPE_Q6_K
                     : apr__qz_more_bits(layer, n_layer) ? APR_TYPE_Q5_K : APR_TYPE_Q4_K;
            else if (apr__qz_more_bits(layer, n_layer)) type = APR_TYPE_Q6_K;
        }
        else if (layer < n_layer / 8 && (f == 25 || f == 30)) type = APR_TYPE_Q5_K;
        else if (f == 17 && apr__qz_more_bits(layer, n_layer)) type = APR_TYPE_Q6_K;
        else if (f == 14 && !falcon && layer < n_layer / 8) type = APR_TYPE_Q5_K;
        break;
    case APR__QZ_ATTN_OUT:
        if (!falcon) {
            if (mi->n_expert == 8) {
                if (f == 10 || f == 11 || f == 12 || f == 25 || f == 14 || f == 15 || f == 30) type = APR_TYPE_Q5_K;
            } else {
                if (f == 10) type = APR_TYPE_Q3_K;
                else if (f == 12) type = APR_TYPE_Q4_K;
                else if (f == 13) type = APR_TYPE_Q5_K;
            }
        } else if (f == 13) {
            type = APR_TYPE_Q4_K;
        }
        break;
    case APR__QZ_ATTN_QKV:
        if (f == 12 || f == 13) type = APR_TYPE_Q4_K;
        else if (f == 15) type = APR_TYPE_Q5_K;
        else if (f == 17) type = APR_TYPE_Q6_K;
        break;
    default: break;
    }
    return type;
}

static bool apr__qz_is_quantized(int type) {
    return type != APR_TYPE_F32 && type != APR_TYPE_F16 && type != APR_TYPE_BF16;
}

APR__IMPL int apr_quantize_tensor_type(const char *type_or_recipe, bool pure, const apr_quantize_model_info *info,
                                       const char *name, int n_dims, const int64_t *ne, int cur_type) {
    const apr__qz_ftype *ft = apr__qz_find_ftype(type_or_recipe);
    if (!ft || !info || !name || !ne || n_dims < 1) return -1;
    if (!apr__qz_allows(name, n_dims)) return cur_type;
    int type = ft->type;
    if (!apr__qz_is_quantized(type)) return type;
    if (!pure && !ft->pure) type = apr__qz_mix(ft, info, name, ne, type);
    return apr__qz_fallback(type, ne[0]);
}

#if defined(__clang__)
#pragma clang fp contract(on)
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

APR__IMPL apr_quantize_params apr_quantize_default_params(void) {
    apr_quantize_params p;
    memset(&p, 0, sizeof p);
    p.seed = 42;
    return p;
}

/* ---- the converter: one tensor at a time, rows quantized in parallel ----------------------
   Each tensor's rows come from a source (rows of a GGUF tensor, dequantized, or generated
   random values), are quantized by all threads into one buffer of the tensor's new size,
   and the buffer is written. Memory: the largest output tensor plus a few rows a thread. */

enum { APR__QZ_SRC_GGUF, APR__QZ_SRC_RANDOM };

typedef struct apr__qz_tensor {
    char name[64];
    int n_dims;
    int64_t ne[4];
    int type;                      /* output type */
    const apr_gguf_tensor *src;    /* APR__QZ_SRC_GGUF */
    float offset, amplitude;       /* APR__QZ_SRC_RANDOM: offset + amplitude * U(-1, 1) */
} apr__qz_tensor;

typedef struct apr__qz_job {
    int source;
    const apr__qz_tensor *t;
    uint64_t seed;                 /* per tensor */
    int64_t nrows, ncols;
    size_t src_row, dst_row;
    uint8_t *dst;
    float **bufs;                  /* one per thread */
    int64_t buf_rows;
    volatile int failed;
} apr__qz_job;

static uint64_t apr__qz_mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Row r of a random tensor depends only on (seed, r): the thread count changes nothing. */
static void apr__qz_random_row(uint64_t seed, int64_t row, float offset, float amplitude, float *out, int64_t n) {
    uint64_t s = apr__qz_mix64(seed ^ apr__qz_mix64((uint64_t)row));
    if (!s) s = 1;
    const float k = amplitude * (2.0f / 16777216.0f);
    int64_t i = 0;
    for (; i + 1 < n; i += 2) {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        uint64_t r = s * 2685821657736338717ull;
        out[i] = offset + (float)(int32_t)((r >> 40) & 0xFFFFFF) * k - amplitude;
        out[i + 1] = offset + (float)(int32_t)((r >> 8) & 0xFFFFFF) * k - amplitude;
    }
    if (i < n) {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        out[i] = offset + (float)(int32_t)(((s * 2685821657736338717ull) >> 40) & 0xFFFFFF) * k - amplitude;
    }
}

/* Source rows as floats; false for a type apr cannot read. */
static bool apr__qz_read_rows(int type, const uint8_t *src, float *out, int64_t n) {
    if (type == APR_TYPE_F32) {
        memcpy(out, src, (size_t)n * sizeof(float));
        return true;
    }
    if (type == APR_TYPE_F16 || type == APR_TYPE_BF16) {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));
            out[i] = type == APR_TYPE_F16 ? apr__fp16_to_fp32(h) : apr__bf16_to_fp32(h);
        }
        return true;
    }
    return apr_dequantize_row(type, src, out, n) == APR_SUCCESS;
}

static void apr__qz_job_run(void *arg, int ith, int nth) {
    apr__qz_job *job = (apr__qz_job *)arg;
    int64_t r0, r1;
    apr__split_range(job->nrows, 1, ith, nth, &r0, &r1);
    float *buf = job->bufs[ith];
    for (int64_t r = r0; r < r1 && !job->failed; r += job->buf_rows) {
        int64_t nr = APR__MIN(job->buf_rows, r1 - r);
        int64_t n = nr * job->ncols;
        if (job->source == APR__QZ_SRC_RANDOM) {
            for (int64_t k = 0; k < nr; k++)
                apr__qz_random_row(job->seed, r + k, job->t->offset, job->t->amplitude, buf + k * job->ncols,
                                   job->ncols);
        } else if (!apr__qz_read_rows(job->t->src->type, (const uint8_t *)job->t->src->data + (size_t)r * job->src_row,
                                      buf, n)) {
            job->failed = 1;
            return;
        }
        if (apr_quantize_row(job->t->type, buf, job->dst + (size_t)r * job->dst_row, n, NULL) != APR_SUCCESS) {
            job->failed = 1;
            return;
        }
    }
}

static uint64_t apr__qz_nrows(const apr__qz_tensor *t) {
    uint64_t n = 1;
    for (int d = 1; d < 4; d++) n *= (uint64_t)(t->ne[d] > 0 ? t->ne[d] : 1);
    return n;
}

static uint64_t apr__qz_tensor_bytes(const apr__qz_tensor *t) {
    return (uint64_t)apr_type_row_bytes(t->type, t->ne[0]) * apr__qz_nrows(t);
}

/* The file is written by a thread of its own while the pool converts the next tensor (two
   output buffers): on a big model the disk and the cores are busy at the same time. */
typedef struct apr__qz_writer {
    apr_gguf_writer *w;
    apr__mutex mu;
    apr__cond cv;
    const void *data;      /* the tensor being written, NULL when idle */
    size_t size;
    bool stop;
    apr_result res;
} apr__qz_writer;

static APR__UNUSED void apr__qz_writer_main(void *arg) {
    apr__qz_writer *q = (apr__qz_writer *)arg;
    apr__mutex_lock(&q->mu);
    for (;;) {
        while (!q->data && !q->stop) apr__cond_wait(&q->cv, &q->mu);
        if (!q->data) break;
        const void *data = q->data;
        size_t size = q->size;
        apr__mutex_unlock(&q->mu);
        apr_result r = apr_gguf_writer_write_tensor_data(q->w, data, size);
        apr__mutex_lock(&q->mu);
        if (r != APR_SUCCESS && q->res == APR_SUCCESS) q->res = r;
        q->data = NULL;
        apr__cond_broadcast(&q->cv);
    }
    apr__mutex_unlock(&q->mu);
}

/* Wait until the previous tensor is written, then hand over this one (data NULL: only
   wait). Without a writer thread, write here. */
static apr_result apr__qz_writer_put(apr__qz_writer *q, bool threaded, const void *data, size_t size) {
    if (!threaded) return data ? apr_gguf_writer_write_tensor_data(q->w, data, size) : APR_SUCCESS;
    apr__mutex_lock(&q->mu);
    while (q->data) apr__cond_wait(&q->cv, &q->mu);
    apr_result r = q->res;
    if (r == APR_SUCCESS && data) {
        q->data = data;
        q->size = size;
        apr__cond_broadcast(&q->cv);
    }
    apr__mutex_unlock(&q->mu);
    return r;
}

/* Write every tensor of the plan (already added to the writer, header begun). */
static apr_result apr__qz_write_tensors(apr_gguf_writer *w, const apr__qz_tensor *ts, int64_t n_tensors, int source,
                                        uint64_t seed, const apr_quantize_params *p, apr_error *err) {
    apr__logger lg;
    lg.fn = p->log_fn;
    lg.user = p->log_user;
    lg.level = APR_LOG_INFO;
    int n_threads = p->n_threads > 0 ? p->n_threads : apr_cpu_count();
    apr__pool *pool = apr__pool_create(n_threads);
    if (!pool) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory for the thread pool");
    n_threads = pool->n_threads;
    int64_t max_cols = 1;
    uint64_t max_bytes = 0;
    for (int64_t i = 0; i < n_tensors; i++) {
        max_cols = APR__MAX(max_cols, ts[i].ne[0]);
        max_bytes = APR__MAX(max_bytes, apr__qz_tensor_bytes(&ts[i]));
    }
    /* each thread converts about 64K values at a time (at least one row) */
    int64_t buf_elems = APR__MAX(max_cols, (int64_t)65536);
    float **bufs = (float **)apr__calloc((size_t)n_threads, sizeof(float *));
    uint8_t *outs[2];
    for (int k = 0; k < 2; k++)
        outs[k] = max_bytes <= SIZE_MAX ? (uint8_t *)APR_MALLOC((size_t)APR__MAX(max_bytes, (uint64_t)1)) : NULL;
    apr_result res = APR_SUCCESS;
    if (!bufs || !outs[0] || !outs[1])
        res = apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory for two tensors of %llu bytes",
                        (unsigned long long)max_bytes);
    for (int i = 0; i < n_threads && res == APR_SUCCESS; i++) {
        bufs[i] = (float *)APR_MALLOC((size_t)buf_elems * sizeof(float));
        if (!bufs[i]) res = apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory for conversion buffers");
    }
    apr__qz_writer wq;
    memset(&wq, 0, sizeof wq);
    wq.w = w;
    apr__mutex_init(&wq.mu);
    apr__cond_init(&wq.cv);
    apr__thread writer_thread;
    bool threaded = false;
#if !defined(APR_NO_THREADS)
    if (res == APR_SUCCESS) threaded = apr__thread_create(&writer_thread, apr__qz_writer_main, &wq);
#endif
    uint64_t t_start = apr__time_ns(), total = 0;
    for (int64_t i = 0; i < n_tensors && res == APR_SUCCESS; i++) {
        const apr__qz_tensor *t = &ts[i];
        uint64_t bytes = apr__qz_tensor_bytes(t);
        uint64_t t0 = apr__time_ns();
        uint8_t *out = outs[i & 1];   /* the other one may still be being written */
        const void *data = out;
        if (source == APR__QZ_SRC_GGUF && t->src->type == t->type) {
            data = t->src->data;     /* unchanged: copy the bytes as they are */
        } else {
            apr__qz_job job;
            memset(&job, 0, sizeof job);
            job.source = source;
            job.t = t;
            job.seed = apr__qz_mix64(seed + 0x1000193ull * (uint64_t)(i + 1));
            job.nrows = (int64_t)apr__qz_nrows(t);
            job.ncols = t->ne[0];
            job.src_row = source == APR__QZ_SRC_GGUF ? apr_type_row_bytes(t->src->type, t->ne[0]) : 0;
            job.dst_row = apr_type_row_bytes(t->type, t->ne[0]);
            job.dst = out;
            job.bufs = bufs;
            job.buf_rows = APR__MAX((int64_t)1, buf_elems / t->ne[0]);
            apr__pool_run(pool, apr__qz_job_run, &job, n_threads);
            if (job.failed) {
                res = apr__fail(err, APR_ERROR_UNSUPPORTED, "tensor '%s': cannot convert %s to %s", t->name,
                                source == APR__QZ_SRC_GGUF ? apr_type_name(t->src->type) : "F32",
                                apr_type_name(t->type));
                break;
            }
        }
        if (apr__qz_writer_put(&wq, threaded, data, (size_t)bytes) != APR_SUCCESS) {
            res = apr__fail(err, APR_ERROR_IO, "writing the tensors failed (at '%s')", t->name);
            break;
        }
        total += bytes;
        char shape[96];
        int len = snprintf(shape, sizeof shape, "%lld", (long long)t->ne[0]);
        for (int d = 1; d < t->n_dims && len > 0 && len < (int)sizeof shape; d++)
            len += snprintf(shape + len, sizeof shape - (size_t)len, " x %lld", (long long)t->ne[d]);
        apr__log(&lg, APR_LOG_INFO, "[%4lld/%4lld] %-32s [%s] %s -> %s, %.2f MiB, %.0f ms", (long long)(i + 1),
                 (long long)n_tensors, t->name, shape,
                 source == APR__QZ_SRC_GGUF ? apr_type_name(t->src->type) : "F32", apr_type_name(t->type),
                 bytes / 1048576.0, (apr__time_ns() - t0) / 1e6);
    }
    if (threaded) {
        apr_result r = apr__qz_writer_put(&wq, true, NULL, 0);
        if (r != APR_SUCCESS && res == APR_SUCCESS) res = apr__fail(err, APR_ERROR_IO, "writing the tensors failed");
        apr__mutex_lock(&wq.mu);
        wq.stop = true;
        apr__cond_broadcast(&wq.cv);
        apr__mutex_unlock(&wq.mu);
        apr__thread_join(writer_thread);
    }
    apr__cond_destroy(&wq.cv);
    apr__mutex_destroy(&wq.mu);
    if (res == APR_SUCCESS)
        apr__log(&lg, APR_LOG_INFO, "%lld tensors, %.2f MiB of tensor data in %.1f s on %d threads",
                 (long long)n_tensors, total / 1048576.0, (apr__time_ns() - t_start) / 1e9, n_threads);
    for (int i = 0; bufs && i < n_threads; i++) APR_FREE(bufs[i]);
    APR_FREE(bufs);
    APR_FREE(outs[0]);
    APR_FREE(outs[1]);
    apr__pool_free(pool);
    return res;
}

static apr_result apr__qz_add_tensors(apr_gguf_writer *w, const apr__qz_tensor *ts, int64_t n, apr_error *err) {
    for (int64_t i = 0; i < n; i++) {
        apr_result r = apr_gguf_writer_add_tensor(w, ts[i].name, ts[i].type, ts[i].n_dims, ts[i].ne);
        if (r != APR_SUCCESS) return apr__fail(err, r, "tensor '%s': cannot add it to the output", ts[i].name);
    }
    return APR_SUCCESS;
}

static void apr__qz_copy_name(char *dst, const char *src, size_t len) {
    if (len > 63) len = 63;
    memcpy(dst, src, len);
    dst[len] = 0;
}

static int64_t apr__qz_get_i(const apr_gguf *g, const char *arch, const char *suffix, int64_t def) {
    char key[128];
    int64_t v;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return apr_gguf_get_i64(g, key, &v) ? v : def;
}

APR__IMPL apr_result apr_quantize_model(const char *in_path, const char *out_path, const char *type_or_recipe,
                                        const apr_quantize_params *params, apr_error *err) {
    apr__error_clear(err);
    apr_quantize_params p = params ? *params : apr_quantize_default_params();
    const apr__qz_ftype *ft = apr__qz_find_ftype(type_or_recipe);
    if (!in_path || !out_path) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_quantize_model: NULL path");
    if (!ft) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "unknown type or recipe '%s'",
                              type_or_recipe ? type_or_recipe : "(null)");
    apr_gguf *g = NULL;
    apr_result res = apr_gguf_open(in_path, &g, err);
    if (res != APR_SUCCESS) return res;
    apr_gguf_writer *w = NULL;
    apr__qz_tensor *ts = NULL;
    int64_t nt = apr_gguf_n_tensors(g);
    char arch[64] = "";
    apr_str s;
    if (apr_gguf_get_str(g, "general.architecture", &s)) apr__qz_copy_name(arch, s.ptr, (size_t)s.len);
    apr_quantize_model_info mi;
    memset(&mi, 0, sizeof mi);
    mi.arch = arch;
    mi.n_layer = (int32_t)apr__qz_get_i(g, arch, "block_count", 0);
    mi.n_head = (int32_t)apr__qz_get_i(g, arch, "attention.head_count", 1);
    mi.n_head_kv = (int32_t)apr__qz_get_i(g, arch, "attention.head_count_kv", mi.n_head);
    mi.n_expert = (int32_t)apr__qz_get_i(g, arch, "expert_count", 0);
    mi.has_output = apr_gguf_find_tensor(g, "output.weight") != NULL;

    ts = (apr__qz_tensor *)apr__calloc((size_t)(nt > 0 ? nt : 1), sizeof *ts);
    if (!ts) { res = apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory"); goto done; }
    for (int64_t i = 0; i < nt; i++) {
        const apr_gguf_tensor *t = apr_gguf_tensor_at(g, i);
        apr__qz_tensor *q = &ts[i];
        if (t->name.len > 63) { res = apr__fail(err, APR_ERROR_UNSUPPORTED, "tensor %lld: name too long", (long long)i); goto done; }
        apr__qz_copy_name(q->name, t->name.ptr, (size_t)t->name.len);
        q->n_dims = t->n_dims;
        for (int d = 0; d < 4; d++) q->ne[d] = t->ne[d];
        q->src = t;
        q->type = apr_quantize_tensor_type(ft->name, p.pure, &mi, q->name, t->n_dims, t->ne, t->type);
        if (q->type != t->type && !apr__qz_can_write(q->type)) q->type = t->type;
    }

    res = apr_gguf_writer_create(&w, err);
    if (res != APR_SUCCESS) goto done;
    {
        uint64_t align = apr_gguf_alignment(g);
        if (align && align <= 0x80000000ull) apr_gguf_writer_set_alignment(w, (uint32_t)align);
    }
    for (int64_t i = 0; i < apr_gguf_n_kv(g); i++) {
        apr_str k = apr_gguf_key(g, i);
        /* set below, as llama.cpp does; split keys do not apply to the one output file */
        static const char *const skip[] = {"general.file_type", "general.quantization_version", "split.no",
                                           "split.count", "split.tensors.count"};
        bool skipped = false;
        for (size_t j = 0; j < APR__ARRAY_LEN(skip); j++)
            if (k.len == strlen(skip[j]) && memcmp(k.ptr, skip[j], (size_t)k.len) == 0) skipped = true;
        if (skipped) continue;
        res = apr_gguf_writer_copy_kv(w, g, i);
        if (res != APR_SUCCESS) {
            res = apr__fail(err, res, "cannot copy metadata key '%.*s'", (int)APR__MIN(k.len, 200), k.ptr);
            goto done;
        }
    }
    if (apr_gguf_writer_add_u32(w, "general.quantization_version", 2) != APR_SUCCESS ||
        apr_gguf_writer_add_u32(w, "general.file_type", (uint32_t)ft->ftype) != APR_SUCCESS) {
        res = apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "cannot add general.file_type");
        goto done;
    }
    res = apr__qz_add_tensors(w, ts, nt, err);
    if (res != APR_SUCCESS) goto done;
    res = apr_gguf_writer_begin_file(w, out_path, err);
    if (res != APR_SUCCESS) goto done;
    res = apr__qz_write_tensors(w, ts, nt, APR__QZ_SRC_GGUF, p.seed, &p, err);
    {
        apr_error e2;
        apr_result r2 = apr_gguf_writer_finish(w, &e2);
        if (res == APR_SUCCESS && r2 != APR_SUCCESS) res = apr__fail(err, r2, "%s", e2.message);
    }
done:
    apr_gguf_writer_free(w);
    APR_FREE(ts);
    apr_gguf_close(g);
    return res;
}

/* ---- synthetic models: real dimensions, random weights, a real tokenizer -------------------
   For benchmarks: the speed of a model depends on its shapes and types, not on its values.
   Weights are uniform with the spread of a trained model's initialisation (std 1/sqrt(fan-in)
   for projections, norms near 1, small biases), so activations stay finite through every
   layer; each row is a function of (seed, tensor, row), so any thread count writes the
   same file. */

typedef struct apr__synth_spec {
    const char *name, *arch, *title, *size_label;
    int32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
    bool tied, qkv_bias;
    float rope_base, eps;
    int32_t head_dim;      /* 0: n_embd / n_head; qwen3 sets it (and has q/k norms) */
} apr__synth_spec;

static const apr__synth_spec apr__synth_specs[] = {
    {"qwen2.5-0.5b", "qwen2", "Qwen2.5 0.5B (synthetic)", "0.5B", 896, 24, 14, 2, 4864, 151936, 32768, true, true, 1e6f, 1e-6f, 0},
    {"qwen2.5-1.5b", "qwen2", "Qwen2.5 1.5B (synthetic)", "1.5B", 1536, 28, 12, 2, 8960, 151936, 32768, true, true, 1e6f, 1e-6f, 0},
    {"qwen2.5-3b", "qwen2", "Qwen2.5 3B (synthetic)", "3B", 2048, 36, 16, 2, 11008, 151936, 32768, true, true, 1e6f, 1e-6f, 0},
    {"qwen2.5-7b", "qwen2", "Qwen2.5 7B (synthetic)", "7B", 3584, 28, 28, 4, 18944, 151936, 32768, false, true, 1e6f, 1e-6f, 0},
    {"qwen2.5-14b", "qwen2", "Qwen2.5 14B (synthetic)", "14B", 5120, 48, 40, 8, 13824, 152064, 32768, false, true, 1e6f, 1e-6f, 0},
    {"qwen2.5-32b", "qwen2", "Qwen2.5 32B (synthetic)", "32B", 5120, 64, 40, 8, 27648, 151936, 32768, false, true, 1e6f, 1e-6f, 0},
    {"llama3-8b", "llama", "Llama 3 8B (synthetic)", "8B", 4096, 32, 32, 8, 14336, 128256, 8192, false, false, 500000.f, 1e-5f, 0},
    /* Qwen3 dense models (Hugging Face configs): head_dim 128 whatever n_embd / n_head */
    {"qwen3-0.6b", "qwen3", "Qwen3 0.6B (synthetic)", "0.6B", 1024, 28, 16, 8, 3072, 151936, 40960, true, false, 1e6f, 1e-6f, 128},
    {"qwen3-1.7b", "qwen3", "Qwen3 1.7B (synthetic)", "1.7B", 2048, 28, 16, 8, 6144, 151936, 40960, true, false, 1e6f, 1e-6f, 128},
    {"qwen3-4b", "qwen3", "Qwen3 4B (synthetic)", "4B", 2560, 36, 32, 8, 9728, 151936, 40960, true, false, 1e6f, 1e-6f, 128},
    {"qwen3-8b", "qwen3", "Qwen3 8B (synthetic)", "8B", 4096, 36, 32, 8, 12288, 151936, 40960, false, false, 1e6f, 1e-6f, 128},
    /* small ones for tests: the real vocabularies, every code path, seconds to write */
    {"test-qwen2", "qwen2", "Qwen2 test (synthetic)", "tiny", 128, 2, 4, 2, 384, 151936, 4096, true, true, 1e6f, 1e-6f, 0},
    {"test-llama3", "llama", "Llama 3 test (synthetic)", "tiny", 256, 2, 4, 2, 512, 128256, 8192, false, false, 500000.f, 1e-5f, 0},
    {"test-qwen3", "qwen3", "Qwen3 test (synthetic)", "tiny", 128, 2, 4, 2, 384, 151936, 40960, true, false, 1e6f, 1e-6f, 64},
};

APR__IMPL const char *const *apr_synthetic_names(void) {
    static const char *const names[] = {"qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-3b", "qwen2.5-7b", "qwen2.5-14b",
                                        "qwen2.5-32b",  "llama3-8b",    "qwen3-0.6b", "qwen3-1.7b", "qwen3-4b",
                                        "qwen3-8b",     NULL};
    return names;
}

static const apr__synth_spec *apr__synth_find(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < APR__ARRAY_LEN(apr__synth_specs); i++)
        if (apr__qz_ieq(apr__synth_specs[i].name, name)) return &apr__synth_specs[i];
    return NULL;
}

static void apr__synth_tensor(apr__qz_tensor *t, const char *name, int n_dims, int64_t ne0, int64_t ne1, float offset,
                              float amplitude) {
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = n_dims;
    t->ne[0] = ne0;
    t->ne[1] = n_dims > 1 ? ne1 : 1;
    t->ne[2] = t->ne[3] = 1;
    t->type = APR_TYPE_F32;
    t->offset = offset;
    t->amplitude = amplitude;
}

/* The tensors of a model of spec sp with n_vocab tokens, in the order of llama.cpp's
   converter; types from the recipe. Returns the count (ts may be NULL to count). */
static int64_t apr__synth_plan(const apr__synth_spec *sp, int32_t n_vocab, const apr__qz_ftype *ft, bool pure,
                               apr__qz_tensor *ts) {
    const int64_t E = sp->n_embd, hd = sp->head_dim > 0 ? sp->head_dim : sp->n_embd / sp->n_head;
    const int64_t q_dim = hd * sp->n_head, kv_dim = hd * sp->n_head_kv, F = sp->n_ff;
    const float bias = 0.02f, norm = 0.05f;
    const float a_e = sqrtf(3.0f / (float)E), a_q = sqrtf(3.0f / (float)q_dim), a_f = sqrtf(3.0f / (float)F);
    int64_t n = 0;
    char name[64];
#define APR__SYNTH(nm, nd, a, b, off, amp) \
    do { if (ts) apr__synth_tensor(&ts[n], (nm), (nd), (a), (b), (off), (amp)); n++; } while (0)
    APR__SYNTH("token_embd.weight", 2, E, n_vocab, 0.0f, a_e);
    for (int l = 0; l < sp->n_layer; l++) {
#define APR__SYNTH_L(suffix, nd, a, b, off, amp) \
    do { snprintf(name, sizeof name, "blk.%d.%s", l, suffix); APR__SYNTH(name, nd, a, b, off, amp); } while (0)
        APR__SYNTH_L("attn_norm.weight", 1, E, 1, 1.0f, norm);
        APR__SYNTH_L("attn_q.weight", 2, E, q_dim, 0.0f, a_e);
        if (sp->qkv_bias) APR__SYNTH_L("attn_q.bias", 1, q_dim, 1, 0.0f, bias);
        if (sp->head_dim > 0) APR__SYNTH_L("attn_q_norm.weight", 1, hd, 1, 1.0f, norm);
        APR__SYNTH_L("attn_k.weight", 2, E, kv_dim, 0.0f, a_e);
        if (sp->qkv_bias) APR__SYNTH_L("attn_k.bias", 1, kv_dim, 1, 0.0f, bias);
        if (sp->head_dim > 0) APR__SYNTH_L("attn_k_norm.weight", 1, hd, 1, 1.0f, norm);
        APR__SYNTH_L("attn_v.weight", 2, E, kv_dim, 0.0f, a_e);
        if (sp->qkv_bias) APR__SYNTH_L("attn_v.bias", 1, kv_dim, 1, 0.0f, bias);
        APR__SYNTH_L("attn_output.weight", 2, q_dim, E, 0.0f, a_q);
        APR__SYNTH_L("ffn_norm.weight", 1, E, 1, 1.0f, norm);
        APR__SYNTH_L("ffn_gate.weight", 2, E, F, 0.0f, a_e);
        APR__SYNTH_L("ffn_up.weight", 2, E, F, 0.0f, a_e);
        APR__SYNTH_L("ffn_down.weight", 2, F, E, 0.0f, a_f);
#undef APR__SYNTH_L
    }
    APR__SYNTH("output_norm.weight", 1, E, 1, 1.0f, norm);
    if (!sp->tied) APR__SYNTH("output.weight", 2, E, n_vocab, 0.0f, a_e);
#undef APR__SYNTH
    if (ts && ft) {
        apr_quantize_model_info mi;
        memset(&mi, 0, sizeof mi);
        mi.arch = sp->arch;
        mi.n_layer = sp->n_layer;
        mi.n_head = sp->n_head;
        mi.n_head_kv = sp->n_head_kv;
        mi.has_output = !sp->tied;
        for (int64_t i = 0; i < n; i++)
            ts[i].type = apr_quantize_tensor_type(ft->name, pure, &mi, ts[i].name, ts[i].n_dims, ts[i].ne, APR_TYPE_F32);
    }
    return n;
}

APR__IMPL apr_result apr_synthetic_plan(const char *name, const char *type_or_recipe, bool pure, uint64_t *tensor_bytes,
                                        uint64_t *n_params) {
    const apr__synth_spec *sp = apr__synth_find(name);
    const apr__qz_ftype *ft = apr__qz_find_ftype(type_or_recipe);
    if (!sp || !ft) return APR_ERROR_INVALID_ARGUMENT;
    int64_t n = apr__synth_plan(sp, sp->n_vocab, ft, pure, NULL);
    apr__qz_tensor *ts = (apr__qz_tensor *)apr__calloc((size_t)n, sizeof *ts);
    if (!ts) return APR_ERROR_OUT_OF_MEMORY;
    apr__synth_plan(sp, sp->n_vocab, ft, pure, ts);
    uint64_t bytes = 0, params = 0;
    for (int64_t i = 0; i < n; i++) {
        bytes += apr__qz_tensor_bytes(&ts[i]);
        params += (uint64_t)ts[i].ne[0] * apr__qz_nrows(&ts[i]);
    }
    APR_FREE(ts);
    if (tensor_bytes) *tensor_bytes = bytes;
    if (n_params) *n_params = params;
    return APR_SUCCESS;
}

/* Chat templates for vocabularies that have none (the vocab-only files of llama.cpp). */
static const char apr__synth_qwen_template[] =
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + "
    "'<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a "
    "helpful assistant.<|im_end|>\\n' }}{%- endif %}{%- for message in messages %}{%- if not (message.role == "
    "'system' and loop.first) %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- endif %}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
static const char apr__synth_llama3_template[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + "
    "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

/* Llama 3's special tokens at 128000..128255 (the rest of the range is reserved). */
static void apr__synth_llama3_special(int32_t id, char *buf, size_t size) {
    static const char *const named[10] = {"<|begin_of_text|>", "<|end_of_text|>", NULL, NULL, NULL, NULL,
                                           "<|start_header_id|>", "<|end_header_id|>", NULL, "<|eot_id|>"};
    static const int reserved[10] = {0, 0, 0, 1, 2, 3, 0, 0, 4, 0};
    int k = id - 128000;
    if (k < 10 && named[k]) snprintf(buf, size, "%s", named[k]);
    else snprintf(buf, size, "<|reserved_special_token_%d|>", k < 10 ? reserved[k] : k - 5);
}

/* Copy the tokenizer of vocab file v, padded to n_vocab tokens when it has fewer. */
static apr_result apr__synth_tokenizer(apr_gguf_writer *w, const apr_gguf *v, const apr__synth_spec *sp,
                                       int32_t n_vocab, int64_t n_tok, apr_error *err) {
    const bool pad = n_tok < n_vocab;
    const bool llama3 = pad && strcmp(sp->arch, "llama") == 0 && n_vocab == 128256 && n_tok <= 128000;
    bool has_template = false;
    apr_result res = APR_SUCCESS;
    for (int64_t i = 0; i < apr_gguf_n_kv(v); i++) {
        apr_str k = apr_gguf_key(v, i);
        if (k.len < 10 || memcmp(k.ptr, "tokenizer.", 10) != 0) continue;
        char key[128];
        apr__qz_copy_name(key, k.ptr, (size_t)APR__MIN(k.len, (uint64_t)127));
        if (strcmp(key, "tokenizer.chat_template") == 0) has_template = true;
        if (pad && (strcmp(key, "tokenizer.ggml.tokens") == 0 || strcmp(key, "tokenizer.ggml.token_type") == 0 ||
                    strcmp(key, "tokenizer.ggml.scores") == 0))
            continue;
        if (llama3 && (strcmp(key, "tokenizer.ggml.bos_token_id") == 0 || strcmp(key, "tokenizer.ggml.eos_token_id") == 0 ||
                       strcmp(key, "tokenizer.ggml.add_bos_token") == 0))
            continue;
        res = apr_gguf_writer_copy_kv(w, v, i);
        if (res != APR_SUCCESS) return apr__fail(err, res, "cannot copy vocabulary key '%s'", key);
    }
    if (pad) {
        /* tokens, types and scores, each extended to n_vocab */
        apr_str *toks = (apr_str *)apr__calloc((size_t)n_vocab, sizeof *toks);
        int32_t *types = (int32_t *)apr__calloc((size_t)n_vocab, sizeof *types);
        char *names = (char *)APR_MALLOC((size_t)(n_vocab - n_tok) * 40);
        float *scores = NULL;
        apr_gguf_value_type et;
        uint64_t cnt = 0;
        const void *data = NULL;
        bool has_scores = apr_gguf_get_arr(v, "tokenizer.ggml.scores", &et, &cnt, &data) && et == APR_GGUF_FLOAT32 &&
                          cnt == (uint64_t)n_tok;
        if (has_scores) scores = (float *)apr__calloc((size_t)n_vocab, sizeof *scores);
        if (!toks || !types || !names || (has_scores && !scores)) {
            res = apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory for the vocabulary");
        } else {
            const void *tdata = NULL;
            bool has_types = apr_gguf_get_arr(v, "tokenizer.ggml.token_type", &et, &cnt, &tdata) &&
                             (et == APR_GGUF_INT32 || et == APR_GGUF_UINT32) && cnt == (uint64_t)n_tok;
            for (int64_t i = 0; i < n_tok; i++) {
                toks[i] = apr_gguf_arr_str(v, "tokenizer.ggml.tokens", (uint64_t)i);
                int32_t ty = 1;
                if (has_types) memcpy(&ty, (const uint8_t *)tdata + 4 * i, 4);
                types[i] = ty;
                if (has_scores) memcpy(&scores[i], (const uint8_t *)data + 4 * i, 4);
            }
            for (int64_t i = n_tok; i < n_vocab; i++) {
                char *nm = names + (i - n_tok) * 40;
                if (llama3 && i >= 128000) {
                    apr__synth_llama3_special((int32_t)i, nm, 40);
                    types[i] = 3;  /* control */
                } else {
                    snprintf(nm, 40, "[PAD%lld]", (long long)i);
                    types[i] = 5;  /* unused */
                }
                toks[i].ptr = nm;
                toks[i].len = strlen(nm);
                if (scores) scores[i] = 0.0f;
            }
            res = apr_gguf_writer_add_arr(w, "tokenizer.ggml.tokens", APR_GGUF_STRING, (uint64_t)n_vocab, toks);
            if (res == APR_SUCCESS)
                res = apr_gguf_writer_add_arr(w, "tokenizer.ggml.token_type", APR_GGUF_INT32, (uint64_t)n_vocab, types);
            if (res == APR_SUCCESS && scores)
                res = apr_gguf_writer_add_arr(w, "tokenizer.ggml.scores", APR_GGUF_FLOAT32, (uint64_t)n_vocab, scores);
            if (res != APR_SUCCESS) apr__fail(err, res, "cannot write the padded vocabulary");
        }
        APR_FREE(toks);
        APR_FREE(types);
        APR_FREE(names);
        APR_FREE(scores);
        if (res != APR_SUCCESS) return res;
    }
    if (llama3) {
        if (apr_gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 128000) != APR_SUCCESS ||
            apr_gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 128009) != APR_SUCCESS ||
            apr_gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", true) != APR_SUCCESS)
            return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "cannot write the special token ids");
    }
    if (!has_template) {
        const char *tmpl = strncmp(sp->arch, "qwen", 4) == 0 ? apr__synth_qwen_template
                         : (llama3 || apr_gguf_find_key(v, "tokenizer.ggml.eot_token_id") >= 0) ? apr__synth_llama3_template
                         : NULL;
        if (tmpl && apr_gguf_writer_add_str(w, "tokenizer.chat_template", tmpl) != APR_SUCCESS)
            return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "cannot write the chat template");
    }
    return APR_SUCCESS;
}

APR__IMPL apr_result apr_synthetic_model(const char *name, const char *vocab_path, const char *out_path,
                                         const char *type_or_recipe, const apr_quantize_params *params, apr_error *err) {
    apr__error_clear(err);
    apr_quantize_params p = params ? *params : apr_quantize_default_params();
    const apr__synth_spec *sp = apr__synth_find(name);
    const apr__qz_ftype *ft = apr__qz_find_ftype(type_or_recipe);
    if (!sp) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "unknown synthetic model '%s'", name ? name : "(null)");
    if (!ft) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "unknown type or recipe '%s'",
                              type_or_recipe ? type_or_recipe : "(null)");
    if (!vocab_path || !out_path) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "a vocabulary file and an output path are needed");
    apr__logger lg;
    lg.fn = p.log_fn;
    lg.user = p.log_user;
    lg.level = APR_LOG_INFO;
    apr_gguf *v = NULL;
    apr_result res = apr_gguf_open(vocab_path, &v, err);
    if (res != APR_SUCCESS) return res;
    apr_gguf_writer *w = NULL;
    apr__qz_tensor *ts = NULL;
    apr_gguf_value_type et;
    uint64_t n_tok = 0;
    const void *tok_data;
    int32_t n_vocab = sp->n_vocab;
    int64_t nt = 0;
    if (!apr_gguf_get_arr(v, "tokenizer.ggml.tokens", &et, &n_tok, &tok_data) || et != APR_GGUF_STRING || n_tok == 0 ||
        n_tok > 0x7fffffff) {
        res = apr__fail(err, APR_ERROR_INVALID_FILE, "'%s': no tokenizer.ggml.tokens", vocab_path);
        goto done;
    }
    if ((int64_t)n_tok > n_vocab) {
        apr__log(&lg, APR_LOG_WARN, "the vocabulary has %llu tokens, more than the %d of %s: the model gets %llu",
                 (unsigned long long)n_tok, n_vocab, sp->name, (unsigned long long)n_tok);
        n_vocab = (int32_t)n_tok;
    } else if ((int64_t)n_tok < n_vocab) {
        apr__log(&lg, APR_LOG_INFO, "the vocabulary has %llu tokens: padded to %d", (unsigned long long)n_tok, n_vocab);
    }
    nt = apr__synth_plan(sp, n_vocab, ft, p.pure, NULL);
    ts = (apr__qz_tensor *)apr__calloc((size_t)nt, sizeof *ts);
    if (!ts) { res = apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory"); goto done; }
    apr__synth_plan(sp, n_vocab, ft, p.pure, ts);

    res = apr_gguf_writer_create(&w, err);
    if (res != APR_SUCCESS) goto done;
    {
        const char *a = sp->arch;
        char key[96];
        apr_result r = APR_SUCCESS;
#define APR__KEY(suffix) (snprintf(key, sizeof key, "%s.%s", a, suffix), key)
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_str(w, "general.architecture", a);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_str(w, "general.type", "model");
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_str(w, "general.name", sp->title);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_str(w, "general.size_label", sp->size_label);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, APR__KEY("block_count"), (uint32_t)sp->n_layer);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, APR__KEY("context_length"), (uint32_t)sp->n_ctx);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, APR__KEY("embedding_length"), (uint32_t)sp->n_embd);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, APR__KEY("feed_forward_length"), (uint32_t)sp->n_ff);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, APR__KEY("attention.head_count"), (uint32_t)sp->n_head);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, APR__KEY("attention.head_count_kv"), (uint32_t)sp->n_head_kv);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_f32(w, APR__KEY("rope.freq_base"), sp->rope_base);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_f32(w, APR__KEY("attention.layer_norm_rms_epsilon"), sp->eps);
        if (sp->head_dim > 0) {
            if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, APR__KEY("attention.key_length"), (uint32_t)sp->head_dim);
            if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, APR__KEY("attention.value_length"), (uint32_t)sp->head_dim);
        }
        if (strcmp(a, "llama") == 0) {
            if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, APR__KEY("rope.dimension_count"), (uint32_t)(sp->n_embd / sp->n_head));
            if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, APR__KEY("vocab_size"), (uint32_t)n_vocab);
        }
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, "general.file_type", (uint32_t)ft->ftype);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, "general.quantization_version", 2);
#undef APR__KEY
        if (r != APR_SUCCESS) { res = apr__fail(err, r, "cannot write the model metadata"); goto done; }
    }
    res = apr__synth_tokenizer(w, v, sp, n_vocab, (int64_t)n_tok, err);
    if (res != APR_SUCCESS) goto done;
    res = apr__qz_add_tensors(w, ts, nt, err);
    if (res != APR_SUCCESS) goto done;
    res = apr_gguf_writer_begin_file(w, out_path, err);
    if (res != APR_SUCCESS) goto done;
    res = apr__qz_write_tensors(w, ts, nt, APR__QZ_SRC_RANDOM, p.seed, &p, err);
    {
        apr_error e2;
        apr_result r2 = apr_gguf_writer_finish(w, &e2);
        if (res == APR_SUCCESS && r2 != APR_SUCCESS) res = apr__fail(err, r2, "%s", e2.message);
    }
done:
    apr_gguf_writer_free(w);
    APR_FREE(ts);
    apr_gguf_close(v);
    return res;
}
