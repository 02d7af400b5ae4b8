/* =====================================================================================
   GGUF writer: standard GGUF v3, readable by llama.cpp. Metadata is serialized into a
   buffer as it is added; begin_file writes the header (kvs, then every tensor's name,
   shape, type and offset), then each write_tensor_data call streams one tensor's bytes
   followed by zero padding up to the alignment, in the order the tensors were added.
   ===================================================================================== */

typedef struct apr__gguf_wtensor {
    char *name;
    int type;
    int n_dims;
    int64_t ne[4];
    uint64_t size;
    uint64_t offset;
} apr__gguf_wtensor;

struct apr_gguf_writer {
    uint8_t *kv;          /* serialized key/value pairs */
    size_t kv_len, kv_cap;
    int64_t n_kv;
    char **keys;          /* for duplicate checks */
    int64_t keys_cap;
    uint32_t alignment;
    bool alignment_kv;    /* write general.alignment (set explicitly, or not 32) */
    apr__gguf_wtensor *tensors;
    int64_t n_tensors, tensors_cap;
    FILE *f;
    int64_t next_tensor;  /* index of the tensor whose data comes next */
    bool failed;          /* a write failed: finish() reports it */
    char message[256];
};

/* llama.cpp keeps tensor names in a 64-byte buffer with its NUL. */
#define APR__GGUF_WRITE_MAX_NAME 63

static bool apr__gguf_w_reserve(apr_gguf_writer *w, size_t extra) {
    if (extra > SIZE_MAX - w->kv_len) return false;
    size_t need = w->kv_len + extra;
    if (need <= w->kv_cap) return true;
    size_t cap = w->kv_cap ? w->kv_cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) { cap = need; break; }
        cap *= 2;
    }
    uint8_t *p = (uint8_t *)APR_REALLOC(w->kv, cap);
    if (!p) return false;
    w->kv = p;
    w->kv_cap = cap;
    return true;
}

/* Append to the kv buffer (space reserved by the caller). */
static void apr__gguf_w_bytes(apr_gguf_writer *w, const void *p, size_t n) {
    if (n) memcpy(w->kv + w->kv_len, p, n);
    w->kv_len += n;
}
static void apr__gguf_w_u32(apr_gguf_writer *w, uint32_t v) {
    uint8_t b[4];
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
    apr__gguf_w_bytes(w, b, 4);
}
static void apr__gguf_w_u64(apr_gguf_writer *w, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
    apr__gguf_w_bytes(w, b, 8);
}

APR__IMPL apr_result apr_gguf_writer_create(apr_gguf_writer **out, apr_error *err) {
    apr__error_clear(err);
    if (!out) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_gguf_writer_create: out is NULL");
    apr_gguf_writer *w = (apr_gguf_writer *)apr__calloc(1, sizeof(apr_gguf_writer));
    if (!w) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory");
    w->alignment = 32;
    *out = w;
    return APR_SUCCESS;
}

APR__IMPL void apr_gguf_writer_free(apr_gguf_writer *w) {
    if (!w) return;
    if (w->f) fclose(w->f);
    for (int64_t i = 0; i < w->n_kv; i++) APR_FREE(w->keys[i]);
    APR_FREE(w->keys);
    for (int64_t i = 0; i < w->n_tensors; i++) APR_FREE(w->tensors[i].name);
    APR_FREE(w->tensors);
    APR_FREE(w->kv);
    APR_FREE(w);
}

APR__IMPL apr_result apr_gguf_writer_set_alignment(apr_gguf_writer *w, uint32_t alignment) {
    if (!w || w->f || alignment == 0 || (alignment & (alignment - 1)) != 0) return APR_ERROR_INVALID_ARGUMENT;
    w->alignment = alignment;
    w->alignment_kv = alignment != 32;
    return APR_SUCCESS;
}

/* Start a kv: checks the key, records it, reserves room for key + type + value_bytes and
   writes the key and the type. general.alignment is not stored: it sets the alignment
   and is written by begin_file. */
static apr_result apr__gguf_w_begin_kv(apr_gguf_writer *w, const char *key, size_t key_len,
                                       apr_gguf_value_type type, uint64_t value_bytes) {
    if (!w || !key || key_len == 0 || key_len > APR__GGUF_MAX_NAME || w->f) return APR_ERROR_INVALID_ARGUMENT;
    if (memchr(key, 0, key_len)) return APR_ERROR_INVALID_ARGUMENT;
    for (int64_t i = 0; i < w->n_kv; i++)
        if (strlen(w->keys[i]) == key_len && memcmp(w->keys[i], key, key_len) == 0) return APR_ERROR_INVALID_ARGUMENT;
    if (value_bytes > (uint64_t)SIZE_MAX - 64 - key_len) return APR_ERROR_OUT_OF_MEMORY;
    if (w->n_kv == w->keys_cap) {
        int64_t cap = w->keys_cap ? w->keys_cap * 2 : 16;
        char **k = (char **)APR_REALLOC(w->keys, (size_t)cap * sizeof(char *));
        if (!k) return APR_ERROR_OUT_OF_MEMORY;
        w->keys = k;
        w->keys_cap = cap;
    }
    char *copy = (char *)APR_MALLOC(key_len + 1);
    if (!copy) return APR_ERROR_OUT_OF_MEMORY;
    memcpy(copy, key, key_len);
    copy[key_len] = 0;
    if (!apr__gguf_w_reserve(w, 8 + key_len + 4 + (size_t)value_bytes)) {
        APR_FREE(copy);
        return APR_ERROR_OUT_OF_MEMORY;
    }
    w->keys[w->n_kv++] = copy;
    apr__gguf_w_u64(w, key_len);
    apr__gguf_w_bytes(w, key, key_len);
    apr__gguf_w_u32(w, (uint32_t)type);
    return APR_SUCCESS;
}

static apr_result apr__gguf_w_scalar(apr_gguf_writer *w, const char *key, size_t key_len,
                                     apr_gguf_value_type type, const void *le_bytes) {
    uint64_t n = apr__gguf_scalar_size((uint32_t)type);
    if (key && key_len == 17 && memcmp(key, "general.alignment", 17) == 0) {
        if (!w || w->f || type != APR_GGUF_UINT32) return APR_ERROR_INVALID_ARGUMENT;
        for (int64_t i = 0; i < w->n_kv; i++)
            if (strcmp(w->keys[i], "general.alignment") == 0) return APR_ERROR_INVALID_ARGUMENT;
        apr_result r = apr_gguf_writer_set_alignment(w, apr__gguf_le32((const uint8_t *)le_bytes));
        if (r == APR_SUCCESS) w->alignment_kv = true;
        return r;
    }
    apr_result r = apr__gguf_w_begin_kv(w, key, key_len, type, n);
    if (r == APR_SUCCESS) apr__gguf_w_bytes(w, le_bytes, (size_t)n);
    return r;
}

static void apr__gguf_le_put(uint8_t *b, uint64_t v, int n) {
    for (int i = 0; i < n; i++) b[i] = (uint8_t)(v >> (8 * i));
}

APR__IMPL apr_result apr_gguf_writer_add_u32(apr_gguf_writer *w, const char *key, uint32_t v) {
    uint8_t b[4];
    apr__gguf_le_put(b, v, 4);
    return apr__gguf_w_scalar(w, key, key ? strlen(key) : 0, APR_GGUF_UINT32, b);
}

APR__IMPL apr_result apr_gguf_writer_add_i32(apr_gguf_writer *w, const char *key, int32_t v) {
    uint8_t b[4];
    apr__gguf_le_put(b, (uint32_t)v, 4);
    return apr__gguf_w_scalar(w, key, key ? strlen(key) : 0, APR_GGUF_INT32, b);
}

APR__IMPL apr_result apr_gguf_writer_add_u64(apr_gguf_writer *w, const char *key, uint64_t v) {
    uint8_t b[8];
    apr__gguf_le_put(b, v, 8);
    return apr__gguf_w_scalar(w, key, key ? strlen(key) : 0, APR_GGUF_UINT64, b);
}

APR__IMPL apr_result apr_gguf_writer_add_f32(apr_gguf_writer *w, const char *key, float v) {
    uint8_t b[4];
    apr__gguf_le_put(b, apr__f32_to_bits(v), 4);
    return apr__gguf_w_scalar(w, key, key ? strlen(key) : 0, APR_GGUF_FLOAT32, b);
}

APR__IMPL apr_result apr_gguf_writer_add_bool(apr_gguf_writer *w, const char *key, bool v) {
    uint8_t b = v ? 1 : 0;
    return apr__gguf_w_scalar(w, key, key ? strlen(key) : 0, APR_GGUF_BOOL, &b);
}

APR__IMPL apr_result apr_gguf_writer_add_str(apr_gguf_writer *w, const char *key, const char *v) {
    if (!v) return APR_ERROR_INVALID_ARGUMENT;
    size_t n = strlen(v);
    apr_result r = apr__gguf_w_begin_kv(w, key, key ? strlen(key) : 0, APR_GGUF_STRING, 8 + (uint64_t)n);
    if (r != APR_SUCCESS) return r;
    apr__gguf_w_u64(w, n);
    apr__gguf_w_bytes(w, v, n);
    return APR_SUCCESS;
}

/* Arrays and scalars given as raw little-endian bytes (strings: apr_str). count is 1 for
   a scalar; for an array, data holds count elements. */
static apr_result apr__gguf_w_value(apr_gguf_writer *w, const char *key, size_t key_len,
                                    apr_gguf_value_type elem_type, uint64_t count, const void *data) {
    if (elem_type == APR_GGUF_ARRAY || (uint32_t)elem_type > APR_GGUF_FLOAT64) return APR_ERROR_INVALID_ARGUMENT;
    if (count && !data) return APR_ERROR_INVALID_ARGUMENT;
    uint64_t bytes = 12; /* element type + count */
    if (elem_type == APR_GGUF_STRING) {
        const apr_str *s = (const apr_str *)data;
        for (uint64_t i = 0; i < count; i++) {
            if (s[i].len && !s[i].ptr) return APR_ERROR_INVALID_ARGUMENT;
            if (apr__add_overflow_u64(bytes, 8, &bytes) || apr__add_overflow_u64(bytes, s[i].len, &bytes))
                return APR_ERROR_OUT_OF_MEMORY;
        }
    } else {
        uint64_t n;
        if (apr__mul_overflow_u64(count, apr__gguf_scalar_size((uint32_t)elem_type), &n) ||
            apr__add_overflow_u64(bytes, n, &bytes))
            return APR_ERROR_OUT_OF_MEMORY;
    }
    apr_result r = apr__gguf_w_begin_kv(w, key, key_len, APR_GGUF_ARRAY, bytes);
    if (r != APR_SUCCESS) return r;
    apr__gguf_w_u32(w, (uint32_t)elem_type);
    apr__gguf_w_u64(w, count);
    if (elem_type == APR_GGUF_STRING) {
        const apr_str *s = (const apr_str *)data;
        for (uint64_t i = 0; i < count; i++) {
            apr__gguf_w_u64(w, s[i].len);
            apr__gguf_w_bytes(w, s[i].ptr, (size_t)s[i].len);
        }
    } else {
        apr__gguf_w_bytes(w, data, (size_t)(bytes - 12));
    }
    return APR_SUCCESS;
}

APR__IMPL apr_result apr_gguf_writer_add_arr(apr_gguf_writer *w, const char *key, apr_gguf_value_type elem_type,
                                             uint64_t count, const void *data) {
    return apr__gguf_w_value(w, key, key ? strlen(key) : 0, elem_type, count, data);
}

APR__IMPL apr_result apr_gguf_writer_copy_kv(apr_gguf_writer *w, const apr_gguf *src, int64_t i) {
    if (!w || !src || i < 0 || i >= src->n_kv) return APR_ERROR_INVALID_ARGUMENT;
    const apr__gguf_kv *kv = &src->kv[i];
    size_t klen = (size_t)kv->key.len;
    if (kv->type == APR_GGUF_STRING) {
        apr_result r = apr__gguf_w_begin_kv(w, kv->key.ptr, klen, APR_GGUF_STRING, 8 + kv->count);
        if (r != APR_SUCCESS) return r;
        apr__gguf_w_u64(w, kv->count);
        apr__gguf_w_bytes(w, kv->val, (size_t)kv->count);
        return APR_SUCCESS;
    }
    if (kv->type != APR_GGUF_ARRAY) return apr__gguf_w_scalar(w, kv->key.ptr, klen, kv->type, kv->val);
    /* The reader validated the array: its serialized elements can be copied as they are. */
    uint64_t n;
    if (kv->elem_type == APR_GGUF_STRING) {
        n = 0;
        if (kv->count) {
            uint64_t last = kv->str_pos[kv->count - 1];
            n = last + 8 + apr__gguf_le64(kv->val + last);
        }
    } else {
        n = kv->count * apr__gguf_scalar_size(kv->elem_type);
    }
    apr_result r = apr__gguf_w_begin_kv(w, kv->key.ptr, klen, APR_GGUF_ARRAY, 12 + n);
    if (r != APR_SUCCESS) return r;
    apr__gguf_w_u32(w, (uint32_t)kv->elem_type);
    apr__gguf_w_u64(w, kv->count);
    apr__gguf_w_bytes(w, kv->val, (size_t)n);
    return APR_SUCCESS;
}

APR__IMPL apr_result apr_gguf_writer_add_tensor(apr_gguf_writer *w, const char *name, int type, int n_dims,
                                                const int64_t *ne) {
    if (!w || !name || !ne || w->f) return APR_ERROR_INVALID_ARGUMENT;
    size_t len = strlen(name);
    const apr__type_info *ti = apr__type_get(type);
    if (len == 0 || len > APR__GGUF_WRITE_MAX_NAME || !ti || n_dims < 1 || n_dims > 4) return APR_ERROR_INVALID_ARGUMENT;
    uint64_t nelem = 1;
    for (int d = 0; d < n_dims; d++) {
        if (ne[d] <= 0 || apr__mul_overflow_u64(nelem, (uint64_t)ne[d], &nelem) || nelem > (uint64_t)INT64_MAX)
            return APR_ERROR_INVALID_ARGUMENT;
    }
    if (ne[0] % ti->block_size != 0) return APR_ERROR_INVALID_ARGUMENT;
    uint64_t size;
    if (apr__mul_overflow_u64(nelem / (uint64_t)ti->block_size, (uint64_t)ti->block_bytes, &size) ||
        size > (uint64_t)INT64_MAX)
        return APR_ERROR_INVALID_ARGUMENT;
    for (int64_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0) return APR_ERROR_INVALID_ARGUMENT;
    if (w->n_tensors == w->tensors_cap) {
        int64_t cap = w->tensors_cap ? w->tensors_cap * 2 : 64;
        apr__gguf_wtensor *t = (apr__gguf_wtensor *)APR_REALLOC(w->tensors, (size_t)cap * sizeof(apr__gguf_wtensor));
        if (!t) return APR_ERROR_OUT_OF_MEMORY;
        w->tensors = t;
        w->tensors_cap = cap;
    }
    apr__gguf_wtensor *t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = apr__strdup(name);
    if (!t->name) return APR_ERROR_OUT_OF_MEMORY;
    t->type = type;
    t->n_dims = n_dims;
    for (int d = 0; d < 4; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    t->size = size;
    w->n_tensors++;
    return APR_SUCCESS;
}

static bool apr__gguf_w_file(apr_gguf_writer *w, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, w->f) != n) {
        if (!w->failed) snprintf(w->message, sizeof w->message, "write failed: %s", strerror(errno));
        w->failed = true;
        return false;
    }
    return true;
}

/* Zeros from offset `pos` up to the next multiple of the alignment. */
static bool apr__gguf_w_pad(apr_gguf_writer *w, uint64_t pos) {
    static const uint8_t zeros[256] = {0};
    uint64_t pad = (w->alignment - pos % w->alignment) % w->alignment;
    while (pad) {
        size_t n = (size_t)APR__MIN(pad, (uint64_t)sizeof zeros);
        if (!apr__gguf_w_file(w, zeros, n)) return false;
        pad -= n;
    }
    return true;
}

APR__IMPL apr_result apr_gguf_writer_begin_file(apr_gguf_writer *w, const char *path, apr_error *err) {
    apr__error_clear(err);
    if (!w || !path) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_gguf_writer_begin_file: NULL argument");
    if (w->f) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_gguf_writer_begin_file: a file is already open");
    /* offsets in the data section */
    uint64_t off = 0;
    for (int64_t i = 0; i < w->n_tensors; i++) {
        uint64_t end;
        w->tensors[i].offset = off;
        if (apr__add_overflow_u64(off, w->tensors[i].size, &end) || apr__add_overflow_u64(end, w->alignment - 1, &end))
            return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "tensor data too large");
        off = end - end % w->alignment;
    }
    w->f = fopen(path, "wb");
    if (!w->f) return apr__fail(err, APR_ERROR_IO, "cannot create '%s': %s", path, strerror(errno));
    w->failed = false;
    w->next_tensor = 0;

    /* header, built in a buffer: it holds only names and shapes */
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    uint64_t need = 24 + (uint64_t)w->kv_len + 40;
    for (int64_t i = 0; i < w->n_tensors; i++) need += 8 + strlen(w->tensors[i].name) + 4 + 32 + 4 + 8;
    if (need > SIZE_MAX) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "header too large");
    cap = (size_t)need;
    buf = (uint8_t *)APR_MALLOC(cap);
    if (!buf) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory for the GGUF header");
#define APR__GGUF_PUT(v, n) (apr__gguf_le_put(buf + len, (uint64_t)(v), (n)), len += (n))
    memcpy(buf, "GGUF", 4);
    len = 4;
    APR__GGUF_PUT(3, 4);
    APR__GGUF_PUT(w->n_tensors, 8);
    APR__GGUF_PUT(w->n_kv + (w->alignment_kv ? 1 : 0), 8);
    memcpy(buf + len, w->kv, w->kv_len);
    len += w->kv_len;
    if (w->alignment_kv) {
        APR__GGUF_PUT(17, 8);
        memcpy(buf + len, "general.alignment", 17);
        len += 17;
        APR__GGUF_PUT(APR_GGUF_UINT32, 4);
        APR__GGUF_PUT(w->alignment, 4);
    }
    for (int64_t i = 0; i < w->n_tensors; i++) {
        const apr__gguf_wtensor *t = &w->tensors[i];
        size_t n = strlen(t->name);
        APR__GGUF_PUT(n, 8);
        memcpy(buf + len, t->name, n);
        len += n;
        APR__GGUF_PUT(t->n_dims, 4);
        for (int d = 0; d < t->n_dims; d++) APR__GGUF_PUT(t->ne[d], 8);
        APR__GGUF_PUT(t->type, 4);
        APR__GGUF_PUT(t->offset, 8);
    }
#undef APR__GGUF_PUT
    bool ok = apr__gguf_w_file(w, buf, len) && apr__gguf_w_pad(w, len);
    APR_FREE(buf);
    if (!ok) {
        fclose(w->f);
        w->f = NULL;
        return apr__fail(err, APR_ERROR_IO, "'%s': %s", path, w->message);
    }
    return APR_SUCCESS;
}

APR__IMPL apr_result apr_gguf_writer_write_tensor_data(apr_gguf_writer *w, const void *data, size_t size) {
    if (!w || !w->f) return APR_ERROR_INVALID_ARGUMENT;
    if (w->next_tensor >= w->n_tensors) {
        snprintf(w->message, sizeof w->message, "more tensor data written than tensors added");
        w->failed = true;
        return APR_ERROR_INVALID_ARGUMENT;
    }
    const apr__gguf_wtensor *t = &w->tensors[w->next_tensor];
    if ((uint64_t)size != t->size || (size && !data)) {
        snprintf(w->message, sizeof w->message, "tensor '%s': %llu bytes of data given, its size is %llu", t->name,
                 (unsigned long long)size, (unsigned long long)t->size);
        w->failed = true;
        return APR_ERROR_INVALID_ARGUMENT;
    }
    if (!apr__gguf_w_file(w, data, size) || !apr__gguf_w_pad(w, size)) return APR_ERROR_IO;
    w->next_tensor++;
    return APR_SUCCESS;
}

APR__IMPL apr_result apr_gguf_writer_finish(apr_gguf_writer *w, apr_error *err) {
    apr__error_clear(err);
    if (!w || !w->f) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_gguf_writer_finish: no file begun");
    apr_result res = APR_SUCCESS;
    if (w->failed) {
        res = apr__fail(err, strncmp(w->message, "write failed", 12) == 0 ? APR_ERROR_IO : APR_ERROR_INVALID_ARGUMENT,
                        "%s", w->message);
    } else if (w->next_tensor < w->n_tensors) {
        res = apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "tensor '%s': data not written (%lld of %lld tensors written)",
                        w->tensors[w->next_tensor].name, (long long)w->next_tensor, (long long)w->n_tensors);
    }
    bool closed = fclose(w->f) == 0;
    w->f = NULL;
    if (res == APR_SUCCESS && !closed) res = apr__fail(err, APR_ERROR_IO, "closing the GGUF file failed: %s", strerror(errno));
    return res;
}
