/* tests/fuzz_gguf.c - fuzz target for the GGUF reader.
   libFuzzer:   clang -O1 -g -fsanitize=fuzzer,address,undefined -I. -o fuzz_gguf tests/fuzz_gguf.c -lm -lpthread -ldl
                ./fuzz_gguf -max_total_time=120 corpus/     (or `make fuzz`)
   plain main:  cc -O1 -g -fsanitize=address,undefined -DAPR_FUZZ_MAIN -I. -o fuzz_gguf tests/fuzz_gguf.c -lm -lpthread -ldl
                ./fuzz_gguf FILE...         run each file once
                ./fuzz_gguf                 a few thousand seeded mutations of a small valid GGUF
                ./fuzz_gguf --seed PATH     write that small valid GGUF (a corpus seed) */
#define APR_IMPLEMENTATION
#include "apr.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile unsigned fuzz_sink; /* keeps the reads below from being optimised away */

/* Open the bytes and touch everything the getters can reach. */
static void fuzz_one(const uint8_t *data, size_t size) {
    apr_gguf *g = NULL;
    apr_error err;
    if (apr_gguf_open_memory(data, size, &g, &err) != APR_SUCCESS) {
        if (g != NULL || err.message[0] == 0) abort(); /* failure must be clean and explained */
        return;
    }
    char buf[512], key[300];
    int64_t n_kv = apr_gguf_n_kv(g);
    for (int64_t i = 0; i < n_kv; i++) {
        apr_str k = apr_gguf_key(g, i);
        apr_gguf_kv_to_string(g, i, buf, sizeof buf);
        apr_gguf_kv_to_string(g, i, buf, 5);
        if (k.len >= sizeof key || memchr(k.ptr, 0, (size_t)k.len)) continue;
        memcpy(key, k.ptr, (size_t)k.len);
        key[k.len] = 0;
        if (apr_gguf_find_key(g, key) != i) abort(); /* keys are unique */
        uint64_t u; int64_t s; double d; bool b; apr_str str;
        apr_gguf_value_type et; uint64_t count; const void *p;
        if (apr_gguf_get_u64(g, key, &u)) fuzz_sink += (unsigned)u;
        if (apr_gguf_get_i64(g, key, &s)) fuzz_sink += (unsigned)s;
        if (apr_gguf_get_f64(g, key, &d)) fuzz_sink += (unsigned)(d == d);
        if (apr_gguf_get_bool(g, key, &b)) fuzz_sink += b;
        if (apr_gguf_get_str(g, key, &str) && str.len) fuzz_sink += (unsigned char)str.ptr[str.len - 1];
        if (apr_gguf_get_arr(g, key, &et, &count, &p)) {
            if (et == APR_GGUF_STRING) {
                for (uint64_t j = 0; j < count; j++) {
                    apr_str e = apr_gguf_arr_str(g, key, j);
                    if (e.len) fuzz_sink += (unsigned char)e.ptr[0] + (unsigned char)e.ptr[e.len - 1];
                }
                apr_gguf_kv_arr_str(g, i, count);
            } else if (count) {
                /* last byte of the array */
                size_t es = et == APR_GGUF_UINT8 || et == APR_GGUF_INT8 || et == APR_GGUF_BOOL ? 1
                          : et == APR_GGUF_UINT16 || et == APR_GGUF_INT16 ? 2
                          : et == APR_GGUF_UINT64 || et == APR_GGUF_INT64 || et == APR_GGUF_FLOAT64 ? 8 : 4;
                fuzz_sink += ((const unsigned char *)p)[count * es - 1];
            }
        }
    }
    int64_t n_t = apr_gguf_n_tensors(g);
    for (int64_t i = 0; i < n_t; i++) {
        const apr_gguf_tensor *t = apr_gguf_tensor_at(g, i);
        if (!t || t->n_dims < 1 || t->n_dims > 4 || !apr_type_name(t->type)) abort();
        if (t->size) fuzz_sink += ((const unsigned char *)t->data)[0] + ((const unsigned char *)t->data)[t->size - 1];
        if (t->name.len < sizeof key && !memchr(t->name.ptr, 0, (size_t)t->name.len)) {
            memcpy(key, t->name.ptr, (size_t)t->name.len);
            key[t->name.len] = 0;
            if (apr_gguf_find_tensor(g, key) != t) abort();
        }
        if (apr_type_row_bytes(t->type, t->ne[0]) == 0) abort();
    }
    /* Later: apr_vocab_load and the model loader on the same file. */
    apr_gguf_close(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* a private copy of exactly size bytes, so any overread is caught */
    uint8_t *copy = (uint8_t *)malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    fuzz_one(copy, size);
    free(copy);
    return 0;
}

#ifdef APR_FUZZ_MAIN
/* ---- a small valid GGUF built in memory: every value type, string arrays, 3 tensors ---- */

typedef struct fz_buf { uint8_t *p; size_t n, cap; } fz_buf;
static void fz_raw(fz_buf *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = (uint8_t *)realloc(b->p, b->cap);
        if (!b->p) exit(1);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}
static void fz_int(fz_buf *b, uint64_t v, int bytes) {
    uint8_t x[8];
    for (int i = 0; i < bytes; i++) x[i] = (uint8_t)(v >> (8 * i));
    fz_raw(b, x, (size_t)bytes);
}
static void fz_str(fz_buf *b, const char *s) { fz_int(b, strlen(s), 8); fz_raw(b, s, strlen(s)); }
static void fz_key(fz_buf *b, const char *k, uint32_t type) { fz_str(b, k); fz_int(b, type, 4); }

static fz_buf fz_seed(void) {
    fz_buf b = {NULL, 0, 0};
    static const char *tokens[] = {"<unk>", "<s>", "</s>", "a", "b", "ab", "\xc4\xa0the", ""};
    fz_raw(&b, "GGUF", 4);
    fz_int(&b, 3, 4);
    fz_int(&b, 3, 8);  /* tensors */
    fz_int(&b, 14, 8); /* kvs */
    fz_key(&b, "general.architecture", APR_GGUF_STRING); fz_str(&b, "llama");
    fz_key(&b, "general.alignment", APR_GGUF_UINT32); fz_int(&b, 32, 4);
    fz_key(&b, "llama.block_count", APR_GGUF_UINT32); fz_int(&b, 1, 4);
    fz_key(&b, "t.u8", APR_GGUF_UINT8); fz_int(&b, 200, 1);
    fz_key(&b, "t.i8", APR_GGUF_INT8); fz_int(&b, 0x80, 1);
    fz_key(&b, "t.u16", APR_GGUF_UINT16); fz_int(&b, 65535, 2);
    fz_key(&b, "t.i16", APR_GGUF_INT16); fz_int(&b, 0x8000, 2);
    fz_key(&b, "t.i32", APR_GGUF_INT32); fz_int(&b, 0xffffffffu, 4);
    fz_key(&b, "t.f32", APR_GGUF_FLOAT32); fz_int(&b, 0x3f800000u, 4);
    fz_key(&b, "t.bool", APR_GGUF_BOOL); fz_int(&b, 1, 1);
    fz_key(&b, "t.i64", APR_GGUF_INT64); fz_int(&b, 0x8000000000000000ull, 8);
    fz_key(&b, "t.f64", APR_GGUF_FLOAT64); fz_int(&b, 0x3ff0000000000000ull, 8);
    fz_key(&b, "tokenizer.ggml.tokens", APR_GGUF_ARRAY); fz_int(&b, APR_GGUF_STRING, 4); fz_int(&b, 8, 8);
    for (int i = 0; i < 8; i++) fz_str(&b, tokens[i]);
    fz_key(&b, "tokenizer.ggml.scores", APR_GGUF_ARRAY); fz_int(&b, APR_GGUF_FLOAT32, 4); fz_int(&b, 8, 8);
    for (int i = 0; i < 8; i++) fz_int(&b, 0xbf800000u, 4);
    /* tensors: F32 [8, 2], Q4_0 [32, 2], Q4_K [256] */
    fz_str(&b, "token_embd.weight"); fz_int(&b, 2, 4); fz_int(&b, 8, 8); fz_int(&b, 2, 8); fz_int(&b, APR_TYPE_F32, 4); fz_int(&b, 0, 8);
    fz_str(&b, "blk.0.attn_q.weight"); fz_int(&b, 2, 4); fz_int(&b, 32, 8); fz_int(&b, 2, 8); fz_int(&b, APR_TYPE_Q4_0, 4); fz_int(&b, 64, 8);
    fz_str(&b, "output.weight"); fz_int(&b, 1, 4); fz_int(&b, 256, 8); fz_int(&b, APR_TYPE_Q4_K, 4); fz_int(&b, 128, 8);
    while (b.n % 32) fz_int(&b, 0, 1);
    for (int i = 0; i < 128 + 144; i++) fz_int(&b, (uint64_t)(i * 37), 1);
    return b;
}

static uint64_t fz_rng = 0x243F6A8885A308D3ull;
static uint64_t fz_rand(void) {
    fz_rng ^= fz_rng << 13;
    fz_rng ^= fz_rng >> 7;
    fz_rng ^= fz_rng << 17;
    return fz_rng;
}

/* One random mutation of b (in place; b->n may shrink or grow). */
static void fz_mutate(fz_buf *b) {
    static const uint64_t interesting[] = {0, 1, 2, 3, 4, 5, 8, 9, 12, 13, 31, 32, 33, 63, 64, 255, 256,
                                           0x7fffffff, 0x80000000u, 0xffffffffu, 0x100000000ull,
                                           0x7fffffffffffffffull, 0x8000000000000000ull, 0xffffffffffffffffull};
    if (b->n == 0) return;
    size_t at = (size_t)(fz_rand() % b->n);
    switch (fz_rand() % 6) {
    case 0: b->p[at] ^= (uint8_t)(1u << (fz_rand() % 8)); break;
    case 1: b->p[at] = (uint8_t)fz_rand(); break;
    case 2: { /* an interesting little-endian integer of 1, 2, 4 or 8 bytes */
        int bytes = 1 << (fz_rand() % 4);
        uint64_t v = interesting[fz_rand() % (sizeof interesting / sizeof interesting[0])];
        if (fz_rand() & 1) v += (fz_rand() % 5) - 2;
        for (int i = 0; i < bytes && at + (size_t)i < b->n; i++) b->p[at + (size_t)i] = (uint8_t)(v >> (8 * i));
        break;
    }
    case 3: b->n = at; break; /* truncate */
    case 4: { /* delete a run */
        size_t len = (size_t)(fz_rand() % 16) + 1;
        if (at + len > b->n) len = b->n - at;
        memmove(b->p + at, b->p + at + len, b->n - at - len);
        b->n -= len;
        break;
    }
    case 5: { /* duplicate a run */
        size_t len = (size_t)(fz_rand() % 16) + 1;
        if (at + len > b->n) len = b->n - at;
        uint8_t tmp[16];
        memcpy(tmp, b->p + at, len);
        fz_raw(b, tmp, len); /* grow by len */
        memmove(b->p + at + len, b->p + at, b->n - len - at);
        memcpy(b->p + at, tmp, len);
        break;
    }
    }
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--seed") == 0) {
        fz_buf s = fz_seed();
        FILE *f = fopen(argv[2], "wb");
        if (!f || fwrite(s.p, 1, s.n, f) != s.n) return 1;
        fclose(f);
        free(s.p);
        return 0;
    }
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            FILE *f = fopen(argv[i], "rb");
            if (!f) { fprintf(stderr, "cannot open %s\n", argv[i]); return 1; }
            fz_buf b = {NULL, 0, 0};
            uint8_t chunk[65536];
            size_t n;
            while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) fz_raw(&b, chunk, n);
            fclose(f);
            LLVMFuzzerTestOneInput(b.p, b.n);
            free(b.p);
        }
        printf("%d files ok\n", argc - 1);
        return 0;
    }
    fz_buf seed = fz_seed();
    apr_gguf *g = NULL;
    if (apr_gguf_open_memory(seed.p, seed.n, &g, NULL) != APR_SUCCESS) { fprintf(stderr, "seed invalid\n"); return 1; }
    apr_gguf_close(g);
    const int runs = getenv("APR_TEST_QUICK") ? 2000 : 5000;
    fz_buf m = {NULL, 0, 0};
    int opened = 0;
    for (int r = 0; r < runs; r++) {
        m.n = 0;
        fz_raw(&m, seed.p, seed.n);
        int n_mut = 1 + (int)(fz_rand() % 4);
        for (int k = 0; k < n_mut; k++) fz_mutate(&m);
        if (apr_gguf_open_memory(m.p, m.n, &g, NULL) == APR_SUCCESS) { opened++; apr_gguf_close(g); }
        LLVMFuzzerTestOneInput(m.p, m.n);
    }
    printf("%d mutations ok (%d still valid)\n", runs, opened);
    free(m.p);
    free(seed.p);
    return 0;
}
#endif
