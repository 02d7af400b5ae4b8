/* tests/test_quantize.c - weight quantizers against llama.cpp's files, the recipes against
   the file sizes llama.cpp gives, requantization and synthetic models end to end. */
#define APR_IMPLEMENTATION
#include "apr.h"
#include "test.h"

static const char *const k_types[] = {"F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K",
                                      "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"};

static double sq_err(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return s;
}

/* Every 2-D weight of tiny-llama-f32.gguf quantized by apr and by llama-quantize --pure:
   apr's error may be at most 5% above llama.cpp's; identical bytes are counted. */
static void test_round_trip(void) {
    TEST("round trip against llama.cpp's quantized files");
    apr_gguf *f32 = NULL;
    if (apr_gguf_open(test_shared("data/quant/tiny-llama-f32.gguf"), &f32, NULL) != APR_SUCCESS) {
        CHECK(0, "tiny-llama-f32.gguf missing");
        return;
    }
    for (size_t ti = 0; ti < sizeof k_types / sizeof k_types[0]; ti++) {
        char path[256];
        snprintf(path, sizeof path, "data/quant/tiny-llama-%s.gguf", k_types[ti]);
        apr_gguf *ref = NULL;
        if (apr_gguf_open(test_shared(path), &ref, NULL) != APR_SUCCESS) {
            CHECK(0, "%s missing", path);
            continue;
        }
        int type = apr_type_from_name(k_types[ti]);
        double err_apr = 0, err_ref = 0;
        int n_tensors = 0, n_same = 0;
        for (int64_t i = 0; i < apr_gguf_n_tensors(ref); i++) {
            const apr_gguf_tensor *r = apr_gguf_tensor_at(ref, i);
            if (r->type != type) continue;
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)r->name.len, r->name.ptr);
            const apr_gguf_tensor *src = apr_gguf_find_tensor(f32, name);
            CHECK(src && src->type == APR_TYPE_F32, "%s in the f32 file", name);
            if (!src) continue;
            int64_t n = src->ne[0] * src->ne[1];
            size_t bytes = apr_type_row_bytes(type, src->ne[0]) * (size_t)src->ne[1];
            CHECK(bytes == r->size, "%s %s size %zu vs %llu", k_types[ti], name, bytes, (unsigned long long)r->size);
            uint8_t *q = (uint8_t *)malloc(bytes);
            float *a = (float *)malloc((size_t)n * sizeof(float)), *b = (float *)malloc((size_t)n * sizeof(float));
            const float *x = (const float *)src->data;
            /* row by row, as a converter does */
            int n_bad = 0;
            for (int64_t row = 0; row < src->ne[1]; row++)
                n_bad += apr_quantize_row(type, x + row * src->ne[0], q + row * (bytes / src->ne[1]), src->ne[0],
                                          NULL) != APR_SUCCESS;
            CHECK(n_bad == 0, "quantize %s %s: %d rows failed", k_types[ti], name, n_bad);
            CHECK(apr_dequantize_row(type, q, a, n) == APR_SUCCESS, "dequantize apr's %s", k_types[ti]);
            CHECK(apr_dequantize_row(type, r->data, b, n) == APR_SUCCESS, "dequantize llama.cpp's %s", k_types[ti]);
            err_apr += sq_err(a, x, n);
            err_ref += sq_err(b, x, n);
            n_tensors++;
            if (memcmp(q, r->data, bytes) == 0) n_same++;
            free(q); free(a); free(b);
        }
        CHECK(n_tensors > 0, "%s has tensors of its type", k_types[ti]);
        CHECK(sqrt(err_apr) <= 1.05 * sqrt(err_ref), "%s: rmse %.4g vs llama.cpp %.4g", k_types[ti], sqrt(err_apr),
              sqrt(err_ref));
        /* llama-quantize without an imatrix runs ggml's reference quantizers: apr follows
           them exactly */
        CHECK(n_same == n_tensors, "%s: %d of %d tensors byte-identical to llama.cpp's", k_types[ti], n_same, n_tensors);
        fprintf(stderr, "    %-6s error ratio %.5f, bytes identical in %d of %d tensors\n", k_types[ti],
                err_ref > 0 ? sqrt(err_apr / err_ref) : 1.0, n_same, n_tensors);
        apr_gguf_close(ref);
    }
    apr_gguf_close(f32);
}

/* Edge cases every quantizer must survive: zeros, constants, one outlier, huge and tiny. */
static void test_edge_rows(void) {
    TEST("edge rows");
    float x[512];
    uint8_t q[512 * 4];
    float y[512];
    for (size_t ti = 0; ti < sizeof k_types / sizeof k_types[0]; ti++) {
        int type = apr_type_from_name(k_types[ti]);
        for (int kind = 0; kind < 6; kind++) {
            for (int i = 0; i < 512; i++) {
                x[i] = kind == 0 ? 0.0f : kind == 1 ? 0.5f : kind == 2 ? (i == 77 ? 100.0f : 0.0f)
                     : kind == 3 ? 1e4f * test_rand_normal() : kind == 4 ? 1e-3f * test_rand_normal()
                     : 1e-7f * test_rand_normal();
            }
            CHECK(apr_quantize_row(type, x, q, 512, NULL) == APR_SUCCESS, "%s kind %d", k_types[ti], kind);
            CHECK(apr_dequantize_row(type, q, y, 512) == APR_SUCCESS, "%s kind %d", k_types[ti], kind);
            double amax = 0, err = 0;
            for (int i = 0; i < 512; i++) {
                amax = fmax(amax, fabs(x[i]));
                err = fmax(err, fabs((double)x[i] - y[i]));
            }
            bool finite = true;
            for (int i = 0; i < 512; i++) finite = finite && isfinite(y[i]);
            CHECK(finite, "%s kind %d: finite output", k_types[ti], kind);
            /* the coarsest type (Q2_K) is within about a half of the block's range; values
               below fp16's range (kind 5) only need to stay finite */
            CHECK(kind == 5 || err <= 0.75 * amax, "%s kind %d: max error %g of max %g", k_types[ti], kind, err, amax);
        }
    }
    CHECK(apr_quantize_row(APR_TYPE_Q4_K, x, q, 100, NULL) == APR_ERROR_INVALID_ARGUMENT, "n not a multiple of 256");
    CHECK(apr_quantize_row(APR_TYPE_Q8_K, x, q, 256, NULL) == APR_ERROR_UNSUPPORTED, "Q8_K is no weight type");
}

/* llama.cpp's Q4_K_M on the real Qwen2.5 shapes: the sizes llama-bench reports. */
static void test_recipe_sizes(void) {
    TEST("recipe sizes (Q4_K_M, Qwen2.5 shapes)");
    static const struct { const char *name; double mib; } want[] = {
        {"qwen2.5-0.5b", 373.7}, {"qwen2.5-1.5b", 934.7}, {"qwen2.5-7b", 4.36 * 1024}, {"qwen2.5-32b", 18.48 * 1024}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        uint64_t bytes = 0, params = 0;
        CHECK(apr_synthetic_plan(want[i].name, "Q4_K_M", false, &bytes, &params) == APR_SUCCESS, "%s", want[i].name);
        double mib = bytes / 1048576.0;
        CHECK(fabs(mib / want[i].mib - 1) < 0.005, "%s: %.2f MiB, llama.cpp %.2f MiB", want[i].name, mib, want[i].mib);
        fprintf(stderr, "    %-13s %9.2f MiB (llama.cpp %.2f), %.3f B parameters\n", want[i].name, mib, want[i].mib,
                params / 1e9);
    }
    uint64_t b1 = 0, b2 = 0;
    CHECK(apr_synthetic_plan("qwen2.5-0.5b", "Q8_0", false, &b1, NULL) == APR_SUCCESS, "Q8_0 plan");
    CHECK(apr_synthetic_plan("qwen2.5-0.5b", "Q4_K_M", true, &b2, NULL) == APR_SUCCESS, "pure plan");
    CHECK(b1 > b2, "Q8_0 larger than pure Q4_K");
    CHECK(apr_synthetic_plan("no-such-model", "Q4_K_M", false, &b1, NULL) == APR_ERROR_INVALID_ARGUMENT, "unknown name");
    CHECK(apr_synthetic_plan("qwen2.5-0.5b", "Q9_X", false, &b1, NULL) == APR_ERROR_INVALID_ARGUMENT, "unknown type");
}

/* Per-tensor choices, as llama-quantize prints them for Qwen2.5 0.5B and 7B. */
static void test_recipe_types(void) {
    TEST("recipe per-tensor types");
    apr_quantize_model_info q05 = {"qwen2", 24, 14, 2, 0, false};
    apr_quantize_model_info q7 = {"qwen2", 28, 28, 4, 0, true};
    int64_t sq[2] = {896, 896}, kv[2] = {896, 128}, down[2] = {4864, 896}, emb[2] = {896, 151936}, nrm[1] = {896};
    int64_t down7[2] = {18944, 3584}, emb7[2] = {3584, 151936}, kv7[2] = {3584, 512};
    struct { const apr_quantize_model_info *mi; const char *name; int nd; const int64_t *ne; int want; } cases[] = {
        {&q05, "token_embd.weight", 2, emb, APR_TYPE_Q8_0},      /* tied: output's type, 896 % 256 */
        {&q05, "blk.0.attn_q.weight", 2, sq, APR_TYPE_Q5_0},     /* Q4_K falls back */
        {&q05, "blk.0.attn_v.weight", 2, kv, APR_TYPE_Q8_0},     /* Q6_K falls back */
        {&q05, "blk.3.attn_v.weight", 2, kv, APR_TYPE_Q5_0},
        {&q05, "blk.5.attn_v.weight", 2, kv, APR_TYPE_Q8_0},     /* (5 - 3) % 3 == 2 */
        {&q05, "blk.0.ffn_down.weight", 2, down, APR_TYPE_Q6_K}, /* 4864 = 19 x 256 */
        {&q05, "blk.4.ffn_down.weight", 2, down, APR_TYPE_Q4_K},
        {&q05, "blk.21.ffn_down.weight", 2, down, APR_TYPE_Q6_K},
        {&q05, "blk.0.attn_norm.weight", 1, nrm, APR_TYPE_F32},
        {&q05, "blk.0.attn_q.bias", 1, nrm, APR_TYPE_F32},
        {&q7, "token_embd.weight", 2, emb7, APR_TYPE_Q4_K},
        {&q7, "output.weight", 2, emb7, APR_TYPE_Q6_K},
        {&q7, "blk.1.attn_v.weight", 2, kv7, APR_TYPE_Q6_K},
        {&q7, "blk.4.attn_v.weight", 2, kv7, APR_TYPE_Q4_K},
        {&q7, "blk.27.ffn_down.weight", 2, down7, APR_TYPE_Q6_K},
        {&q7, "blk.10.ffn_down.weight", 2, down7, APR_TYPE_Q4_K},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int t = apr_quantize_tensor_type("Q4_K_M", false, cases[i].mi, cases[i].name, cases[i].nd, cases[i].ne,
                                         APR_TYPE_F32);
        CHECK(t == cases[i].want, "%s: %s, want %s", cases[i].name, apr_type_name(t), apr_type_name(cases[i].want));
    }
    CHECK(apr_quantize_tensor_type("Q4_K_M", true, &q7, "output.weight", 2, emb7, APR_TYPE_F32) == APR_TYPE_Q4_K,
          "pure");
    CHECK(apr_quantize_tensor_type("Q8_0", false, &q7, "output.weight", 2, emb7, APR_TYPE_F32) == APR_TYPE_Q8_0, "Q8_0");
    CHECK(apr_quantize_tensor_type("Q6_K", false, &q05, "blk.0.attn_q.weight", 2, sq, APR_TYPE_F32) == APR_TYPE_Q8_0,
          "Q6_K falls back to Q8_0");
    CHECK(apr_quantize_tensor_type("Q5_K_M", false, &q05, "blk.0.attn_q.weight", 2, sq, APR_TYPE_F32) == APR_TYPE_Q5_1,
          "Q5_K falls back to Q5_1");
    CHECK(apr_quantize_tensor_type("nope", false, &q05, "blk.0.attn_q.weight", 2, sq, APR_TYPE_F32) == -1, "unknown");
    CHECK(apr_ftype_from_name("q4_k_m") == 15 && apr_ftype_from_name("Q8_0") == 7 && apr_ftype_from_name("BF16") == 32,
          "file type values");
    CHECK(apr_ftype_name(15) && strcmp(apr_ftype_name(15), "Q4_K_M") == 0, "ftype name");
}

/* apr_quantize_model: metadata copied, file type set, per-tensor types, data as llama.cpp. */
static void test_requantize(void) {
    TEST("apr_quantize_model on tiny-llama");
    system("mkdir -p tests/tmp");
    const char *out = "tests/tmp/quantize-tiny.gguf";
    apr_quantize_params p = apr_quantize_default_params();
    p.n_threads = 2;
    p.pure = true;
    apr_error err;
    apr_result r = apr_quantize_model(test_shared("data/quant/tiny-llama-f32.gguf"), out, "Q4_K", &p, &err);
    CHECK(r == APR_SUCCESS, "quantize: %s", err.message);
    apr_gguf *a = NULL, *b = NULL, *src = NULL;
    if (r != APR_SUCCESS || apr_gguf_open(out, &a, NULL) != APR_SUCCESS ||
        apr_gguf_open(test_shared("data/quant/tiny-llama-Q4_K.gguf"), &b, NULL) != APR_SUCCESS ||
        apr_gguf_open(test_shared("data/quant/tiny-llama-f32.gguf"), &src, NULL) != APR_SUCCESS) {
        CHECK(0, "open the files");
        apr_gguf_close(a); apr_gguf_close(b); apr_gguf_close(src);
        return;
    }
    uint64_t ft = 0, qv = 0;
    CHECK(apr_gguf_get_u64(a, "general.file_type", &ft) && ft == 15, "file type %llu", (unsigned long long)ft);
    CHECK(apr_gguf_get_u64(a, "general.quantization_version", &qv) && qv == 2, "quantization version");
    CHECK(apr_gguf_n_tensors(a) == apr_gguf_n_tensors(src), "tensor count");
    /* every key of the source is there, with the same value text */
    int n_missing = 0;
    for (int64_t i = 0; i < apr_gguf_n_kv(src); i++) {
        apr_str k = apr_gguf_key(src, i);
        char key[128], v1[256], v2[256];
        snprintf(key, sizeof key, "%.*s", (int)k.len, k.ptr);
        if (strcmp(key, "general.file_type") == 0) continue;
        int64_t j = apr_gguf_find_key(a, key);
        if (j < 0) { n_missing++; continue; }
        apr_gguf_kv_to_string(src, i, v1, sizeof v1);
        apr_gguf_kv_to_string(a, j, v2, sizeof v2);
        CHECK(strcmp(v1, v2) == 0, "%s: %s vs %s", key, v1, v2);
    }
    CHECK(n_missing == 0, "%d keys missing", n_missing);
    int n_same = 0, n_q = 0;
    for (int64_t i = 0; i < apr_gguf_n_tensors(b); i++) {
        const apr_gguf_tensor *tb = apr_gguf_tensor_at(b, i);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)tb->name.len, tb->name.ptr);
        const apr_gguf_tensor *ta = apr_gguf_find_tensor(a, name);
        CHECK(ta && ta->type == tb->type && ta->size == tb->size, "%s: same type and size as llama.cpp's", name);
        if (!ta || ta->size != tb->size) continue;
        if (tb->type == APR_TYPE_Q4_K) n_q++;
        if (memcmp(ta->data, tb->data, ta->size) == 0) n_same += tb->type == APR_TYPE_Q4_K;
    }
    fprintf(stderr, "    pure Q4_K file: %d of %d quantized tensors byte-identical to llama-quantize's\n", n_same, n_q);
    apr_gguf_close(a); apr_gguf_close(b);

    /* the Q4_K_M mixture on a 2-layer model: output Q6_K, attn_v/ffn_down Q6_K (layers < 2/8 + ...) */
    p.pure = false;
    r = apr_quantize_model(test_shared("data/quant/tiny-llama-f32.gguf"), out, "Q4_K_M", &p, &err);
    CHECK(r == APR_SUCCESS, "Q4_K_M: %s", err.message);
    if (r == APR_SUCCESS && apr_gguf_open(out, &a, NULL) == APR_SUCCESS) {
        const apr_gguf_tensor *t = apr_gguf_find_tensor(a, "output.weight");
        CHECK(t && t->type == APR_TYPE_Q6_K, "output.weight Q6_K");
        t = apr_gguf_find_tensor(a, "blk.1.attn_v.weight");
        CHECK(t && t->type == APR_TYPE_Q6_K, "attn_v of the last layer Q6_K");
        t = apr_gguf_find_tensor(a, "blk.0.attn_q.weight");
        CHECK(t && t->type == APR_TYPE_Q4_K, "attn_q Q4_K");
        t = apr_gguf_find_tensor(a, "blk.0.attn_norm.weight");
        CHECK(t && t->type == APR_TYPE_F32, "norm stays F32");
        apr_gguf_close(a);
    }
    /* and back: a quantized input is dequantized and requantized */
    r = apr_quantize_model(out, "tests/tmp/quantize-tiny-q8.gguf", "Q8_0", &p, &err);
    CHECK(r == APR_SUCCESS, "requantize Q4_K_M -> Q8_0: %s", err.message);
    CHECK(apr_quantize_model(test_shared("data/quant/tiny-llama-f32.gguf"), out, "Q7_Z", &p, &err) ==
              APR_ERROR_INVALID_ARGUMENT, "unknown type");
    CHECK(apr_quantize_model("tests/tmp/does-not-exist.gguf", out, "Q8_0", &p, &err) == APR_ERROR_IO, "missing input");
    CHECK(apr_quantize_model(test_shared("data/quant/tiny-llama-f32.gguf"), out, "Q2_K_S", &p, &err) ==
              APR_ERROR_INVALID_ARGUMENT, "Q2_K_S needs an imatrix: not offered");
    /* F16 and BF16 inputs */
    r = apr_quantize_model(test_shared("data/quant/tiny-llama-F16.gguf"), out, "Q6_K", &p, &err);
    CHECK(r == APR_SUCCESS, "F16 -> Q6_K: %s", err.message);
    r = apr_quantize_model(test_shared("data/quant/tiny-llama-BF16.gguf"), "tests/tmp/quantize-tiny-q8.gguf", "F32", &p, &err);
    CHECK(r == APR_SUCCESS, "BF16 -> F32: %s", err.message);
    if (r == APR_SUCCESS && apr_gguf_open("tests/tmp/quantize-tiny-q8.gguf", &a, NULL) == APR_SUCCESS) {
        apr_gguf *bf = NULL;
        if (apr_gguf_open(test_shared("data/quant/tiny-llama-BF16.gguf"), &bf, NULL) == APR_SUCCESS) {
            const apr_gguf_tensor *t = apr_gguf_find_tensor(a, "blk.1.ffn_down.weight");
            const apr_gguf_tensor *u = apr_gguf_find_tensor(bf, "blk.1.ffn_down.weight");
            bool same = t && u && t->type == APR_TYPE_F32 && t->size == 2 * u->size;
            for (int64_t i = 0; same && i < (int64_t)(u->size / 2); i++) {
                uint16_t h;
                memcpy(&h, (const uint8_t *)u->data + 2 * i, 2);
                uint32_t bits = (uint32_t)h << 16;
                same = memcmp(&bits, (const uint8_t *)t->data + 4 * i, 4) == 0;
            }
            CHECK(same, "BF16 -> F32 is exact");
            apr_gguf_close(bf);
        }
        apr_gguf_close(a);
    }
    apr_gguf_close(src);
    remove(out);
    remove("tests/tmp/quantize-tiny-q8.gguf");
}

/* Logits of a few tokens through apr's CPU path: all finite, not all equal. */
static void check_model_runs(const char *path, const char *what) {
    apr_model_params mp = apr_model_default_params();
    mp.cpu_only = true;
    mp.n_gpu_layers = 0;
    mp.n_threads = 2;
    apr_model *m = NULL;
    apr_error err;
    apr_result r = apr_model_load(path, &mp, &m, &err);
    CHECK(r == APR_SUCCESS, "%s: load: %s", what, err.message);
    if (r != APR_SUCCESS) return;
    apr_context_params cp = apr_context_default_params();
    cp.n_ctx = 64;
    cp.n_threads = 2;
    apr_context *c = NULL;
    r = apr_context_create(m, &cp, &c, &err);
    CHECK(r == APR_SUCCESS, "%s: context: %s", what, err.message);
    if (r == APR_SUCCESS) {
        const int32_t toks[6] = {9707, 11, 1879, 0, 358, 1079};
        int n_vocab = apr_model_n_vocab(m), bad = 0;
        double spread = 0;
        for (int i = 0; i < 6; i++) {
            CHECK(apr_eval(c, &toks[i], 1, 0) == APR_SUCCESS, "%s: eval %d", what, i);
            const float *l = apr_get_logits(c, -1);
            if (!l) { CHECK(0, "%s: logits", what); break; }
            float lo = l[0], hi = l[0];
            for (int v = 0; v < n_vocab; v++) {
                if (!isfinite(l[v])) bad++;
                else { lo = fminf(lo, l[v]); hi = fmaxf(hi, l[v]); }
            }
            spread = fmax(spread, (double)hi - lo);
        }
        CHECK(bad == 0, "%s: %d logits not finite", what, bad);
        CHECK(spread > 1e-3 && spread < 1e3, "%s: logits spread %g", what, spread);
        apr_context_free(c);
    }
    apr_model_free(m);
}

static void test_synthetic(void) {
    TEST("synthetic models");
    system("mkdir -p tests/tmp");
    const char *out = "tests/tmp/quantize-synth.gguf", *out2 = "tests/tmp/quantize-synth2.gguf";
    apr_quantize_params p = apr_quantize_default_params();
    p.n_threads = 2;
    apr_error err;
    apr_result r = apr_synthetic_model("test-qwen2", test_shared("data/vocab/ggml-vocab-qwen2.gguf"), out, "Q4_K_M", &p, &err);
    CHECK(r == APR_SUCCESS, "test-qwen2: %s", err.message);
    apr_gguf *g = NULL;
    if (r == APR_SUCCESS && apr_gguf_open(out, &g, NULL) == APR_SUCCESS) {
        apr_str s;
        double f;
        uint64_t u;
        CHECK(apr_gguf_get_str(g, "general.architecture", &s) && s.len == 5 && !memcmp(s.ptr, "qwen2", 5), "arch");
        CHECK(apr_gguf_get_f64(g, "qwen2.rope.freq_base", &f) && f == 1e6, "rope theta");
        CHECK(apr_gguf_get_f64(g, "qwen2.attention.layer_norm_rms_epsilon", &f) && fabs(f - 1e-6) < 1e-12, "eps");
        CHECK(apr_gguf_get_u64(g, "qwen2.block_count", &u) && u == 2, "layers");
        CHECK(apr_gguf_get_u64(g, "general.file_type", &u) && u == 15, "file type");
        CHECK(apr_gguf_find_key(g, "tokenizer.chat_template") >= 0, "chat template");
        CHECK(apr_gguf_find_key(g, "tokenizer.ggml.merges") >= 0, "merges copied");
        apr_gguf_value_type et;
        const void *data;
        CHECK(apr_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &u, &data) && u == 151936, "151936 tokens");
        const apr_gguf_tensor *t = apr_gguf_find_tensor(g, "token_embd.weight");
        CHECK(t && t->type == APR_TYPE_Q8_0 && t->ne[1] == 151936, "token_embd Q8_0 (tied, 128 %% 256)");
        t = apr_gguf_find_tensor(g, "blk.0.attn_q.bias");
        CHECK(t && t->type == APR_TYPE_F32 && t->ne[0] == 128, "q bias");
        t = apr_gguf_find_tensor(g, "blk.1.attn_norm.weight");
        bool near_one = t != NULL;
        for (int i = 0; t && i < 128; i++) near_one = near_one && fabsf(((const float *)t->data)[i] - 1.0f) <= 0.05f;
        CHECK(near_one, "norm weights near 1");
        CHECK(apr_gguf_find_tensor(g, "output.weight") == NULL, "tied: no output.weight");
        apr_gguf_close(g);
    }
    check_model_runs(out, "test-qwen2");

    /* qwen3: head_dim apart from n_embd / n_head, q/k norms, no biases */
    r = apr_synthetic_model("test-qwen3", test_shared("data/vocab/ggml-vocab-qwen2.gguf"), out, "Q4_K_M", &p, &err);
    CHECK(r == APR_SUCCESS, "test-qwen3: %s", err.message);
    if (r == APR_SUCCESS && apr_gguf_open(out, &g, NULL) == APR_SUCCESS) {
        uint64_t u = 0;
        CHECK(apr_gguf_get_u64(g, "qwen3.attention.key_length", &u) && u == 64, "key_length");
        const apr_gguf_tensor *t = apr_gguf_find_tensor(g, "blk.1.attn_k_norm.weight");
        CHECK(t && t->type == APR_TYPE_F32 && t->ne[0] == 64, "k norm");
        t = apr_gguf_find_tensor(g, "blk.0.attn_q.weight");
        CHECK(t && t->ne[0] == 128 && t->ne[1] == 256, "q: 4 heads of 64");
        CHECK(apr_gguf_find_tensor(g, "blk.0.attn_q.bias") == NULL, "no biases");
        apr_gguf_close(g);
    }
    check_model_runs(out, "test-qwen3");

    /* llama 3 dimensions with the gpt-2 vocabulary padded to 128256 and Llama 3's specials;
       the same file whatever the thread count */
    r = apr_synthetic_model("test-llama3", test_shared("data/vocab/ggml-vocab-gpt-2.gguf"), out, "Q8_0", &p, &err);
    CHECK(r == APR_SUCCESS, "test-llama3: %s", err.message);
    p.n_threads = 1;
    r = apr_synthetic_model("test-llama3", test_shared("data/vocab/ggml-vocab-gpt-2.gguf"), out2, "Q8_0", &p, &err);
    CHECK(r == APR_SUCCESS, "test-llama3, 1 thread: %s", err.message);
    size_t n1 = 0, n2 = 0;
    void *a = test_read_file(out, &n1), *b = test_read_file(out2, &n2);
    CHECK(a && b && n1 == n2 && memcmp(a, b, n1) == 0, "same bytes with 1 and 2 threads");
    free(a); free(b);
    if (apr_gguf_open(out, &g, NULL) == APR_SUCCESS) {
        apr_vocab *v = NULL;
        CHECK(apr_vocab_load(g, &v, &err) == APR_SUCCESS, "vocab: %s", err.message);
        if (v) {
            CHECK(apr_vocab_n_tokens(v) == 128256, "128256 tokens");
            CHECK(apr_vocab_bos(v) == 128000, "bos 128000");
            CHECK(apr_vocab_find(v, "<|eot_id|>") == 128009, "<|eot_id|> at 128009");
            CHECK(apr_vocab_is_eog(v, 128009), "<|eot_id|> ends generation");
            apr_vocab_free(v);
        }
        uint64_t u;
        CHECK(apr_gguf_get_u64(g, "llama.vocab_size", &u) && u == 128256, "vocab_size");
        const apr_gguf_tensor *t = apr_gguf_find_tensor(g, "output.weight");
        CHECK(t && t->type == APR_TYPE_Q8_0 && t->ne[1] == 128256, "output.weight");
        apr_gguf_close(g);
    }
    check_model_runs(out, "test-llama3");
    CHECK(apr_synthetic_model("nope", test_shared("data/vocab/ggml-vocab-gpt-2.gguf"), out, "Q8_0", &p, &err) ==
              APR_ERROR_INVALID_ARGUMENT, "unknown model");
    CHECK(apr_synthetic_model("test-qwen2", "tests/tmp/no-vocab.gguf", out, "Q8_0", &p, &err) == APR_ERROR_IO,
          "missing vocabulary");
    remove(out);
    remove(out2);
}

/* An importance matrix moves the error to the columns it marks unimportant: the error
   weighted by it drops. */
static void test_imatrix(void) {
    TEST("importance matrix");
    enum { N = 4096 };
    static float x[N], w[N], y[N];
    static uint8_t q[N * 4];
    for (int i = 0; i < N; i++) {
        x[i] = test_rand_normal() * (i % 97 == 0 ? 6.0f : 1.0f);
        w[i] = (i % 8 == 3) ? 40.0f : 0.5f + test_rand_uniform();
    }
    for (size_t ti = 2; ti < sizeof k_types / sizeof k_types[0]; ti++) {
        int type = apr_type_from_name(k_types[ti]);
        double e[2];
        for (int k = 0; k < 2; k++) {
            CHECK(apr_quantize_row(type, x, q, N, k ? w : NULL) == APR_SUCCESS, "%s", k_types[ti]);
            CHECK(apr_dequantize_row(type, q, y, N) == APR_SUCCESS, "%s", k_types[ti]);
            e[k] = 0;
            for (int i = 0; i < N; i++) e[k] += w[i] * ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        }
        if (type == APR_TYPE_Q8_0) CHECK(e[0] == e[1], "Q8_0 ignores the imatrix, as llama.cpp");
        else CHECK(e[1] < 0.95 * e[0], "%s: weighted error %g with the imatrix, %g without", k_types[ti], e[1], e[0]);
    }
}

/* A super-block of test data of one of several shapes (sub-blocks of 16 or 32 alike). */
static void fill_block(float *x, int kind) {
    for (int i = 0; i < 256; i++) {
        float v = test_rand_normal();
        switch (kind) {
        case 0: x[i] = v; break;
        case 1: x[i] = fabsf(v) + 0.1f; break;                        /* all positive */
        case 2: x[i] = (i / 32) % 2 ? 0.0f : v; break;                /* zero sub-blocks */
        case 3: x[i] = (i / 16) % 3 == 0 ? 0.25f : v; break;          /* constant ones */
        case 4: x[i] = i % 61 == 0 ? 50.0f * v : v; break;            /* outliers */
        case 5: x[i] = 1e-20f * v; break;                             /* below fp16's range */
        case 6: x[i] = -fabsf(v); break;                              /* all negative */
        default: x[i] = (float)(int)(4 * v) * 0.125f; break;          /* many ties */
        }
    }
}

/* The 8- and 16-lane searches must give the scalar searches' bits, with and without AVX2. */
static void test_batched_search(void) {
    TEST("batched scale searches equal the scalar ones");
    int n_blocks = getenv("APR_TEST_QUICK") ? 150 : 600, bad = 0;
    float x[256], w[256], sc[16], mn[8], sc2[16], mn2[8];
    uint8_t L[256], L2[256], Laux[32];
    int8_t Q[256], Q2[256];
    for (int level = 0; level < 2; level++) {
        apr_cpu_set_max_simd(level ? 99 : 0);
        for (int b = 0; b < n_blocks; b++) {
            fill_block(x, b % 8);
            for (int i = 0; i < 256; i++) w[i] = b % 3 ? fabsf(x[i]) + 0.3f : 0.1f + test_rand_uniform();
            int nmax = b % 2 ? 15 : 31;
            float rmin = nmax == 15 ? -1.f : -0.5f;
            int nstep = nmax == 15 ? 20 : 15;
            apr__qz_make_qkx2_x8(nmax, x, w, L, sc, mn, rmin, 0.1f, nstep);
            for (int j = 0; j < 8; j++)
                sc2[j] = apr__qz_make_qkx2(32, nmax, x + 32 * j, w + 32 * j, L2 + 32 * j, &mn2[j], Laux, rmin, 0.1f,
                                           nstep, false);
            if (memcmp(sc, sc2, 8 * sizeof(float)) || memcmp(mn, mn2, sizeof mn) || memcmp(L, L2, 256)) bad++;
            for (int i = 0; i < 256; i++) w[i] = b % 3 ? x[i] * x[i] : test_rand_uniform();
            apr__qz_make_qx_x16(32, x, w, Q, sc);
            for (int j = 0; j < 16; j++) sc2[j] = apr__qz_make_qx(16, 32, x + 16 * j, Q2 + 16 * j, w + 16 * j);
            if (memcmp(sc, sc2, 16 * sizeof(float)) || memcmp(Q, Q2, 256)) bad++;
        }
    }
    apr_cpu_set_max_simd(99);
    CHECK(bad == 0, "%d of %d super-blocks differ", bad, 4 * n_blocks);
}

int main(void) {
    test_round_trip();
    test_edge_rows();
    test_imatrix();
    test_batched_search();
    test_recipe_types();
    test_recipe_sizes();
    test_requantize();
    test_synthetic();
    return test_finish();
}
