/* bench/cuda/refmodel.h - shared by the CUDA check and bench programs (not part of apr.h).
   Builds an apr_model_view from a GGUF file (or synthetic weights) and runs a plain
   float reference forward pass on the CPU, token by token, to compare the plugin with.
   Needs apr.h with APR_IMPLEMENTATION (GGUF reader, dequantization, logger, dlopen). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    apr_model_view view;
    apr_layer_view *layers;
    apr_gguf *gguf;
} ref_model;

static apr_tensor_view ref_tv(const apr_gguf *g, const char *name) {
    apr_tensor_view v;
    memset(&v, 0, sizeof v);
    const apr_gguf_tensor *t = apr_gguf_find_tensor(g, name);
    if (!t) return v;
    v.type = t->type;
    v.n_dims = t->n_dims;
    for (int i = 0; i < 4; i++) v.ne[i] = t->ne[i];
    v.data = t->data;
    v.size = t->size;
    return v;
}

static int64_t ref_key_i(const apr_gguf *g, const char *arch, const char *k, int64_t def) {
    char key[128];
    int64_t v = def;
    snprintf(key, sizeof key, "%s.%s", arch, k);
    apr_gguf_get_i64(g, key, &v);
    return v;
}
static double ref_key_f(const apr_gguf *g, const char *arch, const char *k, double def) {
    char key[128];
    double v = def;
    snprintf(key, sizeof key, "%s.%s", arch, k);
    apr_gguf_get_f64(g, key, &v);
    return v;
}

static int ref_model_open(ref_model *m, const char *path) {
    memset(m, 0, sizeof *m);
    apr_error err;
    if (apr_gguf_open(path, &m->gguf, &err) != APR_SUCCESS) {
        fprintf(stderr, "%s: %s\n", path, err.message);
        return -1;
    }
    apr_gguf *g = m->gguf;
    apr_str a;
    char arch[32] = "llama";
    if (apr_gguf_get_str(g, "general.architecture", &a) && a.len < sizeof arch) {
        memcpy(arch, a.ptr, a.len);
        arch[a.len] = 0;
    }
    apr_hparams *hp = &m->view.hp;
    hp->arch = !strcmp(arch, "qwen2") ? APR_ARCH_QWEN2 : !strcmp(arch, "qwen3") ? APR_ARCH_QWEN3 : APR_ARCH_LLAMA;
    hp->n_embd = (int32_t)ref_key_i(g, arch, "embedding_length", 0);
    hp->n_layer = (int32_t)ref_key_i(g, arch, "block_count", 0);
    hp->n_head = (int32_t)ref_key_i(g, arch, "attention.head_count", 0);
    hp->n_head_kv = (int32_t)ref_key_i(g, arch, "attention.head_count_kv", hp->n_head);
    hp->head_dim = (int32_t)ref_key_i(g, arch, "attention.key_length", hp->n_head ? hp->n_embd / hp->n_head : 0);
    hp->n_ff = (int32_t)ref_key_i(g, arch, "feed_forward_length", 0);
    hp->n_ctx_train = (int32_t)ref_key_i(g, arch, "context_length", 2048);
    hp->norm_eps = (float)ref_key_f(g, arch, "attention.layer_norm_rms_epsilon", 1e-5);
    hp->rope_freq_base = (float)ref_key_f(g, arch, "rope.freq_base", 10000.0);
    hp->rope_freq_scale = 1.0f;
    hp->rope_dim = (int32_t)ref_key_i(g, arch, "rope.dimension_count", hp->head_dim);
    hp->rope_kind = hp->arch == APR_ARCH_LLAMA ? APR_ROPE_NORM : APR_ROPE_NEOX;
    m->view.tok_embd = ref_tv(g, "token_embd.weight");
    m->view.output_norm = ref_tv(g, "output_norm.weight");
    m->view.output = ref_tv(g, "output.weight");
    if (!m->view.output.data) m->view.output = m->view.tok_embd;
    hp->n_vocab = (int32_t)m->view.tok_embd.ne[1];
    m->layers = (apr_layer_view *)calloc((size_t)hp->n_layer, sizeof *m->layers);
    for (int l = 0; l < hp->n_layer; l++) {
        char n[96];
        apr_layer_view *L = &m->layers[l];
#define T(field, s) snprintf(n, sizeof n, "blk.%d.%s", l, s), L->field = ref_tv(g, n)
        T(attn_norm, "attn_norm.weight"); T(wq, "attn_q.weight"); T(wk, "attn_k.weight");
        T(wv, "attn_v.weight"); T(wo, "attn_output.weight"); T(bq, "attn_q.bias");
        T(bk, "attn_k.bias"); T(bv, "attn_v.bias"); T(bo, "attn_output.bias");
        T(q_norm, "attn_q_norm.weight"); T(k_norm, "attn_k_norm.weight");
        T(ffn_norm, "ffn_norm.weight"); T(ffn_gate, "ffn_gate.weight"); T(ffn_up, "ffn_up.weight");
        T(ffn_down, "ffn_down.weight");
#undef T
    }
    m->view.layers = m->layers;
    return 0;
}

/* ---- float reference forward ---- */

typedef struct {
    float *w;  /* rows x cols, dequantized */
    int rows, cols, type;
} ref_mat;

/* Activation rounding of the reference's matrix products (bench/cuda/act_rounding.c):
   0 exact (the default); REF_ROUND_CPU as apr's CPU backend does it (Q8_0: groups of 32,
   scale kept in f16, for Q4_0/Q5_0/Q8_0/IQ4_NL; Q8_1 likewise for Q4_1/Q5_1; Q8_K: groups
   of 256, f32 scale, for the K-quants and IQ4_XS); any other value n: groups of n with an
   f32 scale. Round to nearest even, scale = max|x| / 127; float weights stay exact. */
enum { REF_ROUND_EXACT = 0, REF_ROUND_CPU = -1 };
static int ref_act_round = REF_ROUND_EXACT;

/* The input of a product with weights of this type: x itself, or x rounded into *buf
   (allocated here; the caller frees it). */
static const float *ref_round_act(const float *x, float **buf, int n, int type) {
    int g = ref_act_round, f16_scale = 0;
    *buf = NULL;
    if (g == REF_ROUND_EXACT || type == APR_TYPE_F32 || type == APR_TYPE_F16 || type == APR_TYPE_BF16) return x;
    if (g == REF_ROUND_CPU) {
        const int k_quant = apr_type_block_size(type) == 256;
        g = k_quant ? 256 : 32;
        f16_scale = !k_quant;
    }
    if (g <= 0 || n % g) return x;
    float *y = *buf = (float *)malloc(sizeof(float) * n);
    for (int b = 0; b < n; b += g) {
        float amax = 0;
        for (int j = 0; j < g; j++) amax = fmaxf(amax, fabsf(x[b + j]));
        float d = amax / 127.0f;
        const float id = amax != 0 ? 127.0f / amax : 0.0f;
        if (f16_scale) d = apr__fp16_to_fp32(apr__fp32_to_fp16(d));
        for (int j = 0; j < g; j++) y[b + j] = d * nearbyintf(x[b + j] * id);
    }
    return y;
}

typedef struct {
    const apr_model_view *v;
    ref_mat *mats;      /* per layer: q k v o gate up down */
    float **vecs;       /* per layer: attn_norm ffn_norm bq bk bv bo qn kn */
    ref_mat tok, out;
    float *out_norm;
    int n_ctx, n_seq;
    float *kc, *vc;     /* [seq][layer][pos][kvd] */
} ref_ctx;

static float *ref_deq_vec(const apr_tensor_view *t, int64_t n) {
    if (!t->data) return NULL;
    float *v = (float *)malloc(sizeof(float) * n);
    apr_dequantize_row(t->type, t->data, v, n);
    return v;
}
static ref_mat ref_deq_mat(const apr_tensor_view *t) {
    ref_mat m;
    m.cols = (int)t->ne[0];
    m.type = t->type;
    m.rows = (int)(t->ne[1] * (t->ne[2] ? t->ne[2] : 1) * (t->ne[3] ? t->ne[3] : 1));
    m.w = (float *)malloc(sizeof(float) * (size_t)m.rows * m.cols);
    size_t rb = apr_type_row_bytes(t->type, m.cols);
    for (int r = 0; r < m.rows; r++)
        apr_dequantize_row(t->type, (const char *)t->data + rb * r, m.w + (size_t)r * m.cols, m.cols);
    return m;
}

static void ref_init(ref_ctx *c, const apr_model_view *v, int n_ctx, int n_seq) {
    const apr_hparams *hp = &v->hp;
    c->v = v;
    c->n_ctx = n_ctx;
    c->n_seq = n_seq;
    c->mats = (ref_mat *)calloc((size_t)hp->n_layer * 7, sizeof(ref_mat));
    c->vecs = (float **)calloc((size_t)hp->n_layer * 8, sizeof(float *));
    int qd = hp->n_head * hp->head_dim, kvd = hp->n_head_kv * hp->head_dim;
    for (int l = 0; l < hp->n_layer; l++) {
        const apr_layer_view *L = &v->layers[l];
        ref_mat *m = c->mats + 7 * l;
        m[0] = ref_deq_mat(&L->wq); m[1] = ref_deq_mat(&L->wk); m[2] = ref_deq_mat(&L->wv);
        m[3] = ref_deq_mat(&L->wo); m[4] = ref_deq_mat(&L->ffn_gate); m[5] = ref_deq_mat(&L->ffn_up);
        m[6] = ref_deq_mat(&L->ffn_down);
        float **w = c->vecs + 8 * l;
        w[0] = ref_deq_vec(&L->attn_norm, hp->n_embd); w[1] = ref_deq_vec(&L->ffn_norm, hp->n_embd);
        w[2] = ref_deq_vec(&L->bq, qd); w[3] = ref_deq_vec(&L->bk, kvd); w[4] = ref_deq_vec(&L->bv, kvd);
        w[5] = ref_deq_vec(&L->bo, hp->n_embd); w[6] = ref_deq_vec(&L->q_norm, hp->head_dim);
        w[7] = ref_deq_vec(&L->k_norm, hp->head_dim);
    }
    c->tok = ref_deq_mat(&v->tok_embd);
    c->out = ref_deq_mat(&v->output);
    c->out_norm = ref_deq_vec(&v->output_norm, hp->n_embd);
    size_t kvn = (size_t)n_seq * hp->n_layer * n_ctx * kvd;
    c->kc = (float *)calloc(kvn, sizeof(float));
    c->vc = (float *)calloc(kvn, sizeof(float));
}

static inline void ref_free(ref_ctx *c) {
    const int nl = c->v->hp.n_layer;
    for (int i = 0; i < 7 * nl; i++) free(c->mats[i].w);
    for (int i = 0; i < 8 * nl; i++) free(c->vecs[i]);
    free(c->mats); free(c->vecs); free(c->tok.w); free(c->out.w); free(c->out_norm); free(c->kc); free(c->vc);
}
static inline void ref_model_close(ref_model *m) {
    free(m->layers);
    apr_gguf_close(m->gguf);
}

static void ref_matvec(const ref_mat *m, const float *x_in, float *y, const float *bias) {
    float *rounded;
    const float *x = ref_round_act(x_in, &rounded, m->cols, m->type);
    for (int r = 0; r < m->rows; r++) {
        double s = 0;
        const float *w = m->w + (size_t)r * m->cols;
        for (int k = 0; k < m->cols; k++) s += (double)w[k] * x[k];
        y[r] = (float)s + (bias ? bias[r] : 0.f);
    }
    free(rounded);
}
static void ref_rmsnorm(const float *x, const float *w, float *y, int n, float eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float sc = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) y[i] = x[i] * sc * (w ? w[i] : 1.f);
}
static void ref_rope(float *v, int hd, int rd, int pos, const apr_hparams *hp) {
    int half = rd / 2;
    for (int i = 0; i < half; i++) {
        int i0 = hp->rope_kind == APR_ROPE_NEOX ? i : 2 * i, i1 = hp->rope_kind == APR_ROPE_NEOX ? i + half : 2 * i + 1;
        double th = pos * (double)hp->rope_freq_scale * pow(hp->rope_freq_base, -2.0 * i / rd);
        double s = sin(th), c = cos(th);
        float x0 = v[i0], x1 = v[i1];
        v[i0] = (float)(x0 * c - x1 * s);
        v[i1] = (float)(x0 * s + x1 * c);
    }
    (void)hd;
}

/* One token at (pos, seq); logits (n_vocab) out. */
static void ref_step(ref_ctx *c, int token, int pos, int seq, float *logits) {
    const apr_hparams *hp = &c->v->hp;
    const int E = hp->n_embd, hd = hp->head_dim, nh = hp->n_head, nkv = hp->n_head_kv;
    const int qd = nh * hd, kvd = nkv * hd, F = hp->n_ff;
    float *x = (float *)malloc(sizeof(float) * E), *xn = (float *)malloc(sizeof(float) * (E > qd ? (E > F ? E : F) : (qd > F ? qd : F)));
    float *q = (float *)malloc(sizeof(float) * qd), *att = (float *)malloc(sizeof(float) * qd);
    float *g = (float *)malloc(sizeof(float) * F), *u = (float *)malloc(sizeof(float) * F);
    float *tmp = (float *)malloc(sizeof(float) * (E > F ? E : F));
    float *sc = (float *)malloc(sizeof(float) * c->n_ctx);
    memcpy(x, c->tok.w + (size_t)token * E, sizeof(float) * E);
    for (int l = 0; l < hp->n_layer; l++) {
        ref_mat *m = c->mats + 7 * l;
        float **w = c->vecs + 8 * l;
        size_t kvo = (((size_t)seq * hp->n_layer + l) * c->n_ctx) * kvd;
        float *kc = c->kc + kvo, *vc = c->vc + kvo;
        ref_rmsnorm(x, w[0], xn, E, hp->norm_eps);
        ref_matvec(&m[0], xn, q, w[2]);
        ref_matvec(&m[1], xn, kc + (size_t)pos * kvd, w[3]);
        ref_matvec(&m[2], xn, vc + (size_t)pos * kvd, w[4]);
        for (int h = 0; h < nh; h++) {
            if (w[6]) ref_rmsnorm(q + h * hd, w[6], q + h * hd, hd, hp->norm_eps);
            ref_rope(q + h * hd, hd, hp->rope_dim, pos, hp);
        }
        for (int h = 0; h < nkv; h++) {
            float *k = kc + (size_t)pos * kvd + h * hd;
            if (w[7]) ref_rmsnorm(k, w[7], k, hd, hp->norm_eps);
            ref_rope(k, hd, hp->rope_dim, pos, hp);
        }
        for (int h = 0; h < nh; h++) {
            int hk = h / (nh / nkv);
            double mx = -1e300, sum = 0;
            for (int p = 0; p <= pos; p++) {
                double s = 0;
                for (int d = 0; d < hd; d++) s += (double)q[h * hd + d] * kc[(size_t)p * kvd + hk * hd + d];
                sc[p] = (float)(s / sqrt((double)hd));
                if (sc[p] > mx) mx = sc[p];
            }
            for (int p = 0; p <= pos; p++) { sc[p] = (float)exp(sc[p] - mx); sum += sc[p]; }
            for (int d = 0; d < hd; d++) {
                double a = 0;
                for (int p = 0; p <= pos; p++) a += sc[p] * (double)vc[(size_t)p * kvd + hk * hd + d];
                att[h * hd + d] = (float)(a / sum);
            }
        }
        ref_matvec(&m[3], att, tmp, w[5]);
        for (int i = 0; i < E; i++) x[i] += tmp[i];
        ref_rmsnorm(x, w[1], xn, E, hp->norm_eps);
        ref_matvec(&m[4], xn, g, NULL);
        ref_matvec(&m[5], xn, u, NULL);
        for (int i = 0; i < F; i++) g[i] = g[i] / (1.f + expf(-g[i])) * u[i];
        ref_matvec(&m[6], g, tmp, NULL);
        for (int i = 0; i < E; i++) x[i] += tmp[i];
    }
    ref_rmsnorm(x, c->out_norm, xn, E, hp->norm_eps);
    ref_matvec(&c->out, xn, logits, NULL);
    free(x); free(xn); free(q); free(att); free(g); free(u); free(tmp); free(sc);
}

/* max |a-b| / max |b| */
static double rel_err(const float *a, const float *b, int n) {
    double md = 0, mb = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= md)) md = d;   /* NaN propagates */
        if (fabs(b[i]) > mb) mb = fabs(b[i]);
    }
    return mb > 0 ? md / mb : md;
}
/* KL(P_b || P_a) of the softmaxes of two logit vectors, in nats (b the reference: what
   llama-perplexity --kl-divergence reports for a quantized model against the base one) */
static inline double kl_div(const float *a, const float *b, int n) {
    double ma = a[0], mb = b[0], sa = 0, sb = 0, kl = 0;
    for (int i = 1; i < n; i++) { if (a[i] > ma) ma = a[i]; if (b[i] > mb) mb = b[i]; }
    for (int i = 0; i < n; i++) { sa += exp(a[i] - ma); sb += exp(b[i] - mb); }
    for (int i = 0; i < n; i++) {
        const double lpb = b[i] - mb - log(sb), lpa = a[i] - ma - log(sa);
        kl += exp(lpb) * (lpb - lpa);
    }
    return kl;
}
static inline int argmax_f(const float *v, int n) {
    int b = 0;
    for (int i = 1; i < n; i++) if (v[i] > v[b]) b = i;
    return b;
}
