/* =====================================================================================
   GGUF reader and the tensor type table.
   A GGUF file is: "GGUF", version (u32), n_tensors (u64), n_kv (u64), n_kv key/value
   pairs, n_tensors tensor infos (name, n_dims, ne[], type, offset), padding up to
   general.alignment (default 32), then the tensor data. Everything is little-endian.
   Nothing in the file is trusted: each count is checked against the bytes left before
   anything is allocated, and every sum or product goes through the overflow helpers.
   ===================================================================================== */

/* ---- tensor types: ggml's ids, names and block layout ------------------------------- */

typedef struct apr__type_info {
    const char *name;   /* NULL: id unused (removed from ggml) */
    int32_t block_size; /* elements per block */
    int32_t block_bytes;
} apr__type_info;

/* Indexed by ggml type id. Ids 4, 5 (Q4_2, Q4_3), 31-33 and 36-38 (repacked variants)
   were removed from ggml and never appear in files. */
static const apr__type_info apr__type_table[APR_TYPE_COUNT] = {
    {"F32", 1, 4},        /* 0 */
    {"F16", 1, 2},        /* 1 */
    {"Q4_0", 32, 18},     /* 2 */
    {"Q4_1", 32, 20},     /* 3 */
    {NULL, 0, 0},         /* 4 */
    {NULL, 0, 0},         /* 5 */
    {"Q5_0", 32, 22},     /* 6 */
    {"Q5_1", 32, 24},     /* 7 */
    {"Q8_0", 32, 34},     /* 8 */
    {"Q8_1", 32, 36},     /* 9 */
    {"Q2_K", 256, 84},    /* 10 */
    {"Q3_K", 256, 110},   /* 11 */
    {"Q4_K", 256, 144},   /* 12 */
    {"Q5_K", 256, 176},   /* 13 */
    {"Q6_K", 256, 210},   /* 14 */
    {"Q8_K", 256, 292},   /* 15 */
    {"IQ2_XXS", 256, 66}, /* 16 */
    {"IQ2_XS", 256, 74},  /* 17 */
    {"IQ3_XXS", 256, 98}, /* 18 */
    {"IQ1_S", 256, 50},   /* 19 */
    {"IQ4_NL", 32, 18},   /* 20 */
    {"IQ3_S", 256, 110},  /* 21 */
    {"IQ2_S", 256, 82},   /* 22 */
    {"IQ4_XS", 256, 136}, /* 23 */
    {"I8", 1, 1},         /* 24 */
    {"I16", 1, 2},        /* 25 */
    {"I32", 1, 4},        /* 26 */
    {"I64", 1, 8},        /* 27 */
    {"F64", 1, 8},        /* 28 */
    {"IQ1_M", 256, 56},   /* 29 */
    {"BF16", 1, 2},       /* 30 */
    {NULL, 0, 0},         /* 31 */
    {NULL, 0, 0},         /* 32 */
    {NULL, 0, 0},         /* 33 */
    {"TQ1_0", 256, 54},   /* 34 */
    {"TQ2_0", 256, 66},   /* 35 */
    {NULL, 0, 0},         /* 36 */
    {NULL, 0, 0},         /* 37 */
    {NULL, 0, 0},         /* 38 */
    {"MXFP4", 32, 17},    /* 39 */
};

static const apr__type_info *apr__type_get(int type) {
    if (type < 0 || type >= APR_TYPE_COUNT || !apr__type_table[type].name) return NULL;
    return &apr__type_table[type];
}

APR__IMPL const char *apr_type_name(int type) {
    const apr__type_info *t = apr__type_get(type);
    return t ? t->name : NULL;
}

static int apr__type_lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

APR__IMPL int apr_type_from_name(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < APR_TYPE_COUNT; i++) {
        const char *a = apr__type_table[i].name, *b = name;
        if (!a) continue;
        while (*a && *b && apr__type_lower((unsigned char)*a) == apr__type_lower((unsigned char)*b)) a++, b++;
        if (!*a && !*b) return i;
    }
    return -1;
}

APR__IMPL int64_t apr_type_block_size(int type) {
    const apr__type_info *t = apr__type_get(type);
    return t ? t->block_size : 0;
}

APR__IMPL int64_t apr_type_block_bytes(int type) {
    const apr__type_info *t = apr__type_get(type);
    return t ? t->block_bytes : 0;
}

APR__IMPL size_t apr_type_row_bytes(int type, int64_t n) {
    const apr__type_info *t = apr__type_get(type);
    if (!t || n < 0 || n % t->block_size != 0) return 0;
    uint64_t bytes;
    if (apr__mul_overflow_u64((uint64_t)(n / t->block_size), (uint64_t)t->block_bytes, &bytes)) return 0;
    if (bytes > (uint64_t)SIZE_MAX) return 0;
    return (size_t)bytes;
}

/* ---- the parsed file ------------------------------------------------------------------ */

typedef struct apr__gguf_kv {
    apr_str key;
    apr_gguf_value_type type;
    apr_gguf_value_type elem_type; /* arrays */
    uint64_t count;                /* arrays: elements; strings: bytes */
    const uint8_t *val;            /* scalar bytes, string bytes, or first array element */
    uint64_t *str_pos;             /* string arrays: position of each element's length
                                      prefix, relative to val */
} apr__gguf_kv;

struct apr_gguf {
    apr__mapping map; /* map.data == NULL when opened from a caller's buffer */
    const uint8_t *data;
    uint64_t size;
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;
    int64_t n_kv;
    apr__gguf_kv *kv;
    int64_t n_tensors;
    apr_gguf_tensor *tensors;
    /* open-addressing hash tables of indices (-1 empty), capacities are powers of two */
    int64_t *kv_hash;
    uint64_t kv_hash_cap;
    int64_t *tensor_hash;
    uint64_t tensor_hash_cap;
};

static uint64_t apr__gguf_hash(const char *p, uint64_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (uint64_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static bool apr__gguf_str_eq(apr_str a, const char *b, uint64_t blen) {
    return a.len == blen && (blen == 0 || memcmp(a.ptr, b, (size_t)blen) == 0);
}

static int64_t apr__gguf_kv_lookup(const apr_gguf *g, const char *key, uint64_t len) {
    if (!g || !g->kv_hash) return -1;
    uint64_t mask = g->kv_hash_cap - 1;
    for (uint64_t h = apr__gguf_hash(key, len) & mask;; h = (h + 1) & mask) {
        int64_t i = g->kv_hash[h];
        if (i < 0) return -1;
        if (apr__gguf_str_eq(g->kv[i].key, key, len)) return i;
    }
}

static int64_t apr__gguf_tensor_lookup(const apr_gguf *g, const char *name, uint64_t len) {
    if (!g || !g->tensor_hash) return -1;
    uint64_t mask = g->tensor_hash_cap - 1;
    for (uint64_t h = apr__gguf_hash(name, len) & mask;; h = (h + 1) & mask) {
        int64_t i = g->tensor_hash[h];
        if (i < 0) return -1;
        if (apr__gguf_str_eq(g->tensors[i].name, name, len)) return i;
    }
}

/* Smallest power of two >= 2n (so probes stay short), at least 8. */
static uint64_t apr__gguf_hash_cap(uint64_t n) {
    uint64_t cap = 8;
    while (cap < 2 * n) cap *= 2;
    return cap;
}

static int64_t *apr__gguf_hash_alloc(uint64_t cap) {
    int64_t *h = (int64_t *)APR_MALLOC((size_t)(cap * sizeof(int64_t)));
    if (h) memset(h, 0xff, (size_t)(cap * sizeof(int64_t))); /* all -1 */
    return h;
}

/* ---- bounded little-endian reading ------------------------------------------------- */

typedef struct apr__gguf_reader {
    const uint8_t *p;
    uint64_t size;
    uint64_t pos;
} apr__gguf_reader;

static uint32_t apr__gguf_le32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t apr__gguf_le64(const uint8_t *p) { return (uint64_t)apr__gguf_le32(p) | ((uint64_t)apr__gguf_le32(p + 4) << 32); }

static uint64_t apr__gguf_rd_left(const apr__gguf_reader *r) { return r->size - r->pos; }

static bool apr__gguf_rd_u32(apr__gguf_reader *r, uint32_t *v) {
    if (apr__gguf_rd_left(r) < 4) return false;
    *v = apr__gguf_le32(r->p + r->pos);
    r->pos += 4;
    return true;
}

static bool apr__gguf_rd_u64(apr__gguf_reader *r, uint64_t *v) {
    if (apr__gguf_rd_left(r) < 8) return false;
    *v = apr__gguf_le64(r->p + r->pos);
    r->pos += 8;
    return true;
}

/* Size of one element of a fixed-size value type; 0 for string, array and unknown. */
static uint64_t apr__gguf_scalar_size(uint32_t t) {
    switch (t) {
    case APR_GGUF_UINT8: case APR_GGUF_INT8: case APR_GGUF_BOOL: return 1;
    case APR_GGUF_UINT16: case APR_GGUF_INT16: return 2;
    case APR_GGUF_UINT32: case APR_GGUF_INT32: case APR_GGUF_FLOAT32: return 4;
    case APR_GGUF_UINT64: case APR_GGUF_INT64: case APR_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static const char *apr__gguf_type_str(uint32_t t) {
    static const char *names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                                  "str", "arr", "u64", "i64", "f64"};
    return t < APR__ARRAY_LEN(names) ? names[t] : "?";
}

/* Names in messages: the file's bytes, clipped and with non-printable bytes replaced. */
static const char *apr__gguf_clip(apr_str s, char *buf, size_t size) {
    size_t n = 0;
    for (uint64_t i = 0; i < s.len && n + 4 < size; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        buf[n++] = (c >= 32 && c < 127) ? (char)c : '?';
    }
    if (s.len > n && n + 4 <= size) { buf[n++] = '.'; buf[n++] = '.'; buf[n++] = '.'; }
    buf[n] = 0;
    return buf;
}

/* A string: u64 length, then that many bytes. */
static bool apr__gguf_rd_str(apr__gguf_reader *r, apr_str *s, uint64_t *len_out) {
    uint64_t len;
    if (!apr__gguf_rd_u64(r, &len)) return false;
    *len_out = len;
    if (len > apr__gguf_rd_left(r)) return false;
    s->ptr = (const char *)(r->p + r->pos);
    s->len = len;
    r->pos += len;
    return true;
}

#define APR__GGUF_MAX_NAME 65535u /* keys and tensor names: generous, but bounded */

/* One key/value pair at r->pos (after its key). Fills kv; on failure a message. */
static apr_result apr__gguf_read_value(apr__gguf_reader *r, apr__gguf_kv *kv, const char *kname,
                                       apr_error *err) {
    uint32_t type;
    uint64_t at = r->pos;
    if (!apr__gguf_rd_u32(r, &type))
        return apr__fail(err, APR_ERROR_INVALID_FILE, "key '%s': value type truncated at offset %llu",
                         kname, (unsigned long long)at);
    if (type > APR_GGUF_FLOAT64)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "key '%s': unknown value type %u at offset %llu",
                         kname, type, (unsigned long long)at);
    kv->type = (apr_gguf_value_type)type;
    at = r->pos;
    if (type == APR_GGUF_STRING) {
        apr_str s;
        uint64_t len = 0;
        if (!apr__gguf_rd_str(r, &s, &len))
            return apr__fail(err, APR_ERROR_INVALID_FILE,
                             "key '%s': string length %llu at offset %llu exceeds the %llu bytes left",
                             kname, (unsigned long long)len, (unsigned long long)at,
                             (unsigned long long)(r->size - at < 8 ? 0 : r->size - at - 8));
        kv->val = (const uint8_t *)s.ptr;
        kv->count = s.len;
        return APR_SUCCESS;
    }
    if (type != APR_GGUF_ARRAY) {
        uint64_t n = apr__gguf_scalar_size(type);
        if (apr__gguf_rd_left(r) < n)
            return apr__fail(err, APR_ERROR_INVALID_FILE, "key '%s': %s value truncated at offset %llu",
                             kname, apr__gguf_type_str(type), (unsigned long long)at);
        kv->val = r->p + r->pos;
        kv->count = 1;
        r->pos += n;
        return APR_SUCCESS;
    }
    uint32_t et;
    uint64_t count;
    if (!apr__gguf_rd_u32(r, &et) || !apr__gguf_rd_u64(r, &count))
        return apr__fail(err, APR_ERROR_INVALID_FILE, "key '%s': array header truncated at offset %llu",
                         kname, (unsigned long long)at);
    if (et == APR_GGUF_ARRAY)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "key '%s': nested arrays are not supported", kname);
    if (et > APR_GGUF_FLOAT64)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "key '%s': unknown array element type %u", kname, et);
    kv->elem_type = (apr_gguf_value_type)et;
    kv->count = count;
    kv->val = r->p + r->pos;
    uint64_t left = apr__gguf_rd_left(r);
    if (et != APR_GGUF_STRING) {
        uint64_t bytes;
        if (apr__mul_overflow_u64(count, apr__gguf_scalar_size(et), &bytes) || bytes > left)
            return apr__fail(err, APR_ERROR_INVALID_FILE,
                             "key '%s': array of %llu %s needs more than the %llu bytes left", kname,
                             (unsigned long long)count, apr__gguf_type_str(et), (unsigned long long)left);
        r->pos += bytes;
        return APR_SUCCESS;
    }
    /* Each string needs at least its 8-byte length: bound count before allocating. */
    if (count > left / 8)
        return apr__fail(err, APR_ERROR_INVALID_FILE,
                         "key '%s': array of %llu strings needs more than the %llu bytes left", kname,
                         (unsigned long long)count, (unsigned long long)left);
    kv->str_pos = (uint64_t *)APR_MALLOC((size_t)(count ? count * sizeof(uint64_t) : 1));
    if (!kv->str_pos) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "key '%s': out of memory", kname);
    uint64_t base = r->pos;
    for (uint64_t i = 0; i < count; i++) {
        apr_str s;
        uint64_t len = 0, at2 = r->pos;
        kv->str_pos[i] = r->pos - base;
        if (!apr__gguf_rd_str(r, &s, &len))
            return apr__fail(err, APR_ERROR_INVALID_FILE,
                             "key '%s': string %llu of the array (length %llu at offset %llu) exceeds the file",
                             kname, (unsigned long long)i, (unsigned long long)len, (unsigned long long)at2);
    }
    return APR_SUCCESS;
}

APR__IMPL void apr_gguf_close(apr_gguf *g) {
    if (!g) return;
    if (g->kv)
        for (int64_t i = 0; i < g->n_kv; i++) APR_FREE(g->kv[i].str_pos);
    APR_FREE(g->kv);
    APR_FREE(g->tensors);
    APR_FREE(g->kv_hash);
    APR_FREE(g->tensor_hash);
    apr__unmap_file(&g->map);
    APR_FREE(g);
}

typedef struct apr__gguf_span {
    uint64_t begin, end;
    int64_t index;
} apr__gguf_span;

static int apr__gguf_span_cmp(const void *a, const void *b) {
    const apr__gguf_span *x = (const apr__gguf_span *)a, *y = (const apr__gguf_span *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Parse and validate g->data[0 .. g->size). */
static apr_result apr__gguf_parse(apr_gguf *g, apr_error *err) {
    apr__gguf_reader rd;
    apr__gguf_reader *r = &rd;
    char nb[80];
    rd.p = g->data;
    rd.size = g->size;
    rd.pos = 0;

    if (g->size < 4 || memcmp(g->data, "GGUF", 4) != 0)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "magic: not a GGUF file (the first 4 bytes are not \"GGUF\")");
    r->pos = 4;
    uint32_t version;
    if (!apr__gguf_rd_u32(r, &version))
        return apr__fail(err, APR_ERROR_INVALID_FILE, "version: file truncated at offset 4");
    if (version == 1)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "version: GGUF version 1 is not supported (only 2 and 3)");
    if ((version & 0xffff) == 0 && version != 0)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "version: big-endian GGUF files are not supported");
    if (version < 2 || version > 3)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "version: unknown GGUF version %u (only 2 and 3)", version);
    g->version = version;
    uint64_t n_tensors, n_kv;
    if (!apr__gguf_rd_u64(r, &n_tensors))
        return apr__fail(err, APR_ERROR_INVALID_FILE, "n_tensors: file truncated at offset 8");
    if (!apr__gguf_rd_u64(r, &n_kv))
        return apr__fail(err, APR_ERROR_INVALID_FILE, "n_kv: file truncated at offset 16");
    /* Lower bounds of what each entry takes: a kv is key length (8) + type (4) + at least
       one value byte; a tensor info is name length (8) + n_dims (4) + one dim (8) + type
       (4) + offset (8). */
    uint64_t left = apr__gguf_rd_left(r);
    if (n_kv > left / 13)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "n_kv: %llu key/value pairs cannot fit in the %llu bytes left",
                         (unsigned long long)n_kv, (unsigned long long)left);
    if (n_tensors > left / 32 || n_tensors > (left - n_kv * 13) / 32)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "n_tensors: %llu tensor infos cannot fit in the %llu bytes left",
                         (unsigned long long)n_tensors, (unsigned long long)left);
    if (n_kv > (uint64_t)INT64_MAX / 2 || n_tensors > (uint64_t)INT64_MAX / 2 ||
        n_kv > SIZE_MAX / sizeof(apr__gguf_kv) / 2 || n_tensors > SIZE_MAX / sizeof(apr_gguf_tensor) / 2)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "n_kv or n_tensors too large");

    /* ---- key/value pairs ---- */
    g->kv = (apr__gguf_kv *)apr__calloc((size_t)(n_kv ? n_kv : 1), sizeof(apr__gguf_kv));
    g->kv_hash_cap = apr__gguf_hash_cap(n_kv);
    g->kv_hash = apr__gguf_hash_alloc(g->kv_hash_cap);
    if (!g->kv || !g->kv_hash) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory for %llu keys", (unsigned long long)n_kv);
    g->alignment = 32;
    for (uint64_t i = 0; i < n_kv; i++) {
        apr__gguf_kv *kv = &g->kv[i];
        uint64_t at = r->pos, len = 0;
        if (!apr__gguf_rd_str(r, &kv->key, &len))
            return apr__fail(err, APR_ERROR_INVALID_FILE,
                             "kv %llu: key length %llu at offset %llu exceeds the file (%llu bytes)",
                             (unsigned long long)i, (unsigned long long)len, (unsigned long long)at,
                             (unsigned long long)g->size);
        g->n_kv = (int64_t)i + 1; /* so that close() frees what this entry allocates */
        apr__gguf_clip(kv->key, nb, sizeof nb);
        if (kv->key.len == 0)
            return apr__fail(err, APR_ERROR_INVALID_FILE, "kv %llu: empty key at offset %llu",
                             (unsigned long long)i, (unsigned long long)at);
        if (kv->key.len > APR__GGUF_MAX_NAME)
            return apr__fail(err, APR_ERROR_INVALID_FILE, "kv %llu: key length %llu is too long",
                             (unsigned long long)i, (unsigned long long)kv->key.len);
        apr_result res = apr__gguf_read_value(r, kv, nb, err);
        if (res != APR_SUCCESS) return res;
        uint64_t mask = g->kv_hash_cap - 1, h = apr__gguf_hash(kv->key.ptr, kv->key.len) & mask;
        for (; g->kv_hash[h] >= 0; h = (h + 1) & mask)
            if (apr__gguf_str_eq(g->kv[g->kv_hash[h]].key, kv->key.ptr, kv->key.len))
                return apr__fail(err, APR_ERROR_INVALID_FILE, "key '%s': duplicate key (kv %lld and %llu)", nb,
                                 (long long)g->kv_hash[h], (unsigned long long)i);
        g->kv_hash[h] = (int64_t)i;
        if (apr__gguf_str_eq(kv->key, "general.alignment", 17)) {
            if (kv->type != APR_GGUF_UINT32)
                return apr__fail(err, APR_ERROR_INVALID_FILE, "key 'general.alignment': type is %s, expected u32",
                                 apr__gguf_type_str(kv->type));
            uint32_t a = apr__gguf_le32(kv->val);
            if (a == 0 || (a & (a - 1)) != 0)
                return apr__fail(err, APR_ERROR_INVALID_FILE, "key 'general.alignment': %u is not a power of two", a);
            g->alignment = a;
        }
    }

    /* ---- tensor infos ---- */
    g->tensors = (apr_gguf_tensor *)apr__calloc((size_t)(n_tensors ? n_tensors : 1), sizeof(apr_gguf_tensor));
    g->tensor_hash_cap = apr__gguf_hash_cap(n_tensors);
    g->tensor_hash = apr__gguf_hash_alloc(g->tensor_hash_cap);
    if (!g->tensors || !g->tensor_hash)
        return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory for %llu tensors", (unsigned long long)n_tensors);
    for (uint64_t i = 0; i < n_tensors; i++) {
        apr_gguf_tensor *t = &g->tensors[i];
        uint64_t at = r->pos, len = 0;
        if (!apr__gguf_rd_str(r, &t->name, &len))
            return apr__fail(err, APR_ERROR_INVALID_FILE,
                             "tensor %llu: name length %llu at offset %llu exceeds the file (%llu bytes)",
                             (unsigned long long)i, (unsigned long long)len, (unsigned long long)at,
                             (unsigned long long)g->size);
        g->n_tensors = (int64_t)i + 1;
        apr__gguf_clip(t->name, nb, sizeof nb);
        if (t->name.len == 0)
            return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor %llu: empty name at offset %llu",
                             (unsigned long long)i, (unsigned long long)at);
        if (t->name.len > APR__GGUF_MAX_NAME)
            return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor %llu: name length %llu is too long",
                             (unsigned long long)i, (unsigned long long)t->name.len);
        uint32_t n_dims;
        if (!apr__gguf_rd_u32(r, &n_dims))
            return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor '%s': n_dims truncated at offset %llu", nb,
                             (unsigned long long)r->pos);
        if (n_dims == 0 || n_dims > 4)
            return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor '%s': n_dims is %u (must be 1 to 4)", nb, n_dims);
        t->n_dims = (int)n_dims;
        uint64_t nelem = 1;
        for (int d = 0; d < 4; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < n_dims; d++) {
            uint64_t v;
            if (!apr__gguf_rd_u64(r, &v))
                return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor '%s': dimension %u truncated at offset %llu",
                                 nb, d, (unsigned long long)r->pos);
            if (v == 0)
                return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor '%s': dimension %u is 0", nb, d);
            if (v > (uint64_t)INT64_MAX)
                return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor '%s': dimension %u is %llu (negative as int64)",
                                 nb, d, (unsigned long long)v);
            if (apr__mul_overflow_u64(nelem, v, &nelem) || nelem > (uint64_t)INT64_MAX)
                return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor '%s': element count overflows at dimension %u",
                                 nb, d);
            t->ne[d] = (int64_t)v;
        }
        uint32_t type;
        if (!apr__gguf_rd_u32(r, &type))
            return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor '%s': type truncated at offset %llu", nb,
                             (unsigned long long)r->pos);
        const apr__type_info *ti = apr__type_get((int)(type > INT_MAX ? -1 : (int)type));
        if (!ti)
            return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor '%s': unknown type id %u", nb, type);
        t->type = (int)type;
        if (t->ne[0] % ti->block_size != 0)
            return apr__fail(err, APR_ERROR_INVALID_FILE,
                             "tensor '%s': dimension 0 (%lld) is not a multiple of the %s block size %d", nb,
                             (long long)t->ne[0], ti->name, (int)ti->block_size);
        /* nelem / block_size * block_bytes, which cannot overflow int64 only if checked */
        uint64_t bytes;
        if (apr__mul_overflow_u64(nelem / (uint64_t)ti->block_size, (uint64_t)ti->block_bytes, &bytes) ||
            bytes > (uint64_t)INT64_MAX)
            return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor '%s': byte size overflows", nb);
        t->size = bytes;
        if (!apr__gguf_rd_u64(r, &t->offset))
            return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor '%s': offset truncated at offset %llu", nb,
                             (unsigned long long)r->pos);
        uint64_t mask = g->tensor_hash_cap - 1, h = apr__gguf_hash(t->name.ptr, t->name.len) & mask;
        for (; g->tensor_hash[h] >= 0; h = (h + 1) & mask)
            if (apr__gguf_str_eq(g->tensors[g->tensor_hash[h]].name, t->name.ptr, t->name.len))
                return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor '%s': duplicate tensor name (tensors %lld and %llu)",
                                 nb, (long long)g->tensor_hash[h], (unsigned long long)i);
        g->tensor_hash[h] = (int64_t)i;
    }

    /* ---- data section ---- */
    uint64_t start;
    if (apr__add_overflow_u64(r->pos, g->alignment - 1, &start))
        return apr__fail(err, APR_ERROR_INVALID_FILE, "data section: offset overflows");
    start -= start % g->alignment;
    if (start > g->size) {
        /* Vocabulary-only files may end right after the header, unpadded. */
        if (n_tensors != 0)
            return apr__fail(err, APR_ERROR_INVALID_FILE,
                             "data section: starts at offset %llu, past the end of the file (%llu bytes)",
                             (unsigned long long)start, (unsigned long long)g->size);
        start = g->size;
    }
    g->data_offset = start;
    uint64_t avail = g->size - start;
    apr__gguf_span *spans = NULL;
    if (n_tensors) {
        spans = (apr__gguf_span *)APR_MALLOC((size_t)(n_tensors * sizeof(apr__gguf_span)));
        if (!spans) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory for %llu tensors", (unsigned long long)n_tensors);
    }
    for (uint64_t i = 0; i < n_tensors; i++) {
        apr_gguf_tensor *t = &g->tensors[i];
        apr__gguf_clip(t->name, nb, sizeof nb);
        uint64_t end;
        if (t->offset % g->alignment != 0) {
            APR_FREE(spans);
            return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor '%s': offset %llu is not a multiple of the alignment %llu",
                             nb, (unsigned long long)t->offset, (unsigned long long)g->alignment);
        }
        if (apr__add_overflow_u64(t->offset, t->size, &end) || end > avail) {
            APR_FREE(spans);
            return apr__fail(err, APR_ERROR_INVALID_FILE,
                             "tensor '%s': data (offset %llu, %llu bytes) extends past the end of the file", nb,
                             (unsigned long long)t->offset, (unsigned long long)t->size);
        }
        t->data = g->data + start + t->offset;
        spans[i].begin = t->offset;
        spans[i].end = end;
        spans[i].index = (int64_t)i;
    }
    if (n_tensors > 1) {
        qsort(spans, (size_t)n_tensors, sizeof *spans, apr__gguf_span_cmp);
        for (uint64_t i = 1; i < n_tensors; i++) {
            if (spans[i].begin < spans[i - 1].end) {
                char nb2[80];
                apr__gguf_clip(g->tensors[spans[i].index].name, nb, sizeof nb);
                apr__gguf_clip(g->tensors[spans[i - 1].index].name, nb2, sizeof nb2);
                APR_FREE(spans);
                return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor '%s': data overlaps tensor '%s'", nb, nb2);
            }
        }
    }
    APR_FREE(spans);
    return APR_SUCCESS;
}

/* Bounded text building (error messages, --inspect). */
typedef struct apr__gguf_sbuf {
    char *buf;
    size_t size, len; /* len may exceed size: counts what would have been written */
} apr__gguf_sbuf;

static void apr__gguf_sbuf_put(apr__gguf_sbuf *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++, b->len++)
        if (b->len + 1 < b->size) b->buf[b->len] = s[i];
    if (b->size) b->buf[b->len < b->size ? b->len : b->size - 1] = 0;
}

static APR__PRINTF(2, 3) void apr__gguf_sbuf_printf(apr__gguf_sbuf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) apr__gguf_sbuf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static apr_result apr__gguf_open_common(apr_gguf *g, apr_gguf **out, apr_error *err) {
    apr_result res = apr__gguf_parse(g, err);
    if (res != APR_SUCCESS) {
        apr_gguf_close(g);
        return res;
    }
    *out = g;
    return APR_SUCCESS;
}

APR__IMPL apr_result apr_gguf_open_memory(const void *data, size_t size, apr_gguf **out, apr_error *err) {
    apr__error_clear(err);
    if (!out) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_gguf_open_memory: out is NULL");
    *out = NULL;
    if (!data && size) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_gguf_open_memory: data is NULL");
    apr_gguf *g = (apr_gguf *)apr__calloc(1, sizeof(apr_gguf));
    if (!g) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory");
    g->data = (const uint8_t *)data;
    g->size = size;
    return apr__gguf_open_common(g, out, err);
}

APR__IMPL apr_result apr_gguf_open(const char *path, apr_gguf **out, apr_error *err) {
    apr__error_clear(err);
    if (!out || !path) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_gguf_open: path or out is NULL");
    *out = NULL;
    apr_gguf *g = (apr_gguf *)apr__calloc(1, sizeof(apr_gguf));
    if (!g) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory");
    apr_result res = apr__map_file(path, &g->map, err);
    if (res != APR_SUCCESS) {
        APR_FREE(g);
        return res;
    }
    g->data = (const uint8_t *)g->map.data;
    g->size = g->map.size;
    res = apr__gguf_open_common(g, out, err);
    if (res != APR_SUCCESS && err) {
        /* name the file too: "model.gguf: tensor 'x': ..." */
        char tmp[sizeof err->message];
        apr__gguf_sbuf b;
        memcpy(tmp, err->message, sizeof tmp);
        b.buf = err->message;
        b.size = sizeof err->message;
        b.len = 0;
        apr__gguf_sbuf_put(&b, path, strlen(path));
        apr__gguf_sbuf_put(&b, ": ", 2);
        apr__gguf_sbuf_put(&b, tmp, strlen(tmp));
    }
    return res;
}

/* ---- getters ----------------------------------------------------------------------------- */

APR__IMPL uint32_t apr_gguf_version(const apr_gguf *g) { return g ? g->version : 0; }
APR__IMPL int64_t apr_gguf_n_kv(const apr_gguf *g) { return g ? g->n_kv : 0; }
APR__IMPL int64_t apr_gguf_n_tensors(const apr_gguf *g) { return g ? g->n_tensors : 0; }
APR__IMPL uint64_t apr_gguf_data_offset(const apr_gguf *g) { return g ? g->data_offset : 0; }
APR__IMPL uint64_t apr_gguf_alignment(const apr_gguf *g) { return g ? g->alignment : 0; }
APR__IMPL uint64_t apr_gguf_file_size(const apr_gguf *g) { return g ? g->size : 0; }

APR__IMPL int64_t apr_gguf_find_key(const apr_gguf *g, const char *key) {
    if (!g || !key) return -1;
    return apr__gguf_kv_lookup(g, key, strlen(key));
}

APR__IMPL apr_str apr_gguf_key(const apr_gguf *g, int64_t i) {
    apr_str s;
    s.ptr = "";
    s.len = 0;
    if (g && i >= 0 && i < g->n_kv) s = g->kv[i].key;
    return s;
}

APR__IMPL apr_gguf_value_type apr_gguf_kv_type(const apr_gguf *g, int64_t i) {
    if (!g || i < 0 || i >= g->n_kv) return (apr_gguf_value_type)-1;
    return g->kv[i].type;
}

static const apr__gguf_kv *apr__gguf_kv_by_key(const apr_gguf *g, const char *key) {
    int64_t i = apr_gguf_find_key(g, key);
    return i < 0 ? NULL : &g->kv[i];
}

/* Integer value of a scalar kv: *neg says the value is negative (then *mag is -value). */
static bool apr__gguf_kv_int(const apr__gguf_kv *kv, bool *neg, uint64_t *mag) {
    const uint8_t *p = kv->val;
    int64_t s;
    *neg = false;
    switch (kv->type) {
    case APR_GGUF_UINT8: *mag = p[0]; return true;
    case APR_GGUF_UINT16: *mag = (uint64_t)p[0] | ((uint64_t)p[1] << 8); return true;
    case APR_GGUF_UINT32: *mag = apr__gguf_le32(p); return true;
    case APR_GGUF_UINT64: *mag = apr__gguf_le64(p); return true;
    case APR_GGUF_INT8: s = (int8_t)p[0]; break;
    case APR_GGUF_INT16: s = (int16_t)(uint16_t)((uint16_t)p[0] | ((uint16_t)p[1] << 8)); break;
    case APR_GGUF_INT32: s = (int32_t)apr__gguf_le32(p); break;
    case APR_GGUF_INT64: s = (int64_t)apr__gguf_le64(p); break;
    default: return false;
    }
    if (s < 0) {
        *neg = true;
        *mag = (uint64_t)0 - (uint64_t)s;
    } else {
        *mag = (uint64_t)s;
    }
    return true;
}

APR__IMPL bool apr_gguf_get_u64(const apr_gguf *g, const char *key, uint64_t *out) {
    const apr__gguf_kv *kv = apr__gguf_kv_by_key(g, key);
    bool neg;
    uint64_t mag;
    if (!kv || !apr__gguf_kv_int(kv, &neg, &mag) || neg) return false;
    *out = mag;
    return true;
}

APR__IMPL bool apr_gguf_get_i64(const apr_gguf *g, const char *key, int64_t *out) {
    const apr__gguf_kv *kv = apr__gguf_kv_by_key(g, key);
    bool neg;
    uint64_t mag;
    if (!kv || !apr__gguf_kv_int(kv, &neg, &mag)) return false;
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1) return false;
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)mag;
    }
    return true;
}

APR__IMPL bool apr_gguf_get_f64(const apr_gguf *g, const char *key, double *out) {
    const apr__gguf_kv *kv = apr__gguf_kv_by_key(g, key);
    if (!kv) return false;
    if (kv->type == APR_GGUF_FLOAT32) {
        *out = (double)apr__bits_to_f32(apr__gguf_le32(kv->val));
        return true;
    }
    if (kv->type == APR_GGUF_FLOAT64) {
        uint64_t u = apr__gguf_le64(kv->val);
        double d;
        memcpy(&d, &u, 8);
        *out = d;
        return true;
    }
    bool neg;
    uint64_t mag;
    if (!apr__gguf_kv_int(kv, &neg, &mag)) return false;
    *out = neg ? -(double)mag : (double)mag;
    return true;
}

APR__IMPL bool apr_gguf_get_bool(const apr_gguf *g, const char *key, bool *out) {
    const apr__gguf_kv *kv = apr__gguf_kv_by_key(g, key);
    if (!kv || kv->type != APR_GGUF_BOOL) return false;
    *out = kv->val[0] != 0;
    return true;
}

APR__IMPL bool apr_gguf_get_str(const apr_gguf *g, const char *key, apr_str *out) {
    const apr__gguf_kv *kv = apr__gguf_kv_by_key(g, key);
    if (!kv || kv->type != APR_GGUF_STRING) return false;
    out->ptr = (const char *)kv->val;
    out->len = kv->count;
    return true;
}

/* String arrays: data points at the serialized strings (length-prefixed); use
   apr_gguf_arr_str / apr_gguf_kv_arr_str to read the elements. */
APR__IMPL bool apr_gguf_kv_arr(const apr_gguf *g, int64_t i, apr_gguf_value_type *elem_type, uint64_t *count,
                               const void **data) {
    if (!g || i < 0 || i >= g->n_kv || g->kv[i].type != APR_GGUF_ARRAY) return false;
    if (elem_type) *elem_type = g->kv[i].elem_type;
    if (count) *count = g->kv[i].count;
    if (data) *data = g->kv[i].val;
    return true;
}

APR__IMPL bool apr_gguf_get_arr(const apr_gguf *g, const char *key, apr_gguf_value_type *elem_type,
                                uint64_t *count, const void **data) {
    return apr_gguf_kv_arr(g, apr_gguf_find_key(g, key), elem_type, count, data);
}

APR__IMPL apr_str apr_gguf_kv_arr_str(const apr_gguf *g, int64_t i, uint64_t j) {
    apr_str s;
    s.ptr = "";
    s.len = 0;
    if (!g || i < 0 || i >= g->n_kv) return s;
    const apr__gguf_kv *kv = &g->kv[i];
    if (kv->type != APR_GGUF_ARRAY || kv->elem_type != APR_GGUF_STRING || j >= kv->count) return s;
    const uint8_t *p = kv->val + kv->str_pos[j];
    s.len = apr__gguf_le64(p);
    s.ptr = (const char *)(p + 8);
    return s;
}

APR__IMPL apr_str apr_gguf_arr_str(const apr_gguf *g, const char *key, uint64_t i) {
    return apr_gguf_kv_arr_str(g, apr_gguf_find_key(g, key), i);
}

APR__IMPL const apr_gguf_tensor *apr_gguf_tensor_at(const apr_gguf *g, int64_t i) {
    if (!g || i < 0 || i >= g->n_tensors) return NULL;
    return &g->tensors[i];
}

APR__IMPL const apr_gguf_tensor *apr_gguf_find_tensor(const apr_gguf *g, const char *name) {
    if (!g || !name) return NULL;
    int64_t i = apr__gguf_tensor_lookup(g, name, strlen(name));
    return i < 0 ? NULL : &g->tensors[i];
}

/* ---- text form of a value (apr-chat --inspect) ---------------------------------------- */

/* Quoted, with control bytes escaped, clipped to max bytes of the original. */
static void apr__gguf_sbuf_quote(apr__gguf_sbuf *b, const char *s, uint64_t n, uint64_t max) {
    apr__gguf_sbuf_put(b, "\"", 1);
    for (uint64_t i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') { char e[2] = {'\\', (char)c}; apr__gguf_sbuf_put(b, e, 2); }
        else if (c == '\n') apr__gguf_sbuf_put(b, "\\n", 2);
        else if (c == '\t') apr__gguf_sbuf_put(b, "\\t", 2);
        else if (c < 32 || c == 127) apr__gguf_sbuf_printf(b, "\\x%02x", c);
        else apr__gguf_sbuf_put(b, (const char *)&c, 1);
    }
    apr__gguf_sbuf_put(b, "\"", 1);
    if (n > max) apr__gguf_sbuf_put(b, "...", 3);
}

static void apr__gguf_sbuf_scalar(apr__gguf_sbuf *b, apr_gguf_value_type t, const uint8_t *p) {
    switch (t) {
    case APR_GGUF_UINT8: apr__gguf_sbuf_printf(b, "%u", (unsigned)p[0]); break;
    case APR_GGUF_INT8: apr__gguf_sbuf_printf(b, "%d", (int)(int8_t)p[0]); break;
    case APR_GGUF_UINT16: apr__gguf_sbuf_printf(b, "%u", (unsigned)(p[0] | (p[1] << 8))); break;
    case APR_GGUF_INT16: apr__gguf_sbuf_printf(b, "%d", (int)(int16_t)(uint16_t)(p[0] | (p[1] << 8))); break;
    case APR_GGUF_UINT32: apr__gguf_sbuf_printf(b, "%lu", (unsigned long)apr__gguf_le32(p)); break;
    case APR_GGUF_INT32: apr__gguf_sbuf_printf(b, "%ld", (long)(int32_t)apr__gguf_le32(p)); break;
    case APR_GGUF_UINT64: apr__gguf_sbuf_printf(b, "%llu", (unsigned long long)apr__gguf_le64(p)); break;
    case APR_GGUF_INT64: apr__gguf_sbuf_printf(b, "%lld", (long long)(int64_t)apr__gguf_le64(p)); break;
    case APR_GGUF_FLOAT32: apr__gguf_sbuf_printf(b, "%g", (double)apr__bits_to_f32(apr__gguf_le32(p))); break;
    case APR_GGUF_FLOAT64: {
        uint64_t u = apr__gguf_le64(p);
        double d;
        memcpy(&d, &u, 8);
        apr__gguf_sbuf_printf(b, "%g", d);
        break;
    }
    case APR_GGUF_BOOL: apr__gguf_sbuf_printf(b, "%s", p[0] ? "true" : "false"); break;
    default: apr__gguf_sbuf_put(b, "?", 1); break;
    }
}

/* Returns the length of the text (which may have been clipped to size - 1). */
APR__IMPL int apr_gguf_kv_to_string(const apr_gguf *g, int64_t i, char *buf, size_t size) {
    apr__gguf_sbuf b;
    b.buf = buf;
    b.size = buf ? size : 0;
    b.len = 0;
    if (b.size) buf[0] = 0;
    if (!g || i < 0 || i >= g->n_kv) return 0;
    const apr__gguf_kv *kv = &g->kv[i];
    if (kv->type == APR_GGUF_STRING) {
        apr__gguf_sbuf_quote(&b, (const char *)kv->val, kv->count, 256);
    } else if (kv->type == APR_GGUF_ARRAY) {
        const uint64_t show = 8;
        apr__gguf_sbuf_printf(&b, "[%s \xc3\x97 %llu]", apr__gguf_type_str(kv->elem_type), (unsigned long long)kv->count);
        if (kv->count) apr__gguf_sbuf_put(&b, ": ", 2);
        for (uint64_t j = 0; j < kv->count && j < show; j++) {
            if (j) apr__gguf_sbuf_put(&b, ", ", 2);
            if (kv->elem_type == APR_GGUF_STRING) {
                apr_str s = apr_gguf_kv_arr_str(g, i, j);
                apr__gguf_sbuf_quote(&b, s.ptr, s.len, 32);
            } else {
                apr__gguf_sbuf_scalar(&b, kv->elem_type, kv->val + j * apr__gguf_scalar_size(kv->elem_type));
            }
        }
        if (kv->count > show) apr__gguf_sbuf_put(&b, ", ...", 5);
    } else {
        apr__gguf_sbuf_scalar(&b, kv->type, kv->val);
    }
    size_t n = b.size ? APR__MIN(b.len, b.size - 1) : 0;
    return (int)n;
}
