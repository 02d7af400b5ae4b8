/* apr.h - run GGUF language models (Llama, Qwen2.5, Qwen3) on CPUs and NVIDIA GPUs.
   Single-header library, stb style. Public domain / MIT, see README.md.

   apr loads a GGUF file (the format of llama.cpp and Ollama), tokenizes text with the
   model's own tokenizer, runs the transformer on the CPU (scalar reference, AVX2, AVX-512,
   NEON, chosen at run time) or on an NVIDIA GPU through the optional plugin libapr_cuda
   (loaded with dlopen; apr never links CUDA), and samples tokens.

   QUICK START
       #define APR_IMPLEMENTATION
       #include "apr.h"

       apr_model *model; apr_context *ctx;
       apr_model_load("model.gguf", NULL, &model, NULL);
       apr_context_create(model, NULL, &ctx, NULL);
       apr_generate_params gp = apr_generate_default_params();
       gp.on_text = my_print_callback;           // receives UTF-8 text as it is produced
       apr_generate(ctx, "Once upon a time", &gp, NULL);
       apr_context_free(ctx); apr_model_free(model);

   CONFIGURATION MACROS (define before including, in the file that has APR_IMPLEMENTATION)
       APR_IMPLEMENTATION   compile the implementation in this translation unit
       APR_STATIC           make every public function static (private copy per file)
       APR_MALLOC(sz) APR_REALLOC(p,sz) APR_FREE(p)
                            override the allocator: define all three or none
       APR_NO_SIMD          scalar kernels only (for testing the reference path)
       APR_NO_THREADS       no thread pool (every kernel runs on the calling thread)

   SECTIONS (in data-flow order)
       public API ........ types, results, logging, GGUF, vocab, chat, model, context,
                           sampling, generation, backend plugin ABI
       implementation .... platform (mmap, threads, dlopen, time) . errors and logging .
                           GGUF reader . tensor types (dequant, quantize, dot: scalar then
                           SIMD) . tokenizers . chat templates . model . CPU backend .
                           CUDA loader . context and KV cache . sampling . generation .
                           GGUF writer . quantization recipes
*/
/* The implementation uses POSIX calls (mmap, clock_gettime, pthreads, readlink) that
   strict -std=c99 hides: apr.h asks for them with _GNU_SOURCE, which works when apr.h is
   included before any system header (or build with -D_GNU_SOURCE / -std=gnu99). Define
   APR_NO_GNU_SOURCE to leave the feature macros alone. */
#if !defined(_WIN32) && !defined(_GNU_SOURCE) && !defined(APR_NO_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#ifndef APR_H_INCLUDED
#define APR_H_INCLUDED

#define APR_VERSION_MAJOR 0
#define APR_VERSION_MINOR 1
#define APR_VERSION_PATCH 0
#define APR_VERSION_STRING "0.1.0"

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef APR_STATIC
#if defined(__GNUC__) || defined(__clang__)
#define APRDEF static __attribute__((unused))
#else
#define APRDEF static
#endif
#else
#define APRDEF extern
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* =====================================================================================
   Results, errors and logging
   ===================================================================================== */

typedef enum apr_result {
    APR_SUCCESS = 0,
    APR_ERROR_INVALID_ARGUMENT = -1,  /* a caller passed something impossible          */
    APR_ERROR_OUT_OF_MEMORY = -2,
    APR_ERROR_IO = -3,                /* cannot open / read / map / write a file         */
    APR_ERROR_INVALID_FILE = -4,      /* the GGUF is malformed: the message names field */
    APR_ERROR_UNSUPPORTED = -5,       /* valid file, but a type/arch apr does not run    */
    APR_ERROR_CONTEXT_FULL = -6,      /* no room left in the KV cache                    */
    APR_ERROR_BACKEND = -7,           /* the GPU plugin failed                           */
    APR_ERROR_CANCELLED = -8,         /* a callback asked to stop                        */
    APR_ERROR_NOT_FOUND = -9          /* a key, tensor, template or file does not exist  */
} apr_result;

APRDEF const char *apr_result_string(apr_result r);
APRDEF const char *apr_version(void);

/* Where a function can fail in more than one way it takes an optional apr_error*: on
   failure it receives the code and a message naming the cause (the field of a bad file,
   the tensor of an unsupported type, ...). Pass NULL if you only want the code. */
typedef struct apr_error {
    apr_result code;
    char message[512];
} apr_error;

typedef enum apr_log_level {
    APR_LOG_ERROR = 0,
    APR_LOG_WARN = 1,
    APR_LOG_INFO = 2,
    APR_LOG_DEBUG = 3
} apr_log_level;

/* Logger callback. apr prints nothing by itself: messages go here, or nowhere. */
typedef void (*apr_log_fn)(void *user, apr_log_level level, const char *message);

/* =====================================================================================
   Tensor types: values are GGUF's (= ggml's) and never change.
   ===================================================================================== */

typedef enum apr_type {
    APR_TYPE_F32 = 0,
    APR_TYPE_F16 = 1,
    APR_TYPE_Q4_0 = 2,
    APR_TYPE_Q4_1 = 3,
    APR_TYPE_Q5_0 = 6,
    APR_TYPE_Q5_1 = 7,
    APR_TYPE_Q8_0 = 8,
    APR_TYPE_Q8_1 = 9,   /* activations only */
    APR_TYPE_Q2_K = 10,
    APR_TYPE_Q3_K = 11,
    APR_TYPE_Q4_K = 12,
    APR_TYPE_Q5_K = 13,
    APR_TYPE_Q6_K = 14,
    APR_TYPE_Q8_K = 15,  /* activations only */
    APR_TYPE_IQ4_NL = 20,
    APR_TYPE_IQ4_XS = 23,
    APR_TYPE_BF16 = 30,
    APR_TYPE_COUNT = 40  /* one past the largest id apr knows the name of */
} apr_type;

APRDEF const char *apr_type_name(int type);          /* "Q4_K", or NULL if unknown id  */
APRDEF int apr_type_from_name(const char *name);     /* -1 if unknown (case-insensitive) */
APRDEF bool apr_type_supported(int type);            /* apr can load weights of it     */
APRDEF int64_t apr_type_block_size(int type);        /* elements per block, 0 unknown  */
APRDEF int64_t apr_type_block_bytes(int type);       /* bytes per block, 0 unknown     */
/* bytes of a row of n elements; 0 if n is not a multiple of the block size */
APRDEF size_t apr_type_row_bytes(int type, int64_t n);
/* dequantize n elements (n a multiple of the block size) */
APRDEF apr_result apr_dequantize_row(int type, const void *src, float *dst, int64_t n);
/* quantize n elements (rows back to back) with llama-quantize's algorithms: byte for byte
   its output when imatrix is NULL. imatrix (per-column importance, as llama.cpp's): then
   n is one row and imatrix has n values. */
APRDEF apr_result apr_quantize_row(int type, const float *src, void *dst, int64_t n,
                                   const float *imatrix);

/* =====================================================================================
   GGUF reader
   Every count, length, offset and dimension in the file is validated before use; a bad
   file gives APR_ERROR_INVALID_FILE and a message naming the field.
   ===================================================================================== */

typedef enum apr_gguf_value_type {
    APR_GGUF_UINT8 = 0, APR_GGUF_INT8 = 1, APR_GGUF_UINT16 = 2, APR_GGUF_INT16 = 3,
    APR_GGUF_UINT32 = 4, APR_GGUF_INT32 = 5, APR_GGUF_FLOAT32 = 6, APR_GGUF_BOOL = 7,
    APR_GGUF_STRING = 8, APR_GGUF_ARRAY = 9, APR_GGUF_UINT64 = 10, APR_GGUF_INT64 = 11,
    APR_GGUF_FLOAT64 = 12
} apr_gguf_value_type;

typedef struct apr_gguf apr_gguf;

/* A string inside the file: not NUL-terminated. */
typedef struct apr_str {
    const char *ptr;
    uint64_t len;
} apr_str;

typedef struct apr_gguf_tensor {
    apr_str name;
    int type;             /* apr_type */
    int n_dims;           /* 1..4 */
    int64_t ne[4];        /* ne[0] is the row length (fastest); unused dims are 1 */
    uint64_t offset;      /* from the start of the data section */
    const void *data;     /* points into the mapping / caller's buffer */
    uint64_t size;        /* bytes */
} apr_gguf_tensor;

APRDEF apr_result apr_gguf_open(const char *path, apr_gguf **out, apr_error *err);
/* The buffer must outlive the apr_gguf; it is not copied. */
APRDEF apr_result apr_gguf_open_memory(const void *data, size_t size, apr_gguf **out,
                                       apr_error *err);
APRDEF void apr_gguf_close(apr_gguf *gguf);

APRDEF uint32_t apr_gguf_version(const apr_gguf *gguf);
APRDEF int64_t apr_gguf_n_kv(const apr_gguf *gguf);
APRDEF int64_t apr_gguf_find_key(const apr_gguf *gguf, const char *key); /* -1 if absent */
APRDEF apr_str apr_gguf_key(const apr_gguf *gguf, int64_t i);
APRDEF apr_gguf_value_type apr_gguf_kv_type(const apr_gguf *gguf, int64_t i);
/* Scalars. The getters convert between integer types when the value fits, and return
   false (leaving *out unchanged) when the key is absent or of an incompatible type. */
APRDEF bool apr_gguf_get_u64(const apr_gguf *gguf, const char *key, uint64_t *out);
APRDEF bool apr_gguf_get_i64(const apr_gguf *gguf, const char *key, int64_t *out);
APRDEF bool apr_gguf_get_f64(const apr_gguf *gguf, const char *key, double *out);
APRDEF bool apr_gguf_get_bool(const apr_gguf *gguf, const char *key, bool *out);
APRDEF bool apr_gguf_get_str(const apr_gguf *gguf, const char *key, apr_str *out);
/* Arrays: element type and count; numeric data is little-endian, packed, unaligned.
   For string arrays data points at the serialized (length-prefixed) strings: read the
   elements with apr_gguf_arr_str / apr_gguf_kv_arr_str (O(1) each). */
APRDEF bool apr_gguf_get_arr(const apr_gguf *gguf, const char *key,
                             apr_gguf_value_type *elem_type, uint64_t *count,
                             const void **data);
APRDEF apr_str apr_gguf_arr_str(const apr_gguf *gguf, const char *key, uint64_t i);
/* By index, for listing all metadata (apr-chat --inspect). */
APRDEF bool apr_gguf_kv_arr(const apr_gguf *gguf, int64_t i, apr_gguf_value_type *elem_type,
                            uint64_t *count, const void **data);
APRDEF apr_str apr_gguf_kv_arr_str(const apr_gguf *gguf, int64_t i, uint64_t j);
/* Value of kv i as text into buf (strings quoted and escaped; arrays as element type,
   count and the first elements); returns the length written (clipped to size - 1). */
APRDEF int apr_gguf_kv_to_string(const apr_gguf *gguf, int64_t i, char *buf, size_t size);

APRDEF int64_t apr_gguf_n_tensors(const apr_gguf *gguf);
APRDEF const apr_gguf_tensor *apr_gguf_tensor_at(const apr_gguf *gguf, int64_t i);
APRDEF const apr_gguf_tensor *apr_gguf_find_tensor(const apr_gguf *gguf, const char *name);
APRDEF uint64_t apr_gguf_data_offset(const apr_gguf *gguf);  /* start of tensor data */
APRDEF uint64_t apr_gguf_alignment(const apr_gguf *gguf);
APRDEF uint64_t apr_gguf_file_size(const apr_gguf *gguf);

/* =====================================================================================
   GGUF writer (apr-quantize, test fixtures). Tensors are streamed: the header is written
   first with every tensor's type and shape, then each tensor's bytes in order, so a model
   never has to be in memory at once.
   ===================================================================================== */

typedef struct apr_gguf_writer apr_gguf_writer;

APRDEF apr_result apr_gguf_writer_create(apr_gguf_writer **out, apr_error *err);
APRDEF void apr_gguf_writer_free(apr_gguf_writer *w);
APRDEF apr_result apr_gguf_writer_set_alignment(apr_gguf_writer *w, uint32_t alignment);
APRDEF apr_result apr_gguf_writer_add_u32(apr_gguf_writer *w, const char *key, uint32_t v);
APRDEF apr_result apr_gguf_writer_add_i32(apr_gguf_writer *w, const char *key, int32_t v);
APRDEF apr_result apr_gguf_writer_add_u64(apr_gguf_writer *w, const char *key, uint64_t v);
APRDEF apr_result apr_gguf_writer_add_f32(apr_gguf_writer *w, const char *key, float v);
APRDEF apr_result apr_gguf_writer_add_bool(apr_gguf_writer *w, const char *key, bool v);
APRDEF apr_result apr_gguf_writer_add_str(apr_gguf_writer *w, const char *key, const char *v);
/* Any value type, arrays included, as raw little-endian elements (strings: apr_str[]). */
APRDEF apr_result apr_gguf_writer_add_arr(apr_gguf_writer *w, const char *key,
                                          apr_gguf_value_type elem_type, uint64_t count,
                                          const void *data);
/* Copy metadata entry i of an open file (used to copy a tokenizer or a whole header). */
APRDEF apr_result apr_gguf_writer_copy_kv(apr_gguf_writer *w, const apr_gguf *src, int64_t i);
APRDEF apr_result apr_gguf_writer_add_tensor(apr_gguf_writer *w, const char *name, int type,
                                             int n_dims, const int64_t *ne);
/* Writes the header; then apr_gguf_writer_write_tensor_data once per tensor, in order. */
APRDEF apr_result apr_gguf_writer_begin_file(apr_gguf_writer *w, const char *path,
                                             apr_error *err);
APRDEF apr_result apr_gguf_writer_write_tensor_data(apr_gguf_writer *w, const void *data,
                                                    size_t size);
APRDEF apr_result apr_gguf_writer_finish(apr_gguf_writer *w, apr_error *err);

/* =====================================================================================
   Quantization recipes, model conversion and synthetic models (apr-quantize)
   A recipe is one of llama.cpp's file types (general.file_type): F32 F16 BF16 Q4_0 Q4_1
   Q5_0 Q5_1 Q8_0 Q2_K Q3_K_S Q3_K_M Q3_K_L Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K IQ4_NL IQ4_XS,
   choosing per-tensor types as llama-quantize does (same types, same bytes); Q3_K, Q4_K and
   Q5_K are plain types (every weight in that type, like llama-quantize --pure).
   ===================================================================================== */

APRDEF int apr_ftype_from_name(const char *name);   /* "Q4_K_M" -> 15; -1 if unknown */
APRDEF const char *apr_ftype_name(int ftype);       /* 15 -> "Q4_K_M"; NULL if unknown */

/* What a recipe needs to know of the model. */
typedef struct apr_quantize_model_info {
    const char *arch;       /* general.architecture */
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t n_expert;       /* 0: dense */
    bool has_output;        /* output.weight exists (false: tied to token_embd) */
} apr_quantize_model_info;

/* The type a recipe gives tensor `name` of shape ne[n_dims]; tensors it never quantizes
   (norms, biases, 1-D) keep cur_type. -1 if type_or_recipe is unknown. */
APRDEF int apr_quantize_tensor_type(const char *type_or_recipe, bool pure,
                                    const apr_quantize_model_info *info, const char *name,
                                    int n_dims, const int64_t *ne, int cur_type);

typedef struct apr_quantize_params {
    int n_threads;          /* 0: all cores */
    bool pure;              /* every quantizable weight in the recipe's default type */
    uint64_t seed;          /* synthetic weights (default 42) */
    apr_log_fn log_fn;      /* progress: one INFO line per tensor; NULL: silent */
    void *log_user;
} apr_quantize_params;
APRDEF apr_quantize_params apr_quantize_default_params(void);

/* Convert in_path to a recipe or type. All metadata is copied; general.file_type and
   general.quantization_version = 2 are set. One tensor at a time is held in memory. */
APRDEF apr_result apr_quantize_model(const char *in_path, const char *out_path,
                                     const char *type_or_recipe,
                                     const apr_quantize_params *params, apr_error *err);

/* Synthetic models for benchmarks: the real dimensions and metadata of a model, random
   weights, the tokenizer of a vocabulary GGUF (padded with unused tokens to the model's
   vocabulary size; for llama3-8b Llama 3's special tokens are put at 128000..128255). */
/* NULL-terminated: qwen2.5-0.5b/1.5b/3b/7b/14b/32b, llama3-8b, qwen3-0.6b/1.7b/4b/8b; also
   accepted: "test-qwen2", "test-qwen3", "test-llama3" (tiny, for tests). */
APRDEF const char *const *apr_synthetic_names(void);
APRDEF apr_result apr_synthetic_model(const char *name, const char *vocab_path,
                                      const char *out_path, const char *type_or_recipe,
                                      const apr_quantize_params *params, apr_error *err);
/* Without writing anything: the bytes of tensor data (llama-bench's "size"; the file adds
   its header, the tokenizer included) and the parameter count the model would have. */
APRDEF apr_result apr_synthetic_plan(const char *name, const char *type_or_recipe, bool pure,
                                     uint64_t *tensor_bytes, uint64_t *n_params);

/* =====================================================================================
   Vocabulary and tokenizers
   ===================================================================================== */

typedef struct apr_vocab apr_vocab;

typedef enum apr_tokenize_flags {
    APR_TOKENIZE_ADD_BOS = 1,        /* prepend BOS if the vocabulary asks for it (and
                                        append EOS if it asks for that: add_eos_token) */
    APR_TOKENIZE_PARSE_SPECIAL = 2   /* recognise special/control tokens in the text    */
} apr_tokenize_flags;

typedef enum apr_vocab_kind {
    APR_VOCAB_NONE = 0,
    APR_VOCAB_SPM = 1,               /* tokenizer.ggml.model = llama                     */
    APR_VOCAB_BPE = 2                /* tokenizer.ggml.model = gpt2 (byte-level BPE)     */
} apr_vocab_kind;

/* Build the vocabulary from a GGUF's tokenizer.* metadata (vocabulary-only files work). */
APRDEF apr_result apr_vocab_load(const apr_gguf *gguf, apr_vocab **out, apr_error *err);
APRDEF void apr_vocab_free(apr_vocab *vocab);
APRDEF int32_t apr_vocab_n_tokens(const apr_vocab *vocab);
APRDEF apr_vocab_kind apr_vocab_type(const apr_vocab *vocab);
APRDEF const char *apr_vocab_pre_name(const apr_vocab *vocab);  /* "qwen2", "llama-bpe" ... */
APRDEF int32_t apr_vocab_bos(const apr_vocab *vocab);  /* -1 if none */
APRDEF int32_t apr_vocab_eos(const apr_vocab *vocab);
APRDEF int32_t apr_vocab_eot(const apr_vocab *vocab);
APRDEF bool apr_vocab_add_bos(const apr_vocab *vocab);
/* End of generation: EOS, EOT, <|im_end|>, <|eot_id|>, <|endoftext|> ... */
APRDEF bool apr_vocab_is_eog(const apr_vocab *vocab, int32_t token);
APRDEF bool apr_vocab_is_control(const apr_vocab *vocab, int32_t token);
APRDEF apr_str apr_vocab_token_text(const apr_vocab *vocab, int32_t token);
APRDEF int32_t apr_vocab_find(const apr_vocab *vocab, const char *text); /* exact; -1 */
/* A buffer this big holds any piece and any apr_detok_stream_push output (Qwen2.5: 260). */
APRDEF int32_t apr_vocab_max_piece(const apr_vocab *vocab);

/* Tokenize len bytes (any bytes: invalid UTF-8 and NULs included; len <= 512 MiB; ids as
   llama.cpp's; detokenize gives valid UTF-8 text back exactly). Returns the number of
   tokens; if that exceeds max_tokens, nothing is guaranteed in out and the return value
   is the count needed. Negative apr_result on failure. */
APRDEF int64_t apr_tokenize(const apr_vocab *vocab, const char *text, size_t len,
                            int32_t *out, int64_t max_tokens, int flags);
/* The bytes of one token as they appear in text (byte tokens decoded, SPM's leading space
   mark turned into a space). Control tokens give "" unless render_special. Returns the
   length, or the length needed if it exceeds size. */
APRDEF int32_t apr_token_to_piece(const apr_vocab *vocab, int32_t token, char *buf,
                                  int32_t size, bool render_special);
/* Whole-sequence detokenization into buf (NUL-terminated if room); returns length needed. */
APRDEF int64_t apr_detokenize(const apr_vocab *vocab, const int32_t *tokens, int64_t n,
                              char *buf, int64_t size, bool render_special);

/* Streaming decode: feed tokens one at a time, get complete UTF-8 characters only (the
   bytes of a character split across tokens are held back until it is complete). */
typedef struct apr_detok_stream {
    const apr_vocab *vocab;
    bool render_special;
    bool at_start;            /* SPM: the first piece loses its leading space; set
                                 it false after init to decode a continuation     */
    unsigned char pending[8];
    int n_pending;
} apr_detok_stream;

APRDEF void apr_detok_stream_init(apr_detok_stream *s, const apr_vocab *vocab,
                                  bool render_special);
/* Writes the text that became complete (at most size bytes: apr_vocab_max_piece() always
   suffices, 256 does for common vocabularies; more is cut at a character boundary) and
   returns its length. */
APRDEF int32_t apr_detok_stream_push(apr_detok_stream *s, int32_t token, char *buf,
                                     int32_t size);
/* Whatever is left (an incomplete character at the end is replaced by U+FFFD). */
APRDEF int32_t apr_detok_stream_flush(apr_detok_stream *s, char *buf, int32_t size);

/* =====================================================================================
   Chat templates. A template is data: apr recognises the family from the model's
   tokenizer.chat_template (or takes a name) and renders it with its own code.
   Names: chatml, qwen2 (chatml with Qwen2.5's default system prompt), llama3, llama2,
   mistral, zephyr, gemma, phi3, deepseek-coder... see apr_chat_template_names().
   ===================================================================================== */

typedef struct apr_chat_message {
    const char *role;     /* "system", "user", "assistant" */
    const char *content;
} apr_chat_message;

/* Name of the family of a Jinja template text, or NULL if not recognised. */
APRDEF const char *apr_chat_template_detect(const char *jinja_template);
/* NULL-terminated list of the names apr can render. */
APRDEF const char *const *apr_chat_template_names(void);
/* Render messages with template `name` (a family name). add_assistant appends the start of
   the assistant's turn. Writes at most size bytes (NUL-terminated when room) and returns
   the length needed; negative apr_result if the name is unknown. */
APRDEF int64_t apr_chat_render(const char *name, const apr_chat_message *messages,
                               int64_t n_messages, bool add_assistant, char *buf,
                               int64_t size);

/* =====================================================================================
   Model
   ===================================================================================== */

typedef struct apr_model apr_model;

typedef enum apr_kv_type {
    APR_KV_F16 = 0,   /* default */
    APR_KV_Q8_0 = 1,  /* half the memory of F16 */
    APR_KV_F32 = 2
} apr_kv_type;

typedef struct apr_model_params {
    int n_gpu_layers;       /* layers to offload to the GPU: 0 = none (CPU); <0 = all.
                               Default: all, when libapr_cuda and a GPU are present */
    bool cpu_only;          /* never try the CUDA plugin (set by n_gpu_layers = 0 too) */
    const char *cuda_path;  /* libapr_cuda location; NULL: $APR_CUDA_PATH, beside the
                               executable, then the system's library path */
    int n_threads;          /* CPU threads for loading/repacking; 0 = all cores */
    apr_log_fn log_fn;      /* NULL: silent */
    void *log_user;
    apr_log_level log_level;/* most verbose level passed to log_fn (default INFO) */
} apr_model_params;

APRDEF apr_model_params apr_model_default_params(void);
/* params may be NULL (defaults). */
APRDEF apr_result apr_model_load(const char *path, const apr_model_params *params,
                                 apr_model **out, apr_error *err);
/* The buffer must outlive the model. */
APRDEF apr_result apr_model_load_memory(const void *data, size_t size,
                                        const apr_model_params *params, apr_model **out,
                                        apr_error *err);
APRDEF void apr_model_free(apr_model *model);

APRDEF const apr_gguf *apr_model_gguf(const apr_model *model);
APRDEF const apr_vocab *apr_model_vocab(const apr_model *model);
APRDEF const char *apr_model_arch(const apr_model *model);      /* "llama", "qwen2", ... */
APRDEF const char *apr_model_backend(const apr_model *model);   /* "CPU", "CUDA" */
APRDEF const char *apr_model_gpu_name(const apr_model *model);  /* "" on the CPU */
APRDEF int32_t apr_model_n_vocab(const apr_model *model);
APRDEF int32_t apr_model_n_embd(const apr_model *model);
APRDEF int32_t apr_model_n_layer(const apr_model *model);
APRDEF int32_t apr_model_n_ctx_train(const apr_model *model);
APRDEF uint64_t apr_model_n_params(const apr_model *model);
APRDEF uint64_t apr_model_size(const apr_model *model);         /* bytes of tensor data */
/* Bytes a decode step reads: all weights but the token embedding (one row), no KV. */
APRDEF uint64_t apr_model_decode_bytes(const apr_model *model);
/* "qwen2 0.5B Q4_K - Medium" style description, like llama.cpp's. */
APRDEF int apr_model_desc(const apr_model *model, char *buf, size_t size);
/* Chat template family of the model (from tokenizer.chat_template), or NULL. */
APRDEF const char *apr_model_chat_template(const apr_model *model);

/* =====================================================================================
   Context: KV cache and state of one or more sequences (conversations). Several contexts
   may share one model; one context is used by one thread at a time.
   ===================================================================================== */

typedef struct apr_context apr_context;

typedef struct apr_context_params {
    int n_ctx;          /* positions per sequence; 0 = min(model's n_ctx_train, 4096) */
    int n_batch;        /* tokens per forward pass in prompt processing; 0 = 512      */
    int n_seq;          /* independent sequences in this context; 0 = 1               */
    int n_threads;      /* CPU threads; 0 = all cores                                 */
    apr_kv_type kv_type;
} apr_context_params;

APRDEF apr_context_params apr_context_default_params(void);
APRDEF apr_result apr_context_create(apr_model *model, const apr_context_params *params,
                                     apr_context **out, apr_error *err);
APRDEF void apr_context_free(apr_context *ctx);
APRDEF const apr_model *apr_context_model(const apr_context *ctx);
APRDEF int apr_context_n_ctx(const apr_context *ctx);
APRDEF int apr_context_n_seq(const apr_context *ctx);
APRDEF const char *apr_context_last_error(const apr_context *ctx);

/* A batch: n tokens, each with its position and sequence; logits are produced for the
   tokens whose want_logits is set (NULL: the last token only). */
typedef struct apr_batch {
    int32_t n_tokens;
    const int32_t *tokens;
    const int32_t *pos;          /* NULL: each sequence continues where it stands.
                                    A position may not leave a gap (pos <= tokens held);
                                    a smaller one, on a sequence's first token in the
                                    batch, drops what follows it (like apr_seq_truncate) */
    const int32_t *seq;          /* NULL: all sequence 0 */
    const int8_t *want_logits;   /* NULL: last token only */
} apr_batch;

/* Run the model over a batch (split into n_batch-sized passes as needed). Returns
   APR_ERROR_CONTEXT_FULL, changing nothing, if a position would exceed n_ctx. */
APRDEF apr_result apr_decode(apr_context *ctx, const apr_batch *batch);
/* Convenience: append tokens to sequence seq; logits of the last one. */
APRDEF apr_result apr_eval(apr_context *ctx, const int32_t *tokens, int32_t n, int32_t seq);
/* Logits of the i-th token that asked for them in the last apr_decode (i = -1: last). */
APRDEF float *apr_get_logits(apr_context *ctx, int32_t i);
APRDEF int32_t apr_seq_pos(const apr_context *ctx, int32_t seq);    /* tokens held */
/* Forget positions >= n_keep of a sequence (n_keep = 0 clears it). */
APRDEF void apr_seq_truncate(apr_context *ctx, int32_t seq, int32_t n_keep);
/* Launches per decode step on the GPU (0 on the CPU), for apr-bench -v. */
APRDEF int apr_context_launches_per_token(const apr_context *ctx);
/* Greedy shortcut: like apr_decode, but writes the argmax token of each row that wants
   logits to tokens_out (on the GPU only the ids cross to the host; apr_get_logits may
   then return NULL). */
APRDEF apr_result apr_decode_argmax(apr_context *ctx, const apr_batch *batch, int32_t *tokens_out);

/* =====================================================================================
   Sampling
   ===================================================================================== */

typedef struct apr_sampler_params {
    float temperature;      /* <= 0: greedy (argmax) */
    int32_t top_k;          /* <= 0: off */
    float top_p;            /* >= 1: off */
    float min_p;            /* <= 0: off */
    float repeat_penalty;   /* 1: off (llama.cpp's: divide positive logits, multiply neg) */
    float frequency_penalty;/* 0: off */
    float presence_penalty; /* 0: off */
    int32_t repeat_last_n;  /* tokens of history the penalties look at; 0 none, -1 n_ctx */
    uint64_t seed;          /* same seed, same output */
} apr_sampler_params;

typedef struct apr_sampler apr_sampler;

/* llama.cpp's defaults: temp 0.8, top_k 40, top_p 0.95, min_p 0.05, no penalties. */
APRDEF apr_sampler_params apr_sampler_default_params(void);
APRDEF apr_result apr_sampler_create(const apr_sampler_params *params, int32_t n_vocab,
                                     apr_sampler **out);
APRDEF void apr_sampler_free(apr_sampler *s);
APRDEF void apr_sampler_reset(apr_sampler *s);          /* forget history, reseed   */
APRDEF void apr_sampler_accept(apr_sampler *s, int32_t token); /* add to history     */
APRDEF int32_t apr_sampler_sample(apr_sampler *s, const float *logits);

/* =====================================================================================
   Generation loop: prompt -> tokens -> decode -> sample -> text, with stop conditions.
   ===================================================================================== */

typedef enum apr_stop_reason {
    APR_STOP_NONE = 0,
    APR_STOP_EOG = 1,         /* end-of-generation token */
    APR_STOP_LENGTH = 2,      /* max_tokens reached */
    APR_STOP_STRING = 3,      /* a stop string appeared */
    APR_STOP_CANCELLED = 4,   /* the callback returned false, or *cancel was set */
    APR_STOP_CONTEXT_FULL = 5
} apr_stop_reason;

typedef struct apr_generate_stats {
    int32_t n_prompt_tokens;
    int32_t n_generated_tokens;
    double prompt_seconds;
    double generate_seconds;
    apr_stop_reason stop_reason;
} apr_generate_stats;

/* Receives generated text (complete UTF-8 characters, stop strings withheld). Return
   false to stop. */
typedef bool (*apr_text_fn)(void *user, const char *text, size_t len);
/* Receives each sampled token id. Return false to stop. */
typedef bool (*apr_token_fn)(void *user, int32_t token);

typedef struct apr_generate_params {
    apr_sampler_params sampling;
    int32_t max_tokens;          /* < 0: until end of generation or context full */
    const char *const *stop;     /* stop strings (not included in the output) */
    int32_t n_stop;
    int32_t seq;                 /* sequence of the context to use */
    bool add_bos;                /* default true: BOS if the vocabulary wants one */
    bool parse_special;          /* default true: <|im_start|> etc. in the prompt */
    bool keep_history;           /* default false: clear the sequence first; true:
                                    append (multi-turn chat; the KV cache is reused) */
    apr_text_fn on_text;
    apr_token_fn on_token;
    void *user;
    volatile int *cancel;        /* set to nonzero from another thread/signal to stop */
} apr_generate_params;

APRDEF apr_generate_params apr_generate_default_params(void);
/* Tokenizes the prompt (BOS only when the sequence is empty), evaluates it, then samples
   (greedy without penalties uses apr_decode_argmax). A sampled token is decoded only when
   generation goes on: afterwards the sequence holds the prompt and every generated token
   but the one that ended generation (EOG, max_tokens, stop string, refusal), so a chat
   that keeps history sends next the text that follows those tokens. A prompt that does
   not fit gives APR_ERROR_CONTEXT_FULL; a full context during generation gives success
   with stop_reason APR_STOP_CONTEXT_FULL (no context shift). */
APRDEF apr_result apr_generate(apr_context *ctx, const char *prompt,
                               const apr_generate_params *params, apr_generate_stats *stats);

/* =====================================================================================
   CPU features (the only global state: detected once).
   ===================================================================================== */

typedef struct apr_cpu_features {
    bool avx2, fma, f16c, avx512f, avx512bw, avx512vnni, avx_vnni, neon, dotprod;
} apr_cpu_features;
APRDEF apr_cpu_features apr_cpu_detect(void);
APRDEF int apr_cpu_count(void);
/* Limit the SIMD level used (for tests and benchmarks): 0 scalar, 1 AVX2, 2 AVX-512 /
   NEON. Per-process; call before creating models. */
APRDEF void apr_cpu_set_max_simd(int level);
APRDEF const char *apr_cpu_simd_name(void);  /* "AVX2", "AVX512", "NEON", "scalar" */

/* =====================================================================================
   Backend plugin ABI (shared by apr.h and apr_cuda.cu). The boundary is the model, not
   the op: a backend gets a description of the whole model and runs whole forward passes.
   Change APR_BACKEND_ABI whenever any struct below changes.
   ===================================================================================== */

#define APR_BACKEND_ABI 2

typedef enum apr_arch {
    APR_ARCH_LLAMA = 0,
    APR_ARCH_QWEN2 = 1,
    APR_ARCH_QWEN3 = 2
} apr_arch;

typedef enum apr_rope_kind {
    APR_ROPE_NORM = 0,  /* llama: rotate pairs (2i, 2i+1) */
    APR_ROPE_NEOX = 2   /* qwen: rotate pairs (i, i + head_dim/2) */
} apr_rope_kind;

/* A weight as it lies in the file (data == NULL: absent). */
typedef struct apr_tensor_view {
    int type;
    int n_dims;
    int64_t ne[4];
    const void *data;
    uint64_t size;
} apr_tensor_view;

typedef struct apr_layer_view {
    apr_tensor_view attn_norm;
    apr_tensor_view wq, wk, wv, wo;
    apr_tensor_view bq, bk, bv, bo;       /* qwen2: q/k/v biases */
    apr_tensor_view q_norm, k_norm;       /* qwen3: per-head RMSNorm weights */
    apr_tensor_view ffn_norm;
    apr_tensor_view ffn_gate, ffn_up, ffn_down;
} apr_layer_view;

typedef struct apr_hparams {
    apr_arch arch;
    int32_t n_vocab;
    int32_t n_embd;
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim;        /* key_length; usually n_embd / n_head */
    int32_t n_ff;
    int32_t n_ctx_train;
    float norm_eps;          /* RMSNorm epsilon */
    float rope_freq_base;
    float rope_freq_scale;   /* 1 / linear scaling factor */
    int32_t rope_dim;        /* dimensions rotated (usually head_dim) */
    apr_rope_kind rope_kind;
} apr_hparams;

typedef struct apr_model_view {
    apr_hparams hp;
    apr_tensor_view tok_embd;
    apr_tensor_view output_norm;
    apr_tensor_view output;              /* == tok_embd when tied */
    const apr_layer_view *layers;        /* n_layer entries */
    apr_tensor_view rope_freqs;          /* Llama 3.1+ (F32, rope_dim/2): theta_i is divided
                                            by rope_freqs[i]; data == NULL: none */
} apr_model_view;

/* One forward pass as a backend sees it (the context split the caller's batch). */
typedef struct apr_backend_batch {
    int32_t n_tokens;
    const int32_t *tokens;
    const int32_t *pos;
    const int32_t *seq;
    const int32_t *out_rows;   /* indices of the tokens whose logits are wanted */
    int32_t n_out;
} apr_backend_batch;

typedef struct apr_backend_context_params {
    int32_t n_ctx;
    int32_t n_seq;
    int32_t n_batch;
    int32_t n_threads;
    apr_kv_type kv_type;
} apr_backend_context_params;

/* What apr.h lends a plugin so the plugin needs none of apr.h's implementation. */
typedef struct apr_backend_host {
    void (*log)(void *log_user, apr_log_level level, const char *message);
    void *log_user;
    /* CPU fallback for layers that are not offloaded (partial offload): the plugin may
       call this to run layers [l0, l1) of the CPU backend on host activations (hidden:
       n_tokens rows of n_embd floats, updated in place). cpu_ctx is the plugin's own
       ctx_state (as its context_create returned it): the host keeps each context's CPU
       KV cache and finds it by that pointer (NULL works only while the model has one
       context). */
    void *cpu_user;
    apr_result (*cpu_layers)(void *cpu_user, void *cpu_ctx, int32_t l0, int32_t l1,
                             float *hidden, const apr_backend_batch *batch);
} apr_backend_host;

typedef struct apr_backend_vtable {
    uint32_t abi_version;
    const char *name;
    apr_result (*model_load)(const apr_model_view *model, const apr_backend_host *host,
                             int32_t n_gpu_layers, void **model_state, char *err,
                             size_t err_size);
    void (*model_free)(void *model_state);
    const char *(*device_name)(void *model_state);
    apr_result (*context_create)(void *model_state, const apr_backend_context_params *p,
                                 void **ctx_state, char *err, size_t err_size);
    void (*context_free)(void *ctx_state);
    /* logits: n_out rows of n_vocab floats, host memory. */
    apr_result (*forward)(void *ctx_state, const apr_backend_batch *batch, float *logits);
    /* Greedy decode shortcut: writes argmax token of each out row (may be NULL). */
    apr_result (*forward_argmax)(void *ctx_state, const apr_backend_batch *batch,
                                 int32_t *tokens_out);
    /* Drop positions >= n_keep of sequence seq. */
    void (*seq_truncate)(void *ctx_state, int32_t seq, int32_t n_keep);
    int (*launches_per_token)(void *ctx_state);
    uint64_t (*memory_used)(void *model_state);   /* device bytes */
} apr_backend_vtable;

/* The one symbol libapr_cuda exports. */
typedef const apr_backend_vtable *(*apr_backend_entry_fn)(uint32_t abi_version);
#define APR_CUDA_ENTRY_NAME "apr_cuda_backend"

#ifdef __cplusplus
}
#endif
#endif /* APR_H_INCLUDED */

/* =====================================================================================
   IMPLEMENTATION
   ===================================================================================== */
#ifdef APR_IMPLEMENTATION
#ifndef APR_IMPLEMENTATION_INCLUDED
#define APR_IMPLEMENTATION_INCLUDED
/* During development each section lives in src/ and is inlined here by tools/amalgamate;
   the released apr.h contains them directly. */
#include "src/platform.h"
#include "src/gguf.h"
#include "src/quant.h"
#include "src/quantize.h"
#include "src/vocab.h"
#include "src/chat.h"
#include "src/model.h"
#include "src/cpu.h"
#include "src/cuda_loader.h"
#include "src/context.h"
#include "src/sample.h"
#include "src/generate.h"
#include "src/gguf_write.h"
#endif
#endif /* APR_IMPLEMENTATION */
