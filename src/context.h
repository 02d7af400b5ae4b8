/* =====================================================================================
   Backend choice and context: the KV cache and positions of one or more sequences.
   The context validates the caller's batch (tokens, sequences, positions against
   n_ctx) before anything runs, so a rejected batch changes nothing; then it splits the
   batch into passes of at most n_batch tokens for the backend.
   ===================================================================================== */

static void apr__host_log(void *user, apr_log_level level, const char *message) {
    const apr__logger *lg = (const apr__logger *)user;
    if (lg && lg->fn && level <= lg->level) lg->fn(lg->user, level, message);
}

static apr_result apr__host_cpu_layers(void *cpu_user, void *plugin_ctx, int32_t l0, int32_t l1, float *hidden,
                                       const apr_backend_batch *batch);

static apr_result apr__model_attach_backend(apr_model *m, const apr_model_params *p, apr_error *err) {
    char msg[256];
    msg[0] = 0;
    m->host.log = apr__host_log;
    m->host.log_user = &m->log;
    m->host.cpu_user = m;
    m->host.cpu_layers = apr__host_cpu_layers;
    bool try_cuda = !p->cpu_only && p->n_gpu_layers != 0;
#if defined(APR__CUDA_LIB_NAME) /* the CUDA loader section is present */
    if (try_cuda) {
        void *lib = NULL;
        const apr_backend_vtable *vt = NULL;
        if (apr__cuda_plugin_open(p->cuda_path, &m->log, &lib, &vt)) {
            int32_t ngl = p->n_gpu_layers < 0 ? m->view.hp.n_layer : p->n_gpu_layers;
            apr_result r = APR_SUCCESS;
            if (ngl < m->view.hp.n_layer) {
                /* some layers stay on the CPU: the plugin calls back into the CPU backend */
                r = apr__cpu_backend.model_load(&m->view, &m->host, 0, &m->cpu_state, msg, sizeof msg);
                /* the plugin takes the last ngl layers; the CPU caches only the first ones */
                if (r == APR_SUCCESS) ((apr__cpu_model *)m->cpu_state)->kv_layers = m->view.hp.n_layer - ngl;
            }
            if (r == APR_SUCCESS)
                r = vt->model_load(&m->view, &m->host, ngl, &m->backend_state, msg, sizeof msg);
            if (r == APR_SUCCESS) {
                m->backend = vt;
                m->cuda_lib = lib;
                return APR_SUCCESS;
            }
            apr__log(&m->log, APR_LOG_INFO, "CUDA backend could not load the model (%s): using the CPU", msg);
            if (m->cpu_state) apr__cpu_backend.model_free(m->cpu_state);
            m->cpu_state = NULL;
            apr__cuda_plugin_close(lib);
        }
    }
#else
    (void)try_cuda;
#endif
    apr_result r = apr__cpu_backend.model_load(&m->view, &m->host, 0, &m->backend_state, msg, sizeof msg);
    if (r != APR_SUCCESS) return apr__fail(err, r, "CPU backend: %s", msg);
    m->backend = &apr__cpu_backend;
    return APR_SUCCESS;
}

static void apr__model_detach_backend(apr_model *m) {
    if (m->backend && m->backend_state) m->backend->model_free(m->backend_state);
    m->backend_state = NULL;
    if (m->cpu_state) apr__cpu_backend.model_free(m->cpu_state);
    m->cpu_state = NULL;
#if defined(APR__CUDA_LIB_NAME) /* the CUDA loader section is present */
    if (m->cuda_lib) apr__cuda_plugin_close(m->cuda_lib);
#endif
    m->cuda_lib = NULL;
    m->backend = NULL;
}

/* ---- context ------------------------------------------------------------------------- */

struct apr_context {
    apr_model *model;
    const apr_backend_vtable *vt;
    void *state;
    void *cpu_state;             /* partial offload: the CPU backend's context for the
                                    layers that stay on the host */
    struct apr_context *next;    /* model->contexts */
    apr_backend_context_params bp;
    int32_t *seq_len;            /* tokens held per sequence */
    int32_t *tmp_len;            /* n_seq: validation scratch */
    int32_t *touched;            /* n_seq: sequence already seen in this batch */
    int32_t *b_pos, *b_seq, *b_out;  /* n_batch each: one backend pass */
    float *logits;
    int32_t n_logits;
    size_t logits_cap;           /* rows */
    char last_error[512];
};

APR__IMPL apr_context_params apr_context_default_params(void) {
    apr_context_params p;
    memset(&p, 0, sizeof p);
    p.kv_type = APR_KV_F16;
    return p;
}

/* Partial offload: the plugin passes its own context state; the model finds the CPU half
   of that context (a NULL plugin context is accepted when the model has one context). */
static apr_result apr__host_cpu_layers(void *cpu_user, void *plugin_ctx, int32_t l0, int32_t l1, float *hidden,
                                       const apr_backend_batch *batch) {
    apr_model *m = (apr_model *)cpu_user;
    if (!m) return APR_ERROR_INVALID_ARGUMENT;
    void *cpu = NULL;
    int n = 0;
    apr__mutex_lock(&m->ctx_mutex);
    for (apr_context *c = m->contexts; c; c = c->next) {
        n++;
        if (c->state == plugin_ctx) cpu = c->cpu_state;
    }
    if (!cpu && !plugin_ctx && n == 1) cpu = m->contexts->cpu_state;
    apr__mutex_unlock(&m->ctx_mutex);
    if (!cpu) return APR_ERROR_INVALID_ARGUMENT;
    return apr__cpu_host_layers(m->cpu_state, cpu, l0, l1, hidden, batch);
}

APR__IMPL void apr_context_free(apr_context *ctx) {
    if (!ctx) return;
    apr_model *m = ctx->model;
    apr__mutex_lock(&m->ctx_mutex);
    for (apr_context **pp = &m->contexts; *pp; pp = &(*pp)->next)
        if (*pp == ctx) { *pp = ctx->next; break; }
    apr__mutex_unlock(&m->ctx_mutex);
    if (ctx->state) ctx->vt->context_free(ctx->state);
    if (ctx->cpu_state) apr__cpu_backend.context_free(ctx->cpu_state);
    APR_FREE(ctx->seq_len);
    APR_FREE(ctx->logits);
    APR_FREE(ctx);
}

APR__IMPL apr_result apr_context_create(apr_model *model, const apr_context_params *params, apr_context **out,
                                        apr_error *err) {
    apr__error_clear(err);
    if (!out) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_context_create: out is NULL");
    *out = NULL;
    if (!model || !model->backend) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_context_create: no model");
    apr_context_params p = params ? *params : apr_context_default_params();
    if (p.n_ctx < 0 || p.n_batch < 0 || p.n_seq < 0 || p.n_threads < 0 || p.n_seq > 4096)
        return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_context_create: negative or huge parameter");
    apr_backend_context_params bp;
    memset(&bp, 0, sizeof bp);
    int32_t train = model->view.hp.n_ctx_train;
    bp.n_ctx = p.n_ctx ? p.n_ctx : (train > 0 && train < 4096 ? train : 4096);
    bp.n_seq = p.n_seq ? p.n_seq : 1;
    bp.n_batch = p.n_batch ? p.n_batch : 512;
    /* a pass never holds more tokens than the cache has room for */
    if ((int64_t)bp.n_batch > (int64_t)bp.n_ctx * bp.n_seq) bp.n_batch = (int32_t)APR__MIN((int64_t)bp.n_ctx * bp.n_seq, (int64_t)1 << 24);
    bp.n_threads = p.n_threads ? p.n_threads : model->n_threads;
    bp.kv_type = p.kv_type;
    apr_context *c = (apr_context *)apr__calloc(1, sizeof *c);
    if (!c) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory");
    c->model = model;
    c->vt = model->backend;
    c->bp = bp;
    c->seq_len = (int32_t *)apr__calloc((size_t)3 * (size_t)bp.n_seq + (size_t)3 * (size_t)bp.n_batch, sizeof(int32_t));
    if (!c->seq_len) {
        APR_FREE(c);
        return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    c->tmp_len = c->seq_len + bp.n_seq;
    c->touched = c->tmp_len + bp.n_seq;
    c->b_pos = c->touched + bp.n_seq;
    c->b_seq = c->b_pos + bp.n_batch;
    c->b_out = c->b_seq + bp.n_batch;
    char msg[256];
    msg[0] = 0;
    apr_result r = APR_SUCCESS;
    if (model->cpu_state) r = apr__cpu_backend.context_create(model->cpu_state, &bp, &c->cpu_state, msg, sizeof msg);
    if (r == APR_SUCCESS) r = c->vt->context_create(model->backend_state, &bp, &c->state, msg, sizeof msg);
    if (r != APR_SUCCESS) {
        c->state = NULL;
        apr_context_free(c);
        return apr__fail(err, r, "context: %s", msg);
    }
    apr__mutex_lock(&model->ctx_mutex);
    c->next = model->contexts;
    model->contexts = c;
    apr__mutex_unlock(&model->ctx_mutex);
    *out = c;
    return APR_SUCCESS;
}

APR__IMPL const apr_model *apr_context_model(const apr_context *ctx) { return ctx ? ctx->model : NULL; }
APR__IMPL int apr_context_n_ctx(const apr_context *ctx) { return ctx ? ctx->bp.n_ctx : 0; }
APR__IMPL int apr_context_n_seq(const apr_context *ctx) { return ctx ? ctx->bp.n_seq : 0; }
APR__IMPL const char *apr_context_last_error(const apr_context *ctx) { return ctx ? ctx->last_error : ""; }

static APR__PRINTF(3, 4) apr_result apr__ctx_fail(apr_context *c, apr_result code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->last_error, sizeof c->last_error, fmt, ap);
    va_end(ap);
    return code;
}

/* The whole of apr_decode / apr_eval / apr_decode_argmax: seq_all is used when the batch
   has no seq array; argmax_out (may be NULL) receives the argmax of each wanted row. */
static apr_result apr__decode(apr_context *c, const apr_batch *batch, int32_t seq_all, int32_t *argmax_out) {
    if (!c) return APR_ERROR_INVALID_ARGUMENT;
    c->last_error[0] = 0;
    if (!batch || batch->n_tokens < 0 || (batch->n_tokens > 0 && !batch->tokens))
        return apr__ctx_fail(c, APR_ERROR_INVALID_ARGUMENT, "apr_decode: bad batch");
    int32_t n = batch->n_tokens, n_vocab = c->model->view.hp.n_vocab, n_seq = c->bp.n_seq;
    c->n_logits = 0;
    if (n == 0) return APR_SUCCESS;
    /* validate everything before touching any state */
    memcpy(c->tmp_len, c->seq_len, (size_t)n_seq * sizeof(int32_t));
    memset(c->touched, 0, (size_t)n_seq * sizeof(int32_t));
    int32_t n_out = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t tok = batch->tokens[i];
        int32_t s = batch->seq ? batch->seq[i] : seq_all;
        if (tok < 0 || tok >= n_vocab)
            return apr__ctx_fail(c, APR_ERROR_INVALID_ARGUMENT, "token %d (batch index %d) is outside the vocabulary of %d",
                                 tok, i, n_vocab);
        if (s < 0 || s >= n_seq)
            return apr__ctx_fail(c, APR_ERROR_INVALID_ARGUMENT, "sequence %d (batch index %d) is outside [0, %d)", s, i, n_seq);
        int32_t p = batch->pos ? batch->pos[i] : c->tmp_len[s];
        if (p < 0 || p > c->tmp_len[s])
            return apr__ctx_fail(c, APR_ERROR_INVALID_ARGUMENT,
                                 "position %d (batch index %d) of sequence %d would leave a gap: it holds %d tokens",
                                 p, i, s, c->tmp_len[s]);
        if (p < c->tmp_len[s] && c->touched[s])
            return apr__ctx_fail(c, APR_ERROR_INVALID_ARGUMENT,
                                 "position %d (batch index %d) of sequence %d goes back inside the same batch", p, i, s);
        if (p >= c->bp.n_ctx)
            return apr__ctx_fail(c, APR_ERROR_CONTEXT_FULL, "context full: position %d of sequence %d, n_ctx %d", p, s,
                                 c->bp.n_ctx);
        c->tmp_len[s] = p + 1;
        c->touched[s] = 1;
        bool want = batch->want_logits ? batch->want_logits[i] != 0 : i == n - 1;
        if (want) n_out++;
    }
    if (!argmax_out || !c->vt->forward_argmax) {
        if ((size_t)n_out > c->logits_cap) {
            uint64_t bytes;
            if (apr__mul_overflow_u64((uint64_t)n_out, (uint64_t)n_vocab * sizeof(float), &bytes) || bytes > SIZE_MAX)
                return apr__ctx_fail(c, APR_ERROR_OUT_OF_MEMORY, "too many logits rows");
            float *l = (float *)APR_REALLOC(c->logits, (size_t)bytes);
            if (!l) return apr__ctx_fail(c, APR_ERROR_OUT_OF_MEMORY, "out of memory for %d logits rows", n_out);
            c->logits = l;
            c->logits_cap = (size_t)n_out;
        }
    }
    /* sequences that go back: drop what follows */
    memset(c->touched, 0, (size_t)n_seq * sizeof(int32_t));
    for (int32_t i = 0; i < n; i++) {
        int32_t s = batch->seq ? batch->seq[i] : seq_all;
        if (c->touched[s]) continue;
        c->touched[s] = 1;
        int32_t p = batch->pos ? batch->pos[i] : c->seq_len[s];
        if (p < c->seq_len[s]) {
            c->vt->seq_truncate(c->state, s, p);
            c->seq_len[s] = p;
        }
    }
    memcpy(c->tmp_len, c->seq_len, (size_t)n_seq * sizeof(int32_t));
    int32_t out_done = 0;
    apr_result r = APR_SUCCESS;
    for (int32_t start = 0; start < n && r == APR_SUCCESS; start += c->bp.n_batch) {
        int32_t m = APR__MIN(c->bp.n_batch, n - start), m_out = 0;
        for (int32_t j = 0; j < m; j++) {
            int32_t i = start + j;
            int32_t s = batch->seq ? batch->seq[i] : seq_all;
            c->b_seq[j] = s;
            c->b_pos[j] = batch->pos ? batch->pos[i] : c->tmp_len[s];
            c->tmp_len[s] = c->b_pos[j] + 1;
            bool want = batch->want_logits ? batch->want_logits[i] != 0 : i == n - 1;
            if (want) c->b_out[m_out++] = j;
        }
        apr_backend_batch bb;
        bb.n_tokens = m;
        bb.tokens = batch->tokens + start;
        bb.pos = c->b_pos;
        bb.seq = c->b_seq;
        bb.out_rows = c->b_out;
        bb.n_out = m_out;
        if (argmax_out && c->vt->forward_argmax) {
            r = c->vt->forward_argmax(c->state, &bb, argmax_out + out_done);
        } else {
            float *lg = c->logits + (size_t)out_done * (size_t)n_vocab;
            r = c->vt->forward(c->state, &bb, lg);
            if (r == APR_SUCCESS && argmax_out) {
                for (int32_t k = 0; k < m_out; k++) {
                    const float *row = lg + (size_t)k * (size_t)n_vocab;
                    int32_t best = 0;
                    for (int32_t v = 1; v < n_vocab; v++)
                        if (row[v] > row[best]) best = v;
                    argmax_out[out_done + k] = best;
                }
            }
        }
        if (r == APR_SUCCESS) {
            out_done += m_out;
            /* a pass that finished counts: its positions are in the cache */
            for (int32_t j = 0; j < m; j++)
                if (c->b_pos[j] + 1 > c->seq_len[c->b_seq[j]]) c->seq_len[c->b_seq[j]] = c->b_pos[j] + 1;
        }
    }
    if (r != APR_SUCCESS) {
        c->n_logits = 0;
        return apr__ctx_fail(c, r, "backend %s failed: %s", c->vt->name, apr_result_string(r));
    }
    c->n_logits = (argmax_out && c->vt->forward_argmax) ? 0 : out_done;
    return APR_SUCCESS;
}

APR__IMPL apr_result apr_decode(apr_context *ctx, const apr_batch *batch) { return apr__decode(ctx, batch, 0, NULL); }

APR__IMPL apr_result apr_decode_argmax(apr_context *ctx, const apr_batch *batch, int32_t *tokens_out) {
    if (!tokens_out) return apr__decode(ctx, batch, 0, NULL);
    return apr__decode(ctx, batch, 0, tokens_out);
}

APR__IMPL apr_result apr_eval(apr_context *ctx, const int32_t *tokens, int32_t n, int32_t seq) {
    apr_batch b;
    memset(&b, 0, sizeof b);
    b.n_tokens = n;
    b.tokens = tokens;
    return apr__decode(ctx, &b, seq, NULL);
}

APR__IMPL float *apr_get_logits(apr_context *ctx, int32_t i) {
    if (!ctx || ctx->n_logits == 0) return NULL;
    if (i < 0) i += ctx->n_logits;
    if (i < 0 || i >= ctx->n_logits) return NULL;
    return ctx->logits + (size_t)i * (size_t)ctx->model->view.hp.n_vocab;
}

APR__IMPL int32_t apr_seq_pos(const apr_context *ctx, int32_t seq) {
    if (!ctx || seq < 0 || seq >= ctx->bp.n_seq) return 0;
    return ctx->seq_len[seq];
}

APR__IMPL void apr_seq_truncate(apr_context *ctx, int32_t seq, int32_t n_keep) {
    if (!ctx || seq < 0 || seq >= ctx->bp.n_seq) return;
    if (n_keep < 0) n_keep = 0;
    if (n_keep >= ctx->seq_len[seq]) return;
    ctx->vt->seq_truncate(ctx->state, seq, n_keep);
    ctx->seq_len[seq] = n_keep;
}

APR__IMPL int apr_context_launches_per_token(const apr_context *ctx) {
    if (!ctx || !ctx->vt->launches_per_token) return 0;
    return ctx->vt->launches_per_token(ctx->state);
}
