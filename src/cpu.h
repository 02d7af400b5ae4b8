/* =====================================================================================
   CPU backend: the whole transformer step on the host, implementing apr_backend_vtable.
   The scalar path (apr_cpu_set_max_simd(0)) is the reference every other backend and
   every SIMD kernel is checked against. Two internal interfaces carry the heavy work,
   so the kernels can change without touching the forward pass:
     apr__cpu_matmul_n   y_k[t] = W_k x[t] (+ b_k) for up to three matrices sharing an
                         input, the input quantized once (quant.h's activation types),
                         rows split over the thread pool (apr__cpu_matmul: one matrix)
     apr__cpu_attention  causal attention of every (token, head) over its sequence's KV
   The KV cache is F16 by default (Q8_0 or F32 on request), one row per (layer, seq, pos).
   ===================================================================================== */

typedef struct apr__cpu_model {
    const apr_model_view *mv;
    apr__logger log;
    size_t max_act_row;        /* largest quantized activation row of any matrix */
    int32_t kv_layers;         /* layers [0, kv_layers) have a KV cache here: all of them,
                                  or under partial offload the ones left to the CPU */
    struct apr__cpu_packed *packed;  /* load-time repacked copies of some matrices */
    int n_packed;
    int64_t packed_max_cols;   /* widest repacked matrix (activation block sums per token) */
} apr__cpu_model;

typedef struct apr__cpu_packed {
    const apr_tensor_view *w;
    void *data;                /* 8-row groups of w->type (apr__block_q5_0x8, _q4_Kx8 or
                                  _q6_Kx8): rows [0, 8 * (ne[1] / 8)) */
} apr__cpu_packed;

typedef struct apr__cpu_ctx {
    const apr__cpu_model *cm;
    apr_backend_context_params p;
    apr__pool *pool;
    int n_threads;
    int simd;
    /* KV cache: [layer][seq][pos] rows of kv_dim elements, K and V apart */
    size_t kv_row_bytes;
    uint8_t *k_cache, *v_cache;
    /* scratch for one pass of up to n_batch tokens */
    float *x, *xn, *q, *k, *v, *att, *gate, *up, *rope_cs, *out_h;
    float *thread_f32;         /* per thread: attention scores (GQA group x n_ctx) + a K/V slice */
    size_t thread_f32_stride;
    void *actq[3];             /* quantized activations, n_batch rows, one per type in a job */
    int32_t *act_sums;         /* Q8_0 activation block sums for repacked Q5_0, n_batch rows */
} apr__cpu_ctx;

/* ---- small vector kernels (reference) ------------------------------------------------ */

static void apr__rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / (double)n + (double)eps));
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}


/* ---- repacked Q5_0: 8 rows interleaved ------------------------------------------------
   Q5_0 matrices (most of Qwen2.5-0.5B's Q4_K_M file: 896 columns are no multiple of 256)
   are repacked at load time into groups of 8 rows, block by block, so that one 32-byte
   register holds 4 consecutive weights of each of the 8 rows: one multiply-add against
   4 activation bytes broadcast then feeds 8 outputs in its 8 lanes, with no horizontal
   sums, and each weight register is decoded once for up to 4 tokens. A group block is
   176 bytes, like the 8 Q5_0 blocks it replaces (no more bytes for decode to read):
     d[8]     the 8 rows' fp16 scales
     qs[128]  4 x 32 bytes: vector m, byte 4r+e: low nibble = low 4 bits of weight 8m+e of
              row r, high nibble = those of weight 8m+4+e
     qh[32]   byte 4r+e, bit j: fifth bit of weight 4j+e of row r
   Weights are kept unsigned (0..31): sum (q-16)a = sum q a - 16 sum a, with the block sums
   of the activations computed once per token (apr__q8_0_block_sums). The integer sum of
   each block equals the Q5_0 kernels' exactly; only the float accumulation may round
   differently. */

typedef struct { uint16_t d[8]; uint8_t qs[128]; uint8_t qh[32]; } apr__block_q5_0x8;
typedef char apr__chk_q5_0x8[sizeof(apr__block_q5_0x8) == 176 ? 1 : -1];

/* Register j (0..7) of a group block holds weights 4j..4j+3 of every row; registers 2m
   and 2m+1 share qs vector m (low and high nibbles). */
static APR__UNUSED void apr__repack_q5_0x8(const uint8_t *src, size_t row_stride, int64_t n, apr__block_q5_0x8 *dst) {
    for (int64_t i = 0; i < n / 32; i++) {
        apr__block_q5_0x8 *g = dst + i;
        for (int r = 0; r < 8; r++) {
            const apr__block_q5_0 *b = (const apr__block_q5_0 *)(src + (size_t)r * row_stride) + i;
            uint32_t qh, q[4], v[4];
            memcpy(&qh, b->qh, 4);
            memcpy(q, b->qs, 16);
            g->d[r] = b->d;
            /* word m holds weights 8m..8m+3 (low nibbles) and 8m+4..8m+7 (high); the qs
               bytes hold weights k (low nibble) and k+16 (high) */
            v[0] = (q[0] & 0x0F0F0F0Fu) | ((q[1] & 0x0F0F0F0Fu) << 4);
            v[1] = (q[2] & 0x0F0F0F0Fu) | ((q[3] & 0x0F0F0F0Fu) << 4);
            v[2] = ((q[0] >> 4) & 0x0F0F0F0Fu) | (q[1] & 0xF0F0F0F0u);
            v[3] = ((q[2] >> 4) & 0x0F0F0F0Fu) | (q[3] & 0xF0F0F0F0u);
            for (int m = 0; m < 4; m++) memcpy(g->qs + 32 * m + 4 * r, &v[m], 4);
            for (int e = 0; e < 4; e++) {
                /* bits e, e+4, ..., e+28 of qh to bits 0..7 */
                uint32_t h = (qh >> e) & 0x11111111u;
                h = (h | h >> 3) & 0x03030303u;
                h = (h | h >> 6) & 0x000F000Fu;
                g->qh[4 * r + e] = (uint8_t)(h | h >> 12);
            }
        }
    }
}

/* per token, the sum of each Q8_0 activation block's 32 int8 values */
static void apr__q8_0_block_sums(const void *act, int64_t n, int32_t *sums) {
    const apr__block_q8_0 *y = (const apr__block_q8_0 *)act;
    for (int64_t i = 0; i < n / 32; i++) {
        int s = 0;
        for (int k = 0; k < 32; k++) s += y[i].qs[k];
        sums[i] = s;
    }
}

/* Reference: out[t*ld + r] for the 8 rows of n_groups groups (rows 8g..8g+7) and n_tok
   tokens; act rows act_stride apart, their block sums sums_stride ints apart. */
static void apr__gemm_q5_0x8_ref(int64_t n, const apr__block_q5_0x8 *w, int64_t n_groups, const uint8_t *act,
                                 size_t act_stride, const int32_t *sums, int64_t sums_stride, int n_tok, float *out,
                                 int64_t ld) {
    const int64_t nb = n / 32;
    for (int64_t g = 0; g < n_groups; g++) {
        for (int t = 0; t < n_tok; t++) {
            const apr__block_q8_0 *y = (const apr__block_q8_0 *)(act + (size_t)t * act_stride);
            const float *ys = apr__q8_0_act_scales(y, n);
            float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int64_t i = 0; i < nb; i++) {
                const apr__block_q5_0x8 *b = w + g * nb + i;
                for (int r = 0; r < 8; r++) {
                    int sumi = 0;
                    for (int k = 0; k < 32; k++) {
                        int j = k / 4, e = k % 4, m = j / 2;
                        int q = (b->qs[32 * m + 4 * r + e] >> (4 * (j % 2))) & 0xF;
                        q |= ((b->qh[4 * r + e] >> j) & 1) << 4;
                        sumi += q * y[i].qs[k];
                    }
                    sumi -= 16 * sums[(size_t)t * sums_stride + i];
                    s[r] += apr__fp16_to_fp32(b->d[r]) * ys[i] * (float)sumi;
                }
            }
            for (int r = 0; r < 8; r++) out[(size_t)t * ld + 8 * g + r] = s[r];
        }
    }
}

#if defined(APR__HAVE_X86_SIMD)
/* the 8 weight registers of one group block (bytes 0..31) */
#define APR__Q5X8_UNPACK(b, R)                                                                          \
    do {                                                                                                \
        const __m256i m4_ = _mm256_set1_epi8(0x0F), b4_ = _mm256_set1_epi8(0x10);                       \
        const __m256i h_ = _mm256_loadu_si256((const __m256i *)(b)->qh);                                \
        for (int m_ = 0; m_ < 4; m_++) {                                                                \
            const __m256i v_ = _mm256_loadu_si256((const __m256i *)((b)->qs + 32 * m_));                \
            R[2 * m_] = _mm256_and_si256(v_, m4_);                                                      \
            R[2 * m_ + 1] = _mm256_and_si256(_mm256_srli_epi16(v_, 4), m4_);                            \
        }                                                                                               \
        /* fifth bit j of each byte to bit 4 (16-bit shifts: the mask drops what crosses bytes) */     \
        R[0] = _mm256_or_si256(R[0], _mm256_and_si256(_mm256_slli_epi16(h_, 4), b4_));                  \
        R[1] = _mm256_or_si256(R[1], _mm256_and_si256(_mm256_slli_epi16(h_, 3), b4_));                  \
        R[2] = _mm256_or_si256(R[2], _mm256_and_si256(_mm256_slli_epi16(h_, 2), b4_));                  \
        R[3] = _mm256_or_si256(R[3], _mm256_and_si256(_mm256_slli_epi16(h_, 1), b4_));                  \
        R[4] = _mm256_or_si256(R[4], _mm256_and_si256(h_, b4_));                                        \
        R[5] = _mm256_or_si256(R[5], _mm256_and_si256(_mm256_srli_epi16(h_, 1), b4_));                  \
        R[6] = _mm256_or_si256(R[6], _mm256_and_si256(_mm256_srli_epi16(h_, 2), b4_));                  \
        R[7] = _mm256_or_si256(R[7], _mm256_and_si256(_mm256_srli_epi16(h_, 3), b4_));                  \
    } while (0)

static inline int32_t apr__load_i32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* AVX2: maddubs (unsigned weights x signed activations, pairs to int16), four registers'
   int16 sums added before one madd (31 * 127 * 8 < 32768: no saturation). */
APR__TARGET_AVX2 static APR__INLINE void apr__q5x8_tile_avx2(const int NT, int64_t n, const apr__block_q5_0x8 *w,
                                                              const uint8_t *act, size_t act_stride,
                                                              const int32_t *sums, int64_t sums_stride, float *out,
                                                              int64_t ld) {
    const int64_t nb = n / 32;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4];
    APR__UNROLL
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const apr__block_q5_0x8 *b = w + i;
        __m256i R[8];
        APR__Q5X8_UNPACK(b, R);
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        APR__UNROLL
        for (int t = 0; t < NT; t++) {
            const apr__block_q8_0 *y = (const apr__block_q8_0 *)(act + (size_t)t * act_stride) + i;
            __m256i s16a = _mm256_maddubs_epi16(R[0], _mm256_set1_epi32(apr__load_i32(y->qs)));
            s16a = _mm256_add_epi16(s16a, _mm256_maddubs_epi16(R[1], _mm256_set1_epi32(apr__load_i32(y->qs + 4))));
            s16a = _mm256_add_epi16(s16a, _mm256_maddubs_epi16(R[2], _mm256_set1_epi32(apr__load_i32(y->qs + 8))));
            s16a = _mm256_add_epi16(s16a, _mm256_maddubs_epi16(R[3], _mm256_set1_epi32(apr__load_i32(y->qs + 12))));
            __m256i s16b = _mm256_maddubs_epi16(R[4], _mm256_set1_epi32(apr__load_i32(y->qs + 16)));
            s16b = _mm256_add_epi16(s16b, _mm256_maddubs_epi16(R[5], _mm256_set1_epi32(apr__load_i32(y->qs + 20))));
            s16b = _mm256_add_epi16(s16b, _mm256_maddubs_epi16(R[6], _mm256_set1_epi32(apr__load_i32(y->qs + 24))));
            s16b = _mm256_add_epi16(s16b, _mm256_maddubs_epi16(R[7], _mm256_set1_epi32(apr__load_i32(y->qs + 28))));
            __m256i s = _mm256_add_epi32(_mm256_madd_epi16(s16a, ones), _mm256_madd_epi16(s16b, ones));
            s = _mm256_sub_epi32(s, _mm256_set1_epi32(16 * sums[(size_t)t * sums_stride + i]));
            const float da = apr__q8_0_act_scales(act + (size_t)t * act_stride, n)[i];
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(da)), _mm256_cvtepi32_ps(s), acc[t]);
        }
    }
    APR__UNROLL
    for (int t = 0; t < NT; t++) _mm256_storeu_ps(out + (size_t)t * ld, acc[t]);
}

/* AVX-512 VNNI (256-bit vpdpbusd, 32 registers): one instruction per weight register. */
APR__TARGET_AVX512VNNI static APR__INLINE void apr__q5x8_tile_vnni(const int NT, int64_t n,
                                                                   const apr__block_q5_0x8 *w, const uint8_t *act,
                                                                   size_t act_stride, const int32_t *sums,
                                                                   int64_t sums_stride, float *out, int64_t ld) {
    const int64_t nb = n / 32;
    __m256 acc[8];
    APR__UNROLL
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const apr__block_q5_0x8 *b = w + i;
        __m256i R[8];
        APR__Q5X8_UNPACK(b, R);
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        APR__UNROLL
        for (int t = 0; t < NT; t++) {
            const apr__block_q8_0 *y = (const apr__block_q8_0 *)(act + (size_t)t * act_stride) + i;
            __m256i s = _mm256_set1_epi32(-16 * sums[(size_t)t * sums_stride + i]);
            APR__UNROLL
            for (int j = 0; j < 8; j++) s = _mm256_dpbusd_epi32(s, R[j], _mm256_set1_epi32(apr__load_i32(y->qs + 4 * j)));
            const float da = apr__q8_0_act_scales(act + (size_t)t * act_stride, n)[i];
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(da)), _mm256_cvtepi32_ps(s), acc[t]);
        }
    }
    APR__UNROLL
    for (int t = 0; t < NT; t++) _mm256_storeu_ps(out + (size_t)t * ld, acc[t]);
}

APR__TARGET_AVX2 static void apr__q5x8_avx2(int64_t n, const apr__block_q5_0x8 *w, const uint8_t *act, size_t as,
                                            const int32_t *sums, int64_t ss, int nt, float *out, int64_t ld) {
    switch (nt) {
    case 4: apr__q5x8_tile_avx2(4, n, w, act, as, sums, ss, out, ld); break;
    case 3: apr__q5x8_tile_avx2(3, n, w, act, as, sums, ss, out, ld); break;
    case 2: apr__q5x8_tile_avx2(2, n, w, act, as, sums, ss, out, ld); break;
    default: apr__q5x8_tile_avx2(1, n, w, act, as, sums, ss, out, ld); break;
    }
}
APR__TARGET_AVX512VNNI static void apr__q5x8_vnni(int64_t n, const apr__block_q5_0x8 *w, const uint8_t *act,
                                                  size_t as, const int32_t *sums, int64_t ss, int nt, float *out,
                                                  int64_t ld) {
    switch (nt) {
    case 8: apr__q5x8_tile_vnni(8, n, w, act, as, sums, ss, out, ld); break;
    case 7: apr__q5x8_tile_vnni(7, n, w, act, as, sums, ss, out, ld); break;
    case 6: apr__q5x8_tile_vnni(6, n, w, act, as, sums, ss, out, ld); break;
    case 5: apr__q5x8_tile_vnni(5, n, w, act, as, sums, ss, out, ld); break;
    case 4: apr__q5x8_tile_vnni(4, n, w, act, as, sums, ss, out, ld); break;
    case 3: apr__q5x8_tile_vnni(3, n, w, act, as, sums, ss, out, ld); break;
    case 2: apr__q5x8_tile_vnni(2, n, w, act, as, sums, ss, out, ld); break;
    default: apr__q5x8_tile_vnni(1, n, w, act, as, sums, ss, out, ld); break;
    }
}
#endif

/* Kernel level: 0 reference, 1 AVX2, 2 AVX-512 VNNI. */
static int apr__q5x8_level(int simd) {
    if (simd <= 0) return 0;
    apr_cpu_features f = apr_cpu_detect();
    return simd >= 2 && f.avx512vnni ? 2 : 1;
}

/* tokens per tile at a level: register budget (16 ymm for AVX2, 32 with AVX-512) */
static APR__UNUSED int apr__q5x8_max_nt(int level) { return level >= 2 ? 8 : 4; }

/* The same contract as apr__gemm_q5_0x8_ref, with the level's kernel: weights are taken
   in L2-sized chunks of groups, each passed over by tiles of tokens. */
static void apr__gemm_q5_0x8(int level, int64_t n, const apr__block_q5_0x8 *w, int64_t n_groups, const uint8_t *act,
                             size_t act_stride, const int32_t *sums, int64_t sums_stride, int n_tok, float *out,
                             int64_t ld) {
#if defined(APR__HAVE_X86_SIMD)
    if (level >= 1) {
        const int64_t nb = n / 32, max_nt = apr__q5x8_max_nt(level);
        int64_t chunk = APR__MAX((int64_t)1, (int64_t)(256 * 1024) / (nb * (int64_t)sizeof(apr__block_q5_0x8)));
        for (int64_t g0 = 0; g0 < n_groups; g0 += chunk) {
            const int64_t g1 = APR__MIN(n_groups, g0 + chunk);
            for (int t0 = 0; t0 < n_tok; t0 += (int)max_nt) {
                const int nt = (int)APR__MIN(max_nt, (int64_t)(n_tok - t0));
                const uint8_t *at = act + (size_t)t0 * act_stride;
                const int32_t *st = sums + (size_t)t0 * sums_stride;
                for (int64_t g = g0; g < g1; g++) {
                    float *o = out + (size_t)t0 * ld + 8 * g;
                    if (level >= 2) apr__q5x8_vnni(n, w + g * nb, at, act_stride, st, sums_stride, nt, o, ld);
                    else apr__q5x8_avx2(n, w + g * nb, at, act_stride, st, sums_stride, nt, o, ld);
                }
            }
        }
        return;
    }
#else
    (void)level;
#endif
    apr__gemm_q5_0x8_ref(n, w, n_groups, act, act_stride, sums, sums_stride, n_tok, out, ld);
}

/* ---- repacked Q4_K: 8 rows interleaved ------------------------------------------------
   The same idea for Q4_K (most of the matrices of files whose widths are multiples of
   256, e.g. Qwen2.5-1.5B): per super-block of 256 weights a group block holds
     d[8], dmin[8]   the rows' fp16 scales
     sc[j][r]        6-bit scale of sub-block j (32 weights) of row r
     m[q][r][2]      6-bit mins of sub-blocks 2q and 2q+1 of row r (an int16 pair each, for
                     one madd against the pair of activation sums)
     qs[p][k][4r+e]  the file's byte 32p+4k+e of row r: low nibble = weight 4k+e of
                     sub-block 2p, high nibble = of sub-block 2p+1
   1184 bytes for 8 rows (the file: 1152). Integer sums per sub-block as in the Q4_K
   kernels; the mins use the Q8_K activation's bsums. */

typedef struct {
    uint16_t d[8], dmin[8];
    uint8_t sc[8][8];
    uint8_t m[4][8][2];
    uint8_t qs[4][8][32];
} apr__block_q4_Kx8;
typedef char apr__chk_q4_Kx8[sizeof(apr__block_q4_Kx8) == 1184 ? 1 : -1];

static APR__UNUSED void apr__repack_q4_Kx8(const uint8_t *src, size_t row_stride, int64_t n, apr__block_q4_Kx8 *dst) {
    for (int64_t i = 0; i < n / 256; i++) {
        apr__block_q4_Kx8 *g = dst + i;
        for (int r = 0; r < 8; r++) {
            const apr__block_q4_K *b = (const apr__block_q4_K *)(src + (size_t)r * row_stride) + i;
            uint8_t sc[8], mn[8];
            apr__k4_scales(b->scales, sc, mn);
            g->d[r] = b->d;
            g->dmin[r] = b->dmin;
            for (int j = 0; j < 8; j++) {
                g->sc[j][r] = sc[j];
                g->m[j / 2][r][j % 2] = mn[j];
            }
            for (int p = 0; p < 4; p++)
                for (int k = 0; k < 8; k++) memcpy(&g->qs[p][k][4 * r], b->qs + 32 * p + 4 * k, 4);
        }
    }
}

/* Reference: out[t*ld + 8g + r] for the rows of n_groups groups, n_tok Q8_K rows. */
static void apr__gemm_q4_Kx8_ref(int64_t n, const apr__block_q4_Kx8 *w, int64_t n_groups, const uint8_t *act,
                                 size_t act_stride, int n_tok, float *out, int64_t ld) {
    const int64_t nb = n / 256;
    for (int64_t g = 0; g < n_groups; g++) {
        for (int t = 0; t < n_tok; t++) {
            const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride);
            float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int64_t i = 0; i < nb; i++) {
                const apr__block_q4_Kx8 *b = w + g * nb + i;
                for (int r = 0; r < 8; r++) {
                    int sumi = 0, summ = 0;
                    for (int j = 0; j < 8; j++) {
                        int t0 = 0;
                        for (int l = 0; l < 32; l++) {
                            const uint8_t v = b->qs[j / 2][l / 4][4 * r + l % 4];
                            t0 += (j % 2 ? v >> 4 : v & 0xF) * y[i].qs[32 * j + l];
                        }
                        sumi += b->sc[j][r] * t0;
                        summ += b->m[j / 2][r][j % 2] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
                    }
                    s[r] += y[i].d * apr__fp16_to_fp32(b->d[r]) * (float)sumi -
                            y[i].d * apr__fp16_to_fp32(b->dmin[r]) * (float)summ;
                }
            }
            for (int r = 0; r < 8; r++) out[(size_t)t * ld + 8 * g + r] = s[r];
        }
    }
}

#if defined(APR__HAVE_X86_SIMD)
/* VNNI != 0: vpdpbusd then one multiply by the scales; else maddubs summed as int16
   (15 * 127 * 2 * 8 < 32768) and one madd by the scales (an int16 pair per lane). */
#define APR__Q4KX8_TILE(NAME, TARGET, VNNI, SUB)                                                                     \
    TARGET static APR__INLINE void NAME(const int NT, int64_t n, const apr__block_q4_Kx8 *w, const uint8_t *act,     \
                                        size_t act_stride, float *out, int64_t ld) {                               \
        const int64_t nb = n / 256;                                                                                \
        const __m256i m4 = _mm256_set1_epi8(0x0F);                                                                 \
        __m256 acc[8];                                                                                             \
        APR__UNROLL                                                                                                \
        for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();                                                 \
        for (int64_t i = 0; i < nb; i++) {                                                                         \
            const apr__block_q4_Kx8 *b = w + i;                                                                    \
            __m256i isum[8];                                                                                       \
            APR__UNROLL                                                                                            \
            for (int t = 0; t < NT; t++) isum[t] = _mm256_setzero_si256();                                         \
            for (int j = 0; j < 8; j++) {                                                                          \
                __m256i R[8];                                                                                      \
                APR__UNROLL                                                                                        \
                for (int k = 0; k < 8; k++) {                                                                      \
                    const __m256i v = _mm256_loadu_si256((const __m256i *)b->qs[j / 2][k]);                        \
                    R[k] = _mm256_and_si256(j % 2 ? _mm256_srli_epi16(v, 4) : v, m4);                              \
                }                                                                                                  \
                __m256i scv = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)b->sc[j]));                    \
                if (!VNNI) scv = _mm256_or_si256(scv, _mm256_slli_epi32(scv, 16));                                 \
                APR__UNROLL                                                                                        \
                for (int t = 0; t < NT; t++) {                                                                     \
                    const int8_t *a = ((const apr__block_q8_K *)(act + (size_t)t * act_stride) + i)->qs + 32 * j;  \
                    isum[t] = SUB(R, a, scv, isum[t]);                                                               \
                }                                                                                                  \
            }                                                                                                      \
            const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));                             \
            const __m256 dm8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->dmin));                         \
            APR__UNROLL                                                                                            \
            for (int t = 0; t < NT; t++) {                                                                         \
                const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride) + i;            \
                __m256i mi = _mm256_setzero_si256();                                                               \
                for (int q = 0; q < 4; q++) {                                                                      \
                    const int s0 = y->bsums[4 * q] + y->bsums[4 * q + 1];                                          \
                    const int s1 = y->bsums[4 * q + 2] + y->bsums[4 * q + 3];                                      \
                    const __m256i mv = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)b->m[q]));           \
                    const __m256i sv = _mm256_set1_epi32((int)(((uint32_t)(uint16_t)s1 << 16) | (uint16_t)s0));    \
                    mi = _mm256_add_epi32(mi, _mm256_madd_epi16(mv, sv));                                          \
                }                                                                                                  \
                const __m256 da = _mm256_set1_ps(y->d);                                                            \
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(d8, da), acc[t]);              \
                acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(mi), _mm256_mul_ps(dm8, da), acc[t]);                 \
            }                                                                                                      \
        }                                                                                                          \
        APR__UNROLL                                                                                                \
        for (int t = 0; t < NT; t++) _mm256_storeu_ps(out + (size_t)t * ld, acc[t]);                               \
    }

APR__TARGET_AVX2 static APR__INLINE __m256i apr__q4kx8_sub_avx2(const __m256i *R, const int8_t *a, __m256i scv, __m256i acc) {
    __m256i s16 = _mm256_maddubs_epi16(R[0], _mm256_set1_epi32(apr__load_i32(a)));
    APR__UNROLL
    for (int k = 1; k < 8; k++) s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(R[k], _mm256_set1_epi32(apr__load_i32(a + 4 * k))));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(s16, scv));
}

APR__TARGET_AVX512VNNI static APR__INLINE __m256i apr__q4kx8_sub_vnni(const __m256i *R, const int8_t *a, __m256i scv, __m256i acc) {
    __m256i s = _mm256_setzero_si256();
    APR__UNROLL
    for (int k = 0; k < 8; k++) s = _mm256_dpbusd_epi32(s, R[k], _mm256_set1_epi32(apr__load_i32(a + 4 * k)));
    return _mm256_add_epi32(acc, _mm256_mullo_epi32(s, scv));
}

APR__Q4KX8_TILE(apr__q4kx8_tile_avx2, APR__TARGET_AVX2, 0, apr__q4kx8_sub_avx2)
APR__Q4KX8_TILE(apr__q4kx8_tile_vnni, APR__TARGET_AVX512VNNI, 1, apr__q4kx8_sub_vnni)

APR__TARGET_AVX2 static void apr__q4kx8_avx2(int64_t n, const apr__block_q4_Kx8 *w, const uint8_t *act, size_t as,
                                             int nt, float *out, int64_t ld) {
    switch (nt) {
    case 4: apr__q4kx8_tile_avx2(4, n, w, act, as, out, ld); break;
    case 3: apr__q4kx8_tile_avx2(3, n, w, act, as, out, ld); break;
    case 2: apr__q4kx8_tile_avx2(2, n, w, act, as, out, ld); break;
    default: apr__q4kx8_tile_avx2(1, n, w, act, as, out, ld); break;
    }
}
APR__TARGET_AVX512VNNI static void apr__q4kx8_vnni(int64_t n, const apr__block_q4_Kx8 *w, const uint8_t *act,
                                                   size_t as, int nt, float *out, int64_t ld) {
    switch (nt) {
    case 8: apr__q4kx8_tile_vnni(8, n, w, act, as, out, ld); break;
    case 7: apr__q4kx8_tile_vnni(7, n, w, act, as, out, ld); break;
    case 6: apr__q4kx8_tile_vnni(6, n, w, act, as, out, ld); break;
    case 5: apr__q4kx8_tile_vnni(5, n, w, act, as, out, ld); break;
    case 4: apr__q4kx8_tile_vnni(4, n, w, act, as, out, ld); break;
    case 3: apr__q4kx8_tile_vnni(3, n, w, act, as, out, ld); break;
    case 2: apr__q4kx8_tile_vnni(2, n, w, act, as, out, ld); break;
    default: apr__q4kx8_tile_vnni(1, n, w, act, as, out, ld); break;
    }
}
#endif

/* Level as for Q5_0 (apr__q5x8_level): L2-sized chunks of groups, tiles of tokens. */
static void apr__gemm_q4_Kx8(int level, int64_t n, const apr__block_q4_Kx8 *w, int64_t n_groups, const uint8_t *act,
                             size_t act_stride, int n_tok, float *out, int64_t ld) {
#if defined(APR__HAVE_X86_SIMD)
    if (level >= 1) {
        const int64_t nb = n / 256, max_nt = apr__q5x8_max_nt(level);
        int64_t chunk = APR__MAX((int64_t)1, (int64_t)(256 * 1024) / (nb * (int64_t)sizeof(apr__block_q4_Kx8)));
        for (int64_t g0 = 0; g0 < n_groups; g0 += chunk) {
            const int64_t g1 = APR__MIN(n_groups, g0 + chunk);
            for (int t0 = 0; t0 < n_tok; t0 += (int)max_nt) {
                const int nt = (int)APR__MIN(max_nt, (int64_t)(n_tok - t0));
                const uint8_t *at = act + (size_t)t0 * act_stride;
                for (int64_t g = g0; g < g1; g++) {
                    float *o = out + (size_t)t0 * ld + 8 * g;
                    if (level >= 2) apr__q4kx8_vnni(n, w + g * nb, at, act_stride, nt, o, ld);
                    else apr__q4kx8_avx2(n, w + g * nb, at, act_stride, nt, o, ld);
                }
            }
        }
        return;
    }
#else
    (void)level;
#endif
    apr__gemm_q4_Kx8_ref(n, w, n_groups, act, act_stride, n_tok, out, ld);
}

/* ---- repacked Q6_K: 8 rows interleaved ------------------------------------------------
   Per super-block of 256 weights, 8 rows: weights kept unsigned (0..63, the file's q + 32
   offset: sum (q-32)a = sum q a - 32 sum a, with the Q8_K bsums per 16), as
     d[8]            the rows' fp16 scales
     sc[q][r][2]     int8 scales of the 16-weight groups 2q and 2q+1 of row r
     ql[p][k][4r+e]  low 4 bits of weight 4k+e of sub-block 2p (low nibble) and 2p+1 (high)
     qh[j][h][4r+e]  bits 2s, 2s+1: the top 2 bits of weight 4(4h+s)+e of sub-block j
   1680 bytes, the file's 8 x 210. */

typedef struct {
    uint16_t d[8];
    int8_t sc[8][8][2];
    uint8_t ql[4][8][32];
    uint8_t qh[8][2][32];
} apr__block_q6_Kx8;
typedef char apr__chk_q6_Kx8[sizeof(apr__block_q6_Kx8) == 1680 ? 1 : -1];

static APR__UNUSED void apr__repack_q6_Kx8(const uint8_t *src, size_t row_stride, int64_t n, apr__block_q6_Kx8 *dst) {
    for (int64_t i = 0; i < n / 256; i++) {
        apr__block_q6_Kx8 *g = dst + i;
        memset(g->ql, 0, sizeof g->ql);
        memset(g->qh, 0, sizeof g->qh);
        for (int r = 0; r < 8; r++) {
            const apr__block_q6_K *b = (const apr__block_q6_K *)(src + (size_t)r * row_stride) + i;
            uint8_t q[256];
            for (int h = 0; h < 2; h++) {
                const uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
                for (int l = 0; l < 32; l++) {
                    q[128 * h + l] = (uint8_t)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4));
                    q[128 * h + l + 32] = (uint8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4));
                    q[128 * h + l + 64] = (uint8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
                    q[128 * h + l + 96] = (uint8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
                }
            }
            g->d[r] = b->d;
            for (int s = 0; s < 16; s++) g->sc[s / 2][r][s % 2] = b->scales[s];
            for (int j = 0; j < 8; j++)
                for (int k = 0; k < 8; k++) {
                    /* 4 weights at a time: bytes 4r..4r+3 of their vectors */
                    uint32_t v, lo, hi;
                    memcpy(&v, q + 32 * j + 4 * k, 4);
                    memcpy(&lo, &g->ql[j / 2][k][4 * r], 4);
                    memcpy(&hi, &g->qh[j][k / 4][4 * r], 4);
                    lo |= (v & 0x0F0F0F0Fu) << (4 * (j % 2));
                    hi |= ((v >> 4) & 0x03030303u) << (2 * (k % 4));
                    memcpy(&g->ql[j / 2][k][4 * r], &lo, 4);
                    memcpy(&g->qh[j][k / 4][4 * r], &hi, 4);
                }
        }
    }
}

static void apr__gemm_q6_Kx8_ref(int64_t n, const apr__block_q6_Kx8 *w, int64_t n_groups, const uint8_t *act,
                                 size_t act_stride, int n_tok, float *out, int64_t ld) {
    const int64_t nb = n / 256;
    for (int64_t g = 0; g < n_groups; g++) {
        for (int t = 0; t < n_tok; t++) {
            const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride);
            float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int64_t i = 0; i < nb; i++) {
                const apr__block_q6_Kx8 *b = w + g * nb + i;
                for (int r = 0; r < 8; r++) {
                    int sumi = 0;
                    for (int grp = 0; grp < 16; grp++) {
                        int t0 = 0;
                        for (int l = 0; l < 16; l++) {
                            const int wi = 16 * grp + l, j = wi / 32, k = (wi % 32) / 4, e = wi % 4;
                            const int lo = (b->ql[j / 2][k][4 * r + e] >> (4 * (j % 2))) & 0xF;
                            const int hi = (b->qh[j][k / 4][4 * r + e] >> (2 * (k % 4))) & 3;
                            t0 += (lo | hi << 4) * y[i].qs[wi];
                        }
                        sumi += b->sc[grp / 2][r][grp % 2] * (t0 - 32 * y[i].bsums[grp]);
                    }
                    s[r] += y[i].d * apr__fp16_to_fp32(b->d[r]) * (float)sumi;
                }
            }
            for (int r = 0; r < 8; r++) out[(size_t)t * ld + 8 * g + r] = s[r];
        }
    }
}

#if defined(APR__HAVE_X86_SIMD)
/* One sub-block (32 weights, two scale groups) of 8 rows x one token. AVX2: two maddubs
   summed as int16 (63 * 127 * 2 * 2 < 32768), madd by the group's scale pair. */
APR__TARGET_AVX2 static APR__INLINE __m256i apr__q6kx8_sub_avx2(const __m256i *R, const int8_t *a, __m256i sc0,
                                                                 __m256i sc1, __m256i acc) {
    __m256i s;
    s = _mm256_add_epi16(_mm256_maddubs_epi16(R[0], _mm256_set1_epi32(apr__load_i32(a))),
                         _mm256_maddubs_epi16(R[1], _mm256_set1_epi32(apr__load_i32(a + 4))));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, sc0));
    s = _mm256_add_epi16(_mm256_maddubs_epi16(R[2], _mm256_set1_epi32(apr__load_i32(a + 8))),
                         _mm256_maddubs_epi16(R[3], _mm256_set1_epi32(apr__load_i32(a + 12))));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, sc0));
    s = _mm256_add_epi16(_mm256_maddubs_epi16(R[4], _mm256_set1_epi32(apr__load_i32(a + 16))),
                         _mm256_maddubs_epi16(R[5], _mm256_set1_epi32(apr__load_i32(a + 20))));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, sc1));
    s = _mm256_add_epi16(_mm256_maddubs_epi16(R[6], _mm256_set1_epi32(apr__load_i32(a + 24))),
                         _mm256_maddubs_epi16(R[7], _mm256_set1_epi32(apr__load_i32(a + 28))));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(s, sc1));
}

APR__TARGET_AVX512VNNI static APR__INLINE __m256i apr__q6kx8_sub_vnni(const __m256i *R, const int8_t *a, __m256i sc0,
                                                                       __m256i sc1, __m256i acc) {
    __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
    APR__UNROLL
    for (int k = 0; k < 4; k++) s0 = _mm256_dpbusd_epi32(s0, R[k], _mm256_set1_epi32(apr__load_i32(a + 4 * k)));
    APR__UNROLL
    for (int k = 4; k < 8; k++) s1 = _mm256_dpbusd_epi32(s1, R[k], _mm256_set1_epi32(apr__load_i32(a + 4 * k)));
    return _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_mullo_epi32(s0, sc0), _mm256_mullo_epi32(s1, sc1)));
}

/* scales of groups 2j, 2j+1 per lane: an int16 pair (AVX2 madd) or an int32 (VNNI mullo) */
#define APR__Q6KX8_TILE(NAME, TARGET, VNNI, SUB)                                                                     \
    TARGET static APR__INLINE void NAME(const int NT, int64_t n, const apr__block_q6_Kx8 *w, const uint8_t *act,     \
                                        size_t act_stride, float *out, int64_t ld) {                               \
        const int64_t nb = n / 256;                                                                                \
        const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);                                   \
        const __m256i lo16 = _mm256_set1_epi32(0xFFFF);                                                            \
        __m256 acc[8];                                                                                             \
        APR__UNROLL                                                                                                \
        for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();                                                 \
        for (int64_t i = 0; i < nb; i++) {                                                                         \
            const apr__block_q6_Kx8 *b = w + i;                                                                    \
            __m256i isum[8];                                                                                       \
            APR__UNROLL                                                                                            \
            for (int t = 0; t < NT; t++) isum[t] = _mm256_setzero_si256();                                         \
            for (int j = 0; j < 8; j++) {                                                                          \
                __m256i R[8];                                                                                      \
                APR__UNROLL                                                                                        \
                for (int h = 0; h < 2; h++) {                                                                      \
                    const __m256i H = _mm256_loadu_si256((const __m256i *)b->qh[j][h]);                            \
                    const __m256i hb[4] = {_mm256_and_si256(_mm256_slli_epi16(H, 4), m30),                         \
                                           _mm256_and_si256(_mm256_slli_epi16(H, 2), m30),                         \
                                           _mm256_and_si256(H, m30),                                               \
                                           _mm256_and_si256(_mm256_srli_epi16(H, 2), m30)};                        \
                    APR__UNROLL                                                                                    \
                    for (int s = 0; s < 4; s++) {                                                                  \
                        const __m256i v = _mm256_loadu_si256((const __m256i *)b->ql[j / 2][4 * h + s]);            \
                        R[4 * h + s] = _mm256_or_si256(_mm256_and_si256(j % 2 ? _mm256_srli_epi16(v, 4) : v, m4), hb[s]); \
                    }                                                                                              \
                }                                                                                                  \
                const __m256i P = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->sc[j]));                \
                __m256i sc0, sc1;                                                                                  \
                if (VNNI) {                                                                                        \
                    sc0 = _mm256_srai_epi32(_mm256_slli_epi32(P, 16), 16);                                         \
                    sc1 = _mm256_srai_epi32(P, 16);                                                                \
                } else {                                                                                           \
                    sc0 = _mm256_or_si256(_mm256_and_si256(P, lo16), _mm256_slli_epi32(P, 16));                    \
                    sc1 = _mm256_or_si256(_mm256_srli_epi32(P, 16), _mm256_andnot_si256(lo16, P));                 \
                }                                                                                                  \
                APR__UNROLL                                                                                        \
                for (int t = 0; t < NT; t++) {                                                                     \
                    const int8_t *a = ((const apr__block_q8_K *)(act + (size_t)t * act_stride) + i)->qs + 32 * j;  \
                    isum[t] = SUB(R, a, sc0, sc1, isum[t]);                                                        \
                }                                                                                                  \
            }                                                                                                      \
            const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));                             \
            APR__UNROLL                                                                                            \
            for (int t = 0; t < NT; t++) {                                                                         \
                const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride) + i;            \
                __m256i mi = _mm256_setzero_si256();                                                               \
                for (int q = 0; q < 8; q++) {                                                                      \
                    const __m256i P = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->sc[q]));            \
                    int32_t pair;                                                                                  \
                    memcpy(&pair, y->bsums + 2 * q, 4);                                                            \
                    mi = _mm256_add_epi32(mi, _mm256_madd_epi16(P, _mm256_set1_epi32(pair)));                      \
                }                                                                                                  \
                const __m256i s = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(mi, 5));                             \
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(d8, _mm256_set1_ps(y->d)), acc[t]);  \
            }                                                                                                      \
        }                                                                                                          \
        APR__UNROLL                                                                                                \
        for (int t = 0; t < NT; t++) _mm256_storeu_ps(out + (size_t)t * ld, acc[t]);                               \
    }

APR__Q6KX8_TILE(apr__q6kx8_tile_avx2, APR__TARGET_AVX2, 0, apr__q6kx8_sub_avx2)
APR__Q6KX8_TILE(apr__q6kx8_tile_vnni, APR__TARGET_AVX512VNNI, 1, apr__q6kx8_sub_vnni)

APR__TARGET_AVX2 static void apr__q6kx8_avx2(int64_t n, const apr__block_q6_Kx8 *w, const uint8_t *act, size_t as,
                                             int nt, float *out, int64_t ld) {
    switch (nt) {
    case 4: apr__q6kx8_tile_avx2(4, n, w, act, as, out, ld); break;
    case 3: apr__q6kx8_tile_avx2(3, n, w, act, as, out, ld); break;
    case 2: apr__q6kx8_tile_avx2(2, n, w, act, as, out, ld); break;
    default: apr__q6kx8_tile_avx2(1, n, w, act, as, out, ld); break;
    }
}
APR__TARGET_AVX512VNNI static void apr__q6kx8_vnni(int64_t n, const apr__block_q6_Kx8 *w, const uint8_t *act,
                                                   size_t as, int nt, float *out, int64_t ld) {
    switch (nt) {
    case 8: apr__q6kx8_tile_vnni(8, n, w, act, as, out, ld); break;
    case 7: apr__q6kx8_tile_vnni(7, n, w, act, as, out, ld); break;
    case 6: apr__q6kx8_tile_vnni(6, n, w, act, as, out, ld); break;
    case 5: apr__q6kx8_tile_vnni(5, n, w, act, as, out, ld); break;
    case 4: apr__q6kx8_tile_vnni(4, n, w, act, as, out, ld); break;
    case 3: apr__q6kx8_tile_vnni(3, n, w, act, as, out, ld); break;
    case 2: apr__q6kx8_tile_vnni(2, n, w, act, as, out, ld); break;
    default: apr__q6kx8_tile_vnni(1, n, w, act, as, out, ld); break;
    }
}
#endif

static void apr__gemm_q6_Kx8(int level, int64_t n, const apr__block_q6_Kx8 *w, int64_t n_groups, const uint8_t *act,
                             size_t act_stride, int n_tok, float *out, int64_t ld) {
#if defined(APR__HAVE_X86_SIMD)
    if (level >= 1) {
        const int64_t nb = n / 256, max_nt = apr__q5x8_max_nt(level);
        int64_t chunk = APR__MAX((int64_t)1, (int64_t)(256 * 1024) / (nb * (int64_t)sizeof(apr__block_q6_Kx8)));
        for (int64_t g0 = 0; g0 < n_groups; g0 += chunk) {
            const int64_t g1 = APR__MIN(n_groups, g0 + chunk);
            for (int t0 = 0; t0 < n_tok; t0 += (int)max_nt) {
                const int nt = (int)APR__MIN(max_nt, (int64_t)(n_tok - t0));
                const uint8_t *at = act + (size_t)t0 * act_stride;
                for (int64_t g = g0; g < g1; g++) {
                    float *o = out + (size_t)t0 * ld + 8 * g;
                    if (level >= 2) apr__q6kx8_vnni(n, w + g * nb, at, act_stride, nt, o, ld);
                    else apr__q6kx8_avx2(n, w + g * nb, at, act_stride, nt, o, ld);
                }
            }
        }
        return;
    }
#else
    (void)level;
#endif
    apr__gemm_q6_Kx8_ref(n, w, n_groups, act, act_stride, n_tok, out, ld);
}

/* ---- matmul -------------------------------------------------------------------------- */

/* Up to three matrices that read the same input (Q/K/V, gate/up) run as one job: the
   input is quantized once per activation type and the threads split the rows of all of
   them together, so there is one pool dispatch instead of three. */
typedef struct apr__mm_part {
    const apr_tensor_view *w;
    const float *bias;
    float *y;
    int64_t y_stride;
    const void *act;
    size_t act_stride;
    const void *packed;              /* repacked rows (Q5_0 or Q4_K groups), or NULL */
    const int32_t *sums;             /* the activations' block sums (repacked Q5_0) */
    int64_t sums_stride;
} apr__mm_part;

typedef struct apr__mm_job {
    apr__mm_part part[3];
    int n_part;
    int n_tok;
    int64_t total_rows;
    int q5x8_level;
} apr__mm_job;

/* Rows of all the parts together, in n_chunks pieces of whole groups of 16 (the kernels
   pair rows; ith is a chunk, not a thread: see apr__pool_run_chunks). */
static void apr__mm_worker(void *arg, int ith, int nth) {
    apr__mm_job *j = (apr__mm_job *)arg;
    int64_t g0, g1, base = 0;
    apr__split_range(j->total_rows, 16, ith, nth, &g0, &g1);
    for (int k = 0; k < j->n_part; k++) {
        const apr__mm_part *pt = &j->part[k];
        const apr_tensor_view *w = pt->w;
        int64_t n_out = w->ne[1];
        int64_t r0 = APR__MAX(g0 - base, 0), r1 = APR__MIN(g1 - base, n_out);
        base += n_out;
        if (r1 <= r0) continue;
        size_t row_bytes = apr_type_row_bytes(w->type, w->ne[0]);
        int64_t a = r0, b = r1;
        if (pt->packed) {
            /* whole groups of 8 from the repacked copy; rows outside them from the file's */
            int64_t g0 = (r0 + 7) / 8, g1 = APR__MIN(r1, n_out / 8 * 8) / 8;
            if (g1 > g0) {
                if (w->type == APR_TYPE_Q5_0)
                    apr__gemm_q5_0x8(j->q5x8_level, w->ne[0], (const apr__block_q5_0x8 *)pt->packed + g0 * (w->ne[0] / 32),
                                     g1 - g0, (const uint8_t *)pt->act, pt->act_stride, pt->sums, pt->sums_stride,
                                     j->n_tok, pt->y + 8 * g0, pt->y_stride);
                else if (w->type == APR_TYPE_Q4_K)
                    apr__gemm_q4_Kx8(j->q5x8_level, w->ne[0], (const apr__block_q4_Kx8 *)pt->packed + g0 * (w->ne[0] / 256),
                                     g1 - g0, (const uint8_t *)pt->act, pt->act_stride, j->n_tok, pt->y + 8 * g0,
                                     pt->y_stride);
                else
                    apr__gemm_q6_Kx8(j->q5x8_level, w->ne[0], (const apr__block_q6_Kx8 *)pt->packed + g0 * (w->ne[0] / 256),
                                     g1 - g0, (const uint8_t *)pt->act, pt->act_stride, j->n_tok, pt->y + 8 * g0,
                                     pt->y_stride);
                if (r0 < 8 * g0)
                    apr__gemm_rows(w->type, w->ne[0], (const uint8_t *)w->data + (size_t)r0 * row_bytes, row_bytes,
                                   8 * g0 - r0, pt->act, pt->act_stride, j->n_tok, pt->y + r0, pt->y_stride);
                a = 8 * g1;
            }
        }
        if (b > a)
            apr__gemm_rows(w->type, w->ne[0], (const uint8_t *)w->data + (size_t)a * row_bytes, row_bytes, b - a,
                           pt->act, pt->act_stride, j->n_tok, pt->y + a, pt->y_stride);
        if (pt->bias)
            for (int t = 0; t < j->n_tok; t++)
                for (int64_t r = r0; r < r1; r++) pt->y[(size_t)t * pt->y_stride + r] += pt->bias[r];
    }
}

static const void *apr__cpu_packed_of(const apr__cpu_model *cm, const apr_tensor_view *w) {
    for (int i = 0; i < cm->n_packed; i++)
        if (cm->packed[i].w == w) return cm->packed[i].data;
    return NULL;
}

/* y_k[t][0..n_out) = W_k x[t] + b_k for t < n_tok and the n matrices given (n <= 3; they
   share the input length). */
static void apr__cpu_matmul_n(apr__cpu_ctx *c, int n, const apr_tensor_view *const *w, const float *x,
                              int64_t x_stride, int n_tok, float *const *y, const int64_t *y_stride,
                              const apr_tensor_view *const *bias) {
    apr__mm_job j;
    int acts[3] = {-1, -1, -1};
    bool sums_done[3] = {false, false, false};
    j.q5x8_level = apr__q5x8_level(c->simd);
    j.n_part = n;
    j.n_tok = n_tok;
    j.total_rows = 0;
    for (int k = 0; k < n; k++) {
        apr__mm_part *pt = &j.part[k];
        int act = apr__type_traits_of(w[k]->type)->act_type, slot = 0;
        while (acts[slot] >= 0 && acts[slot] != act) slot++;
        if (acts[slot] < 0) {
            acts[slot] = act;
            for (int t = 0; t < n_tok; t++)
                apr__quantize_act(act, x + (size_t)t * x_stride,
                                  (uint8_t *)c->actq[slot] + (size_t)t * apr__act_row_bytes(act, w[k]->ne[0]),
                                  w[k]->ne[0]);
        }
        pt->w = w[k];
        pt->bias = bias && bias[k] && bias[k]->data ? (const float *)bias[k]->data : NULL;
        pt->y = y[k];
        pt->y_stride = y_stride[k];
        pt->act = c->actq[slot];
        pt->act_stride = apr__act_row_bytes(act, w[k]->ne[0]);
        /* one token: the file's Q6_K rows (quant.h's 512-bit vec_dot decodes faster than an
           8-row group for a single token: 0.5B tg 51 vs 42 tok/s) */
        pt->packed = c->simd >= 1 && (n_tok > 1 || w[k]->type != APR_TYPE_Q6_K) ? apr__cpu_packed_of(c->cm, w[k]) : NULL;
        pt->sums = c->act_sums;
        pt->sums_stride = c->cm->packed_max_cols / 32;
        if (pt->packed && w[k]->type == APR_TYPE_Q5_0 && !sums_done[slot]) {
            /* the parts sharing an input share its sums too (one Q8_0 slot, one width) */
            for (int t = 0; t < n_tok; t++)
                apr__q8_0_block_sums((const uint8_t *)pt->act + (size_t)t * pt->act_stride, w[k]->ne[0],
                                     c->act_sums + (size_t)t * pt->sums_stride);
            sums_done[slot] = true;
        }
        j.total_rows += w[k]->ne[1];
    }
    /* several chunks a thread, so that a thread that falls behind (or is descheduled)
       leaves its remaining rows to the others */
    int64_t n_chunks = APR__MIN((j.total_rows + 31) / 32, (int64_t)8 * c->n_threads);
    apr__pool_run_chunks(c->pool, apr__mm_worker, &j, c->n_threads > 1 ? (int)n_chunks : 1);
}

static void apr__cpu_matmul(apr__cpu_ctx *c, const apr_tensor_view *w, const float *x, int64_t x_stride,
                            int n_tok, float *y, int64_t y_stride, const apr_tensor_view *bias) {
    apr__cpu_matmul_n(c, 1, &w, x, x_stride, n_tok, &y, &y_stride, &bias);
}

/* ---- KV cache rows ------------------------------------------------------------------- */

static size_t apr__kv_row_bytes(apr_kv_type t, int64_t n) {
    if (t == APR_KV_F32) return (size_t)n * 4;
    if (t == APR_KV_Q8_0) return (size_t)(n / 32) * 34;
    return (size_t)n * 2;
}

static void apr__kv_store(apr_kv_type t, uint8_t *dst, const float *src, int64_t n) {
    if (t == APR_KV_F32) {
        memcpy(dst, src, (size_t)n * 4);
    } else if (t == APR_KV_F16) {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = apr__fp32_to_fp16(src[i]);
            memcpy(dst + 2 * i, &h, 2);
        }
    } else {
        /* Q8_0 blocks: fp16 scale then 32 int8, as ggml's */
        for (int64_t b = 0; b < n / 32; b++) {
            const float *s = src + b * 32;
            uint8_t *d = dst + b * 34;
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = APR__MAX(amax, fabsf(s[i]));
            float scale = amax / 127.0f, inv = scale ? 1.0f / scale : 0.0f;
            uint16_t h = apr__fp32_to_fp16(scale);
            memcpy(d, &h, 2);
            for (int i = 0; i < 32; i++) d[2 + i] = (uint8_t)(int8_t)lroundf(s[i] * inv);
        }
    }
}

/* Elements [off, off+n) of a stored row, as floats. */
static void apr__kv_load(apr_kv_type t, const uint8_t *row, int64_t off, int64_t n, float *dst) {
    if (t == APR_KV_F32) {
        memcpy(dst, row + 4 * off, (size_t)n * 4);
    } else if (t == APR_KV_F16) {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, row + 2 * (off + i), 2);
            dst[i] = apr__fp16_to_fp32(h);
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            int64_t e = off + i;
            const uint8_t *blk = row + (e / 32) * 34;
            uint16_t h;
            memcpy(&h, blk, 2);
            dst[i] = apr__fp16_to_fp32(h) * (float)(int8_t)blk[2 + e % 32];
        }
    }
}

static uint8_t *apr__kv_row(apr__cpu_ctx *c, uint8_t *cache, int l, int32_t seq, int32_t pos) {
    size_t idx = ((size_t)l * (size_t)c->p.n_seq + (size_t)seq) * (size_t)c->p.n_ctx + (size_t)pos;
    return cache + idx * c->kv_row_bytes;
}

/* ---- attention ----------------------------------------------------------------------- */

typedef struct apr__att_job {
    apr__cpu_ctx *c;
    int layer;
    const apr_backend_batch *b;
} apr__att_job;

/* F16 cache rows to floats: F16C where present (exact either way). */
#if defined(APR__HAVE_X86_SIMD)
APR__TARGET_AVX2 static void apr__f16_to_f32_avx2(const uint8_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + 2 * i))));
    for (; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        dst[i] = apr__fp16_to_fp32(h);
    }
}
#endif

/* The two inner loops of attention: a dot product and y += a*x over one head. */
static float apr__att_dot_ref(const float *a, const float *b, int64_t n) {
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static void apr__att_axpy_ref(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

#if defined(APR__HAVE_X86_SIMD)
APR__TARGET_AVX2 static float apr__att_dot_avx2(const float *a, const float *b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc0 = _mm256_add_ps(acc0, acc1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc0), _mm256_extractf128_ps(acc0, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float s = _mm_cvtss_f32(h);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

APR__TARGET_AVX2 static void apr__att_axpy_avx2(float *y, float a, const float *x, int64_t n) {
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}
#endif

static float apr__att_dot(int simd, const float *a, const float *b, int64_t n) {
#if defined(APR__HAVE_X86_SIMD)
    if (simd >= 1) return apr__att_dot_avx2(a, b, n);
#else
    (void)simd;
#endif
    return apr__att_dot_ref(a, b, n);
}

static void apr__att_axpy(int simd, float *y, float a, const float *x, int64_t n) {
#if defined(APR__HAVE_X86_SIMD)
    if (simd >= 1) { apr__att_axpy_avx2(y, a, x, n); return; }
#else
    (void)simd;
#endif
    apr__att_axpy_ref(y, a, x, n);
}

static void apr__kv_load_fast(int simd, apr_kv_type t, const uint8_t *row, int64_t off, int64_t n, float *dst) {
#if defined(APR__HAVE_X86_SIMD)
    if (simd >= 1 && t == APR_KV_F16) {
        apr__f16_to_f32_avx2(row + 2 * off, dst, n);
        return;
    }
#else
    (void)simd;
#endif
    apr__kv_load(t, row, off, n, dst);
}

/* One (token, kv head) pair per work item: each cached K/V slice is loaded once for all
   the query heads that share it (GQA). */
static void apr__att_worker(void *arg, int ith, int nth) {
    apr__att_job *j = (apr__att_job *)arg;
    apr__cpu_ctx *c = j->c;
    const apr_hparams *hp = &c->cm->mv->hp;
    int64_t hd = hp->head_dim, qdim = (int64_t)hp->n_head * hd;
    int group = hp->n_head / hp->n_head_kv;
    float scale = 1.0f / sqrtf((float)hd);
    float *scores = c->thread_f32 + (size_t)ith * c->thread_f32_stride;
    float *kv = scores + (size_t)group * c->p.n_ctx;
    /* interleaved: later tokens of a prompt attend to more positions */
    int64_t total = (int64_t)j->b->n_tokens * hp->n_head_kv;
    for (int64_t i = ith; i < total; i += nth) {
        int t = (int)(i / hp->n_head_kv), kvh = (int)(i % hp->n_head_kv);
        int32_t seq = j->b->seq[t], n_kv = j->b->pos[t] + 1;
        int64_t off = (int64_t)kvh * hd;
        const float *q0 = c->q + (size_t)t * qdim + (size_t)kvh * group * hd;
        for (int32_t p = 0; p < n_kv; p++) {
            apr__kv_load_fast(c->simd, c->p.kv_type, apr__kv_row(c, c->k_cache, j->layer, seq, p), off, hd, kv);
            for (int g = 0; g < group; g++) {
                scores[(size_t)g * n_kv + p] = apr__att_dot(c->simd, q0 + (size_t)g * hd, kv, hd) * scale;
            }
        }
        for (int g = 0; g < group; g++) {
            float *sc = scores + (size_t)g * n_kv, mx = -INFINITY;
            for (int32_t p = 0; p < n_kv; p++) mx = APR__MAX(mx, sc[p]);
            double sum = 0;
            for (int32_t p = 0; p < n_kv; p++) {
                sc[p] = expf(sc[p] - mx);
                sum += sc[p];
            }
            float inv = (float)(1.0 / sum);
            for (int32_t p = 0; p < n_kv; p++) sc[p] *= inv;
        }
        float *o0 = c->att + (size_t)t * qdim + (size_t)kvh * group * hd;
        for (int64_t d = 0; d < group * hd; d++) o0[d] = 0;
        for (int32_t p = 0; p < n_kv; p++) {
            apr__kv_load_fast(c->simd, c->p.kv_type, apr__kv_row(c, c->v_cache, j->layer, seq, p), off, hd, kv);
            for (int g = 0; g < group; g++)
                apr__att_axpy(c->simd, o0 + (size_t)g * hd, scores[(size_t)g * n_kv + p], kv, hd);
        }
    }
}

static void apr__cpu_attention(apr__cpu_ctx *c, int layer, const apr_backend_batch *b) {
    apr__att_job j;
    j.c = c;
    j.layer = layer;
    j.b = b;
    apr__pool_run(c->pool, apr__att_worker, &j, c->n_threads);
}

/* ---- rope ---------------------------------------------------------------------------- */

/* cos/sin of every rotated pair for each token: theta_i = pos * scale * base^(-2i/rope_dim) */
static void apr__rope_table(apr__cpu_ctx *c, const apr_backend_batch *b) {
    const apr_hparams *hp = &c->cm->mv->hp;
    int half = hp->rope_dim / 2;
    for (int t = 0; t < b->n_tokens; t++) {
        float *cs = c->rope_cs + (size_t)t * hp->rope_dim;
        double p = (double)b->pos[t] * hp->rope_freq_scale;
        const float *ff = (const float *)c->cm->mv->rope_freqs.data;
        for (int i = 0; i < half; i++) {
            double theta = p * pow((double)hp->rope_freq_base, -2.0 * i / hp->rope_dim);
            if (ff) theta /= ff[i];
            cs[2 * i] = (float)cos(theta);
            cs[2 * i + 1] = (float)sin(theta);
        }
    }
}

static void apr__rope_apply(const apr_hparams *hp, float *v, const float *cs) {
    int half = hp->rope_dim / 2;
    for (int i = 0; i < half; i++) {
        int a = hp->rope_kind == APR_ROPE_NEOX ? i : 2 * i;
        int bb = hp->rope_kind == APR_ROPE_NEOX ? i + half : 2 * i + 1;
        float x0 = v[a], x1 = v[bb], co = cs[2 * i], si = cs[2 * i + 1];
        v[a] = x0 * co - x1 * si;
        v[bb] = x0 * si + x1 * co;
    }
}

/* ---- forward ------------------------------------------------------------------------- */

static float apr__silu(float x) { return x / (1.0f + expf(-x)); }

/* g[i] = silu(g[i]) * u[i]: the reference, and AVX2 with a polynomial exp (Cephes' expf:
   within 2 ulp of expf) and an exact division, so the result stays within a few ulp. */
static void apr__swiglu_ref(float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) g[i] = apr__silu(g[i]) * u[i];
}

#if defined(APR__HAVE_X86_SIMD)
APR__TARGET_AVX2 static inline __m256 apr__exp_avx2(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.5f)), _mm256_set1_ps(88.3762626647949f));
    const __m256 n = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
    x = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    /* 2^n: n in [-126, 128) after the clamp; 2^128 is split in two factors */
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i half = _mm256_srai_epi32(ni, 1);
    const __m256 p0 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, _mm256_set1_epi32(127)), 23));
    const __m256 p1 = _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, half), _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(_mm256_mul_ps(y, p0), p1);
}

APR__TARGET_AVX2 static void apr__swiglu_avx2(float *g, const float *u, int64_t n) {
    int64_t i = 0;
    const __m256 one = _mm256_set1_ps(1.0f), neg = _mm256_set1_ps(-0.0f);
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 e = apr__exp_avx2(_mm256_xor_ps(x, neg));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
    }
    apr__swiglu_ref(g + i, u + i, n - i);
}
#endif

static void apr__swiglu(int simd, float *g, const float *u, int64_t n) {
#if defined(APR__HAVE_X86_SIMD)
    if (simd >= 1) { apr__swiglu_avx2(g, u, n); return; }
#else
    (void)simd;
#endif
    apr__swiglu_ref(g, u, n);
}

/* Layers [l0, l1) over the hidden states x (n_tokens rows of n_embd), in place. */
static apr_result apr__cpu_run_layers(apr__cpu_ctx *c, int l0, int l1, float *x, const apr_backend_batch *b) {
    const apr_model_view *mv = c->cm->mv;
    const apr_hparams *hp = &mv->hp;
    int64_t E = hp->n_embd, hd = hp->head_dim, Q = (int64_t)hp->n_head * hd, KV = (int64_t)hp->n_head_kv * hd;
    int64_t F = hp->n_ff;
    int n = b->n_tokens;
    apr__rope_table(c, b);
    for (int l = l0; l < l1; l++) {
        const apr_layer_view *L = &mv->layers[l];
        for (int t = 0; t < n; t++)
            apr__rmsnorm(c->xn + (size_t)t * E, x + (size_t)t * E, (const float *)L->attn_norm.data, E, hp->norm_eps);
        {
            const apr_tensor_view *w[3] = {&L->wq, &L->wk, &L->wv}, *bs[3] = {&L->bq, &L->bk, &L->bv};
            float *y[3] = {c->q, c->k, c->v};
            int64_t ys[3] = {Q, KV, KV};
            apr__cpu_matmul_n(c, 3, w, c->xn, E, n, y, ys, bs);
        }
        for (int t = 0; t < n; t++) {
            float *qt = c->q + (size_t)t * Q, *kt = c->k + (size_t)t * KV;
            const float *cs = c->rope_cs + (size_t)t * hp->rope_dim;
            for (int h = 0; h < hp->n_head; h++) {
                if (L->q_norm.data) apr__rmsnorm(qt + h * hd, qt + h * hd, (const float *)L->q_norm.data, hd, hp->norm_eps);
                apr__rope_apply(hp, qt + h * hd, cs);
            }
            for (int h = 0; h < hp->n_head_kv; h++) {
                if (L->k_norm.data) apr__rmsnorm(kt + h * hd, kt + h * hd, (const float *)L->k_norm.data, hd, hp->norm_eps);
                apr__rope_apply(hp, kt + h * hd, cs);
            }
            apr__kv_store(c->p.kv_type, apr__kv_row(c, c->k_cache, l, b->seq[t], b->pos[t]), kt, KV);
            apr__kv_store(c->p.kv_type, apr__kv_row(c, c->v_cache, l, b->seq[t], b->pos[t]), c->v + (size_t)t * KV, KV);
        }
        apr__cpu_attention(c, l, b);
        apr__cpu_matmul(c, &L->wo, c->att, Q, n, c->xn, E, &L->bo);
        for (int64_t i = 0; i < (int64_t)n * E; i++) x[i] += c->xn[i];
        for (int t = 0; t < n; t++)
            apr__rmsnorm(c->xn + (size_t)t * E, x + (size_t)t * E, (const float *)L->ffn_norm.data, E, hp->norm_eps);
        {
            const apr_tensor_view *w[2] = {&L->ffn_gate, &L->ffn_up};
            float *y[2] = {c->gate, c->up};
            int64_t ys[2] = {F, F};
            apr__cpu_matmul_n(c, 2, w, c->xn, E, n, y, ys, NULL);
        }
        apr__swiglu(c->simd, c->gate, c->up, (int64_t)n * F);
        apr__cpu_matmul(c, &L->ffn_down, c->gate, F, n, c->xn, E, NULL);
        for (int64_t i = 0; i < (int64_t)n * E; i++) x[i] += c->xn[i];
    }
    return APR_SUCCESS;
}

static apr_result apr__cpu_forward(void *state, const apr_backend_batch *b, float *logits) {
    apr__cpu_ctx *c = (apr__cpu_ctx *)state;
    const apr_model_view *mv = c->cm->mv;
    const apr_hparams *hp = &mv->hp;
    int64_t E = hp->n_embd;
    if (b->n_tokens < 0 || b->n_tokens > c->p.n_batch || b->n_out < 0 || b->n_out > b->n_tokens)
        return APR_ERROR_INVALID_ARGUMENT;
    if (b->n_tokens == 0) return APR_SUCCESS;
    size_t row = apr_type_row_bytes(mv->tok_embd.type, E);
    for (int t = 0; t < b->n_tokens; t++) {
        int32_t tok = b->tokens[t];
        if (tok < 0 || tok >= hp->n_vocab || b->pos[t] < 0 || b->pos[t] >= c->p.n_ctx || b->seq[t] < 0 ||
            b->seq[t] >= c->p.n_seq)
            return APR_ERROR_INVALID_ARGUMENT;
        apr_dequantize_row(mv->tok_embd.type, (const uint8_t *)mv->tok_embd.data + (size_t)tok * row,
                           c->x + (size_t)t * E, E);
    }
    apr_result r = apr__cpu_run_layers(c, 0, hp->n_layer, c->x, b);
    if (r != APR_SUCCESS || b->n_out == 0) return r;
    for (int i = 0; i < b->n_out; i++) {
        int32_t t = b->out_rows[i];
        if (t < 0 || t >= b->n_tokens) return APR_ERROR_INVALID_ARGUMENT;
        apr__rmsnorm(c->out_h + (size_t)i * E, c->x + (size_t)t * E, (const float *)mv->output_norm.data, E,
                     hp->norm_eps);
    }
    apr__cpu_matmul(c, &mv->output, c->out_h, E, b->n_out, logits, hp->n_vocab, NULL);
    return APR_SUCCESS;
}

/* ---- model / context state ----------------------------------------------------------- */

static void apr__cpu_model_free(void *state) {
    apr__cpu_model *cm = (apr__cpu_model *)state;
    if (!cm) return;
    for (int i = 0; i < cm->n_packed; i++) APR_FREE(cm->packed[i].data);
    APR_FREE(cm->packed);
    APR_FREE(cm);
}

typedef struct apr__repack_job {
    const apr_tensor_view *w;
    uint8_t *dst;
    int64_t groups;
} apr__repack_job;

static APR__UNUSED void apr__repack_worker(void *arg, int ith, int nth) {
    const apr__repack_job *j = (const apr__repack_job *)arg;
    const apr_tensor_view *w = j->w;
    const size_t row_bytes = apr_type_row_bytes(w->type, w->ne[0]);
    int64_t g0, g1;
    apr__split_range(j->groups, 1, ith, nth, &g0, &g1);
    for (int64_t g = g0; g < g1; g++) {
        const uint8_t *src = (const uint8_t *)w->data + (size_t)(8 * g) * row_bytes;
        if (w->type == APR_TYPE_Q5_0)
            apr__repack_q5_0x8(src, row_bytes, w->ne[0], (apr__block_q5_0x8 *)j->dst + g * (w->ne[0] / 32));
        else if (w->type == APR_TYPE_Q4_K)
            apr__repack_q4_Kx8(src, row_bytes, w->ne[0], (apr__block_q4_Kx8 *)j->dst + g * (w->ne[0] / 256));
        else
            apr__repack_q6_Kx8(src, row_bytes, w->ne[0], (apr__block_q6_Kx8 *)j->dst + g * (w->ne[0] / 256));
    }
}

/* Load-time repacking for the SIMD kernels (x86): Q5_0, Q4_K and Q6_K matrices of 8 rows or more
   into 8-row groups (their bytes again in memory; the file's copy is no longer read).
   Not done when the kernels are capped to the scalar reference at load time. */
static bool apr__cpu_repack(apr__cpu_model *cm, int n_layers) {
#if defined(APR__HAVE_X86_SIMD)
    const apr_model_view *mv = cm->mv;
    const apr_hparams *hp = &mv->hp;
    if (apr__simd_level() < 1) return true;
    cm->packed = (apr__cpu_packed *)apr__calloc((size_t)hp->n_layer * 7 + 1, sizeof *cm->packed);
    if (!cm->packed) return false;
    /* repacking reads the whole file once: all cores (a pool of one if threads fail) */
    apr__pool *pool = apr__pool_create(apr_cpu_count());
    bool ok = true;
    for (int l = 0; l < n_layers && ok; l++) {
        const apr_layer_view *L = &mv->layers[l];
        const apr_tensor_view *ws[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->ffn_gate, &L->ffn_up, &L->ffn_down};
        for (int i = 0; i < 7; i++) {
            const apr_tensor_view *w = ws[i];
            const bool q5 = w->type == APR_TYPE_Q5_0 && w->ne[0] % 32 == 0;
            const bool q4k = w->type == APR_TYPE_Q4_K && w->ne[0] % 256 == 0;
            const bool q6k = w->type == APR_TYPE_Q6_K && w->ne[0] % 256 == 0;
            if ((!q5 && !q4k && !q6k) || !w->data || w->ne[1] < 8) continue;
            const int64_t nb = w->ne[0] / (q5 ? 32 : 256), groups = w->ne[1] / 8;
            const size_t blk = q5    ? sizeof(apr__block_q5_0x8)
                               : q4k ? sizeof(apr__block_q4_Kx8)
                                     : sizeof(apr__block_q6_Kx8);
            uint64_t bytes;
            uint8_t *dst = NULL;
            if (!apr__mul_overflow_u64((uint64_t)(nb * groups), blk, &bytes) && bytes <= (uint64_t)SIZE_MAX)
                dst = (uint8_t *)APR_MALLOC((size_t)bytes);
            if (!dst) { ok = false; break; }
            apr__repack_job job;
            job.w = w;
            job.dst = dst;
            job.groups = groups;
            apr__pool_run_chunks(pool, apr__repack_worker, &job, (int)APR__MIN(groups, (int64_t)256));
            cm->packed[cm->n_packed].w = w;
            cm->packed[cm->n_packed].data = dst;
            cm->n_packed++;
            if (q5) cm->packed_max_cols = APR__MAX(cm->packed_max_cols, w->ne[0]);
        }
    }
    apr__pool_free(pool);
    return ok;
#else
    (void)cm;
    (void)n_layers;
    return true;
#endif
}

static apr_result apr__cpu_model_load(const apr_model_view *mv, const apr_backend_host *host, int32_t n_gpu_layers,
                                      void **state, char *err, size_t err_size) {
    apr__cpu_model *cm = (apr__cpu_model *)apr__calloc(1, sizeof *cm);
    if (!cm) {
        snprintf(err, err_size, "out of memory");
        return APR_ERROR_OUT_OF_MEMORY;
    }
    cm->mv = mv;
    if (host) {
        cm->log.fn = (apr_log_fn)host->log;
        cm->log.user = host->log_user;
        cm->log.level = APR_LOG_DEBUG;
    }
    const apr_hparams *hp = &mv->hp;
    cm->kv_layers = hp->n_layer;
    /* activation buffers hold the input of one matrix in its activation type: 4 bytes an
       element for float weights, about 1.1 for the quantized ones */
    cm->max_act_row = 0;
    for (int l = -1; l < hp->n_layer; l++) {
        const apr_tensor_view *ws[7];
        int n = 0;
        if (l < 0) {
            ws[n++] = &mv->output;
        } else {
            const apr_layer_view *L = &mv->layers[l];
            ws[n++] = &L->wq; ws[n++] = &L->wk; ws[n++] = &L->wv; ws[n++] = &L->wo;
            ws[n++] = &L->ffn_gate; ws[n++] = &L->ffn_up; ws[n++] = &L->ffn_down;
        }
        for (int i = 0; i < n; i++) {
            const apr__type_traits *tt = apr__type_traits_of(ws[i]->type);
            size_t b = tt ? apr__act_row_bytes(tt->act_type, ws[i]->ne[0]) : 0;
            cm->max_act_row = APR__MAX(cm->max_act_row, b);
        }
    }
    /* under partial offload only the first n_layer - n_gpu_layers layers run here */
    if (!apr__cpu_repack(cm, hp->n_layer - APR__MAX(0, APR__MIN(n_gpu_layers, hp->n_layer)))) {
        apr__cpu_model_free(cm);
        snprintf(err, err_size, "out of memory for repacked weights");
        return APR_ERROR_OUT_OF_MEMORY;
    }
    *state = cm;
    return APR_SUCCESS;
}

static const char *apr__cpu_device_name(void *state) {
    (void)state;
    return "CPU";
}

static void apr__cpu_context_free(void *state) {
    apr__cpu_ctx *c = (apr__cpu_ctx *)state;
    if (!c) return;
    apr__pool_free(c->pool);
    APR_FREE(c->k_cache);
    APR_FREE(c->v_cache);
    APR_FREE(c->x);
    APR_FREE(c->thread_f32);
    APR_FREE(c->actq[0]);
    APR_FREE(c->actq[1]);
    APR_FREE(c->actq[2]);
    APR_FREE(c->act_sums);
    APR_FREE(c);
}

static float *apr__cpu_alloc_f32(uint64_t n, bool *ok) {
    if (n == 0) n = 1;
    if (n > (uint64_t)SIZE_MAX / sizeof(float)) { *ok = false; return NULL; }
    float *p = (float *)APR_MALLOC((size_t)n * sizeof(float));
    if (!p) *ok = false;
    return p;
}

static apr_result apr__cpu_context_create(void *model_state, const apr_backend_context_params *p, void **out,
                                          char *err, size_t err_size) {
    const apr__cpu_model *cm = (const apr__cpu_model *)model_state;
    const apr_hparams *hp = &cm->mv->hp;
    apr__cpu_ctx *c = (apr__cpu_ctx *)apr__calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, err_size, "out of memory");
        return APR_ERROR_OUT_OF_MEMORY;
    }
    c->cm = cm;
    c->p = *p;
    int64_t hd = hp->head_dim, KV = (int64_t)hp->n_head_kv * hd, Q = (int64_t)hp->n_head * hd;
    if (c->p.kv_type == APR_KV_Q8_0 && KV % 32 != 0) {
        apr__log(&cm->log, APR_LOG_WARN, "Q8_0 KV cache needs kv width %lld to be a multiple of 32: using F16",
                 (long long)KV);
        c->p.kv_type = APR_KV_F16;
    }
    if (c->p.kv_type != APR_KV_F16 && c->p.kv_type != APR_KV_F32 && c->p.kv_type != APR_KV_Q8_0) {
        snprintf(err, err_size, "unknown KV cache type %d", (int)c->p.kv_type);
        APR_FREE(c);
        return APR_ERROR_INVALID_ARGUMENT;
    }
    c->n_threads = p->n_threads > 0 ? p->n_threads : apr_cpu_count();
    c->simd = apr__simd_level();
    c->kv_row_bytes = apr__kv_row_bytes(c->p.kv_type, KV);
    uint64_t kv_bytes = 0, nb = (uint64_t)p->n_batch;
    bool ok = !apr__mul_overflow_u64((uint64_t)cm->kv_layers * (uint64_t)p->n_seq, (uint64_t)p->n_ctx, &kv_bytes) &&
              !apr__mul_overflow_u64(kv_bytes, c->kv_row_bytes, &kv_bytes) && kv_bytes < (uint64_t)SIZE_MAX;
    if (ok) {
        c->k_cache = (uint8_t *)APR_MALLOC((size_t)kv_bytes);
        c->v_cache = (uint8_t *)APR_MALLOC((size_t)kv_bytes);
        ok = c->k_cache && c->v_cache;
    }
    /* one block of activations: x, xn, q, k, v, att, gate, up, rope, out_h */
    uint64_t E = (uint64_t)hp->n_embd, F = (uint64_t)hp->n_ff;
    uint64_t per_tok = E + APR__MAX(E, (uint64_t)Q) + (uint64_t)Q + 2 * (uint64_t)KV + (uint64_t)Q + 2 * F +
                       (uint64_t)hp->rope_dim + E;
    if (ok) c->x = apr__cpu_alloc_f32(per_tok * nb, &ok);
    if (ok) {
        float *f = c->x + E * nb;
        c->xn = f; f += APR__MAX(E, (uint64_t)Q) * nb;
        c->q = f; f += (uint64_t)Q * nb;
        c->k = f; f += (uint64_t)KV * nb;
        c->v = f; f += (uint64_t)KV * nb;
        c->att = f; f += (uint64_t)Q * nb;
        c->gate = f; f += F * nb;
        c->up = f; f += F * nb;
        c->rope_cs = f; f += (uint64_t)hp->rope_dim * nb;
        c->out_h = f;
        c->thread_f32_stride = (size_t)((int64_t)(hp->n_head / hp->n_head_kv) * p->n_ctx + hd + 64);
        c->thread_f32 = apr__cpu_alloc_f32((uint64_t)c->thread_f32_stride * (uint64_t)c->n_threads, &ok);
    }
    if (ok) {
        uint64_t act_floats = ((uint64_t)cm->max_act_row + 3) / 4 * nb;
        for (int k = 0; k < 3 && ok; k++) c->actq[k] = apr__cpu_alloc_f32(act_floats, &ok);
    }
    if (ok && cm->packed_max_cols > 0)
        c->act_sums = (int32_t *)apr__cpu_alloc_f32((uint64_t)(cm->packed_max_cols / 32) * nb, &ok);
    if (ok) {
        c->pool = apr__pool_create(c->n_threads);
        ok = c->pool != NULL;
        if (ok) c->n_threads = c->pool->n_threads;
    }
    if (!ok) {
        apr__cpu_context_free(c);
        snprintf(err, err_size, "out of memory for a context of %d positions x %d sequences", p->n_ctx, p->n_seq);
        return APR_ERROR_OUT_OF_MEMORY;
    }
    *out = c;
    return APR_SUCCESS;
}

static void apr__cpu_seq_truncate(void *state, int32_t seq, int32_t n_keep) {
    /* positions are overwritten in place; the context tracks lengths */
    (void)state; (void)seq; (void)n_keep;
}

static int apr__cpu_launches_per_token(void *state) {
    (void)state;
    return 0;
}

static uint64_t apr__cpu_memory_used(void *state) {
    (void)state;
    return 0;
}

/* Partial offload: the CUDA plugin runs layers it did not take through this. */
static apr_result apr__cpu_host_layers(void *cpu_user, void *cpu_ctx, int32_t l0, int32_t l1, float *hidden,
                                       const apr_backend_batch *batch) {
    (void)cpu_user;
    apr__cpu_ctx *c = (apr__cpu_ctx *)cpu_ctx;
    if (!c || !hidden || !batch || l0 < 0 || l1 > c->cm->kv_layers || l0 > l1 ||
        batch->n_tokens < 0 || batch->n_tokens > c->p.n_batch)
        return APR_ERROR_INVALID_ARGUMENT;
    for (int32_t t = 0; t < batch->n_tokens; t++)
        if (batch->pos[t] < 0 || batch->pos[t] >= c->p.n_ctx || batch->seq[t] < 0 || batch->seq[t] >= c->p.n_seq)
            return APR_ERROR_INVALID_ARGUMENT;
    if (l0 == l1 || batch->n_tokens == 0) return APR_SUCCESS;
    return apr__cpu_run_layers(c, l0, l1, hidden, batch);
}

static const apr_backend_vtable apr__cpu_backend = {
    APR_BACKEND_ABI,
    "CPU",
    apr__cpu_model_load,
    apr__cpu_model_free,
    apr__cpu_device_name,
    apr__cpu_context_create,
    apr__cpu_context_free,
    apr__cpu_forward,
    NULL,
    apr__cpu_seq_truncate,
    apr__cpu_launches_per_token,
    apr__cpu_memory_used,
};
