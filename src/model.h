/* =====================================================================================
   Model: hyperparameters and weight views from a GGUF file
   The model owns the GGUF mapping and the vocabulary. It validates every tensor the
   forward pass will touch (presence, type, shape against the hyperparameters) so that
   backends never check again, then hands the backend an apr_model_view.
   ===================================================================================== */

struct apr_model {
    apr_gguf *gguf;
    apr_vocab *vocab;                 /* NULL: the file has no tokenizer */
    apr__logger log;
    char arch_name[16];
    char desc[128];
    char *chat_template;              /* family name, or NULL */
    apr_model_view view;
    apr_layer_view *layers;
    float *owned_f32;                 /* 1-D weights converted to F32 at load */
    uint64_t n_params, size_bytes, decode_bytes;
    int file_type;                    /* general.file_type, -1 if absent */
    int n_threads;
    /* backend */
    const apr_backend_vtable *backend;
    void *backend_state;
    void *cuda_lib;
    void *cpu_state;                  /* CPU backend state when CUDA runs some layers on CPU */
    apr_backend_host host;
    /* contexts of this model (partial offload finds a context's CPU half through this) */
    apr__mutex ctx_mutex;
    struct apr_context *contexts;
};

/* Defined in the context section, once the CPU backend and the CUDA loader exist. */
static apr_result apr__model_attach_backend(apr_model *m, const apr_model_params *p, apr_error *err);
static void apr__model_detach_backend(apr_model *m);

APR__IMPL apr_model_params apr_model_default_params(void) {
    apr_model_params p;
    memset(&p, 0, sizeof p);
    p.n_gpu_layers = -1;
    p.log_level = APR_LOG_INFO;
    return p;
}

/* ---- metadata ------------------------------------------------------------------------ */

static bool apr__model_key_i64(const apr_gguf *g, const char *arch, const char *suffix, int64_t *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return apr_gguf_get_i64(g, key, out);
}

static apr_result apr__model_key_i32_range(const apr_gguf *g, const char *arch, const char *suffix,
                                           bool required, int64_t lo, int64_t hi, int32_t *out,
                                           apr_error *err) {
    int64_t v;
    if (!apr__model_key_i64(g, arch, suffix, &v)) {
        /* an array (per-layer value) is not supported */
        char key[128];
        snprintf(key, sizeof key, "%s.%s", arch, suffix);
        if (apr_gguf_find_key(g, key) >= 0)
            return apr__fail(err, APR_ERROR_UNSUPPORTED, "metadata %s has a type apr cannot use", key);
        if (required)
            return apr__fail(err, APR_ERROR_INVALID_FILE, "metadata %s is missing", key);
        return APR_SUCCESS;
    }
    if (v < lo || v > hi)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "metadata %s.%s = %lld is out of range [%lld, %lld]",
                         arch, suffix, (long long)v, (long long)lo, (long long)hi);
    *out = (int32_t)v;
    return APR_SUCCESS;
}

static bool apr__model_key_f32(const apr_gguf *g, const char *arch, const char *suffix, float *out) {
    char key[128];
    double v;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (!apr_gguf_get_f64(g, key, &v)) return false;
    *out = (float)v;
    return true;
}

static bool apr__str_eq(apr_str s, const char *z) {
    size_t n = strlen(z);
    return s.len == n && memcmp(s.ptr, z, n) == 0;
}

/* ---- tensors ------------------------------------------------------------------------- */

static bool apr__model_weight_type_ok(int type) {
    return apr_type_supported(type) && apr_type_block_size(type) > 0;
}

/* Find a tensor and check its shape: ne1 == 0 means a 1-D tensor. */
static apr_result apr__model_tensor(apr_model *m, const char *name, int64_t ne0, int64_t ne1,
                                    bool required, apr_tensor_view *out, apr_error *err) {
    memset(out, 0, sizeof *out);
    const apr_gguf_tensor *t = apr_gguf_find_tensor(m->gguf, name);
    if (!t) {
        if (required) return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor %s is missing", name);
        return APR_SUCCESS;
    }
    const char *tn = apr_type_name(t->type);
    if (!apr__model_weight_type_ok(t->type))
        return apr__fail(err, APR_ERROR_UNSUPPORTED, "tensor %s has type %s (%d), which apr does not support",
                         name, tn ? tn : "unknown", t->type);
    int want_dims = ne1 ? 2 : 1;
    int64_t have_ne1 = t->ne[1] * t->ne[2] * t->ne[3];
    bool ok = t->ne[0] == ne0 && (ne1 ? have_ne1 == ne1 && t->ne[2] == 1 && t->ne[3] == 1 : have_ne1 == 1);
    if (!ok)
        return apr__fail(err, APR_ERROR_INVALID_FILE,
                         "tensor %s has shape [%lld, %lld, %lld, %lld], expected [%lld%s%lld] from the hyperparameters",
                         name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                         (long long)t->ne[3], (long long)ne0, want_dims == 2 ? ", " : "",
                         want_dims == 2 ? (long long)ne1 : 0LL);
    if (want_dims == 1) ne1 = 1;
    size_t row = apr_type_row_bytes(t->type, ne0);
    uint64_t need;
    if (row == 0)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor %s: row length %lld is not a multiple of the %s block size",
                         name, (long long)ne0, tn ? tn : "?");
    if (apr__mul_overflow_u64(row, (uint64_t)ne1, &need) || need > t->size || !t->data)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor %s: data size does not match its shape", name);
    out->type = t->type;
    out->n_dims = want_dims;
    out->ne[0] = ne0;
    out->ne[1] = ne1;
    out->ne[2] = out->ne[3] = 1;
    out->data = t->data;
    out->size = need;
    return APR_SUCCESS;
}

static uint64_t apr__view_elems(const apr_tensor_view *v) {
    return v->data ? (uint64_t)v->ne[0] * (uint64_t)v->ne[1] : 0;
}

/* Backends want norms and biases in F32; most files have them so, others get a copy. */
static apr_result apr__model_vectors_to_f32(apr_model *m, apr_error *err) {
    uint64_t total = 0;
    int n_layer = m->view.hp.n_layer;
    for (int pass = 0; pass < 2; pass++) {
        float *dst = m->owned_f32;
        for (int l = -1; l < n_layer; l++) {
            apr_tensor_view *list[8];
            int n = 0;
            if (l < 0) {
                list[n++] = &m->view.output_norm;
                list[n++] = &m->view.rope_freqs;
            } else {
                apr_layer_view *L = &m->layers[l];
                list[n++] = &L->attn_norm; list[n++] = &L->ffn_norm;
                list[n++] = &L->bq; list[n++] = &L->bk; list[n++] = &L->bv; list[n++] = &L->bo;
                list[n++] = &L->q_norm; list[n++] = &L->k_norm;
            }
            for (int i = 0; i < n; i++) {
                apr_tensor_view *v = list[i];
                if (!v->data || v->type == APR_TYPE_F32) continue;
                if (pass == 0) { total += (uint64_t)v->ne[0]; continue; }
                apr_result r = apr_dequantize_row(v->type, v->data, dst, v->ne[0]);
                if (r != APR_SUCCESS) return apr__fail(err, r, "cannot convert a norm/bias tensor to F32");
                v->type = APR_TYPE_F32;
                v->data = dst;
                v->size = (uint64_t)v->ne[0] * 4;
                dst += v->ne[0];
            }
        }
        if (pass == 0) {
            if (total == 0) return APR_SUCCESS;
            m->owned_f32 = (float *)APR_MALLOC((size_t)total * sizeof(float));
            if (!m->owned_f32) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory");
        }
    }
    return APR_SUCCESS;
}

/* ---- hyperparameters and weights ----------------------------------------------------- */

static apr_result apr__model_read(apr_model *m, apr_error *err) {
    const apr_gguf *g = m->gguf;
    apr_str arch;
    if (!apr_gguf_get_str(g, "general.architecture", &arch))
        return apr__fail(err, APR_ERROR_INVALID_FILE, "metadata general.architecture is missing");
    apr_hparams *hp = &m->view.hp;
    memset(hp, 0, sizeof *hp);
    if (apr__str_eq(arch, "llama")) hp->arch = APR_ARCH_LLAMA;
    else if (apr__str_eq(arch, "qwen2")) hp->arch = APR_ARCH_QWEN2;
    else if (apr__str_eq(arch, "qwen3")) hp->arch = APR_ARCH_QWEN3;
    else
        return apr__fail(err, APR_ERROR_UNSUPPORTED,
                         "architecture '%.*s' is not supported (apr runs llama, qwen2, qwen3)",
                         (int)APR__MIN(arch.len, 64), arch.ptr);
    snprintf(m->arch_name, sizeof m->arch_name, "%.*s", (int)arch.len, arch.ptr);
    const char *a = m->arch_name;
    apr_result r;
    const int64_t big = 1 << 20;
#define APR__HP(suffix, req, lo, hi, field)                                                \
    do {                                                                                   \
        r = apr__model_key_i32_range(g, a, suffix, req, lo, hi, &hp->field, err);         \
        if (r != APR_SUCCESS) return r;                                                    \
    } while (0)
    APR__HP("embedding_length", true, 1, big, n_embd);
    APR__HP("block_count", true, 1, 4096, n_layer);
    APR__HP("attention.head_count", true, 1, 4096, n_head);
    hp->n_head_kv = hp->n_head;
    APR__HP("attention.head_count_kv", false, 1, 4096, n_head_kv);
    if (hp->n_head % hp->n_head_kv != 0)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "%s.attention.head_count %d is not a multiple of head_count_kv %d",
                         a, hp->n_head, hp->n_head_kv);
    hp->head_dim = 0;
    APR__HP("attention.key_length", false, 1, 65536, head_dim);
    if (hp->head_dim == 0) {
        if (hp->n_embd % hp->n_head != 0)
            return apr__fail(err, APR_ERROR_INVALID_FILE, "%s.embedding_length %d is not a multiple of head_count %d",
                             a, hp->n_embd, hp->n_head);
        hp->head_dim = hp->n_embd / hp->n_head;
    }
    {
        int32_t vl = hp->head_dim;
        r = apr__model_key_i32_range(g, a, "attention.value_length", false, 1, 65536, &vl, err);
        if (r != APR_SUCCESS) return r;
        if (vl != hp->head_dim)
            return apr__fail(err, APR_ERROR_UNSUPPORTED, "%s.attention.value_length %d != key_length %d", a, vl, hp->head_dim);
    }
    /* head_dim x head_count may differ from embedding_length (Qwen3, Mistral Nemo): the
       attention tensors' shapes below must agree with it */
    if (hp->head_dim % 2 != 0)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "head dimension %d is odd", hp->head_dim);
    APR__HP("feed_forward_length", true, 1, 1 << 22, n_ff);
    hp->n_ctx_train = 4096;
    APR__HP("context_length", false, 1, 1 << 30, n_ctx_train);
    hp->rope_dim = hp->head_dim;
    APR__HP("rope.dimension_count", false, 2, hp->head_dim, rope_dim);
    if (hp->rope_dim % 2 != 0)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "%s.rope.dimension_count %d is odd", a, hp->rope_dim);
#undef APR__HP
    hp->norm_eps = hp->arch == APR_ARCH_LLAMA ? 1e-5f : 1e-6f;
    apr__model_key_f32(g, a, "attention.layer_norm_rms_epsilon", &hp->norm_eps);
    if (!(hp->norm_eps >= 0 && hp->norm_eps < 1))
        return apr__fail(err, APR_ERROR_INVALID_FILE, "%s.attention.layer_norm_rms_epsilon is out of range", a);
    hp->rope_freq_base = 10000.0f;
    apr__model_key_f32(g, a, "rope.freq_base", &hp->rope_freq_base);
    if (!(hp->rope_freq_base > 1.0f && hp->rope_freq_base < 1e12f))
        return apr__fail(err, APR_ERROR_INVALID_FILE, "%s.rope.freq_base is out of range", a);
    hp->rope_freq_scale = 1.0f;
    {
        char key[128];
        apr_str st;
        float factor = 0;
        snprintf(key, sizeof key, "%s.rope.scaling.type", a);
        bool has_type = apr_gguf_get_str(g, key, &st);
        bool has_factor = apr__model_key_f32(g, a, "rope.scaling.factor", &factor);
        if (!has_factor) {
            float s;
            if (apr__model_key_f32(g, a, "rope.scale_linear", &s)) { factor = s; has_factor = true; }
        }
        if (has_type && !apr__str_eq(st, "linear") && !apr__str_eq(st, "none")) {
            apr__log(&m->log, APR_LOG_WARN, "rope scaling '%.*s' is not supported; using none",
                     (int)APR__MIN(st.len, 32), st.ptr);
        } else if (has_factor && factor != 0 && factor != 1) {
            if (!(factor > 0 && factor < 1e6f))
                return apr__fail(err, APR_ERROR_INVALID_FILE, "%s.rope.scaling.factor is out of range", a);
            if (!has_type || apr__str_eq(st, "linear")) hp->rope_freq_scale = 1.0f / factor;
        }
    }
    hp->rope_kind = hp->arch == APR_ARCH_LLAMA ? APR_ROPE_NORM : APR_ROPE_NEOX;

    /* token embedding gives the vocabulary size when the metadata does not */
    const apr_gguf_tensor *te = apr_gguf_find_tensor(g, "token_embd.weight");
    if (!te) return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor token_embd.weight is missing");
    if (te->ne[1] < 1 || te->ne[1] > (1 << 24))
        return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor token_embd.weight has %lld rows", (long long)te->ne[1]);
    hp->n_vocab = (int32_t)te->ne[1];
    {
        int32_t nv = 0;
        r = apr__model_key_i32_range(g, a, "vocab_size", false, 1, 1 << 24, &nv, err);
        if (r != APR_SUCCESS) return r;
        if (nv && nv != hp->n_vocab)
            return apr__fail(err, APR_ERROR_INVALID_FILE, "%s.vocab_size %d != token_embd.weight rows %d",
                             a, nv, hp->n_vocab);
    }

    int64_t E = hp->n_embd, Q = (int64_t)hp->n_head * hp->head_dim, KV = (int64_t)hp->n_head_kv * hp->head_dim;
    int64_t F = hp->n_ff, V = hp->n_vocab;
    r = apr__model_tensor(m, "token_embd.weight", E, V, true, &m->view.tok_embd, err);
    if (r != APR_SUCCESS) return r;
    r = apr__model_tensor(m, "output_norm.weight", E, 0, true, &m->view.output_norm, err);
    if (r != APR_SUCCESS) return r;
    r = apr__model_tensor(m, "output.weight", E, V, false, &m->view.output, err);
    if (r != APR_SUCCESS) return r;
    if (!m->view.output.data) m->view.output = m->view.tok_embd;
    r = apr__model_tensor(m, "rope_freqs.weight", hp->rope_dim / 2, 0, false, &m->view.rope_freqs, err);
    if (r != APR_SUCCESS) return r;

    m->layers = (apr_layer_view *)apr__calloc((size_t)hp->n_layer, sizeof(apr_layer_view));
    if (!m->layers) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory");
    m->view.layers = m->layers;
    bool qwen2 = hp->arch == APR_ARCH_QWEN2, qwen3 = hp->arch == APR_ARCH_QWEN3;
    for (int l = 0; l < hp->n_layer; l++) {
        apr_layer_view *L = &m->layers[l];
        struct { const char *name; int64_t ne0, ne1; bool req; apr_tensor_view *dst; } spec[16];
        int n = 0;
#define APR__T(nm, a0, a1, rq, d) (spec[n].name = nm, spec[n].ne0 = a0, spec[n].ne1 = a1, spec[n].req = rq, spec[n].dst = d, n++)
        APR__T("attn_norm.weight", E, 0, true, &L->attn_norm);
        APR__T("attn_q.weight", E, Q, true, &L->wq);
        APR__T("attn_k.weight", E, KV, true, &L->wk);
        APR__T("attn_v.weight", E, KV, true, &L->wv);
        APR__T("attn_output.weight", Q, E, true, &L->wo);
        APR__T("attn_q.bias", Q, 0, qwen2, &L->bq);
        APR__T("attn_k.bias", KV, 0, qwen2, &L->bk);
        APR__T("attn_v.bias", KV, 0, qwen2, &L->bv);
        APR__T("attn_output.bias", E, 0, false, &L->bo);
        APR__T("attn_q_norm.weight", hp->head_dim, 0, qwen3, &L->q_norm);
        APR__T("attn_k_norm.weight", hp->head_dim, 0, qwen3, &L->k_norm);
        APR__T("ffn_norm.weight", E, 0, true, &L->ffn_norm);
        APR__T("ffn_gate.weight", E, F, true, &L->ffn_gate);
        APR__T("ffn_up.weight", E, F, true, &L->ffn_up);
        APR__T("ffn_down.weight", F, E, true, &L->ffn_down);
#undef APR__T
        for (int i = 0; i < n; i++) {
            char name[96];
            snprintf(name, sizeof name, "blk.%d.%s", l, spec[i].name);
            r = apr__model_tensor(m, name, spec[i].ne0, spec[i].ne1, spec[i].req, spec[i].dst, err);
            if (r != APR_SUCCESS) return r;
        }
        if ((L->q_norm.data == NULL) != (L->k_norm.data == NULL))
            return apr__fail(err, APR_ERROR_INVALID_FILE, "layer %d has only one of attn_q_norm / attn_k_norm", l);
    }
    /* a file with more layers than block_count says is inconsistent, not truncated */
    {
        char name[96];
        snprintf(name, sizeof name, "blk.%d.attn_norm.weight", hp->n_layer);
        if (apr_gguf_find_tensor(g, name))
            return apr__fail(err, APR_ERROR_INVALID_FILE,
                             "the file has tensors for more layers than %s.block_count = %d", a, hp->n_layer);
    }

    /* sizes, for apr_model_size / decode cost model */
    for (int64_t i = 0; i < apr_gguf_n_tensors(g); i++) {
        const apr_gguf_tensor *t = apr_gguf_tensor_at(g, i);
        m->n_params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
        m->size_bytes += t->size;
        if (!apr__str_eq(t->name, "token_embd.weight")) m->decode_bytes += t->size;
    }
    m->decode_bytes += apr_type_row_bytes(m->view.tok_embd.type, E);
    if (m->view.output.data == m->view.tok_embd.data) m->decode_bytes += m->view.tok_embd.size;
    (void)apr__view_elems;
    r = apr__model_vectors_to_f32(m, err);
    if (r != APR_SUCCESS) return r;
    if (m->view.rope_freqs.data) {
        const float *ff = (const float *)m->view.rope_freqs.data;
        for (int64_t i = 0; i < m->view.rope_freqs.ne[0]; i++)
            if (!(ff[i] > 0 && ff[i] < 1e30f))
                return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor rope_freqs.weight[%lld] = %g is not a positive number",
                                 (long long)i, (double)ff[i]);
    }
    return APR_SUCCESS;
}

/* ---- description --------------------------------------------------------------------- */

static const char *apr__ftype_name(int ft) {
    switch (ft) {
    case 0: return "all F32";
    case 1: return "F16";
    case 2: return "Q4_0";
    case 3: return "Q4_1";
    case 7: return "Q8_0";
    case 8: return "Q5_0";
    case 9: return "Q5_1";
    case 10: return "Q2_K - Medium";
    case 11: return "Q3_K - Small";
    case 12: return "Q3_K - Medium";
    case 13: return "Q3_K - Large";
    case 14: return "Q4_K - Small";
    case 15: return "Q4_K - Medium";
    case 16: return "Q5_K - Small";
    case 17: return "Q5_K - Medium";
    case 18: return "Q6_K";
    case 21: return "Q2_K - Small";
    case 25: return "IQ4_NL - 4.5 bpw";
    case 30: return "IQ4_XS - 4.25 bpw";
    case 32: return "BF16";
    default: return NULL;
    }
}

/* llama.cpp names model sizes by architecture and depth; fall back to the parameter count. */
static void apr__model_size_label(const apr_model *m, char *buf, size_t size) {
    const apr_hparams *hp = &m->view.hp;
    const char *s = NULL;
    int L = hp->n_layer, E = hp->n_embd;
    if (hp->arch == APR_ARCH_QWEN2) {
        if (L == 24) s = E == 896 ? "0.5B" : E == 1024 ? "0.5B" : NULL;
        else if (L == 28) s = E == 1536 ? "1.5B" : E == 3584 ? "7B" : NULL;
        else if (L == 32) s = "7B";
        else if (L == 36) s = "3B";
        else if (L == 40) s = E == 5120 ? "13B" : "14B";
        else if (L == 48) s = "14B";
        else if (L == 64) s = "32B";
        else if (L == 80) s = "70B";
    } else if (hp->arch == APR_ARCH_QWEN3) {
        if (L == 28) s = E == 1024 ? "0.6B" : E == 2048 ? "1.7B" : NULL;
        else if (L == 36) s = E == 2560 ? "4B" : E == 4096 ? "8B" : NULL;
        else if (L == 40) s = "14B";
        else if (L == 64) s = "32B";
    } else {
        if (L == 16) s = "1B";
        else if (L == 22) s = "1B";
        else if (L == 26) s = "3B";
        else if (L == 28) s = "3B";
        else if (L == 32) s = hp->n_vocab >= 100000 ? "8B" : "7B";
        else if (L == 40) s = "13B";
        else if (L == 48) s = "34B";
        else if (L == 60) s = "30B";
        else if (L == 80) s = hp->n_vocab >= 100000 ? "70B" : "65B";
    }
    if (s) { snprintf(buf, size, "%s", s); return; }
    double p = (double)m->n_params;
    if (p >= 1e9) snprintf(buf, size, "%.1fB", p / 1e9);
    else if (p >= 1e6) snprintf(buf, size, "%.0fM", p / 1e6);
    else snprintf(buf, size, "%.0fK", p / 1e3);
}

static void apr__model_make_desc(apr_model *m) {
    char label[32];
    apr__model_size_label(m, label, sizeof label);
    const char *ft = apr__ftype_name(m->file_type);
    char guess[32];
    if (!ft) {
        /* no general.file_type: name the type of the first attention matrix */
        const char *tn = apr_type_name(m->layers[0].wq.type);
        snprintf(guess, sizeof guess, "%s%s", m->file_type < 0 ? "" : "?", tn ? tn : "?");
        if (m->layers[0].wq.type == APR_TYPE_F32) snprintf(guess, sizeof guess, "all F32");
        ft = guess;
    }
    snprintf(m->desc, sizeof m->desc, "%s %s %s", m->arch_name, label, ft);
}

/* ---- load / free --------------------------------------------------------------------- */

APR__IMPL void apr_model_free(apr_model *m) {
    if (!m) return;
    apr__model_detach_backend(m);
    apr__mutex_destroy(&m->ctx_mutex);
    apr_vocab_free(m->vocab);
    apr_gguf_close(m->gguf);
    APR_FREE(m->layers);
    APR_FREE(m->owned_f32);
    APR_FREE(m->chat_template);
    APR_FREE(m);
}

static apr_result apr__model_finish_load(apr_model *m, const apr_model_params *params, apr_error *err) {
    apr_result r = apr__model_read(m, err);
    if (r != APR_SUCCESS) return r;
    int64_t ft;
    m->file_type = apr_gguf_get_i64(m->gguf, "general.file_type", &ft) && ft >= 0 && ft < 1000 ? (int)ft : -1;
    apr__model_make_desc(m);
    if (apr_gguf_find_key(m->gguf, "tokenizer.ggml.model") >= 0) {
        r = apr_vocab_load(m->gguf, &m->vocab, err);
        if (r != APR_SUCCESS) return r;
        if (apr_vocab_n_tokens(m->vocab) > m->view.hp.n_vocab)
            apr__log(&m->log, APR_LOG_WARN, "the tokenizer has %d tokens but the model only %d rows of embeddings",
                     apr_vocab_n_tokens(m->vocab), m->view.hp.n_vocab);
    }
    {
        apr_str tmpl;
        if (apr_gguf_get_str(m->gguf, "tokenizer.chat_template", &tmpl) && tmpl.len < ((uint64_t)1 << 24)) {
            char *text = (char *)APR_MALLOC((size_t)tmpl.len + 1);
            if (!text) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory");
            memcpy(text, tmpl.ptr, (size_t)tmpl.len);
            text[tmpl.len] = 0;
            const char *family = apr_chat_template_detect(text);
            APR_FREE(text);
            if (family) m->chat_template = apr__strdup(family);
        }
    }
    r = apr__model_attach_backend(m, params, err);
    if (r != APR_SUCCESS) return r;
    apr__log(&m->log, APR_LOG_INFO, "loaded %s: %d layers, %d embd, %d heads (%d kv), %d ff, %d vocab, backend %s",
             m->desc, m->view.hp.n_layer, m->view.hp.n_embd, m->view.hp.n_head, m->view.hp.n_head_kv,
             m->view.hp.n_ff, m->view.hp.n_vocab, m->backend ? m->backend->name : "?");
    return APR_SUCCESS;
}

static apr_result apr__model_load_any(const char *path, const void *data, size_t size,
                                      const apr_model_params *params, apr_model **out, apr_error *err) {
    apr__error_clear(err);
    if (!out) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_model_load: out is NULL");
    *out = NULL;
    apr_model_params p = params ? *params : apr_model_default_params();
    apr_model *m = (apr_model *)apr__calloc(1, sizeof *m);
    if (!m) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory");
    m->log.fn = p.log_fn;
    m->log.user = p.log_user;
    m->log.level = p.log_level;
    m->n_threads = p.n_threads > 0 ? p.n_threads : apr_cpu_count();
    m->file_type = -1;
    apr__mutex_init(&m->ctx_mutex);
    apr_result r = path ? apr_gguf_open(path, &m->gguf, err) : apr_gguf_open_memory(data, size, &m->gguf, err);
    if (r == APR_SUCCESS) r = apr__model_finish_load(m, &p, err);
    if (r != APR_SUCCESS) {
        if (err) apr__log(&m->log, APR_LOG_ERROR, "%s", err->message);
        apr_model_free(m);
        return r;
    }
    *out = m;
    return APR_SUCCESS;
}

APR__IMPL apr_result apr_model_load(const char *path, const apr_model_params *params, apr_model **out,
                                    apr_error *err) {
    if (!path) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_model_load: path is NULL");
    return apr__model_load_any(path, NULL, 0, params, out, err);
}

APR__IMPL apr_result apr_model_load_memory(const void *data, size_t size, const apr_model_params *params,
                                           apr_model **out, apr_error *err) {
    if (!data) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_model_load_memory: data is NULL");
    return apr__model_load_any(NULL, data, size, params, out, err);
}

/* ---- getters ------------------------------------------------------------------------- */

APR__IMPL const apr_gguf *apr_model_gguf(const apr_model *m) { return m ? m->gguf : NULL; }
APR__IMPL const apr_vocab *apr_model_vocab(const apr_model *m) { return m ? m->vocab : NULL; }
APR__IMPL const char *apr_model_arch(const apr_model *m) { return m ? m->arch_name : ""; }
APR__IMPL const char *apr_model_backend(const apr_model *m) {
    return m && m->backend ? m->backend->name : "CPU";
}
APR__IMPL const char *apr_model_gpu_name(const apr_model *m) {
    if (!m || !m->backend || !m->backend->device_name || !m->cuda_lib) return "";
    const char *s = m->backend->device_name(m->backend_state);
    return s ? s : "";
}
APR__IMPL int32_t apr_model_n_vocab(const apr_model *m) { return m ? m->view.hp.n_vocab : 0; }
APR__IMPL int32_t apr_model_n_embd(const apr_model *m) { return m ? m->view.hp.n_embd : 0; }
APR__IMPL int32_t apr_model_n_layer(const apr_model *m) { return m ? m->view.hp.n_layer : 0; }
APR__IMPL int32_t apr_model_n_ctx_train(const apr_model *m) { return m ? m->view.hp.n_ctx_train : 0; }
APR__IMPL uint64_t apr_model_n_params(const apr_model *m) { return m ? m->n_params : 0; }
APR__IMPL uint64_t apr_model_size(const apr_model *m) { return m ? m->size_bytes : 0; }
APR__IMPL uint64_t apr_model_decode_bytes(const apr_model *m) { return m ? m->decode_bytes : 0; }
APR__IMPL int apr_model_desc(const apr_model *m, char *buf, size_t size) {
    return snprintf(buf, size, "%s", m ? m->desc : "");
}
APR__IMPL const char *apr_model_chat_template(const apr_model *m) { return m ? m->chat_template : NULL; }
