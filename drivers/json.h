/* json.h - the small JSON reader and writer the apr drivers share (apr-server, apr-bench).
   Header-only, every function static, names json_*. C99 that also compiles as C++.

   Reader: strict RFC 8259 (no comments, no trailing commas, no leading zeros, no control
   characters or invalid UTF-8 inside strings), with a nesting-depth limit so that hostile
   input ("[[[[..." ten thousand deep) is refused instead of exhausting the stack. The whole
   document lives in one arena owned by a json_doc: json_doc_free releases every value.

       json_doc doc;
       char err[128];
       if (!json_parse(&doc, text, len, 64, err, sizeof err)) { ... err names the cause ... }
       const json_value *msgs = json_get(doc.root, "messages");
       for (const json_value *m = json_first(msgs); m; m = m->next) ...
       json_doc_free(&doc);

   Writer: a growable buffer that inserts commas itself, so callers only say what comes
   next; strings are escaped (invalid UTF-8 becomes U+FFFD, so output is always valid JSON).

       json_buf b; json_buf_init(&b);
       json_obj_begin(&b); json_key(&b, "n"); json_int(&b, 3); json_obj_end(&b);
       ... b.data (NUL-terminated), b.len; b.oom if an allocation failed ...
       json_buf_free(&b);
*/
#ifndef APR_DRIVERS_JSON_H
#define APR_DRIVERS_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#if defined(__GNUC__) || defined(__clang__)
#define JSON__UNUSED __attribute__((unused))
#else
#define JSON__UNUSED
#endif

#define JSON_MAX_DEPTH_LIMIT 1024 /* hard ceiling whatever the caller asks for */

/* =====================================================================================
   Reader
   ===================================================================================== */

typedef enum json_type {
    JSON_NULL = 0,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
} json_type;

typedef struct json_value {
    json_type type;
    bool boolean;
    bool is_int;           /* number written as an integer that fits int64 */
    double number;
    int64_t integer;       /* exact value when is_int */
    const char *str;       /* JSON_STRING: unescaped, NUL-terminated (may hold \0 bytes) */
    size_t len;            /* string length in bytes, or number of children */
    const char *key;       /* member name when inside an object (unescaped) */
    size_t key_len;
    struct json_value *child;  /* first element / member */
    struct json_value *next;   /* next sibling */
} json_value;

typedef struct json__chunk {
    struct json__chunk *prev;
    size_t used, cap;
    /* data follows */
} json__chunk;

typedef struct json_doc {
    json_value *root;
    json__chunk *arena;
} json_doc;

static void *json__alloc(json_doc *d, size_t size) {
    size = (size + 15) & ~(size_t)15;
    json__chunk *c = d->arena;
    size_t hdr = (sizeof(json__chunk) + 15) & ~(size_t)15;
    if (!c || c->cap - c->used < size) {
        size_t cap = c ? c->cap * 2 : 4096;
        if (cap < size) cap = size;
        if (cap > ((size_t)1 << 40)) return NULL;
        json__chunk *n = (json__chunk *)malloc(hdr + cap);
        if (!n) return NULL;
        n->prev = c;
        n->used = 0;
        n->cap = cap;
        d->arena = c = n;
    }
    void *p = (char *)c + hdr + c->used;
    c->used += size;
    return p;
}

static JSON__UNUSED void json_doc_free(json_doc *d) {
    json__chunk *c = d->arena;
    while (c) {
        json__chunk *p = c->prev;
        free(c);
        c = p;
    }
    d->arena = NULL;
    d->root = NULL;
}

typedef struct json__parser {
    const char *p, *end, *begin;
    int depth, max_depth;
    json_doc *doc;
    char *err;
    size_t err_size;
    bool failed;
} json__parser;

static bool json__fail(json__parser *ps, const char *what) {
    if (!ps->failed && ps->err && ps->err_size) {
        snprintf(ps->err, ps->err_size, "%s at offset %lu", what,
                 (unsigned long)(ps->p - ps->begin));
    }
    ps->failed = true;
    return false;
}

static void json__skip_ws(json__parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int json__hex4(const char *s) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return -1;
    }
    return v;
}

static size_t json__put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 if invalid (overlong
   forms, surrogates and code points above U+10FFFF are invalid). */
static size_t json__utf8_len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;
        if (c == 0xED && s[1] >= 0xA0) return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0;
        if (c == 0xF4 && s[1] >= 0x90) return 0;
        return 4;
    }
    return 0;
}

/* Parses a string (ps->p at the opening quote) into the arena. */
static bool json__string(json__parser *ps, const char **out, size_t *out_len) {
    ps->p++;
    /* first pass: find the end and validate, to size the output exactly */
    const char *s = ps->p;
    size_t n = 0;
    while (s < ps->end && *s != '"') {
        if (*s == '\\') {
            if (ps->end - s < 2) break;
            s += 2;
            n += 4;
            continue;
        }
        s++;
        n++;
    }
    if (s >= ps->end) return json__fail(ps, "unterminated string");
    char *o = (char *)json__alloc(ps->doc, n + 1);
    if (!o) return json__fail(ps, "out of memory");
    size_t k = 0;
    while (ps->p < ps->end && *ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20) return json__fail(ps, "control character in string");
        if (c == '\\') {
            if (ps->p + 1 >= ps->end) return json__fail(ps, "bad escape");
            char e = ps->p[1];
            ps->p += 2;
            switch (e) {
            case '"': o[k++] = '"'; break;
            case '\\': o[k++] = '\\'; break;
            case '/': o[k++] = '/'; break;
            case 'b': o[k++] = '\b'; break;
            case 'f': o[k++] = '\f'; break;
            case 'n': o[k++] = '\n'; break;
            case 'r': o[k++] = '\r'; break;
            case 't': o[k++] = '\t'; break;
            case 'u': {
                if (ps->end - ps->p < 4) return json__fail(ps, "bad \\u escape");
                int u = json__hex4(ps->p);
                if (u < 0) return json__fail(ps, "bad \\u escape");
                ps->p += 4;
                uint32_t cp = (uint32_t)u;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    int lo = -1;
                    if (ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u')
                        lo = json__hex4(ps->p + 2);
                    if (lo >= 0xDC00 && lo <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
                        ps->p += 6;
                    } else {
                        cp = 0xFFFD; /* lone high surrogate */
                    }
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    cp = 0xFFFD; /* lone low surrogate */
                }
                k += json__put_utf8(o + k, cp);
                break;
            }
            default: return json__fail(ps, "bad escape");
            }
            continue;
        }
        size_t l = json__utf8_len((const unsigned char *)ps->p, (size_t)(ps->end - ps->p));
        if (l == 0) return json__fail(ps, "invalid UTF-8 in string");
        memcpy(o + k, ps->p, l);
        k += l;
        ps->p += l;
    }
    ps->p++; /* closing quote */
    o[k] = 0;
    *out = o;
    *out_len = k;
    return true;
}

static bool json__number(json__parser *ps, json_value *v) {
    const char *s = ps->p, *e = ps->end;
    bool integral = true;
    if (s < e && *s == '-') s++;
    if (s >= e) return json__fail(ps, "bad number");
    if (*s == '0') {
        s++;
    } else if (*s >= '1' && *s <= '9') {
        while (s < e && *s >= '0' && *s <= '9') s++;
    } else {
        return json__fail(ps, "bad number");
    }
    if (s < e && *s == '.') {
        integral = false;
        s++;
        if (s >= e || !(*s >= '0' && *s <= '9')) return json__fail(ps, "bad number");
        while (s < e && *s >= '0' && *s <= '9') s++;
    }
    if (s < e && (*s == 'e' || *s == 'E')) {
        integral = false;
        s++;
        if (s < e && (*s == '+' || *s == '-')) s++;
        if (s >= e || !(*s >= '0' && *s <= '9')) return json__fail(ps, "bad number");
        while (s < e && *s >= '0' && *s <= '9') s++;
    }
    size_t n = (size_t)(s - ps->p);
    if (n > 400) return json__fail(ps, "number too long");
    char tmp[401];
    memcpy(tmp, ps->p, n);
    tmp[n] = 0;
    v->type = JSON_NUMBER;
    v->number = strtod(tmp, NULL);
    v->is_int = false;
    if (integral) {
        /* exact int64 when it fits (seeds, token ids) */
        const char *t = tmp;
        bool neg = *t == '-';
        if (neg) t++;
        uint64_t acc = 0;
        bool fits = true;
        for (; *t; t++) {
            uint64_t d = (uint64_t)(*t - '0');
            if (acc > (UINT64_MAX - d) / 10) { fits = false; break; }
            acc = acc * 10 + d;
        }
        if (fits && !neg && acc <= (uint64_t)INT64_MAX) { v->is_int = true; v->integer = (int64_t)acc; }
        /* "-0" stays a double so that it writes back as -0 */
        if (fits && neg && acc != 0 && acc <= (uint64_t)INT64_MAX + 1) {
            v->is_int = true;
            v->integer = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
        }
    }
    if (!v->is_int) v->integer = (int64_t)0;
    ps->p = s;
    return true;
}

static bool json__value(json__parser *ps, json_value *v);

static bool json__container(json__parser *ps, json_value *v, bool object) {
    if (++ps->depth > ps->max_depth) return json__fail(ps, "nesting too deep");
    v->type = object ? JSON_OBJECT : JSON_ARRAY;
    ps->p++;
    json_value **tail = &v->child;
    json__skip_ws(ps);
    if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) {
        ps->p++;
        ps->depth--;
        return true;
    }
    for (;;) {
        json_value *c = (json_value *)json__alloc(ps->doc, sizeof(json_value));
        if (!c) return json__fail(ps, "out of memory");
        memset(c, 0, sizeof *c);
        json__skip_ws(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"') return json__fail(ps, "expected member name");
            if (!json__string(ps, &c->key, &c->key_len)) return false;
            json__skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') return json__fail(ps, "expected ':'");
            ps->p++;
        }
        if (!json__value(ps, c)) return false;
        *tail = c;
        tail = &c->next;
        v->len++;
        json__skip_ws(ps);
        if (ps->p >= ps->end) return json__fail(ps, "unexpected end");
        if (*ps->p == ',') { ps->p++; continue; }
        if (*ps->p == (object ? '}' : ']')) { ps->p++; break; }
        return json__fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    ps->depth--;
    return true;
}

static bool json__literal(json__parser *ps, const char *lit) {
    size_t n = strlen(lit);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0)
        return json__fail(ps, "invalid literal");
    ps->p += n;
    return true;
}

static bool json__value(json__parser *ps, json_value *v) {
    json__skip_ws(ps);
    if (ps->p >= ps->end) return json__fail(ps, "unexpected end");
    switch (*ps->p) {
    case '{': return json__container(ps, v, true);
    case '[': return json__container(ps, v, false);
    case '"':
        v->type = JSON_STRING;
        return json__string(ps, &v->str, &v->len);
    case 't': v->type = JSON_BOOL; v->boolean = true; return json__literal(ps, "true");
    case 'f': v->type = JSON_BOOL; v->boolean = false; return json__literal(ps, "false");
    case 'n': v->type = JSON_NULL; return json__literal(ps, "null");
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) return json__number(ps, v);
        return json__fail(ps, "unexpected character");
    }
}

/* Parses text[0..len) into doc. max_depth: deepest nesting of arrays/objects allowed
   (<= 0: 64). On failure doc holds nothing and err (may be NULL) names the cause. */
static JSON__UNUSED bool json_parse(json_doc *doc, const char *text, size_t len, int max_depth,
                                    char *err, size_t err_size) {
    json__parser ps;
    memset(&ps, 0, sizeof ps);
    doc->root = NULL;
    doc->arena = NULL;
    ps.p = ps.begin = text;
    ps.end = text + len;
    ps.max_depth = max_depth <= 0 ? 64 : (max_depth > JSON_MAX_DEPTH_LIMIT ? JSON_MAX_DEPTH_LIMIT : max_depth);
    ps.doc = doc;
    ps.err = err;
    ps.err_size = err_size;
    if (err && err_size) err[0] = 0;
    json_value *root = (json_value *)json__alloc(doc, sizeof(json_value));
    if (!root) { json__fail(&ps, "out of memory"); return false; }
    memset(root, 0, sizeof *root);
    if (!text || !json__value(&ps, root)) {
        if (!text) json__fail(&ps, "no input");
        json_doc_free(doc);
        return false;
    }
    json__skip_ws(&ps);
    if (ps.p != ps.end) {
        json__fail(&ps, "trailing characters after the value");
        json_doc_free(doc);
        return false;
    }
    doc->root = root;
    return true;
}

/* Member of an object (the last one when a name repeats), or NULL. */
static JSON__UNUSED const json_value *json_get(const json_value *obj, const char *key) {
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    size_t n = strlen(key);
    const json_value *found = NULL;
    for (const json_value *c = obj->child; c; c = c->next)
        if (c->key_len == n && memcmp(c->key, key, n) == 0) found = c;
    return found;
}

static JSON__UNUSED const json_value *json_first(const json_value *v) {
    return v && (v->type == JSON_ARRAY || v->type == JSON_OBJECT) ? v->child : NULL;
}

static JSON__UNUSED const json_value *json_at(const json_value *arr, size_t i) {
    const json_value *c = json_first(arr);
    while (c && i--) c = c->next;
    return c;
}

static JSON__UNUSED bool json_is(const json_value *v, json_type t) { return v && v->type == t; }

/* Typed lookups with a default for absent or null members. They return false (leaving
   *out at the default) when the member exists with another type, so callers can answer
   400 for "wrong field type". */
static JSON__UNUSED bool json_get_number(const json_value *obj, const char *key, double def, double *out) {
    const json_value *v = json_get(obj, key);
    *out = def;
    if (!v || v->type == JSON_NULL) return true;
    if (v->type != JSON_NUMBER) return false;
    *out = v->number;
    return true;
}

static JSON__UNUSED bool json_get_int(const json_value *obj, const char *key, int64_t def, int64_t *out) {
    const json_value *v = json_get(obj, key);
    *out = def;
    if (!v || v->type == JSON_NULL) return true;
    if (v->type != JSON_NUMBER) return false;
    if (v->is_int) { *out = v->integer; return true; }
    if (v->number != floor(v->number) || !(fabs(v->number) < 9.2e18)) return false;
    *out = (int64_t)v->number;
    return true;
}

static JSON__UNUSED bool json_get_bool(const json_value *obj, const char *key, bool def, bool *out) {
    const json_value *v = json_get(obj, key);
    *out = def;
    if (!v || v->type == JSON_NULL) return true;
    if (v->type != JSON_BOOL) return false;
    *out = v->boolean;
    return true;
}

/* *out = the string, or def when absent/null. */
static JSON__UNUSED bool json_get_string(const json_value *obj, const char *key, const char *def,
                                         const char **out) {
    const json_value *v = json_get(obj, key);
    *out = def;
    if (!v || v->type == JSON_NULL) return true;
    if (v->type != JSON_STRING) return false;
    *out = v->str;
    return true;
}

/* =====================================================================================
   Writer
   ===================================================================================== */

#define JSON__WRITER_DEPTH (JSON_MAX_DEPTH_LIMIT + 1)

typedef struct json_buf {
    char *data;        /* NUL-terminated (when non-NULL) */
    size_t len, cap;
    bool oom;          /* an allocation failed: the content is truncated */
    int depth;
    bool after_key;
    unsigned char has_items[JSON__WRITER_DEPTH];
} json_buf;

static JSON__UNUSED void json_buf_init(json_buf *b) { memset(b, 0, sizeof *b); }
static JSON__UNUSED void json_buf_free(json_buf *b) { free(b->data); memset(b, 0, sizeof *b); }
/* Empty the buffer, keep the memory. */
static JSON__UNUSED void json_buf_reset(json_buf *b) {
    b->len = 0;
    b->depth = 0;
    b->after_key = false;
    b->has_items[0] = 0;
    if (b->data) b->data[0] = 0;
}

static bool json__reserve(json_buf *b, size_t extra) {
    if (b->oom) return false;
    if (extra > ((size_t)1 << 40) || b->len + extra + 1 > ((size_t)1 << 40)) { b->oom = true; return false; }
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = (char *)realloc(b->data, cap);
    if (!p) { b->oom = true; return false; }
    b->data = p;
    b->cap = cap;
    return true;
}

/* Raw bytes, no comma logic (for SSE framing, HTTP text, pre-made JSON). */
static JSON__UNUSED void json_raw(json_buf *b, const char *s, size_t n) {
    if (!json__reserve(b, n)) return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

static JSON__UNUSED void json_rawz(json_buf *b, const char *s) { json_raw(b, s, strlen(s)); }

static JSON__UNUSED void json_printf(json_buf *b, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static JSON__UNUSED void json_printf(json_buf *b, const char *fmt, ...) {
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) { json_raw(b, small, (size_t)n); return; }
    if (!json__reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Comma before a value or key when the enclosing container already has an item. */
static void json__sep(json_buf *b) {
    if (b->after_key) { b->after_key = false; return; }
    if (b->depth > 0 && b->depth <= JSON__WRITER_DEPTH) {
        if (b->has_items[b->depth - 1]) json_raw(b, ",", 1);
        b->has_items[b->depth - 1] = 1;
    }
}

/* A string's contents, escaped, without quotes. Invalid UTF-8 becomes U+FFFD. */
static JSON__UNUSED void json_escape(json_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        /* copy runs of plain bytes at once */
        while (run < n) {
            unsigned char c = (unsigned char)s[run];
            if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
            run++;
        }
        if (run > i) { json_raw(b, s + i, run - i); i = run; }
        if (i >= n) break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t l = json__utf8_len((const unsigned char *)s + i, n - i);
            if (l == 0) { json_raw(b, "\xEF\xBF\xBD", 3); i++; }
            else { json_raw(b, s + i, l); i += l; }
            continue;
        }
        char e[6];
        switch (c) {
        case '"': json_raw(b, "\\\"", 2); break;
        case '\\': json_raw(b, "\\\\", 2); break;
        case '\n': json_raw(b, "\\n", 2); break;
        case '\r': json_raw(b, "\\r", 2); break;
        case '\t': json_raw(b, "\\t", 2); break;
        case '\b': json_raw(b, "\\b", 2); break;
        case '\f': json_raw(b, "\\f", 2); break;
        default:
            e[0] = '\\'; e[1] = 'u'; e[2] = '0'; e[3] = '0';
            e[4] = hex[c >> 4]; e[5] = hex[c & 15];
            json_raw(b, e, 6);
        }
        i++;
    }
}

static JSON__UNUSED void json_str(json_buf *b, const char *s, size_t n) {
    json__sep(b);
    json_raw(b, "\"", 1);
    json_escape(b, s, n);
    json_raw(b, "\"", 1);
}

static JSON__UNUSED void json_strz(json_buf *b, const char *s) {
    if (!s) { json__sep(b); json_raw(b, "null", 4); return; }
    json_str(b, s, strlen(s));
}

static JSON__UNUSED void json_key(json_buf *b, const char *k) {
    json_strz(b, k);
    json_raw(b, ":", 1);
    b->after_key = true;
}

static JSON__UNUSED void json_int(json_buf *b, int64_t v) {
    json__sep(b);
    json_printf(b, "%lld", (long long)v);
}

static JSON__UNUSED void json_uint(json_buf *b, uint64_t v) {
    json__sep(b);
    json_printf(b, "%llu", (unsigned long long)v);
}

/* NaN and infinities have no JSON form: written as null. */
static JSON__UNUSED void json_double(json_buf *b, double v) {
    json__sep(b);
    if (v != v || v > 1.7976931348623157e308 || v < -1.7976931348623157e308) { json_raw(b, "null", 4); return; }
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, "%.17g", v);
    /* shortest form that reads back exactly, for readable output */
    for (int prec = 1; prec < 17; prec++) {
        char t2[64];
        int m = snprintf(t2, sizeof t2, "%.*g", prec, v);
        if (strtod(t2, NULL) == v) { memcpy(tmp, t2, (size_t)m + 1); n = m; break; }
    }
    /* locales with a decimal comma */
    for (int i = 0; i < n; i++) if (tmp[i] == ',') tmp[i] = '.';
    json_raw(b, tmp, (size_t)n);
}

static JSON__UNUSED void json_bool(json_buf *b, bool v) {
    json__sep(b);
    json_raw(b, v ? "true" : "false", v ? 4 : 5);
}

static JSON__UNUSED void json_null(json_buf *b) {
    json__sep(b);
    json_raw(b, "null", 4);
}

/* A value that is already valid JSON text. */
static JSON__UNUSED void json_value_raw(json_buf *b, const char *s, size_t n) {
    json__sep(b);
    json_raw(b, s, n);
}

static void json__open(json_buf *b, char c) {
    json__sep(b);
    json_raw(b, &c, 1);
    if (b->depth < JSON__WRITER_DEPTH) b->has_items[b->depth] = 0;
    b->depth++;
}

static void json__close(json_buf *b, char c) {
    if (b->depth > 0) b->depth--;
    b->after_key = false;
    json_raw(b, &c, 1);
}

static JSON__UNUSED void json_obj_begin(json_buf *b) { json__open(b, '{'); }
static JSON__UNUSED void json_obj_end(json_buf *b) { json__close(b, '}'); }
static JSON__UNUSED void json_arr_begin(json_buf *b) { json__open(b, '['); }
static JSON__UNUSED void json_arr_end(json_buf *b) { json__close(b, ']'); }

/* Re-serialise a parsed value (compact). */
static JSON__UNUSED void json_write_value(json_buf *b, const json_value *v) {
    if (!v) { json_null(b); return; }
    switch (v->type) {
    case JSON_NULL: json_null(b); break;
    case JSON_BOOL: json_bool(b, v->boolean); break;
    case JSON_NUMBER: if (v->is_int) json_int(b, v->integer); else json_double(b, v->number); break;
    case JSON_STRING: json_str(b, v->str, v->len); break;
    case JSON_ARRAY:
    case JSON_OBJECT:
        if (v->type == JSON_OBJECT) json_obj_begin(b); else json_arr_begin(b);
        for (const json_value *c = v->child; c; c = c->next) {
            if (v->type == JSON_OBJECT) {
                json_str(b, c->key, c->key_len);
                json_raw(b, ":", 1);
                b->after_key = true;
            }
            json_write_value(b, c);
        }
        if (v->type == JSON_OBJECT) json_obj_end(b); else json_arr_end(b);
        break;
    }
}

#endif /* APR_DRIVERS_JSON_H */
