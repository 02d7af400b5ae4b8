/* tests/test_gguf.c - GGUF reader, writer and type table: the real files in ../shared/data,
   a suite of hand-made malformed files, truncation at every offset, writer round trip. */
#define APR_IMPLEMENTATION
#include "apr.h"
#include "test.h"

static bool str_is(apr_str s, const char *c) { return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0; }

/* Every tensor's data lies inside the file, after the data offset, aligned. */
static void check_tensor_table(const apr_gguf *g, const char *what) {
    const uint8_t *base = NULL;
    int64_t n = apr_gguf_n_tensors(g);
    for (int64_t i = 0; i < n; i++) {
        const apr_gguf_tensor *t = apr_gguf_tensor_at(g, i);
        if (i == 0) base = (const uint8_t *)t->data - t->offset - apr_gguf_data_offset(g);
        uint64_t start = (uint64_t)((const uint8_t *)t->data - base);
        CHECK(start == apr_gguf_data_offset(g) + t->offset, "%s tensor %lld data pointer", what, (long long)i);
        CHECK(start + t->size <= apr_gguf_file_size(g), "%s tensor %lld inside the file", what, (long long)i);
        CHECK(t->offset % apr_gguf_alignment(g) == 0, "%s tensor %lld aligned", what, (long long)i);
        int64_t nel = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
        CHECK(t->size == apr_type_row_bytes(t->type, t->ne[0]) * (uint64_t)(nel / t->ne[0]), "%s tensor %lld size", what, (long long)i);
        CHECK(apr_gguf_find_tensor(g, "") == NULL, "no empty-named tensor");
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        CHECK(apr_gguf_find_tensor(g, name) == t, "%s find_tensor(%s)", what, name);
    }
    CHECK(apr_gguf_tensor_at(g, n) == NULL && apr_gguf_tensor_at(g, -1) == NULL, "%s tensor_at out of range", what);
}

static void test_stories(void) {
    TEST("stories260K");
    apr_gguf *g = NULL;
    apr_error e;
    apr_result r = apr_gguf_open(test_shared("data/models/stories260K.gguf"), &g, &e);
    CHECK(r == APR_SUCCESS, "open: %s", e.message);
    if (r) return;
    apr_str s;
    CHECK(apr_gguf_version(g) == 3, "version %u", apr_gguf_version(g));
    CHECK(apr_gguf_get_str(g, "general.architecture", &s) && str_is(s, "llama"), "architecture");
    uint64_t u = 0; int64_t i64 = 0; double f = 0;
    CHECK(apr_gguf_get_u64(g, "llama.block_count", &u) && u == 5, "block_count %llu", (unsigned long long)u);
    CHECK(apr_gguf_get_i64(g, "llama.embedding_length", &i64) && i64 == 64, "n_embd");
    CHECK(apr_gguf_get_u64(g, "llama.attention.head_count", &u) && u == 8, "n_head");
    CHECK(apr_gguf_get_u64(g, "llama.attention.head_count_kv", &u) && u == 4, "n_head_kv");
    CHECK(apr_gguf_get_u64(g, "llama.feed_forward_length", &u) && u == 172, "n_ff");
    CHECK(apr_gguf_get_f64(g, "llama.attention.layer_norm_rms_epsilon", &f) && fabs(f - 1e-5) < 1e-9, "eps %g", f);
    CHECK(!apr_gguf_get_str(g, "llama.block_count", &s), "u32 is not a string");
    CHECK(!apr_gguf_get_u64(g, "general.architecture", &u), "string is not an integer");
    CHECK(!apr_gguf_get_u64(g, "no.such.key", &u) && apr_gguf_find_key(g, "no.such.key") == -1, "absent key");
    apr_gguf_value_type et; uint64_t count = 0; const void *data = NULL;
    CHECK(apr_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &count, &data) && et == APR_GGUF_STRING && count == 512, "tokens");
    CHECK(str_is(apr_gguf_arr_str(g, "tokenizer.ggml.tokens", 0), "<unk>"), "token 0");
    CHECK(str_is(apr_gguf_arr_str(g, "tokenizer.ggml.tokens", 1), "<s>"), "token 1");
    CHECK(str_is(apr_gguf_arr_str(g, "tokenizer.ggml.tokens", 3), "<0x00>"), "token 3");
    CHECK(apr_gguf_arr_str(g, "tokenizer.ggml.tokens", 512).len == 0, "token out of range");
    CHECK(apr_gguf_get_arr(g, "tokenizer.ggml.scores", &et, &count, &data) && et == APR_GGUF_FLOAT32 && count == 512, "scores");
    CHECK(apr_gguf_get_arr(g, "tokenizer.ggml.token_type", &et, &count, &data) && et == APR_GGUF_INT32 && count == 512, "token_type");
    if (count == 512) {
        int32_t tt; memcpy(&tt, (const char *)data + 4, 4);
        CHECK(tt == 3, "token_type[1] = %d (control)", tt);
    }
    /* 9 tensors per layer + token_embd, output_norm, output */
    CHECK(apr_gguf_n_tensors(g) == 5 * 9 + 3, "n_tensors %lld", (long long)apr_gguf_n_tensors(g));
    const apr_gguf_tensor *t = apr_gguf_find_tensor(g, "blk.4.ffn_down.weight");
    CHECK(t && t->type == APR_TYPE_F32 && t->n_dims == 2 && t->ne[0] == 172 && t->ne[1] == 64, "ffn_down shape");
    t = apr_gguf_find_tensor(g, "token_embd.weight");
    CHECK(t && t->ne[0] == 64 && t->ne[1] == 512 && t->size == 64 * 512 * 4, "token_embd");
    CHECK(apr_gguf_find_tensor(g, "blk.5.ffn_down.weight") == NULL, "no layer 5");
    check_tensor_table(g, "stories");
    char buf[256];
    int64_t ki = apr_gguf_find_key(g, "general.architecture");
    CHECK(ki >= 0 && apr_gguf_kv_type(g, ki) == APR_GGUF_STRING && str_is(apr_gguf_key(g, ki), "general.architecture"), "key by index");
    apr_gguf_kv_to_string(g, ki, buf, sizeof buf);
    CHECK(strcmp(buf, "\"llama\"") == 0, "kv_to_string str: %s", buf);
    apr_gguf_kv_to_string(g, apr_gguf_find_key(g, "llama.block_count"), buf, sizeof buf);
    CHECK(strcmp(buf, "5") == 0, "kv_to_string u32: %s", buf);
    apr_gguf_kv_to_string(g, apr_gguf_find_key(g, "tokenizer.ggml.tokens"), buf, sizeof buf);
    CHECK(strncmp(buf, "[str \xc3\x97 512]: \"<unk>\", \"<s>\"", 27) == 0, "kv_to_string arr: %s", buf);
    char tiny[8];
    int n = apr_gguf_kv_to_string(g, apr_gguf_find_key(g, "tokenizer.ggml.tokens"), tiny, sizeof tiny);
    CHECK(n == 7 && strlen(tiny) == 7, "kv_to_string clips to the buffer");
    apr_gguf_close(g);

    /* the same from memory */
    size_t size = 0;
    void *bytes = test_read_file(test_shared("data/models/stories260K.gguf"), &size);
    CHECK(bytes != NULL, "read stories260K");
    if (bytes) {
        r = apr_gguf_open_memory(bytes, size, &g, &e);
        CHECK(r == APR_SUCCESS && apr_gguf_n_tensors(g) == 48 && apr_gguf_n_kv(g) == 19, "open_memory");
        if (!r) {
            t = apr_gguf_tensor_at(g, 0);
            CHECK((const char *)t->data >= (const char *)bytes && (const char *)t->data + t->size <= (const char *)bytes + size, "data in buffer");
            apr_gguf_close(g);
        }
        free(bytes);
    }
}

static void test_vocab_files(void) {
    TEST("vocab files");
    static const struct { const char *file, *model, *pre; uint64_t n_tokens; } v[] = {
        {"data/vocab/ggml-vocab-llama-spm.gguf", "llama", "default", 32000},
        {"data/vocab/ggml-vocab-gpt-2.gguf", "gpt2", "gpt-2", 50257},
        {"data/vocab/ggml-vocab-deepseek-coder.gguf", "gpt2", "deepseek-coder", 32256},
        {"data/vocab/ggml-vocab-qwen2.gguf", "gpt2", "qwen2", 151936},
    };
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        apr_gguf *g = NULL;
        apr_error e;
        apr_result r = apr_gguf_open(test_shared(v[k].file), &g, &e);
        CHECK(r == APR_SUCCESS, "%s: %s", v[k].file, e.message);
        if (r) continue;
        apr_str s; apr_gguf_value_type et; uint64_t count = 0;
        CHECK(apr_gguf_n_tensors(g) == 0, "%s no tensors", v[k].file);
        CHECK(apr_gguf_get_str(g, "tokenizer.ggml.model", &s) && str_is(s, v[k].model), "%s model", v[k].file);
        CHECK(apr_gguf_get_str(g, "tokenizer.ggml.pre", &s) && str_is(s, v[k].pre), "%s pre", v[k].file);
        CHECK(apr_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &count, NULL) && et == APR_GGUF_STRING && count == v[k].n_tokens,
              "%s n_tokens %llu", v[k].file, (unsigned long long)count);
        apr_str last = apr_gguf_arr_str(g, "tokenizer.ggml.tokens", count - 1);
        CHECK(last.len > 0, "%s last token", v[k].file);
        uint64_t eos = 0;
        if (apr_gguf_get_u64(g, "tokenizer.ggml.eos_token_id", &eos) && eos < count) {
            apr_str es = apr_gguf_arr_str(g, "tokenizer.ggml.tokens", eos);
            CHECK(str_is(es, "</s>") || str_is(es, "<|endoftext|>") || str_is(es, "<|im_end|>") ||
                  str_is(es, "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"),
                  "%s eos token text '%.*s'", v[k].file, (int)es.len, es.ptr);
        }
        if (strcmp(v[k].model, "gpt2") == 0) {
            CHECK(apr_gguf_get_arr(g, "tokenizer.ggml.merges", &et, &count, NULL) && et == APR_GGUF_STRING && count > 1000, "%s merges", v[k].file);
            apr_str m = apr_gguf_arr_str(g, "tokenizer.ggml.merges", count - 1);
            CHECK(memchr(m.ptr, ' ', m.len) != NULL, "%s last merge has a space", v[k].file);
        }
        apr_gguf_close(g);
    }
}

static void test_quant_files(void) {
    TEST("quant files (MANIFEST.tsv)");
    size_t size = 0;
    char *man = (char *)test_read_file(test_shared("data/quant/MANIFEST.tsv"), &size);
    CHECK(man != NULL, "MANIFEST.tsv");
    if (!man) return;
    int rows = 0;
    char *line = strchr(man, '\n');
    while (line && *++line) {
        char file[128], tensor[128], type[32];
        long long ne0, ne1;
        if (sscanf(line, "%127s %127s %31s [%lld, %lld]", file, tensor, type, &ne0, &ne1) == 5) {
            rows++;
            char path[256];
            snprintf(path, sizeof path, "data/quant/%s", file);
            apr_gguf *g = NULL;
            apr_error e;
            apr_result r = apr_gguf_open(test_shared(path), &g, &e);
            CHECK(r == APR_SUCCESS, "%s: %s", file, e.message);
            if (!r) {
                const apr_gguf_tensor *t = apr_gguf_find_tensor(g, tensor);
                CHECK(t && t->type == apr_type_from_name(type) && t->ne[0] == ne0 && t->ne[1] == ne1,
                      "%s %s is %s [%lld, %lld]", file, tensor, type, ne0, ne1);
                CHECK(apr_gguf_n_tensors(g) == 2 * 9 + 3, "%s n_tensors", file);
                check_tensor_table(g, file);
                apr_gguf_close(g);
            }
        }
        line = strchr(line, '\n');
    }
    CHECK(rows >= 30, "manifest rows %d", rows);
    free(man);
}

int main(void) {
    test_stories();
    test_vocab_files();
    test_quant_files();
    return test_finish();
}
