/* test_json.c - drivers/json.h: strict parsing, depth limit, typed getters, writer and
   escaping, round trips on random documents. */
#define APR_IMPLEMENTATION
#include "apr.h"
#include "test.h"
#include "drivers/json.h"

static bool parses(const char *s) {
    json_doc d;
    char err[128];
    bool ok = json_parse(&d, s, strlen(s), 64, err, sizeof err);
    json_doc_free(&d);
    return ok;
}

static void test_valid_and_invalid(void) {
    TEST("valid documents");
    const char *good[] = {
        "{}", "[]", "0", "-0", "1.5e10", "-2E-3", "\"x\"", "true", "false", "null",
        " { \"a\" : [1, 2, {\"b\": null}], \"c\": \"\\u00e9\\ud83d\\ude00\" } ",
        "[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
        "123456789012345678901234567890", "[[[[[]]]]]",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) CHECK(parses(good[i]), "should parse: %s", good[i]);

    TEST("invalid documents");
    const char *bad[] = {
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{a:1}", "{'a':1}", "01", "1.", ".5", "-",
        "1e", "+1", "tru", "nul", "[1 2]", "{\"a\" 1}", "\"abc", "\"\\x\"", "\"\\u12\"",
        "\"\\u12g4\"", "\"a\nb\"", "\"\x01\"", "[1]x", "{} {}", "NaN", "Infinity",
        "\"\xc3\"", "\"\xc0\x80\"", "\"\xed\xa0\x80\"", "\"\xf5\x80\x80\x80\"", "\"\xff\"",
        "/* c */ 1", "[1,,2]", "\"\\", "\"\\u",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK(!parses(bad[i]), "should fail: %s", bad[i]);

    /* a string with an embedded NUL given by length is an error only if unescaped NUL */
    json_doc d;
    CHECK(!json_parse(&d, "\"a\0b\"", 5, 64, NULL, 0), "raw NUL inside string refused");
    CHECK(json_parse(&d, "\"a\\u0000b\"", 10, 64, NULL, 0), "escaped NUL accepted");
    if (d.root) CHECK(d.root->len == 3 && d.root->str[1] == 0 && d.root->str[2] == 'b', "len 3");
    json_doc_free(&d);
    CHECK(!json_parse(&d, NULL, 0, 64, NULL, 0), "NULL input");
}

static void test_depth(void) {
    TEST("depth limit");
    char buf[20001];
    for (int depth = 60; depth <= 70; depth++) {
        int n = 0;
        for (int i = 0; i < depth; i++) buf[n++] = '[';
        for (int i = 0; i < depth; i++) buf[n++] = ']';
        json_doc d;
        char err[128];
        bool ok = json_parse(&d, buf, (size_t)n, 64, err, sizeof err);
        CHECK(ok == (depth <= 64), "depth %d: ok=%d (%s)", depth, ok, err);
        if (!ok) CHECK(strstr(err, "too deep") != NULL, "error names depth: %s", err);
        json_doc_free(&d);
    }
    /* 10,000 deep, mixed objects, must fail fast without recursion blowing the stack */
    int n = 0;
    for (int i = 0; i < 10000; i++) {
        if (i & 1) { memcpy(buf + n, "{\"a\":", 5); n += 5; }
        else buf[n++] = '[';
        if (n > 19990) break;
    }
    json_doc d;
    char err[128];
    CHECK(!json_parse(&d, buf, (size_t)n, 64, err, sizeof err), "10000 deep refused");
    CHECK(!json_parse(&d, buf, (size_t)n, 100000, err, sizeof err), "hard ceiling applies");
}

static void test_getters(void) {
    TEST("getters");
    const char *s = "{\"model\":\"m\",\"n\":42,\"t\":0.5,\"b\":true,\"z\":null,\"arr\":[1,\"two\",3],"
                    "\"big\":18446744073709551615,\"neg\":-9223372036854775808,\"dup\":1,\"dup\":2,"
                    "\"f\":3.0,\"e\":1e3,\"s\":\"caf\\u00e9\"}";
    json_doc d;
    char err[128];
    CHECK(json_parse(&d, s, strlen(s), 64, err, sizeof err), "parse: %s", err);
    const json_value *r = d.root;
    CHECK(r && r->type == JSON_OBJECT && r->len == 13, "object with 13 members");
    const char *str;
    CHECK(json_get_string(r, "model", NULL, &str) && str && strcmp(str, "m") == 0, "model");
    CHECK(json_get_string(r, "s", NULL, &str) && strcmp(str, "caf\xc3\xa9") == 0, "unicode escape");
    CHECK(!json_get_string(r, "n", "d", &str) && strcmp(str, "d") == 0, "wrong type -> false, default");
    CHECK(json_get_string(r, "absent", "d", &str) && strcmp(str, "d") == 0, "absent -> default");
    CHECK(json_get_string(r, "z", "d", &str) && strcmp(str, "d") == 0, "null -> default");
    int64_t i64;
    CHECK(json_get_int(r, "n", 0, &i64) && i64 == 42, "n=42");
    CHECK(!json_get_int(r, "t", 7, &i64) && i64 == 7, "0.5 is not an int");
    CHECK(json_get_int(r, "f", 0, &i64) && i64 == 3, "3.0 is an int");
    CHECK(json_get_int(r, "e", 0, &i64) && i64 == 1000, "1e3 is an int");
    CHECK(json_get_int(r, "neg", 0, &i64) && i64 == INT64_MIN, "INT64_MIN exact");
    CHECK(!json_get_int(r, "big", 5, &i64), "2^64-1 does not fit int64");
    CHECK(json_get_int(r, "dup", 0, &i64) && i64 == 2, "last duplicate wins");
    double dv;
    CHECK(json_get_number(r, "t", 0, &dv) && dv == 0.5, "t=0.5");
    CHECK(!json_get_number(r, "model", 1, &dv), "string is not a number");
    bool bv;
    CHECK(json_get_bool(r, "b", false, &bv) && bv, "b");
    CHECK(!json_get_bool(r, "n", false, &bv), "number is not bool");
    const json_value *arr = json_get(r, "arr");
    CHECK(json_is(arr, JSON_ARRAY) && arr->len == 3, "arr of 3");
    CHECK(json_at(arr, 1) && json_at(arr, 1)->type == JSON_STRING && strcmp(json_at(arr, 1)->str, "two") == 0, "arr[1]");
    CHECK(json_at(arr, 3) == NULL, "arr[3] absent");
    CHECK(json_get(arr, "x") == NULL && json_get(NULL, "x") == NULL, "get on non-object");
    json_doc_free(&d);
}

static void test_writer(void) {
    TEST("writer");
    json_buf b;
    json_buf_init(&b);
    json_obj_begin(&b);
    json_key(&b, "id"); json_strz(&b, "chatcmpl-1");
    json_key(&b, "choices"); json_arr_begin(&b);
    json_obj_begin(&b); json_key(&b, "index"); json_int(&b, 0);
    json_key(&b, "text"); json_strz(&b, "a\"b\\c\nd\x01\xff" "\xc3\xa9");
    json_obj_end(&b);
    json_obj_begin(&b); json_obj_end(&b);
    json_arr_end(&b);
    json_key(&b, "x"); json_double(&b, 0.1);
    json_key(&b, "nan"); json_double(&b, NAN);
    json_key(&b, "ok"); json_bool(&b, true);
    json_key(&b, "nil"); json_null(&b);
    json_key(&b, "e"); json_arr_begin(&b); json_arr_end(&b);
    json_key(&b, "u"); json_uint(&b, 18446744073709551615ull);
    json_obj_end(&b);
    const char *want = "{\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"text\":\"a\\\"b\\\\c\\nd\\u0001\xef\xbf\xbd\xc3\xa9\"},{}],"
                       "\"x\":0.1,\"nan\":null,\"ok\":true,\"nil\":null,\"e\":[],\"u\":18446744073709551615}";
    CHECK(!b.oom && b.data && strcmp(b.data, want) == 0, "got %s", b.data ? b.data : "(null)");
    json_doc d;
    char err[128];
    CHECK(json_parse(&d, b.data, b.len, 64, err, sizeof err), "writer output parses: %s", err);
    json_doc_free(&d);
    json_buf_reset(&b);
    json_arr_begin(&b); json_int(&b, -5); json_double(&b, 1e300); json_double(&b, -2.5); json_arr_end(&b);
    CHECK(strcmp(b.data, "[-5,1e+300,-2.5]") == 0, "got %s", b.data);
    /* -0 survives a round trip (found by fuzzing: it used to come back as 0) */
    json_doc z;
    CHECK(json_parse(&z, "[-0,-0.0]", 9, 64, NULL, 0), "parse -0");
    json_buf_reset(&b);
    if (z.root) json_write_value(&b, z.root);
    CHECK(b.data && strcmp(b.data, "[-0,-0]") == 0, "got %s", b.data ? b.data : "");
    int64_t iz = 1;
    CHECK(z.root && json_get_int(z.root, "x", 0, &iz), "absent member on an array: default");
    json_doc_free(&z);
    json_buf_free(&b);
}

/* Random documents: write -> parse -> write again gives identical text. */
static void gen_random(json_buf *b, int depth) {
    int k = (int)(test_rand_u64() % (depth < 6 ? 7 : 5));
    switch (k) {
    case 0: json_null(b); break;
    case 1: json_bool(b, test_rand_u64() & 1); break;
    case 2: json_int(b, (int64_t)(test_rand_u64() >> (test_rand_u64() % 64)) * ((test_rand_u64() & 1) ? 1 : -1)); break;
    case 3: json_double(b, (double)test_rand_normal() * 1e3); break;
    case 4: {
        char s[32];
        int n = (int)(test_rand_u64() % 31);
        for (int i = 0; i < n; i++) s[i] = (char)(test_rand_u64() % 128);
        json_str(b, s, (size_t)n);
        break;
    }
    case 5: {
        json_arr_begin(b);
        int n = (int)(test_rand_u64() % 5);
        for (int i = 0; i < n; i++) gen_random(b, depth + 1);
        json_arr_end(b);
        break;
    }
    default: {
        json_obj_begin(b);
        int n = (int)(test_rand_u64() % 5);
        for (int i = 0; i < n; i++) {
            char key[16];
            snprintf(key, sizeof key, "k%d", i);
            json_key(b, key);
            gen_random(b, depth + 1);
        }
        json_obj_end(b);
    }
    }
}

static void test_roundtrip(void) {
    TEST("round trip");
    int fails = 0;
    for (int it = 0; it < 2000; it++) {
        json_buf a, c;
        json_buf_init(&a);
        json_buf_init(&c);
        gen_random(&a, 0);
        json_doc d;
        char err[128];
        if (!json_parse(&d, a.data, a.len, 64, err, sizeof err)) {
            if (fails++ < 3) CHECK(false, "parse of writer output failed: %s in %s", err, a.data);
        } else {
            json_write_value(&c, d.root);
            if (strcmp(a.data, c.data) != 0 && fails++ < 3) CHECK(false, "round trip differs:\n%s\n%s", a.data, c.data);
        }
        json_doc_free(&d);
        json_buf_free(&a);
        json_buf_free(&c);
    }
    CHECK(fails == 0, "%d round trip failures", fails);
}

/* Random bytes and truncations of valid text must never crash. */
static void test_garbage(void) {
    TEST("garbage input");
    const char *src = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi \\u00e9\"}],\"max_tokens\":5,\"stream\":true}";
    size_t n = strlen(src);
    int ok = 0;
    for (size_t cut = 0; cut < n; cut++) {
        json_doc d;
        ok += json_parse(&d, src, cut, 64, NULL, 0);
        json_doc_free(&d);
    }
    CHECK(ok == 0, "no proper prefix parses (%d did)", ok);
    char buf[64];
    for (int it = 0; it < 20000; it++) {
        size_t len = test_rand_u64() % sizeof buf;
        for (size_t i = 0; i < len; i++) buf[i] = "{}[]\":,0123-e.tfnlu\\ a\x80"[test_rand_u64() % 24];
        json_doc d;
        if (json_parse(&d, buf, len, 8, NULL, 0)) CHECK(d.root != NULL, "root set");
        json_doc_free(&d);
    }
    CHECK(true, "survived");
}

int main(void) {
    test_valid_and_invalid();
    test_depth();
    test_getters();
    test_writer();
    test_roundtrip();
    test_garbage();
    return test_finish();
}
