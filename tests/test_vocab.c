/* tests/test_vocab.c - tokenizers: llama.cpp's test vectors for four vocabularies,
   round trips, streaming decode, special tokens, malformed metadata, robustness. */
#define APR_IMPLEMENTATION
#include "apr.h"
#include "test.h"
#include <time.h>

/* CPU time of this process in ms: the machines running the tests are shared, so wall
   time says little about the tokenizer */
static double cpu_ms(void) { return (double)clock() * 1000.0 / CLOCKS_PER_SEC; }

static const char *const k_vocabs[] = {"llama-spm", "gpt-2", "deepseek-coder", "qwen2"};

static apr_vocab *load_vocab(const char *name, apr_gguf **gguf_out, double *ms) {
    char rel[256];
    snprintf(rel, sizeof rel, "data/vocab/ggml-vocab-%s.gguf", name);
    apr_gguf *g = NULL;
    apr_error err;
    if (apr_gguf_open(test_shared(rel), &g, &err) != APR_SUCCESS) {
        CHECK(0, "open %s: %s", rel, err.message);
        return NULL;
    }
    apr_vocab *v = NULL;
    double t0 = cpu_ms();
    apr_result r = apr_vocab_load(g, &v, &err);
    if (ms) *ms = cpu_ms() - t0;
    CHECK(r == APR_SUCCESS, "vocab %s: %s", name, r == APR_SUCCESS ? "" : err.message);
    if (gguf_out) *gguf_out = g;
    else apr_gguf_close(g);
    return v;
}

/* tokenize into a malloc'd array; *n gets the count (negative on error) */
static int32_t *tok(const apr_vocab *v, const char *text, size_t len, int flags, int64_t *n) {
    int64_t need = apr_tokenize(v, text, len, NULL, 0, flags);
    *n = need;
    if (need < 0) return NULL;
    int32_t *ids = (int32_t *)malloc((size_t)(need > 0 ? need : 1) * sizeof(int32_t));
    int64_t got = apr_tokenize(v, text, len, ids, need, flags);
    CHECK(got == need, "second tokenize pass gives %lld tokens, first %lld", (long long)got, (long long)need);
    return ids;
}

/* detokenize into a malloc'd NUL-terminated string */
static char *detok(const apr_vocab *v, const int32_t *ids, int64_t n, bool special, int64_t *len) {
    int64_t need = apr_detokenize(v, ids, n, NULL, 0, special);
    char *s = (char *)malloc((size_t)need + 1);
    int64_t got = apr_detokenize(v, ids, n, s, need + 1, special);
    CHECK(got == need, "detokenize length %lld vs %lld", (long long)got, (long long)need);
    *len = need;
    return s;
}

/* streaming detokenize, with a small output buffer per token */
static char *detok_stream(const apr_vocab *v, const int32_t *ids, int64_t n, int64_t *len) {
    apr_detok_stream st;
    apr_detok_stream_init(&st, v, false);
    size_t cap = 1024, m = 0;
    char *s = (char *)malloc(cap);
    for (int64_t i = 0; i <= n; i++) {
        char piece[4096];
        int32_t k = i < n ? apr_detok_stream_push(&st, ids[i], piece, (int32_t)sizeof piece)
                          : apr_detok_stream_flush(&st, piece, (int32_t)sizeof piece);
        if (m + (size_t)k + 1 > cap) { cap = (m + (size_t)k + 1) * 2; s = (char *)realloc(s, cap); }
        memcpy(s + m, piece, (size_t)k);
        m += (size_t)k;
    }
    s[m] = 0;
    *len = (int64_t)m;
    return s;
}

/* ---- llama.cpp's test vectors ------------------------------------------------------- */

static void test_vectors(const char *name) {
    char msg[128];
    snprintf(msg, sizeof msg, "vectors %s", name);
    TEST(msg);
    apr_vocab *v = load_vocab(name, NULL, NULL);
    if (!v) return;
    char rel[256];
    size_t ni, no;
    snprintf(rel, sizeof rel, "data/vocab/ggml-vocab-%s.gguf.inp", name);
    char *inp = (char *)test_read_file(test_shared(rel), &ni);
    snprintf(rel, sizeof rel, "data/vocab/ggml-vocab-%s.gguf.out", name);
    char *outp = (char *)test_read_file(test_shared(rel), &no);
    CHECK(inp && outp, "missing test vectors for %s", name);
    if (!inp || !outp) { apr_vocab_free(v); return; }
    /* as test-tokenizer-0: texts are separated by "\n__ggml_vocab_test__\n" (the newline
       before the marker belongs to the separator); the last text runs to the end */
    const char *sep = "\n__ggml_vocab_test__\n";
    size_t sl = strlen(sep);
    const char *p = inp, *end = inp + ni;
    const char *line = outp, *oend = outp + no;
    int n_tests = 0, n_pass = 0, n_round = 0;
    while (p < end) {
        const char *q = p;
        while (q + sl <= end && memcmp(q, sep, sl) != 0) q++;
        if (q + sl > end) q = end;
        size_t len = (size_t)(q - p);
        /* expected ids */
        const char *le = line;
        while (le < oend && *le != '\n') le++;
        int32_t want[512];
        int nw = 0;
        for (const char *c = line; c < le;) {
            while (c < le && *c == ' ') c++;
            if (c >= le) break;
            want[nw++] = (int32_t)strtol(c, (char **)&c, 10);
        }
        line = le < oend ? le + 1 : le;
        int64_t n;
        int32_t *got = tok(v, p, len, 0, &n);
        bool ok = n == nw;
        for (int i = 0; ok && i < nw; i++) ok = got[i] == want[i];
        n_tests++;
        n_pass += ok;
        if (!ok) {
            char gs[2048] = "", ws[2048] = "";
            for (int64_t i = 0; i < n && strlen(gs) < 2000; i++) snprintf(gs + strlen(gs), 40, " %d", got[i]);
            for (int i = 0; i < nw && strlen(ws) < 2000; i++) snprintf(ws + strlen(ws), 40, " %d", want[i]);
            CHECK(ok, "%s text %d '%.*s': expected%s, got%s", name, n_tests, (int)len, p, ws, gs);
        } else {
            CHECK(ok, "%s", name);
        }
        /* round trip and streaming */
        if (n >= 0) {
            int64_t dl, sl2;
            char *d = detok(v, got, n, false, &dl);
            char *s = detok_stream(v, got, n, &sl2);
            bool rt = (size_t)dl == len && memcmp(d, p, len) == 0;
            n_round += rt;
            CHECK(rt, "%s text %d: round trip gives '%s' for '%.*s'", name, n_tests, d, (int)len, p);
            CHECK(sl2 == dl && memcmp(s, d, (size_t)dl) == 0, "%s text %d: stream '%s' vs whole '%s'", name,
                  n_tests, s, d);
            free(d);
            free(s);
        }
        free(got);
        p = q + sl;
        if (q == end) break;
    }
    printf("  %s: %d/%d vectors pass, %d round trips exact\n", name, n_pass, n_tests, n_round);
    CHECK(n_tests == 46, "%s: %d test texts, expected 46", name, n_tests);
    free(inp);
    free(outp);
    apr_vocab_free(v);
}

/* ---- loading speed ----------------------------------------------------------------- */

static void test_load_speed(void) {
    TEST("load speed");
    double best = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        double ms;
        apr_vocab *v = load_vocab("qwen2", NULL, &ms);
        if (!v) return;
        if (ms < best) best = ms;
        CHECK(apr_vocab_n_tokens(v) == 151936, "qwen2 has %d tokens", apr_vocab_n_tokens(v));
        CHECK(apr_vocab_type(v) == APR_VOCAB_BPE, "qwen2 is BPE");
        CHECK(strcmp(apr_vocab_pre_name(v), "qwen2") == 0, "pre %s", apr_vocab_pre_name(v));
        CHECK(apr_vocab_max_piece(v) == 260, "qwen2 max piece bound %d", apr_vocab_max_piece(v));
        apr_vocab_free(v);
    }
    printf("  qwen2 vocabulary (151936 tokens, 151387 merges) loads in %.1f ms CPU (best of 3)\n", best);
    /* generous: the target is < 100 ms on a normal machine; sanitizers are slower */
    CHECK(best < (getenv("APR_TEST_QUICK") ? 2000.0 : 500.0), "qwen2 vocab load took %.1f ms", best);
}

/* ---- special tokens -------------------------------------------------------------------- */

static bool has_id(const int32_t *ids, int64_t n, int32_t id) {
    for (int64_t i = 0; i < n; i++)
        if (ids[i] == id) return true;
    return false;
}

static void test_special(void) {
    TEST("special tokens");
    apr_vocab *q = load_vocab("qwen2", NULL, NULL);
    apr_vocab *s = load_vocab("llama-spm", NULL, NULL);
    if (!q || !s) { apr_vocab_free(q); apr_vocab_free(s); return; }
    int64_t n;
    int32_t im_start = apr_vocab_find(q, "<|im_start|>"), im_end = apr_vocab_find(q, "<|im_end|>");
    int32_t user = apr_vocab_find(q, "user");
    CHECK(im_start == 151644 && im_end == 151645 && user >= 0, "find: %d %d %d", im_start, im_end, user);
    int32_t *ids = tok(q, "<|im_start|>user", 16, APR_TOKENIZE_PARSE_SPECIAL, &n);
    CHECK(n == 2 && ids[0] == im_start && ids[1] == user, "<|im_start|>user with PARSE_SPECIAL: %lld tokens", (long long)n);
    free(ids);
    ids = tok(q, "<|im_start|>user", 16, 0, &n);
    CHECK(n > 2 && !has_id(ids, n, im_start), "<|im_start|>user without PARSE_SPECIAL: %lld tokens", (long long)n);
    free(ids);
    /* user-defined tokens are split out always (as llama.cpp and HF tokenizers) */
    ids = tok(q, "a<tool_call>b", 13, 0, &n);
    CHECK(n == 3 && ids[1] == apr_vocab_find(q, "<tool_call>"), "<tool_call> is user-defined: %lld tokens", (long long)n);
    free(ids);
    /* FIM tokens are made control tokens (as llama.cpp) */
    CHECK(apr_vocab_is_control(q, apr_vocab_find(q, "<|fim_prefix|>")), "<|fim_prefix|> control");
    ids = tok(q, "<|fim_prefix|>", 14, 0, &n);
    CHECK(n > 1, "<|fim_prefix|> without PARSE_SPECIAL is text");
    free(ids);
    /* a chat turn round-trips with render_special */
    const char *chat = "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi <|im_end|>x<|endoftext|>";
    ids = tok(q, chat, strlen(chat), APR_TOKENIZE_PARSE_SPECIAL, &n);
    int64_t dl;
    char *d = detok(q, ids, n, true, &dl);
    CHECK(strcmp(d, chat) == 0, "chat round trip: '%s'", d);
    free(d);
    d = detok(q, ids, n, false, &dl);
    CHECK(strcmp(d, "system\nYou are helpful.\nuser\nHi x") == 0, "without specials: '%s'", d);
    free(d);
    free(ids);
    /* end of generation */
    CHECK(apr_vocab_is_eog(q, im_end) && apr_vocab_is_eog(q, 151643) && !apr_vocab_is_eog(q, im_start) &&
              !apr_vocab_is_eog(q, user) && !apr_vocab_is_eog(q, -1) && !apr_vocab_is_eog(q, 1 << 30),
          "qwen2 EOG set");
    CHECK(apr_vocab_eot(q) == im_end && apr_vocab_eos(q) == im_end && apr_vocab_bos(q) == 151643,
          "qwen2 eot %d eos %d bos %d", apr_vocab_eot(q), apr_vocab_eos(q), apr_vocab_bos(q));
    CHECK(!apr_vocab_add_bos(q), "qwen2 adds no BOS");
    ids = tok(q, "hi", 2, APR_TOKENIZE_ADD_BOS, &n);
    CHECK(n == 1, "qwen2 ADD_BOS: no BOS since the vocabulary does not ask for one");
    free(ids);
    char piece[64];
    CHECK(apr_token_to_piece(q, im_end, piece, sizeof piece, false) == 0, "control piece is empty");
    int32_t pl = apr_token_to_piece(q, im_end, piece, sizeof piece, true);
    CHECK(pl == 10 && memcmp(piece, "<|im_end|>", 10) == 0, "control piece with render_special");
    CHECK(apr_token_to_piece(q, im_end, piece, 3, true) == 10, "too small a buffer returns the length needed");

    /* SPM: <s> parsed, BOS added, text after a special token gets the leading space */
    CHECK(apr_vocab_bos(s) == 1 && apr_vocab_eos(s) == 2 && apr_vocab_add_bos(s), "spm bos/eos");
    CHECK(apr_vocab_is_eog(s, 2) && !apr_vocab_is_eog(s, 1), "spm eog");
    int64_t n1, n2;
    int32_t *a = tok(s, "<s>Hello", 8, APR_TOKENIZE_PARSE_SPECIAL, &n1);
    int32_t *b = tok(s, "Hello", 5, APR_TOKENIZE_ADD_BOS, &n2);
    CHECK(n1 == n2 && n1 >= 2 && memcmp(a, b, (size_t)n1 * sizeof(int32_t)) == 0 && a[0] == 1,
          "'<s>Hello' parsed = BOS + 'Hello'");
    free(a);
    free(b);
    a = tok(s, "<s>Hello", 8, 0, &n1);
    CHECK(n1 > 2 && a[0] != 1, "'<s>' is text without PARSE_SPECIAL");
    free(a);
    a = tok(s, "", 0, APR_TOKENIZE_ADD_BOS, &n1);
    CHECK(n1 == 1 && a[0] == 1, "empty text with ADD_BOS is [BOS]");
    free(a);
    CHECK(apr_tokenize(s, "", 0, NULL, 0, 0) == 0, "empty text has no tokens");
    CHECK(apr_tokenize(NULL, "x", 1, NULL, 0, 0) == APR_ERROR_INVALID_ARGUMENT, "NULL vocab");
    CHECK(apr_tokenize(s, "xyz", 3, NULL, 5, 0) == APR_ERROR_INVALID_ARGUMENT, "NULL out with room");
    /* a too small output array: the count needed comes back */
    int32_t small[2];
    CHECK(apr_tokenize(s, "Hello world, how are you?", 25, small, 2, 0) > 2, "count needed");
    apr_vocab_free(q);
    apr_vocab_free(s);
}

/* ---- streaming --------------------------------------------------------------------------- */

static void test_stream(void) {
    TEST("streaming decode");
    apr_vocab *s = load_vocab("llama-spm", NULL, NULL);
    if (!s) return;
    /* 🦙 is not in the Llama 2 vocabulary: four byte tokens */
    int64_t n;
    int32_t *ids = tok(s, "\xf0\x9f\xa6\x99!", 5, 0, &n);
    CHECK(n == 6 && ids[0] == apr_vocab_find(s, "\xe2\x96\x81") && ids[1] == 3 + 0xF0, "llama byte fallback (%lld)",
          (long long)n);
    if (n == 6) {
        apr_detok_stream st;
        apr_detok_stream_init(&st, s, false);
        char out[64];
        int32_t k0 = apr_detok_stream_push(&st, ids[0], out, 64); /* "▁" at the start: dropped */
        int32_t k1 = apr_detok_stream_push(&st, ids[1], out, 64);
        int32_t k2 = apr_detok_stream_push(&st, ids[2], out, 64);
        int32_t k3 = apr_detok_stream_push(&st, ids[3], out, 64);
        CHECK(k0 == 0 && k1 == 0 && k2 == 0 && k3 == 0, "held back: %d %d %d %d", k0, k1, k2, k3);
        int32_t k4 = apr_detok_stream_push(&st, ids[4], out, 64);
        CHECK(k4 == 4 && memcmp(out, "\xf0\x9f\xa6\x99", 4) == 0, "complete character: %d bytes", k4);
        int32_t k5 = apr_detok_stream_push(&st, ids[5], out, 64);
        CHECK(k5 == 1 && out[0] == '!', "then '!'");
        CHECK(apr_detok_stream_flush(&st, out, 64) == 0, "nothing left");
        /* an incomplete character at the end becomes U+FFFD */
        apr_detok_stream_init(&st, s, false);
        apr_detok_stream_push(&st, ids[1], out, 64);
        apr_detok_stream_push(&st, ids[2], out, 64);
        int32_t kf = apr_detok_stream_flush(&st, out, 64);
        CHECK(kf == 3 && memcmp(out, "\xef\xbf\xbd", 3) == 0, "flush gives U+FFFD");
    }
    free(ids);
    /* random token sequences: the stream is always a prefix of the whole decoding, short
       of at most the 3 bytes of an unfinished character */
    apr_vocab *vs[2] = {s, load_vocab("qwen2", NULL, NULL)};
    for (int k = 0; k < 2; k++) {
        if (!vs[k]) continue;
        int bad = 0;
        for (int rep = 0; rep < 300; rep++) {
            int32_t rid[64];
            int nr = 1 + (int)(test_rand_u64() % 64);
            for (int i = 0; i < nr; i++) {
                uint64_t r = test_rand_u64();
                /* mostly byte tokens and low ids (SPM bytes are 3..258, BPE bytes are low) */
                rid[i] = (int32_t)(r % 4 == 0 ? (r >> 8) % (uint64_t)apr_vocab_n_tokens(vs[k]) : 3 + (r >> 8) % 300);
            }
            int64_t wl;
            char *whole = detok(vs[k], rid, nr, false, &wl);
            apr_detok_stream st;
            apr_detok_stream_init(&st, vs[k], false);
            char *acc = (char *)malloc((size_t)wl + 4096);
            size_t m = 0;
            for (int i = 0; i < nr; i++) m += (size_t)apr_detok_stream_push(&st, rid[i], acc + m, 4096);
            int pend = st.n_pending;
            char tail[16];
            int32_t fl = apr_detok_stream_flush(&st, tail, sizeof tail);
            bool ok = m + (size_t)pend == (size_t)wl && memcmp(acc, whole, m) == 0 && pend <= 3 &&
                      (pend == 0 ? fl == 0 : fl == 3);
            bad += !ok;
            free(acc);
            free(whole);
        }
        CHECK(bad == 0, "%s: %d random sequences decode differently streamed", k ? "qwen2" : "llama-spm", bad);
    }
    apr_vocab_free(vs[1]);

    /* at_start: only the first piece loses its space */
    ids = tok(s, "Hello world", 11, APR_TOKENIZE_ADD_BOS, &n);
    int64_t sl;
    char *d = detok_stream(s, ids, n, &sl);
    CHECK(strcmp(d, "Hello world") == 0, "stream '%s'", d);
    free(d);
    free(ids);
    apr_vocab_free(s);

    /* stories260K: the text llama2.c printed decodes from the tokens of that text */
    TEST("stories260K vocabulary");
    apr_vocab *st = NULL;
    {
        apr_gguf *g = NULL;
        apr_error err;
        if (apr_gguf_open(test_shared("data/models/stories260K.gguf"), &g, &err) == APR_SUCCESS) {
            CHECK(apr_vocab_load(g, &st, &err) == APR_SUCCESS, "stories260K vocab: %s", err.message);
            apr_gguf_close(g);
        } else {
            CHECK(0, "open stories260K.gguf: %s", err.message);
        }
    }
    size_t tl;
    char *text = (char *)test_read_file(test_shared("data/models/stories260K.greedy200.txt"), &tl);
    CHECK(text != NULL, "stories260K.greedy200.txt");
    if (st && text) {
        CHECK(apr_vocab_n_tokens(st) == 512 && apr_vocab_type(st) == APR_VOCAB_SPM, "512-token SPM");
        ids = tok(st, text, tl, APR_TOKENIZE_ADD_BOS, &n);
        static const int32_t first[] = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298};
        CHECK(n > 11 && memcmp(ids, first, sizeof first) == 0, "first ids of the greedy text");
        d = detok_stream(st, ids, n, &sl);
        CHECK((size_t)sl == tl && memcmp(d, text, tl) == 0, "stream decode = llama2.c's text");
        free(d);
        free(ids);
    }
    free(text);
    apr_vocab_free(st);
}

/* ---- GGUF files built in memory ------------------------------------------------------ */

typedef struct gbuf {
    unsigned char *p;
    size_t n, cap;
    uint64_t n_kv;
} gbuf;

static void gb_put(gbuf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = (unsigned char *)realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void gb_u32(gbuf *b, uint32_t v) { gb_put(b, &v, 4); }
static void gb_u64(gbuf *b, uint64_t v) { gb_put(b, &v, 8); }
static void gb_strn(gbuf *b, const char *s, size_t n) { gb_u64(b, n); gb_put(b, s, n); }
static void gb_key(gbuf *b, const char *key, uint32_t type) { gb_strn(b, key, strlen(key)); gb_u32(b, type); b->n_kv++; }
static void kv_str(gbuf *b, const char *key, const char *v) { gb_key(b, key, APR_GGUF_STRING); gb_strn(b, v, strlen(v)); }
static void kv_u32(gbuf *b, const char *key, uint32_t v) { gb_key(b, key, APR_GGUF_UINT32); gb_u32(b, v); }
static void kv_i32(gbuf *b, const char *key, int32_t v) { gb_key(b, key, APR_GGUF_INT32); gb_put(b, &v, 4); }
static void kv_bool(gbuf *b, const char *key, bool v) { unsigned char c = v; gb_key(b, key, APR_GGUF_BOOL); gb_put(b, &c, 1); }
static void kv_arr(gbuf *b, const char *key, uint32_t et, uint64_t n, const void *data, size_t elem) {
    gb_key(b, key, APR_GGUF_ARRAY);
    gb_u32(b, et);
    gb_u64(b, n);
    gb_put(b, data, (size_t)n * elem);
}
static void kv_strs(gbuf *b, const char *key, const char *const *v, uint64_t n) {
    gb_key(b, key, APR_GGUF_ARRAY);
    gb_u32(b, APR_GGUF_STRING);
    gb_u64(b, n);
    for (uint64_t i = 0; i < n; i++) gb_strn(b, v[i], strlen(v[i]));
}

/* Copy metadata entry i of g (the types vocabulary files use). */
static void kv_copy(gbuf *b, const apr_gguf *g, int64_t i) {
    apr_str k = apr_gguf_key(g, i);
    char key[256];
    snprintf(key, sizeof key, "%.*s", (int)k.len, k.ptr);
    apr_gguf_value_type t = apr_gguf_kv_type(g, i);
    if (t == APR_GGUF_STRING) {
        apr_str v;
        v.ptr = "";
        v.len = 0;
        apr_gguf_get_str(g, key, &v);
        gb_key(b, key, t);
        gb_strn(b, v.ptr, (size_t)v.len);
    } else if (t == APR_GGUF_ARRAY) {
        apr_gguf_value_type et;
        uint64_t n;
        const void *data;
        apr_gguf_kv_arr(g, i, &et, &n, &data);
        gb_key(b, key, t);
        gb_u32(b, et);
        gb_u64(b, n);
        if (et == APR_GGUF_STRING) {
            for (uint64_t j = 0; j < n; j++) {
                apr_str v = apr_gguf_kv_arr_str(g, i, j);
                gb_strn(b, v.ptr, (size_t)v.len);
            }
        } else {
            size_t es = et == APR_GGUF_UINT8 || et == APR_GGUF_INT8 || et == APR_GGUF_BOOL ? 1
                        : et == APR_GGUF_UINT16 || et == APR_GGUF_INT16 ? 2
                        : et == APR_GGUF_UINT64 || et == APR_GGUF_INT64 || et == APR_GGUF_FLOAT64 ? 8 : 4;
            gb_put(b, data, (size_t)n * es);
        }
    } else if (t == APR_GGUF_BOOL) {
        bool v = false;
        apr_gguf_get_bool(g, key, &v);
        kv_bool(b, key, v);
    } else if (t == APR_GGUF_FLOAT32) {
        double d = 0;
        apr_gguf_get_f64(g, key, &d);
        float f = (float)d;
        gb_key(b, key, t);
        gb_put(b, &f, 4);
    } else {
        uint64_t u = 0;
        int64_t sv = 0;
        if (!apr_gguf_get_u64(g, key, &u)) { apr_gguf_get_i64(g, key, &sv); u = (uint64_t)sv; }
        if (t == APR_GGUF_UINT64 || t == APR_GGUF_INT64) { gb_key(b, key, t); gb_u64(b, u); }
        else { gb_key(b, key, APR_GGUF_UINT32); gb_u32(b, (uint32_t)u); }
    }
}

/* Finish: header, metadata, padding; returns the file bytes (caller frees). */
static unsigned char *gb_file(gbuf *b, size_t *size) {
    gbuf f;
    memset(&f, 0, sizeof f);
    gb_put(&f, "GGUF", 4);
    gb_u32(&f, 3);
    gb_u64(&f, 0);
    gb_u64(&f, b->n_kv);
    gb_put(&f, b->p, b->n);
    static const unsigned char zeros[32] = {0};
    gb_put(&f, zeros, (32 - f.n % 32) % 32);
    free(b->p);
    memset(b, 0, sizeof *b);
    *size = f.n;
    return f.p;
}

/* Load a vocabulary from metadata built in memory; the result code, err filled. */
static apr_result vocab_from(gbuf *b, apr_vocab **v, apr_error *err) {
    size_t size;
    unsigned char *file = gb_file(b, &size);
    apr_gguf *g = NULL;
    *v = NULL;
    apr_result r = apr_gguf_open_memory(file, size, &g, err);
    CHECK(r == APR_SUCCESS, "test GGUF does not open: %s", err->message);
    if (r == APR_SUCCESS) {
        r = apr_vocab_load(g, v, err);
        apr_gguf_close(g);
    }
    free(file);
    return r;
}

/* ---- every pre-tokenizer family, against llama.cpp ------------------------------------- */

/* Texts and the ids llama.cpp (c392e50) gives for them with the GPT-2 vocabulary and
   tokenizer.ggml.pre set to each name (no BOS, specials not parsed). */
static const char *const k_pre_texts[3] = {
    "Hello World! It's 12345 'S 'LL x'll\n\n  \t y\r\n~`$+<=>^|_ a.b,c",
    "\xe4\xb8\xad\xe6\x96\x87\xe5\xad\x97 \xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xc3\xa9\xc3\xa9 \xd9\xa3\xd9\xa1\xd9\xa2 \xe2\x91\xa0\xe2\x91\xa1 \xf0\x9d\x9f\x98 \xc3\x9f \xc7\x85 \xc2\xb5 \xef\xbc\xa1\xef\xbd\x82\xef\xbc\x81 \xe3\x80\x80 x\xc2\xa0y  \n\n z",
    "    def f(x):\n\treturn x**2 // 7 # ok?!... \"quoted\" 1234567 3.14159 \x01\x7f",
};
static const struct { const char *pre; const char *ids[3]; } k_pre_expect[] = {
    {"default", {
        "15496 2159 0 632 6 82 220 10163 2231 220 6 50 220 6 3069 2124 6 297 628 220 220 197 331 201 198 93 63 3 10 27 14804 61 91 62 257 13 65 11 66",
        "40792 23877 229 27764 245 220 47991 250 166 113 255 168 244 112 38251 2634 220 149 96 149 94 149 95 220 158 239 254 158 239 94 220 47728 253 246 6184 253 220 131 227 31324 27332 120 94 171 121 224 171 120 223 220 5099 222 2124 1849 88 220 220 628 1976",
        "220 220 220 825 277 7 87 2599 198 197 7783 2124 1174 17 220 1003 220 22 220 2 12876 12248 986 220 1 421 5191 1 220 10163 29228 22 220 18 13 23756 3270 220 189 221",
    }},
    {"llama-bpe", {
        "15496 2159 0 632 338 220 10163 2231 705 50 705 3069 2124 1183 628 220 220 197 331 201 198 93 63 3 10 27 14804 61 91 62 257 13 65 11 66",
        "40792 23877 229 27764 245 220 47991 250 166 113 255 168 244 112 38251 2634 220 149 96 149 94 149 95 220 158 239 254 158 239 94 220 47728 253 246 6184 253 220 131 227 31324 27332 120 94 171 121 224 171 120 223 220 5099 222 2124 1849 88 220 220 628 1976",
        "220 220 220 825 277 7 87 2599 198 197 7783 2124 1174 17 3373 220 22 1303 12876 12248 986 366 421 5191 1 220 10163 29228 22 220 18 13 23756 3270 220 189 221",
    }},
    {"qwen2", {
        "15496 2159 0 632 338 220 16 17 18 19 20 705 50 705 3069 2124 1183 628 220 220 197 331 201 198 93 63 3 10 27 14804 61 91 62 257 13 65 11 66",
        "40792 23877 229 27764 245 220 47991 250 166 113 255 168 244 112 38251 2634 220 149 96 149 94 149 95 220 158 239 254 158 239 94 220 47728 253 246 6184 253 220 131 227 31324 27332 120 94 171 121 224 171 120 223 220 5099 222 2124 1849 88 220 220 628 1976",
        "220 220 220 825 277 7 87 2599 198 197 7783 2124 1174 17 3373 220 22 1303 12876 12248 986 366 421 5191 1 220 16 17 18 19 20 21 22 220 18 13 16 19 16 20 24 220 189 221",
    }},
    {"gpt-2", {
        "15496 2159 0 632 338 17031 2231 705 50 705 3069 2124 1183 628 220 220 197 331 201 198 93 63 3 10 27 14804 61 91 62 257 13 65 11 66",
        "40792 23877 229 27764 245 220 47991 250 166 113 255 168 244 112 38251 2634 18923 96 149 94 149 95 2343 239 254 158 239 94 220 47728 253 246 6184 253 220 131 227 31324 27332 120 94 171 121 224 171 120 223 220 5099 222 2124 1849 88 220 220 628 1976",
        "220 220 220 825 277 7 87 2599 198 197 7783 2124 1174 17 3373 767 1303 12876 12248 986 366 421 5191 1 17031 2231 3134 513 13 1415 19707 220 189 221",
    }},
    {"deepseek-llm", {
        "15496 2159 0 632 6 82 220 10163 2231 705 50 705 3069 2124 6 297 198 198 220 220 197 331 201 198 93 63 3 10 27 14804 61 91 62 257 13 65 11 66",
        "40792 23877 229 27764 245 220 47991 250 166 113 255 168 244 112 38251 2634 220 149 96 149 94 149 95 220 158 239 254 158 239 94 220 47728 253 246 6184 253 220 131 227 31324 27332 120 94 171 121 224 171 120 223 220 5099 222 2124 1849 88 220 220 198 198 1976",
        "220 220 220 825 277 7 87 2599 198 197 7783 2124 1174 17 3373 220 22 1303 12876 12248 986 366 421 5191 1 220 10163 2231 3134 220 18 13 1415 19707 220 189 221",
    }},
    {"deepseek-coder", {
        "15496 2159 0 632 6 82 220 16 17 18 19 20 705 50 705 3069 2124 6 297 198 198 220 220 197 331 201 198 93 63 3 10 27 14804 61 91 62 257 13 65 11 66",
        "40792 23877 229 27764 245 220 47991 250 166 113 255 168 244 112 38251 2634 220 149 96 149 94 149 95 220 158 239 254 158 239 94 220 47728 253 246 6184 253 220 131 227 31324 27332 120 94 171 121 224 171 120 223 220 5099 222 2124 1849 88 220 220 198 198 1976",
        "220 220 220 825 277 7 87 2599 198 197 7783 2124 1174 17 3373 220 22 1303 12876 12248 986 366 421 5191 1 220 16 17 18 19 20 21 22 220 18 13 16 19 16 20 24 220 189 221",
    }},
    {"falcon", {
        "15496 2159 0 632 6 82 220 10163 2231 220 6 50 220 6 3069 2124 6 297 628 220 220 197 331 201 198 93 63 3 10 27 14804 61 91 62 257 13 65 11 66",
        "40792 23877 229 27764 245 220 47991 250 166 113 255 168 244 112 38251 2634 18923 96 149 94 149 95 2343 239 254 158 239 94 220 47728 253 246 6184 253 220 131 227 31324 27332 120 94 171 121 224 171 120 223 220 5099 222 2124 1849 88 220 220 628 1976",
        "220 220 220 825 277 7 87 2599 198 197 7783 2124 1174 17 220 1003 767 220 2 12876 12248 986 220 1 421 5191 1 220 10163 29228 22 513 13 23756 3270 220 189 221",
    }},
    {"starcoder", {
        "15496 2159 0 632 338 220 16 17 18 19 20 705 50 705 3069 2124 1183 628 220 220 197 331 201 198 93 63 3 10 27 14804 61 91 62 257 13 65 11 66",
        "40792 23877 229 27764 245 220 47991 250 166 113 255 168 244 112 38251 2634 220 149 96 149 94 149 95 220 158 239 254 158 239 94 220 47728 253 246 6184 253 220 131 227 31324 27332 120 94 171 121 224 171 120 223 220 5099 222 2124 1849 88 220 220 628 1976",
        "220 220 220 825 277 7 87 2599 198 197 7783 2124 1174 17 3373 220 22 1303 12876 12248 986 366 421 5191 1 220 16 17 18 19 20 21 22 220 18 13 16 19 16 20 24 220 189 221",
    }},
    {"refact", {
        "15496 2159 0 632 338 220 16 17 18 19 20 705 50 705 3069 2124 1183 628 220 220 197 331 201 198 93 63 3 10 27 14804 61 91 62 257 13 65 11 66",
        "40792 23877 229 27764 245 220 47991 250 166 113 255 168 244 112 38251 2634 220 149 96 149 94 149 95 220 158 239 254 158 239 94 220 47728 253 246 6184 253 220 131 227 31324 27332 120 94 171 121 224 171 120 223 220 5099 222 2124 1849 88 220 220 628 1976",
        "220 220 220 825 277 7 87 2599 198 197 7783 2124 1174 17 3373 220 22 1303 12876 12248 986 366 421 5191 1 220 16 17 18 19 20 21 22 220 18 13 16 19 16 20 24 220 189 221",
    }},
    {"mpt", {
        "15496 2159 0 632 338 17031 2231 705 50 705 3069 2124 1183 628 220 220 197 331 201 198 93 63 3 10 27 14804 61 91 62 257 13 65 11 66",
        "40792 23877 229 27764 245 220 47991 250 166 113 255 168 244 112 38251 2634 18923 96 149 94 149 95 2343 239 254 158 239 94 220 47728 253 246 6184 253 220 131 227 31324 27332 120 94 171 121 224 171 120 223 220 5099 222 2124 1849 88 220 220 628 1976",
        "220 220 220 825 277 7 87 2599 198 197 7783 2124 1174 17 3373 767 1303 12876 12248 986 366 421 5191 1 17031 2231 3134 513 13 1415 19707 220 189 221",
    }},
};

static void test_pre_families(void) {
    TEST("pre-tokenizer families");
    apr_gguf *g = NULL;
    apr_vocab *base = load_vocab("gpt-2", &g, NULL);
    if (!base) return;
    apr_vocab_free(base);
    for (size_t f = 0; f < sizeof k_pre_expect / sizeof k_pre_expect[0]; f++) {
        gbuf b;
        memset(&b, 0, sizeof b);
        for (int64_t i = 0; i < apr_gguf_n_kv(g); i++) {
            apr_str k = apr_gguf_key(g, i);
            if (k.len == 18 && memcmp(k.ptr, "tokenizer.ggml.pre", 18) == 0) continue;
            kv_copy(&b, g, i);
        }
        kv_str(&b, "tokenizer.ggml.pre", k_pre_expect[f].pre);
        apr_vocab *v;
        apr_error err;
        apr_result r = vocab_from(&b, &v, &err);
        CHECK(r == APR_SUCCESS, "gpt-2 vocab with pre '%s': %s", k_pre_expect[f].pre, err.message);
        if (r != APR_SUCCESS) continue;
        CHECK(strcmp(apr_vocab_pre_name(v), k_pre_expect[f].pre) == 0, "pre name %s", apr_vocab_pre_name(v));
        for (int t = 0; t < 3; t++) {
            int64_t n;
            const char *text = k_pre_texts[t];
            int32_t *ids = tok(v, text, strlen(text), 0, &n);
            char got[4096] = "";
            for (int64_t i = 0; i < n && strlen(got) < 4000; i++)
                snprintf(got + strlen(got), 16, "%s%d", i ? " " : "", ids[i]);
            CHECK(strcmp(got, k_pre_expect[f].ids[t]) == 0, "pre %s text %d: expected %s, got %s", k_pre_expect[f].pre,
                  t, k_pre_expect[f].ids[t], got);
            int64_t dl;
            char *d = detok(v, ids, n, false, &dl);
            CHECK(strcmp(d, text) == 0, "pre %s text %d round trip", k_pre_expect[f].pre, t);
            free(d);
            free(ids);
        }
        apr_vocab_free(v);
    }
    apr_gguf_close(g);
}

/* ---- malformed metadata ------------------------------------------------------------------ */

/* A small valid SPM vocabulary; `bad` selects one defect. */
static apr_result mini_spm(int bad, apr_vocab **v, apr_error *err) {
    static const char *const toks[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b", "\342\226\201a", "ab"};
    float scores[8] = {0, 0, 0, -5, -3, -3, -1, -2};
    int32_t types[8] = {2, 3, 3, 1, 1, 1, 1, 1};
    int8_t scores8[8] = {0};
    gbuf b;
    memset(&b, 0, sizeof b);
    if (bad != 1) kv_str(&b, "tokenizer.ggml.model", bad == 2 ? "bert" : "llama");
    if (bad == 3) kv_u32(&b, "tokenizer.ggml.tokens", 8);
    else if (bad != 4) kv_strs(&b, "tokenizer.ggml.tokens", toks, 8);
    if (bad == 5) kv_arr(&b, "tokenizer.ggml.scores", APR_GGUF_INT8, 8, scores8, 1);
    else if (bad == 6) kv_arr(&b, "tokenizer.ggml.scores", APR_GGUF_FLOAT32, 7, scores, 4);
    else kv_arr(&b, "tokenizer.ggml.scores", APR_GGUF_FLOAT32, 8, scores, 4);
    if (bad == 7) kv_arr(&b, "tokenizer.ggml.token_type", APR_GGUF_FLOAT32, 8, scores, 4);
    else if (bad == 8) { types[4] = 9; kv_arr(&b, "tokenizer.ggml.token_type", APR_GGUF_INT32, 8, types, 4); }
    else kv_arr(&b, "tokenizer.ggml.token_type", APR_GGUF_INT32, 8, types, 4);
    kv_u32(&b, "tokenizer.ggml.bos_token_id", bad == 9 ? 8 : 1);
    if (bad == 12) kv_str(&b, "tokenizer.ggml.eos_token_id", "2");
    else kv_u32(&b, "tokenizer.ggml.eos_token_id", 2);
    kv_u32(&b, "tokenizer.ggml.padding_token_id", 0xFFFFFFFFu); /* "none", as stories260K */
    kv_i32(&b, "tokenizer.ggml.unknown_token_id", bad == 10 ? -7 : 0);
    if (bad == 11) kv_str(&b, "tokenizer.ggml.add_bos_token", "yes");
    return vocab_from(&b, v, err);
}

static apr_result mini_bpe(int bad, apr_vocab **v, apr_error *err) {
    static const char *const toks[] = {"a", "b", "ab", "\xc4\xa0", "\304\240ab", "<|endoftext|>"};
    const char *merges[3] = {"a b", "\xc4\xa0 ab", "a c"};
    if (bad == 3) merges[1] = "ab";
    gbuf b;
    memset(&b, 0, sizeof b);
    kv_str(&b, "tokenizer.ggml.model", "gpt2");
    kv_str(&b, "tokenizer.ggml.pre", bad == 4 ? "no-such-pre" : "gpt-2");
    kv_strs(&b, "tokenizer.ggml.tokens", toks, 6);
    if (bad != 1) kv_strs(&b, "tokenizer.ggml.merges", merges, bad == 2 ? 3 : 2);
    kv_u32(&b, "tokenizer.ggml.eos_token_id", 5);
    return vocab_from(&b, v, err);
}

static void test_malformed(void) {
    TEST("malformed vocabulary metadata");
    apr_vocab *v;
    apr_error err;
    apr_result r = mini_spm(0, &v, &err);
    CHECK(r == APR_SUCCESS, "mini SPM vocab: %s", err.message);
    if (r == APR_SUCCESS) {
        int64_t n;
        int32_t *ids = tok(v, "a ab", 4, 0, &n);
        /* '▁a' (-1) merges before 'ab' (-2): ▁a ▁a b */
        CHECK(n == 3 && ids[0] == 6 && ids[1] == 6 && ids[2] == 5, "mini SPM 'a ab'");
        free(ids);
        ids = tok(v, "c", 1, 0, &n); /* no byte tokens: unknown */
        CHECK(n == 2 && ids[0] == 3 && ids[1] == 0, "mini SPM unknown character");
        free(ids);
        CHECK(apr_vocab_bos(v) == 1 && apr_vocab_eos(v) == 2, "mini SPM ids");
        apr_vocab_free(v);
    }
    static const struct { int bad; apr_result code; const char *field; } spm_cases[] = {
        {1, APR_ERROR_INVALID_FILE, "tokenizer.ggml.model"},
        {2, APR_ERROR_UNSUPPORTED, "tokenizer.ggml.model"},
        {3, APR_ERROR_INVALID_FILE, "tokenizer.ggml.tokens"},
        {4, APR_ERROR_INVALID_FILE, "tokenizer.ggml.tokens"},
        {5, APR_ERROR_INVALID_FILE, "tokenizer.ggml.scores"},
        {6, APR_ERROR_INVALID_FILE, "tokenizer.ggml.scores"},
        {7, APR_ERROR_INVALID_FILE, "tokenizer.ggml.token_type"},
        {8, APR_ERROR_INVALID_FILE, "tokenizer.ggml.token_type[4]"},
        {9, APR_ERROR_INVALID_FILE, "tokenizer.ggml.bos_token_id"},
        {10, APR_ERROR_INVALID_FILE, "tokenizer.ggml.unknown_token_id"},
        {11, APR_ERROR_INVALID_FILE, "tokenizer.ggml.add_bos_token"},
        {12, APR_ERROR_INVALID_FILE, "tokenizer.ggml.eos_token_id"},
    };
    for (size_t i = 0; i < sizeof spm_cases / sizeof spm_cases[0]; i++) {
        memset(&err, 0, sizeof err);
        r = mini_spm(spm_cases[i].bad, &v, &err);
        CHECK(r == spm_cases[i].code && v == NULL && strstr(err.message, spm_cases[i].field),
              "SPM defect %d: got %d '%s', expected %d naming %s", spm_cases[i].bad, (int)r, err.message,
              (int)spm_cases[i].code, spm_cases[i].field);
        apr_vocab_free(v);
    }
    r = mini_bpe(0, &v, &err);
    CHECK(r == APR_SUCCESS, "mini BPE vocab: %s", err.message);
    if (r == APR_SUCCESS) {
        int64_t n;
        int32_t *ids = tok(v, "ab ab", 5, 0, &n);
        CHECK(n == 2 && ids[0] == 2 && ids[1] == 4, "mini BPE 'ab ab'");
        free(ids);
        CHECK(apr_vocab_is_eog(v, 5) && apr_vocab_is_control(v, 5), "<|endoftext|> is EOG and control");
        apr_vocab_free(v);
    }
    static const struct { int bad; apr_result code; const char *field; } bpe_cases[] = {
        {1, APR_ERROR_INVALID_FILE, "tokenizer.ggml.merges"},
        {2, APR_ERROR_INVALID_FILE, "tokenizer.ggml.merges[2]"},
        {3, APR_ERROR_INVALID_FILE, "tokenizer.ggml.merges[1]"},
        {4, APR_ERROR_UNSUPPORTED, "tokenizer.ggml.pre"},
    };
    for (size_t i = 0; i < sizeof bpe_cases / sizeof bpe_cases[0]; i++) {
        memset(&err, 0, sizeof err);
        r = mini_bpe(bpe_cases[i].bad, &v, &err);
        CHECK(r == bpe_cases[i].code && v == NULL && strstr(err.message, bpe_cases[i].field),
              "BPE defect %d: got %d '%s', expected %d naming %s", bpe_cases[i].bad, (int)r, err.message,
              (int)bpe_cases[i].code, bpe_cases[i].field);
        apr_vocab_free(v);
    }
    CHECK(apr_vocab_load(NULL, &v, &err) == APR_ERROR_INVALID_ARGUMENT, "NULL gguf");
}

/* ---- robustness -------------------------------------------------------------------------- */

static void check_round_trip(const apr_vocab *v, const char *name, const char *what, const char *text, size_t len,
                             bool lossless) {
    int64_t n;
    /* one pass into an array big enough for any result (every byte a token, plus the
       SPM prefix and BOS/EOS) */
    int32_t *ids = (int32_t *)malloc((len * 3 + 8) * sizeof(int32_t));
    double t0 = cpu_ms();
    n = apr_tokenize(v, text, len, ids, (int64_t)len * 3 + 8, 0);
    double ms = cpu_ms() - t0;
    CHECK(n > 0 || len == 0, "%s %s: %lld tokens", name, what, (long long)n);
    bool ok = true;
    for (int64_t i = 0; i < n; i++) ok = ok && ids[i] >= 0 && ids[i] < apr_vocab_n_tokens(v);
    CHECK(ok, "%s %s: token ids in range", name, what);
    if (len >= 100000) {
        printf("  %-14s %-24s %8zu bytes -> %8lld tokens in %6.1f ms CPU\n", name, what, len, (long long)n, ms);
        CHECK(ms < (getenv("APR_TEST_QUICK") ? 20000.0 : 3000.0), "%s %s took %.0f ms", name, what, ms);
    }
    if (lossless && n >= 0) {
        int64_t dl;
        char *d = detok(v, ids, n, false, &dl);
        CHECK((size_t)dl == len && memcmp(d, text, len) == 0, "%s %s: round trip", name, what);
        free(d);
    }
    free(ids);
}

static void test_robustness(void) {
    TEST("robustness");
    size_t big = getenv("APR_TEST_QUICK") ? (128u << 10) : (1u << 20);
    char *buf = (char *)malloc(big + 8);
    for (size_t vi = 0; vi < sizeof k_vocabs / sizeof k_vocabs[0]; vi++) {
        const char *name = k_vocabs[vi];
        apr_vocab *v = load_vocab(name, NULL, NULL);
        if (!v) continue;
        /* deepseek-coder has user-defined tokens for byte characters like 'õ': bytes that
           are not valid UTF-8 cannot all come back as themselves */
        bool lossless = strcmp(name, "deepseek-coder") != 0;
        static const char *const bad[] = {"\xff\xfe", "\xc3", "a\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                          "\xc0\x80", "x\x80y", "\xf0\x9f\xa6", " \xe4\xb8 \xe4"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            check_round_trip(v, name, "invalid UTF-8", bad[i], strlen(bad[i]), lossless);
        check_round_trip(v, name, "NUL bytes", "a\0b\0\0c\0", 7, true);
        static const char *const one[] = {"a", " ", "\n", "1", "\xe4\xb8\xad", "!", "'s", "\t "};
        static const char *const one_name[] = {"1 MiB 'a'", "1 MiB ' '", "256 KiB '\\n'", "256 KiB '1'",
                                               "256 KiB CJK", "256 KiB '!'", "256 KiB \"'s\"", "256 KiB tab space"};
        for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
            size_t cl = strlen(one[i]), m = 0, lim = i < 2 ? big : big / 4; /* 1 MiB for 'a' and ' ' */
            while (m + cl <= lim) { memcpy(buf + m, one[i], cl); m += cl; }
            check_round_trip(v, name, one_name[i], buf, m, true);
        }
        {   /* ordinary text: the stories260K output, repeated */
            size_t tl, m = 0;
            char *t = (char *)test_read_file(test_shared("data/models/stories260K.greedy200.txt"), &tl);
            while (t && tl && m + tl <= big) { memcpy(buf + m, t, tl); m += tl; }
            if (t) check_round_trip(v, name, "1 MiB of English", buf, m, true);
            free(t);
        }
        {   /* special tokens, whole and cut short, back to back, with and without parsing */
            static const char *const sp[] = {"<|im_start|>", "<|im_st", "<s>", "\xc3\xb5"};
            for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++) {
                size_t cl = strlen(sp[i]), m = 0;
                while (m + cl <= big / 4) { memcpy(buf + m, sp[i], cl); m += cl; }
                for (int parse = 0; parse < 2; parse++) {
                    double t0 = cpu_ms();
                    int64_t n = apr_tokenize(v, buf, m, NULL, 0, parse ? APR_TOKENIZE_PARSE_SPECIAL : 0);
                    double ms = cpu_ms() - t0;
                    CHECK(n > 0 && ms < (getenv("APR_TEST_QUICK") ? 20000.0 : 2000.0),
                          "%s: 256 KiB of special token text %zu (parse %d): %lld tokens, %.0f ms", name, i, parse,
                          (long long)n, ms);
                }
            }
        }
        test_rng_state = 0x1234567 + vi;
        for (size_t i = 0; i < big; i++) buf[i] = (char)(test_rand_u64() >> 56);
        check_round_trip(v, name, "1 MiB random bytes", buf, big, lossless);
        /* random mixes of ASCII, spaces, newlines, digits, letters from several scripts */
        static const char *const parts[] = {" ", "  ", "\n", "\r\n", "\t", "a", "Z", "'s", "'LL", "3", "42", "!",
                                            "...", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\xa6\x99", "\xd0\xb4",
                                            "\xe2\x80\x83", "\xc2\xa0", "<", "|", "~", "$", "_", "\xe0\xb8\x81"};
        for (int rep = 0; rep < 200; rep++) {
            size_t m = 0, want = 1 + (size_t)(test_rand_u64() % 60);
            for (size_t k = 0; k < want; k++) {
                const char *p = parts[test_rand_u64() % (sizeof parts / sizeof parts[0])];
                memcpy(buf + m, p, strlen(p));
                m += strlen(p);
            }
            check_round_trip(v, name, "random mix", buf, m, true);
        }
        apr_vocab_free(v);
    }
    free(buf);
}

int main(void) {
    for (size_t i = 0; i < sizeof k_vocabs / sizeof k_vocabs[0]; i++) test_vectors(k_vocabs[i]);
    test_load_speed();
    test_pre_families();
    test_malformed();
    test_special();
    test_stream();
    test_robustness();
    return test_finish();
}
