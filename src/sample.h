/* ====================================================================================
   Sampling
   The chain is llama.cpp's default order: penalties -> top-k -> top-p -> min-p ->
   temperature -> draw. top-p and min-p therefore see the untempered distribution, as in
   llama.cpp. Nothing sorts the 152k vocabulary: top-k is one pass with a k-heap, top-p a
   quickselect on probability mass (the nucleus is found, not sorted), so a flat
   distribution costs O(n) like a peaked one.
   The random numbers come from apr's own xoshiro256** so a seed gives the same tokens on
   every platform and C library.
   ==================================================================================== */

typedef struct apr__cand {
    float logit;
    int32_t id;
    float p;       /* unnormalised probability, exp(logit - max) (under the temperature) */
} apr__cand;

struct apr_sampler {
    apr_sampler_params p;
    int32_t n_vocab;
    uint64_t rng[4];
    /* penalty history: a ring of the last hist_cap accepted tokens and their counts */
    int32_t *hist;
    int32_t hist_cap, hist_len, hist_head;
    int32_t *counts;
    uint32_t *stamp;     /* dedups history tokens while penalising */
    uint32_t stamp_now;
    float *penalized;    /* penalised logit of each stamped token */
    apr__cand *cand;     /* n_vocab working candidates */
};

/* History length used for repeat_last_n = -1 when the sampler does not know n_ctx
   (apr_generate replaces -1 by the context size). */
#define APR__SAMPLER_MAX_HISTORY 32768

APR__IMPL apr_sampler_params apr_sampler_default_params(void) {
    apr_sampler_params p;
    memset(&p, 0, sizeof p);
    p.temperature = 0.8f;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    p.repeat_penalty = 1.0f;
    p.frequency_penalty = 0.0f;
    p.presence_penalty = 0.0f;
    p.repeat_last_n = 64;
    p.seed = 0xFFFFFFFFu;  /* llama.cpp's default seed value; apr uses every seed as is */
    return p;
}

/* ---- xoshiro256** seeded through splitmix64 ------------------------------------------ */

static uint64_t apr__splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static void apr__rng_seed(uint64_t s[4], uint64_t seed) {
    for (int i = 0; i < 4; i++) s[i] = apr__splitmix64(&seed);
}
static uint64_t apr__rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t apr__rng_next(uint64_t s[4]) {
    uint64_t r = apr__rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = apr__rotl64(s[3], 45);
    return r;
}
/* uniform in [0, 1) with 53 random bits */
static double apr__rng_uniform(uint64_t s[4]) {
    return (double)(apr__rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static bool apr__sampler_has_penalties(const apr_sampler *s) {
    return s->hist_cap > 0 &&
           (s->p.repeat_penalty != 1.0f || s->p.frequency_penalty != 0.0f ||
            s->p.presence_penalty != 0.0f);
}

APR__IMPL apr_result apr_sampler_create(const apr_sampler_params *params, int32_t n_vocab,
                                        apr_sampler **out) {
    if (!out) return APR_ERROR_INVALID_ARGUMENT;
    *out = NULL;
    if (n_vocab <= 0) return APR_ERROR_INVALID_ARGUMENT;
    apr_sampler *s = (apr_sampler *)apr__calloc(1, sizeof *s);
    if (!s) return APR_ERROR_OUT_OF_MEMORY;
    s->p = params ? *params : apr_sampler_default_params();
    if (s->p.repeat_penalty <= 0.0f || s->p.repeat_penalty != s->p.repeat_penalty)
        s->p.repeat_penalty = 1.0f;
    s->n_vocab = n_vocab;
    s->hist_cap = s->p.repeat_last_n > 0 ? s->p.repeat_last_n
                : s->p.repeat_last_n < 0 ? APR__SAMPLER_MAX_HISTORY : 0;
    s->cand = (apr__cand *)APR_MALLOC((size_t)n_vocab * sizeof(apr__cand));
    if (!s->cand) goto oom;
    if (apr__sampler_has_penalties(s)) {
        s->hist = (int32_t *)APR_MALLOC((size_t)s->hist_cap * sizeof(int32_t));
        s->counts = (int32_t *)apr__calloc((size_t)n_vocab, sizeof(int32_t));
        s->stamp = (uint32_t *)apr__calloc((size_t)n_vocab, sizeof(uint32_t));
        s->penalized = (float *)APR_MALLOC((size_t)n_vocab * sizeof(float));
        if (!s->hist || !s->counts || !s->stamp || !s->penalized) goto oom;
    } else {
        s->hist_cap = 0;  /* nothing looks at the history: do not keep it */
    }
    apr__rng_seed(s->rng, s->p.seed);
    *out = s;
    return APR_SUCCESS;
oom:
    apr_sampler_free(s);
    return APR_ERROR_OUT_OF_MEMORY;
}

APR__IMPL void apr_sampler_free(apr_sampler *s) {
    if (!s) return;
    APR_FREE(s->cand);
    APR_FREE(s->hist);
    APR_FREE(s->counts);
    APR_FREE(s->stamp);
    APR_FREE(s->penalized);
    APR_FREE(s);
}

APR__IMPL void apr_sampler_reset(apr_sampler *s) {
    if (!s) return;
    if (s->counts) memset(s->counts, 0, (size_t)s->n_vocab * sizeof(int32_t));
    s->hist_len = s->hist_head = 0;
    apr__rng_seed(s->rng, s->p.seed);
}

APR__IMPL void apr_sampler_accept(apr_sampler *s, int32_t token) {
    if (!s || s->hist_cap == 0 || token < 0 || token >= s->n_vocab) return;
    if (s->hist_len == s->hist_cap) {  /* forget the oldest */
        s->counts[s->hist[s->hist_head]]--;
        s->hist[s->hist_head] = token;
        s->hist_head = (s->hist_head + 1) % s->hist_cap;
    } else {
        s->hist[(s->hist_head + s->hist_len) % s->hist_cap] = token;
        s->hist_len++;
    }
    s->counts[token]++;
}

static float apr__sanitize_logit(float l) {
    if (l != l) return -FLT_MAX;           /* NaN: never chosen */
    if (l > FLT_MAX) return FLT_MAX;       /* keep exp(l - max) finite */
    if (l < -FLT_MAX) return -FLT_MAX;
    return l;
}

/* llama.cpp's penalties: each distinct token of the history is penalised once:
   repeat penalty divides a positive logit / multiplies a negative one, then
   frequency * count + presence is subtracted. The history tokens get a stamp and their
   penalised logit in penalized[]. */
static void apr__sampler_penalize(apr_sampler *s, const float *logits) {
    if (++s->stamp_now == 0) {  /* wrapped: old stamps could collide */
        memset(s->stamp, 0, (size_t)s->n_vocab * sizeof(uint32_t));
        s->stamp_now = 1;
    }
    for (int32_t i = 0; i < s->hist_len; i++) {
        int32_t t = s->hist[(s->hist_head + i) % s->hist_cap];
        if (s->stamp[t] == s->stamp_now) continue;
        s->stamp[t] = s->stamp_now;
        float l = apr__sanitize_logit(logits[t]);
        if (s->p.repeat_penalty != 1.0f)
            l = l <= 0.0f ? l * s->p.repeat_penalty : l / s->p.repeat_penalty;
        l -= (float)s->counts[t] * s->p.frequency_penalty +
             (s->counts[t] > 0 ? s->p.presence_penalty : 0.0f);
        s->penalized[t] = l;
    }
}

/* Total order: higher logit first, ties by lower id (so results never depend on the
   sort algorithm). */
static bool apr__cand_before(const apr__cand *a, const apr__cand *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}
static void apr__cand_swap(apr__cand *a, apr__cand *b) {
    apr__cand t = *a;
    *a = *b;
    *b = t;
}

/* top-p: the smallest set of candidates that comes first in apr__cand_before order and
   holds probability mass >= target (c[i].p filled) is moved to c[0..k); k is returned.
   A quickselect on mass: partition around a pivot, keep the side where the cut lies. */
static int64_t apr__cand_mass_select(apr__cand *c, int64_t m, double target) {
    int64_t lo = 0, hi = m;  /* c[0..lo) are in the set; the cut lies in [lo, hi) */
    double acc = 0.0;        /* mass of c[0..lo), always < target here */
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2, last = hi - 1;
        /* median of three as pivot, moved to the end */
        if (apr__cand_before(&c[mid], &c[lo])) apr__cand_swap(&c[mid], &c[lo]);
        if (apr__cand_before(&c[last], &c[lo])) apr__cand_swap(&c[last], &c[lo]);
        if (apr__cand_before(&c[mid], &c[last])) apr__cand_swap(&c[mid], &c[last]);
        const apr__cand pivot = c[last];
        int64_t i = lo;
        double mass = 0.0;
        for (int64_t j = lo; j < last; j++) {
            if (apr__cand_before(&c[j], &pivot)) {
                mass += c[j].p;
                apr__cand_swap(&c[i], &c[j]);
                i++;
            }
        }
        apr__cand_swap(&c[i], &c[last]);
        /* c[lo..i) come before the pivot (now at i), c[i+1..hi) after it */
        if (acc + mass >= target) {
            hi = i;
            continue;
        }
        acc += mass + pivot.p;
        if (acc >= target) return i + 1;
        lo = i + 1;
    }
    return hi > lo ? lo + 1 : APR__MAX(lo, (int64_t)1);
}

static int32_t apr__argmax(const float *x, int32_t n) {
    int32_t best = 0;
    float bv = -INFINITY;
    for (int32_t i = 0; i < n; i++) {
        if (x[i] > bv) {  /* NaN never wins */
            bv = x[i];
            best = i;
        }
    }
    return best;
}

/* top-k's scan: the index of the first block of 8 at or after i that holds a value
   > t (NaN never is), or the start of the last partial block. Most of a 152k vocabulary
   lies below the k-th best, so the heap sees few elements. */
static int32_t apr__skip_le_scalar(const float *x, int32_t i, int32_t n, float t) {
    for (; i + 8 <= n; i += 8) {
        int j = 0;
        while (j < 8 && !(x[i + j] > t)) j++;
        if (j < 8) break;
    }
    return i;
}
#if defined(APR__HAVE_X86_SIMD)
APR__TARGET_AVX2 static int32_t apr__skip_le_avx2(const float *x, int32_t i, int32_t n, float t) {
    const __m256 vt = _mm256_set1_ps(t);
    for (; i + 8 <= n; i += 8)
        if (_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), vt, _CMP_GT_OQ))) break;
    return i;
}
#endif
#if defined(APR__HAVE_NEON)
static int32_t apr__skip_le_neon(const float *x, int32_t i, int32_t n, float t) {
    const float32x4_t vt = vdupq_n_f32(t);
    for (; i + 8 <= n; i += 8) {
        uint32x4_t gt = vorrq_u32(vcgtq_f32(vld1q_f32(x + i), vt), vcgtq_f32(vld1q_f32(x + i + 4), vt));
        if (vmaxvq_u32(gt)) break;
    }
    return i;
}
#endif
static int32_t apr__skip_le(const float *x, int32_t i, int32_t n, float t) {
#if defined(APR__HAVE_X86_SIMD)
    if (apr__simd_level() >= 1) return apr__skip_le_avx2(x, i, n, t);
#elif defined(APR__HAVE_NEON)
    if (apr__simd_level() >= 2) return apr__skip_le_neon(x, i, n, t);
#endif
    return apr__skip_le_scalar(x, i, n, t);
}

APR__IMPL int32_t apr_sampler_sample(apr_sampler *s, const float *logits) {
    if (!s || !logits) return -1;
    const int32_t n = s->n_vocab;
    bool pen = apr__sampler_has_penalties(s) && s->hist_len > 0;
    bool greedy = !(s->p.temperature > 0.0f);
    if (greedy && !pen) return apr__argmax(logits, n);

    apr__cand *c = s->cand;
    if (pen) apr__sampler_penalize(s, logits);
#define APR__LOGIT(i) (pen && s->stamp[i] == s->stamp_now ? s->penalized[i] \
                                                          : apr__sanitize_logit(logits[i]))
    if (greedy) {
        int32_t best = 0;
        float bv = APR__LOGIT(0);
        for (int32_t i = 1; i < n; i++) {
            float v = APR__LOGIT(i);
            if (v > bv) {
                bv = v;
                best = i;
            }
        }
        return best;
    }
    int64_t m = n;
    if (s->p.top_k > 0 && s->p.top_k < n) {
        /* one pass with a min-heap of the k best: most logits cost one comparison */
        int32_t k = s->p.top_k;
        for (int32_t i = 0; i < n; i++) {
            /* once the heap is full, blocks whose values are all <= its worst cannot
               enter (a tie loses on the higher id); penalties may raise logits: no skip */
            if (!pen && i >= k && (i & 7) == 0) {
                i = apr__skip_le(logits, i, n, c[0].logit);
                if (i >= n) break;
            }
            apr__cand x;
            x.logit = APR__LOGIT(i);
            x.id = i;
            if (i < k) {  /* sift up */
                int32_t j = i;
                while (j > 0 && apr__cand_before(&c[(j - 1) / 2], &x)) {
                    c[j] = c[(j - 1) / 2];
                    j = (j - 1) / 2;
                }
                c[j] = x;
            } else if (apr__cand_before(&x, &c[0])) {  /* replace the worst, sift down */
                int32_t j = 0;
                for (;;) {
                    int32_t l = 2 * j + 1, w = j;
                    const apr__cand *wc = &x;
                    if (l < k && apr__cand_before(&c[l], wc) == false) { w = l; wc = &c[l]; }
                    if (l + 1 < k && apr__cand_before(&c[l + 1], wc) == false) { w = l + 1; wc = &c[l + 1]; }
                    if (w == j) break;
                    c[j] = c[w];
                    j = w;
                }
                c[j] = x;
            }
        }
        m = k;
    } else {
        for (int32_t i = 0; i < n; i++) {
            c[i].logit = APR__LOGIT(i);
            c[i].id = i;
        }
    }
#undef APR__LOGIT
    float maxl = -FLT_MAX;
    for (int64_t i = 0; i < m; i++) maxl = APR__MAX(maxl, c[i].logit);

    /* top-p and min-p each keep a prefix of the same order, so the result is the shorter
       prefix: min-p filters first, and top-p's cut (measured against the mass of all the
       candidates, as llama.cpp) is searched only among the survivors */
    double total = 0.0;
    if (s->p.top_p < 1.0f)
        for (int64_t i = 0; i < m; i++) {
            c[i].p = expf(c[i].logit - maxl);
            total += c[i].p;
        }
    if (s->p.min_p > 0.0f) {
        float thr = maxl + logf(s->p.min_p);
        int64_t k = 0;
        for (int64_t i = 0; i < m; i++)
            if (c[i].logit >= thr) c[k++] = c[i];
        m = k > 0 ? k : 1;  /* the maximum always passes; guard against rounding */
    }
    if (s->p.top_p < 1.0f) m = apr__cand_mass_select(c, m, (double)s->p.top_p * total);

    /* temperature, softmax, draw (in the candidates' order, which is deterministic) */
    float inv_t = 1.0f / s->p.temperature;
    total = 0.0;
    for (int64_t i = 0; i < m; i++) {
        c[i].p = expf((c[i].logit - maxl) * inv_t);
        total += c[i].p;
    }
    double r = apr__rng_uniform(s->rng) * total, cum = 0.0;
    for (int64_t i = 0; i < m; i++) {
        cum += c[i].p;
        if (r < cum) return c[i].id;
    }
    /* rounding left r at the sum: the last candidate with any mass */
    for (int64_t i = m - 1; i > 0; i--)
        if (c[i].p > 0.0f) return c[i].id;
    return c[0].id;
}
