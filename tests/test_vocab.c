/* tests/test_vocab.c - tokenizers: llama.cpp's test vectors for four vocabularies,
   round trips, streaming decode, special tokens, malformed metadata, robustness. */
#define APR_IMPLEMENTATION
#include "apr.h"
#include "test.h"

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
    uint64_t t0 = apr__time_ns();
    apr_result r = apr_vocab_load(g, &v, &err);
    if (ms) *ms = (double)(apr__time_ns() - t0) / 1e6;
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
        char piece[256];
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

int main(void) {
    for (size_t i = 0; i < sizeof k_vocabs / sizeof k_vocabs[0]; i++) test_vectors(k_vocabs[i]);
    return test_finish();
}
