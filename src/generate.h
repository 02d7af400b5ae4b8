/* ====================================================================================
   Generation loop: prompt -> tokens -> decode -> sample -> text.
   A sampled token is decoded (appended to the sequence) only when generation goes on, so
   after apr_generate the sequence holds the prompt and every generated token but the
   one that ended generation (end-of-generation token, the token that completed a stop
   string or reached max_tokens, or the one a callback refused). A multi-turn caller
   with keep_history continues from there (apr_seq_pos says how many are held).
   Text is streamed in complete UTF-8 characters; a tail that could be the start of a
   stop string is held back until it is known not to be one, and a stop string itself
   is never emitted.
   ==================================================================================== */

APR__IMPL apr_generate_params apr_generate_default_params(void) {
    apr_generate_params p;
    memset(&p, 0, sizeof p);
    p.sampling = apr_sampler_default_params();
    p.max_tokens = -1;
    p.add_bos = true;
    p.parse_special = true;
    return p;
}

typedef struct apr__gen_text {
    const apr_generate_params *gp;
    char *buf;          /* text produced but not yet emitted */
    size_t len, cap;
    bool refused;       /* on_text returned false */
} apr__gen_text;

static bool apr__gen_emit(apr__gen_text *t, const char *s, size_t n) {
    if (n == 0 || t->refused) return !t->refused;
    if (t->gp->on_text && !t->gp->on_text(t->gp->user, s, n)) t->refused = true;
    return !t->refused;
}

/* Add text; emit what can no longer be part of a stop string. Returns true when a stop
   string has appeared (the text before it is emitted, the rest dropped). */
static bool apr__gen_push_text(apr__gen_text *t, const char *s, size_t n, bool *oom) {
    const apr_generate_params *gp = t->gp;
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2 + 64;
        char *nb = (char *)APR_REALLOC(t->buf, cap);
        if (!nb) {
            *oom = true;
            return false;
        }
        t->buf = nb;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = 0;
    if (gp->n_stop <= 0 || !gp->stop) {
        apr__gen_emit(t, t->buf, t->len);
        t->len = 0;
        return false;
    }
    /* earliest complete stop string */
    size_t first = (size_t)-1;
    for (int32_t j = 0; j < gp->n_stop; j++) {
        const char *st = gp->stop[j];
        size_t sl = st ? strlen(st) : 0;
        if (sl == 0 || sl > t->len) continue;
        for (size_t p = 0; p + sl <= t->len && p < first; p++) {
            if (memcmp(t->buf + p, st, sl) == 0) {
                first = p;
                break;
            }
        }
    }
    if (first != (size_t)-1) {
        apr__gen_emit(t, t->buf, first);
        t->len = 0;
        return true;
    }
    /* hold the longest tail that is a proper prefix of some stop string */
    size_t hold = 0;
    for (int32_t j = 0; j < gp->n_stop; j++) {
        const char *st = gp->stop[j];
        size_t sl = st ? strlen(st) : 0;
        for (size_t k = APR__MIN(sl ? sl - 1 : 0, t->len); k > hold; k--) {
            if (memcmp(t->buf + t->len - k, st, k) == 0) {
                hold = k;
                break;
            }
        }
    }
    size_t out = t->len - hold;
    apr__gen_emit(t, t->buf, out);
    memmove(t->buf, t->buf + out, hold);
    t->len = hold;
    return false;
}

static int64_t apr__gen_tokenize(const apr_vocab *vocab, const char *text, int flags,
                                 int32_t **out) {
    size_t len = strlen(text);
    int64_t cap = (int64_t)APR__MIN(len, (size_t)INT32_MAX) + 8;
    *out = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        int32_t *toks = (int32_t *)APR_MALLOC((size_t)cap * sizeof(int32_t));
        if (!toks) return APR_ERROR_OUT_OF_MEMORY;
        int64_t n = apr_tokenize(vocab, text, len, toks, cap, flags);
        if (n >= 0 && n <= cap) {
            *out = toks;
            return n;
        }
        APR_FREE(toks);
        if (n < 0) return n;
        cap = n;
    }
    return APR_ERROR_INVALID_ARGUMENT;
}

/* Greedy without penalties needs no logits on the host: the backend's argmax suffices. */
static apr_result apr__gen_decode_argmax(apr_context *ctx, const int32_t *toks, int32_t n,
                                         int32_t seq, int32_t *next) {
    int32_t one_seq = seq;
    int32_t *seqs = NULL;
    if (seq != 0 && n > 1) {
        seqs = (int32_t *)APR_MALLOC((size_t)n * sizeof(int32_t));
        if (!seqs) return APR_ERROR_OUT_OF_MEMORY;
        for (int32_t i = 0; i < n; i++) seqs[i] = seq;
    }
    apr_batch b;
    memset(&b, 0, sizeof b);
    b.n_tokens = n;
    b.tokens = toks;
    b.seq = seq == 0 ? NULL : (seqs ? seqs : &one_seq);
    apr_result rc = apr_decode_argmax(ctx, &b, next);
    APR_FREE(seqs);
    return rc;
}

APR__IMPL apr_result apr_generate(apr_context *ctx, const char *prompt,
                                  const apr_generate_params *params, apr_generate_stats *stats) {
    apr_generate_params gp = params ? *params : apr_generate_default_params();
    apr_generate_stats st;
    memset(&st, 0, sizeof st);
    if (stats) *stats = st;
    if (!ctx || !prompt) return APR_ERROR_INVALID_ARGUMENT;
    const apr_model *model = apr_context_model(ctx);
    const apr_vocab *vocab = model ? apr_model_vocab(model) : NULL;
    if (!vocab) return APR_ERROR_INVALID_ARGUMENT;
    if (gp.seq < 0 || gp.seq >= apr_context_n_seq(ctx)) return APR_ERROR_INVALID_ARGUMENT;
    const int32_t n_vocab = apr_model_n_vocab(model);
    const int n_ctx = apr_context_n_ctx(ctx);

    if (!gp.keep_history) apr_seq_truncate(ctx, gp.seq, 0);
    int32_t pos = apr_seq_pos(ctx, gp.seq);
    int flags = (gp.add_bos && pos == 0 ? APR_TOKENIZE_ADD_BOS : 0) |
                (gp.parse_special ? APR_TOKENIZE_PARSE_SPECIAL : 0);
    int32_t *toks = NULL;
    int64_t n_prompt = apr__gen_tokenize(vocab, prompt, flags, &toks);
    if (n_prompt < 0) return (apr_result)n_prompt;
    if (n_prompt == 0) {  /* nothing to evaluate, so no logits to sample from */
        APR_FREE(toks);
        return APR_ERROR_INVALID_ARGUMENT;
    }
    if ((int64_t)pos + n_prompt > n_ctx) {
        APR_FREE(toks);
        st.n_prompt_tokens = (int32_t)APR__MIN(n_prompt, (int64_t)INT32_MAX);
        st.stop_reason = APR_STOP_CONTEXT_FULL;
        if (stats) *stats = st;
        return APR_ERROR_CONTEXT_FULL;
    }

    apr_sampler_params sp = gp.sampling;
    if (sp.repeat_last_n < 0) sp.repeat_last_n = n_ctx;
    apr_sampler *smp = NULL;
    apr_result rc = apr_sampler_create(&sp, n_vocab, &smp);
    if (rc != APR_SUCCESS) {
        APR_FREE(toks);
        return rc;
    }
    /* as llama.cpp: the prompt counts as history for the penalties */
    for (int64_t i = 0; i < n_prompt; i++) apr_sampler_accept(smp, toks[i]);
    const bool use_argmax = !(sp.temperature > 0.0f) && !apr__sampler_has_penalties(smp);
    int32_t next = -1;

    uint64_t t0 = apr__time_ns();
    rc = use_argmax ? apr__gen_decode_argmax(ctx, toks, (int32_t)n_prompt, gp.seq, &next)
                    : apr_eval(ctx, toks, (int32_t)n_prompt, gp.seq);
    uint64_t t1 = apr__time_ns();
    st.n_prompt_tokens = (int32_t)n_prompt;
    st.prompt_seconds = (double)(t1 - t0) * 1e-9;
    APR_FREE(toks);
    if (rc != APR_SUCCESS) {
        apr_sampler_free(smp);
        if (rc == APR_ERROR_CONTEXT_FULL) st.stop_reason = APR_STOP_CONTEXT_FULL;
        if (stats) *stats = st;
        return rc;
    }
    pos += (int32_t)n_prompt;

    apr_detok_stream ds;
    apr_detok_stream_init(&ds, vocab, false);
    ds.at_start = false;  /* generated text continues the prompt: keep its spaces */
    apr__gen_text tx;
    memset(&tx, 0, sizeof tx);
    tx.gp = &gp;
    bool oom = false;
    char piece[256];
    apr_stop_reason reason = APR_STOP_NONE;

    for (;;) {
        if (gp.max_tokens >= 0 && st.n_generated_tokens >= gp.max_tokens) {
            reason = APR_STOP_LENGTH;
            break;
        }
        if (gp.cancel && *gp.cancel) {
            reason = APR_STOP_CANCELLED;
            break;
        }
        int32_t tok = next;
        if (!use_argmax) {
            const float *logits = apr_get_logits(ctx, -1);
            if (!logits) {
                rc = APR_ERROR_BACKEND;
                break;
            }
            tok = apr_sampler_sample(smp, logits);
            apr_sampler_accept(smp, tok);
        }
        if (tok < 0 || tok >= n_vocab) {
            rc = APR_ERROR_BACKEND;
            break;
        }
        if (apr_vocab_is_eog(vocab, tok)) {
            reason = APR_STOP_EOG;
            break;
        }
        st.n_generated_tokens++;
        if (gp.on_token && !gp.on_token(gp.user, tok)) {
            reason = APR_STOP_CANCELLED;
            break;
        }
        int32_t np = apr_detok_stream_push(&ds, tok, piece, (int32_t)sizeof piece);
        if (np > (int32_t)sizeof piece) np = (int32_t)sizeof piece;
        if (np > 0 && apr__gen_push_text(&tx, piece, (size_t)np, &oom)) {
            reason = APR_STOP_STRING;
            break;
        }
        if (oom) {
            rc = APR_ERROR_OUT_OF_MEMORY;
            break;
        }
        if (tx.refused) {
            reason = APR_STOP_CANCELLED;
            break;
        }
        if (gp.max_tokens >= 0 && st.n_generated_tokens >= gp.max_tokens) {
            reason = APR_STOP_LENGTH;  /* no need to decode the last token */
            break;
        }
        if (gp.cancel && *gp.cancel) {
            reason = APR_STOP_CANCELLED;
            break;
        }
        if (pos + 1 > n_ctx) {
            reason = APR_STOP_CONTEXT_FULL;
            break;
        }
        rc = use_argmax ? apr__gen_decode_argmax(ctx, &tok, 1, gp.seq, &next)
                        : apr_eval(ctx, &tok, 1, gp.seq);
        if (rc == APR_ERROR_CONTEXT_FULL) {
            rc = APR_SUCCESS;
            reason = APR_STOP_CONTEXT_FULL;
            break;
        }
        if (rc != APR_SUCCESS) break;
        pos++;
    }

    /* what is left is ordinary text: a partial character (as U+FFFD) and a held tail that
       turned out not to be a stop string */
    if (rc == APR_SUCCESS && reason != APR_STOP_STRING && !tx.refused) {
        int32_t np = apr_detok_stream_flush(&ds, piece, (int32_t)sizeof piece);
        if (np > (int32_t)sizeof piece) np = (int32_t)sizeof piece;
        if (np > 0 && apr__gen_push_text(&tx, piece, (size_t)np, &oom)) {
            if (reason != APR_STOP_CANCELLED) reason = APR_STOP_STRING;
        } else if (!oom) {
            apr__gen_emit(&tx, tx.buf, tx.len);
        }
        if (tx.refused) reason = APR_STOP_CANCELLED;
    }
    st.generate_seconds = (double)(apr__time_ns() - t1) * 1e-9;
    st.stop_reason = reason;
    APR_FREE(tx.buf);
    apr_sampler_free(smp);
    if (stats) *stats = st;
    return oom ? APR_ERROR_OUT_OF_MEMORY : rc;
}
