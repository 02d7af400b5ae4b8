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
       implementation .... platform (allocator, errors and logging, half floats, mmap,
                           threads and thread pool, dlopen, time, CPU detection)
                           . GGUF reader and type table
                           . tensor types (block formats, dequantization, activation
                             quantization, dot products: scalar reference, then SIMD)
                           . weight quantization, llama.cpp recipes, synthetic models
                           . tokenizers (SentencePiece, byte-level BPE, pre-tokenizers)
                           . chat templates . model (hyperparameters, weight views)
                           . CPU backend (forward pass, repacked kernels) . CUDA loader
                           . context and KV cache . sampling . generation loop
                           . GGUF writer
   Search for "=====" banners to jump between sections.
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
   accepted: "test-qwen2", "test-qwen3", "test-llama3" (tiny, for tests) and "test-wide"
   (one layer of width 2304, for the CUDA backend's tests). */
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
/* Device memory the backend holds for this model and its contexts (weights, KV caches,
   scratch), in bytes; 0 on the CPU. */
APRDEF uint64_t apr_model_device_memory(const apr_model *model);
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
/* =====================================================================================
   Platform layer: allocator, errors and logging, half floats, overflow-safe arithmetic,
   memory-mapped files, threads and the thread pool, dlopen, timers, CPU detection.
   ===================================================================================== */

#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <pthread.h>
#include <sched.h>
#include <dlfcn.h>
#include <time.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <math.h>
#include <limits.h>
#include <float.h>
#include <errno.h>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define APR__X86 1
#if defined(_MSC_VER)
#include <intrin.h>
#endif
#if !defined(APR_NO_SIMD)
#include <immintrin.h>
#endif
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
#define APR__ARM64 1
#if !defined(APR_NO_SIMD)
#include <arm_neon.h>
#endif
#endif

/* SIMD functions are compiled with per-function target attributes so that one binary
   runs everywhere and picks its kernels at run time (GCC and Clang). MSVC compiles the
   intrinsics without attributes. */
#if defined(APR__X86) && !defined(APR_NO_SIMD) && (defined(__GNUC__) || defined(__clang__))
#define APR__HAVE_X86_SIMD 1
#define APR__TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define APR__TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define APR__TARGET_AVX512VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
#elif defined(APR__X86) && !defined(APR_NO_SIMD) && defined(_MSC_VER)
#define APR__HAVE_X86_SIMD 1
#define APR__TARGET_AVX2
#define APR__TARGET_AVX512
#define APR__TARGET_AVX512VNNI
#endif
#if defined(APR__ARM64) && !defined(APR_NO_SIMD)
#define APR__HAVE_NEON 1
#endif

#if defined(APR_MALLOC) && defined(APR_FREE) && defined(APR_REALLOC)
/* all three given */
#elif !defined(APR_MALLOC) && !defined(APR_FREE) && !defined(APR_REALLOC)
#define APR_MALLOC(sz) malloc(sz)
#define APR_REALLOC(p, sz) realloc(p, sz)
#define APR_FREE(p) free(p)
#else
#error "apr.h: define all of APR_MALLOC, APR_REALLOC and APR_FREE, or none of them"
#endif

#ifdef APR_STATIC
#define APR__IMPL static
#else
#define APR__IMPL
#endif

#define APR__MIN(a, b) ((a) < (b) ? (a) : (b))
#define APR__MAX(a, b) ((a) > (b) ? (a) : (b))
#define APR__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__) || defined(__clang__)
#define APR__UNUSED __attribute__((unused))
#define APR__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define APR__UNUSED
#define APR__PRINTF(f, a)
#endif

static void *apr__calloc(size_t n, size_t size) {
    if (size != 0 && n > SIZE_MAX / size) return NULL;
    size_t bytes = n * size;
    void *p = APR_MALLOC(bytes ? bytes : 1);
    if (p) memset(p, 0, bytes);
    return p;
}

static char *apr__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = (char *)APR_MALLOC(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* ---- overflow-safe arithmetic: return true on overflow ---------------------------- */

static bool apr__add_overflow_u64(uint64_t a, uint64_t b, uint64_t *out) {
    if (a > UINT64_MAX - b) return true;
    *out = a + b;
    return false;
}

static bool apr__mul_overflow_u64(uint64_t a, uint64_t b, uint64_t *out) {
    if (a != 0 && b > UINT64_MAX / a) return true;
    *out = a * b;
    return false;
}

/* ---- results and errors ------------------------------------------------------------- */

APR__IMPL const char *apr_result_string(apr_result r) {
    switch (r) {
    case APR_SUCCESS: return "success";
    case APR_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case APR_ERROR_OUT_OF_MEMORY: return "out of memory";
    case APR_ERROR_IO: return "I/O error";
    case APR_ERROR_INVALID_FILE: return "invalid GGUF file";
    case APR_ERROR_UNSUPPORTED: return "unsupported";
    case APR_ERROR_CONTEXT_FULL: return "context full";
    case APR_ERROR_BACKEND: return "backend error";
    case APR_ERROR_CANCELLED: return "cancelled";
    case APR_ERROR_NOT_FOUND: return "not found";
    }
    return "unknown error";
}

APR__IMPL const char *apr_version(void) { return APR_VERSION_STRING; }

/* Record an error (err may be NULL) and return its code, so callers can write
   `return apr__fail(err, APR_ERROR_IO, "cannot open %s", path);` */
static APR__PRINTF(3, 4) apr_result apr__fail(apr_error *err, apr_result code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

static void apr__error_clear(apr_error *err) {
    if (err) {
        err->code = APR_SUCCESS;
        err->message[0] = 0;
    }
}

/* ---- logging ------------------------------------------------------------------------ */

typedef struct apr__logger {
    apr_log_fn fn;
    void *user;
    apr_log_level level;
} apr__logger;

static APR__PRINTF(3, 4) void apr__log(const apr__logger *lg, apr_log_level level, const char *fmt, ...) {
    if (!lg || !lg->fn || level > lg->level) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    lg->fn(lg->user, level, buf);
}

/* ---- half floats -------------------------------------------------------------------- */

static inline float apr__bits_to_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t apr__f32_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* IEEE half -> float, exact for every input including subnormals, inf and NaN. */
static inline float apr__fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f) return apr__bits_to_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        if (man == 0) return apr__bits_to_f32(sign);
        float f = (float)man * (1.0f / 16777216.0f); /* man * 2^-24 */
        return sign ? -f : f;
    }
    return apr__bits_to_f32(sign | ((exp + 112) << 23) | (man << 13));
}

/* float -> IEEE half, round to nearest even (as F16C's _cvtss_sh with mode 0). */
static inline uint16_t apr__fp32_to_fp16(float f) {
    uint32_t x = apr__f32_to_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds to >= 65520: inf */
    if (ax < 0x38800000u) {                                   /* subnormal half or zero */
        if (ax < 0x33000000u) return (uint16_t)sign;          /* < 2^-25: rounds to 0 */
        uint32_t e = ax >> 23;
        uint32_t m = (ax & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e;                              /* 14..24 */
        uint32_t half = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = ((ax - 0x38000000u) >> 13);
    uint32_t rem = ax & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

static inline float apr__bf16_to_fp32(uint16_t h) { return apr__bits_to_f32((uint32_t)h << 16); }

/* float -> bf16, round to nearest even; NaN stays NaN (as ggml). */
static inline uint16_t apr__fp32_to_bf16(float f) {
    uint32_t u = apr__f32_to_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 64);
    return (uint16_t)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

/* ---- time ----------------------------------------------------------------------------- */

static uint64_t apr__time_ns(void) {
#if defined(_WIN32)
    static LARGE_INTEGER freq; /* written once with the same value: benign */
    LARGE_INTEGER t;
    if (!freq.QuadPart) QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&t);
    return (uint64_t)((double)t.QuadPart * 1e9 / (double)freq.QuadPart);
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
#endif
}

/* ---- memory-mapped files -------------------------------------------------------------- */

typedef struct apr__mapping {
    void *data;
    uint64_t size;
#if defined(_WIN32)
    HANDLE file, map;
#endif
} apr__mapping;

static apr_result apr__map_file(const char *path, apr__mapping *m, apr_error *err) {
    memset(m, 0, sizeof *m);
#if defined(_WIN32)
    m->file = CreateFileA(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING,
                          FILE_ATTRIBUTE_NORMAL, NULL);
    if (m->file == INVALID_HANDLE_VALUE) return apr__fail(err, APR_ERROR_IO, "cannot open '%s'", path);
    LARGE_INTEGER sz;
    if (!GetFileSizeEx(m->file, &sz)) {
        CloseHandle(m->file);
        return apr__fail(err, APR_ERROR_IO, "cannot read the size of '%s'", path);
    }
    m->size = (uint64_t)sz.QuadPart;
    if (m->size == 0) { CloseHandle(m->file); return apr__fail(err, APR_ERROR_INVALID_FILE, "'%s' is empty", path); }
    m->map = CreateFileMappingA(m->file, NULL, PAGE_READONLY, 0, 0, NULL);
    if (!m->map) { CloseHandle(m->file); return apr__fail(err, APR_ERROR_IO, "cannot map '%s'", path); }
    m->data = MapViewOfFile(m->map, FILE_MAP_READ, 0, 0, 0);
    if (!m->data) {
        CloseHandle(m->map); CloseHandle(m->file);
        return apr__fail(err, APR_ERROR_IO, "cannot map '%s'", path);
    }
    return APR_SUCCESS;
#else
    int fd = open(path, O_RDONLY);
    if (fd < 0) return apr__fail(err, APR_ERROR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return apr__fail(err, APR_ERROR_IO, "cannot stat '%s'", path);
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return apr__fail(err, APR_ERROR_IO, "'%s' is a directory, not a GGUF file", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return apr__fail(err, APR_ERROR_IO, "'%s' is not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return apr__fail(err, APR_ERROR_INVALID_FILE, "'%s' is empty", path);
    }
    m->size = (uint64_t)st.st_size;
    void *p = mmap(NULL, (size_t)m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return apr__fail(err, APR_ERROR_IO, "cannot map '%s': %s", path, strerror(errno));
    m->data = p;
    return APR_SUCCESS;
#endif
}

static void apr__unmap_file(apr__mapping *m) {
    if (!m->data) return;
#if defined(_WIN32)
    UnmapViewOfFile(m->data);
    CloseHandle(m->map);
    CloseHandle(m->file);
#else
    munmap(m->data, (size_t)m->size);
#endif
    m->data = NULL;
}

/* ---- dynamic libraries ---------------------------------------------------------------- */

static void *apr__dl_open(const char *path) {
#if defined(_WIN32)
    return (void *)LoadLibraryA(path);
#else
    return dlopen(path, RTLD_NOW | RTLD_LOCAL);
#endif
}

static void *apr__dl_sym(void *lib, const char *name) {
#if defined(_WIN32)
    return (void *)GetProcAddress((HMODULE)lib, name);
#else
    return dlsym(lib, name);
#endif
}

static void apr__dl_close(void *lib) {
    if (!lib) return;
#if defined(_WIN32)
    FreeLibrary((HMODULE)lib);
#else
    dlclose(lib);
#endif
}

/* Directory of the running executable (with trailing separator) into buf; "" if unknown. */
static void apr__exe_dir(char *buf, size_t size) {
    buf[0] = 0;
#if defined(_WIN32)
    DWORD n = GetModuleFileNameA(NULL, buf, (DWORD)size);
    if (n == 0 || n >= size) { buf[0] = 0; return; }
    char *slash = strrchr(buf, '\\');
    if (slash) slash[1] = 0; else buf[0] = 0;
#elif defined(__linux__)
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n <= 0) { buf[0] = 0; return; }
    buf[n] = 0;
    char *slash = strrchr(buf, '/');
    if (slash) slash[1] = 0; else buf[0] = 0;
#else
    (void)size;
#endif
}

/* ---- threads ---------------------------------------------------------------------------- */

#if defined(_WIN32)
typedef HANDLE apr__thread;
typedef CRITICAL_SECTION apr__mutex;
typedef CONDITION_VARIABLE apr__cond;
static void apr__mutex_init(apr__mutex *m) { InitializeCriticalSection(m); }
static void apr__mutex_destroy(apr__mutex *m) { DeleteCriticalSection(m); }
static void apr__mutex_lock(apr__mutex *m) { EnterCriticalSection(m); }
static void apr__mutex_unlock(apr__mutex *m) { LeaveCriticalSection(m); }
static void apr__cond_init(apr__cond *c) { InitializeConditionVariable(c); }
static void apr__cond_destroy(apr__cond *c) { (void)c; }
static void apr__cond_wait(apr__cond *c, apr__mutex *m) { SleepConditionVariableCS(c, m, INFINITE); }
static void apr__cond_broadcast(apr__cond *c) { WakeAllConditionVariable(c); }
typedef struct { void (*fn)(void *); void *arg; } apr__thread_start;
static DWORD WINAPI apr__thread_trampoline(LPVOID p) {
    apr__thread_start s = *(apr__thread_start *)p;
    APR_FREE(p);
    s.fn(s.arg);
    return 0;
}
static APR__UNUSED bool apr__thread_create(apr__thread *t, void (*fn)(void *), void *arg) {
    apr__thread_start *s = (apr__thread_start *)APR_MALLOC(sizeof *s);
    if (!s) return false;
    s->fn = fn; s->arg = arg;
    *t = CreateThread(NULL, 0, apr__thread_trampoline, s, 0, NULL);
    if (!*t) { APR_FREE(s); return false; }
    return true;
}
static void apr__thread_join(apr__thread t) { WaitForSingleObject(t, INFINITE); CloseHandle(t); }
static void apr__cpu_relax(void) { YieldProcessor(); }
static void apr__thread_yield(void) { SwitchToThread(); }
#define APR__ATOMIC_LOAD(p) InterlockedCompareExchange((volatile LONG *)(p), 0, 0)
#define APR__ATOMIC_STORE(p, v) ((void)InterlockedExchange((volatile LONG *)(p), (LONG)(v)))
#define APR__ATOMIC_ADD(p, v) (InterlockedExchangeAdd((volatile LONG *)(p), (LONG)(v)) + (v))
#define APR__ATOMIC_LOAD64(p) ((uint64_t)InterlockedCompareExchange64((volatile LONG64 *)(p), 0, 0))
#define APR__ATOMIC_STORE64(p, v) ((void)InterlockedExchange64((volatile LONG64 *)(p), (LONG64)(v)))
#define APR__ATOMIC_CAS64(p, e, v) \
    ((uint64_t)InterlockedCompareExchange64((volatile LONG64 *)(p), (LONG64)(v), (LONG64)(e)) == (uint64_t)(e))
/* Interlocked operations are full barriers: the _SC forms are the plain ones */
#define APR__ATOMIC_ADD_SC(p, v) APR__ATOMIC_ADD(p, v)
#define APR__ATOMIC_LOAD_SC(p) APR__ATOMIC_LOAD(p)
#define APR__ATOMIC_LOAD64_SC(p) APR__ATOMIC_LOAD64(p)
#else
typedef pthread_t apr__thread;
typedef pthread_mutex_t apr__mutex;
typedef pthread_cond_t apr__cond;
static void apr__mutex_init(apr__mutex *m) { pthread_mutex_init(m, NULL); }
static void apr__mutex_destroy(apr__mutex *m) { pthread_mutex_destroy(m); }
static void apr__mutex_lock(apr__mutex *m) { pthread_mutex_lock(m); }
static void apr__mutex_unlock(apr__mutex *m) { pthread_mutex_unlock(m); }
static void apr__cond_init(apr__cond *c) { pthread_cond_init(c, NULL); }
static void apr__cond_destroy(apr__cond *c) { pthread_cond_destroy(c); }
static void apr__cond_wait(apr__cond *c, apr__mutex *m) { pthread_cond_wait(c, m); }
static void apr__cond_broadcast(apr__cond *c) { pthread_cond_broadcast(c); }
typedef struct { void (*fn)(void *); void *arg; } apr__thread_start;
static void *apr__thread_trampoline(void *p) {
    apr__thread_start s = *(apr__thread_start *)p;
    APR_FREE(p);
    s.fn(s.arg);
    return NULL;
}
static APR__UNUSED bool apr__thread_create(apr__thread *t, void (*fn)(void *), void *arg) {
    apr__thread_start *s = (apr__thread_start *)APR_MALLOC(sizeof *s);
    if (!s) return false;
    s->fn = fn; s->arg = arg;
    if (pthread_create(t, NULL, apr__thread_trampoline, s) != 0) { APR_FREE(s); return false; }
    return true;
}
static void apr__thread_join(apr__thread t) { pthread_join(t, NULL); }
static void apr__thread_yield(void) { sched_yield(); }
static void apr__cpu_relax(void) {
#if defined(APR__X86) && !defined(APR_NO_SIMD)
    _mm_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
#define APR__ATOMIC_LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define APR__ATOMIC_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define APR__ATOMIC_ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_ACQ_REL)
#define APR__ATOMIC_LOAD64(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define APR__ATOMIC_STORE64(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define APR__ATOMIC_CAS64(p, e, v) apr__cas64((p), (e), (v))
static inline bool apr__cas64(volatile uint64_t *p, uint64_t e, uint64_t v) {
    return __atomic_compare_exchange_n(p, &e, v, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
/* sequentially consistent forms, for the sleep/wake handshake (store then load on both sides) */
#define APR__ATOMIC_ADD_SC(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define APR__ATOMIC_LOAD_SC(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define APR__ATOMIC_LOAD64_SC(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#endif

APR__IMPL int apr_cpu_count(void) {
#if defined(_WIN32)
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return (int)si.dwNumberOfProcessors;
#else
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
#endif
}

/* ---- thread pool ------------------------------------------------------------------------
   apr__pool_run_chunks(pool, fn, arg, n) runs fn(arg, i, n) once for each chunk i < n and
   returns when all are done. Chunks are claimed from one atomic counter by whichever thread
   comes first, the caller included, so a worker that is late (descheduled on a busy
   machine, or still waking up) never holds the job up: the threads that are running take
   its share, and it finds nothing left when it arrives. The caller waits only for chunks
   that another thread has already started. apr__pool_run(pool, fn, arg, nth) is the same
   with one chunk per thread (min(nth, pool size) chunks); fn may index per-thread scratch
   by its ith, since each ith runs exactly once (not necessarily on thread ith), but must
   not wait for another ith (they may run one after the other).
   Workers spin for a while after a job (the next one usually follows within
   microseconds), yielding the core now and then, and then sleep on a condition variable,
   so an idle pool costs no CPU. */

typedef void (*apr__pool_fn)(void *arg, int ith, int nth);

typedef struct apr__pool {
    int n_threads;
    apr__thread *threads;
    apr__mutex mutex;
    apr__cond wake;
    /* the current job: generation (32 bits) | number of chunks (16) | next chunk (16);
       one word, so a claim can never mix two jobs */
    volatile uint64_t work;
    volatile int n_finished;   /* chunks of the current job done */
    volatile int n_sleeping;   /* workers waiting on the condition variable */
    volatile int stop;
    apr__pool_fn fn;
    void *arg;
} apr__pool;

typedef struct apr__pool_worker_arg {
    apr__pool *pool;
    int ith;
} apr__pool_worker_arg;

#define APR__POOL_MAX_CHUNKS 65535
#define APR__POOL_SPIN_NS 2000000      /* spin (then sleep) after a job */
#define APR__POOL_YIELD_NS 50000       /* after this long, yield the core while spinning */

/* Claim and run chunks of job `gen` until none is left (or another job has started). */
static void apr__pool_work(apr__pool *pool, uint32_t gen) {
    for (;;) {
        uint64_t w = APR__ATOMIC_LOAD64(&pool->work);
        uint32_t n = (uint32_t)(w >> 16) & 0xffff, next = (uint32_t)w & 0xffff;
        if ((uint32_t)(w >> 32) != gen || next >= n) return;
        if (!APR__ATOMIC_CAS64(&pool->work, w, w + 1)) continue;
        /* a claimed chunk keeps the job (fn, arg) alive until it is counted finished */
        pool->fn(pool->arg, (int)next, (int)n);
        (void)APR__ATOMIC_ADD(&pool->n_finished, 1);
    }
}

static APR__UNUSED void apr__pool_worker(void *p) {
    apr__pool_worker_arg wa = *(apr__pool_worker_arg *)p;
    APR_FREE(p);
    apr__pool *pool = wa.pool;
    uint32_t seen = (uint32_t)(APR__ATOMIC_LOAD64(&pool->work) >> 32);
    for (;;) {
        uint64_t t0 = 0;
        for (unsigned spins = 1;; spins++) {
            if ((uint32_t)(APR__ATOMIC_LOAD64(&pool->work) >> 32) != seen || APR__ATOMIC_LOAD(&pool->stop)) break;
            if (spins % 64) { apr__cpu_relax(); continue; }
            uint64_t now = apr__time_ns();
            if (!t0) t0 = now;
            if (now - t0 < APR__POOL_SPIN_NS) {
                if (now - t0 > APR__POOL_YIELD_NS) apr__thread_yield();
                continue;
            }
            /* sleep; sequentially consistent counter and load, paired with the caller's
               store and load: either the worker sees the new job or the caller sees a
               sleeper and broadcasts (under the mutex, so not before the wait) */
            apr__mutex_lock(&pool->mutex);
            (void)APR__ATOMIC_ADD_SC(&pool->n_sleeping, 1);
            while ((uint32_t)(APR__ATOMIC_LOAD64_SC(&pool->work) >> 32) == seen && !APR__ATOMIC_LOAD(&pool->stop))
                apr__cond_wait(&pool->wake, &pool->mutex);
            (void)APR__ATOMIC_ADD(&pool->n_sleeping, -1);
            apr__mutex_unlock(&pool->mutex);
            t0 = 0;
        }
        if (APR__ATOMIC_LOAD(&pool->stop)) return;
        seen = (uint32_t)(APR__ATOMIC_LOAD64(&pool->work) >> 32);
        apr__pool_work(pool, seen);
    }
}

static void apr__pool_free(apr__pool *pool);

static apr__pool *apr__pool_create(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    apr__pool *pool = (apr__pool *)apr__calloc(1, sizeof *pool);
    if (!pool) return NULL;
    pool->n_threads = n_threads;
    apr__mutex_init(&pool->mutex);
    apr__cond_init(&pool->wake);
#if !defined(APR_NO_THREADS)
    if (n_threads > 1) {
        pool->threads = (apr__thread *)apr__calloc((size_t)n_threads, sizeof(apr__thread));
        if (!pool->threads) { apr__pool_free(pool); return NULL; }
        for (int i = 1; i < n_threads; i++) {
            apr__pool_worker_arg *wa = (apr__pool_worker_arg *)APR_MALLOC(sizeof *wa);
            if (!wa) { pool->n_threads = i; break; }
            wa->pool = pool;
            wa->ith = i;
            if (!apr__thread_create(&pool->threads[i], apr__pool_worker, wa)) {
                APR_FREE(wa);
                pool->n_threads = i;
                break;
            }
        }
    }
#else
    pool->n_threads = 1;
#endif
    return pool;
}

static void apr__pool_free(apr__pool *pool) {
    if (!pool) return;
    apr__mutex_lock(&pool->mutex);
    APR__ATOMIC_STORE(&pool->stop, 1);
    apr__cond_broadcast(&pool->wake);
    apr__mutex_unlock(&pool->mutex);
    for (int i = 1; i < pool->n_threads && pool->threads; i++) apr__thread_join(pool->threads[i]);
    APR_FREE(pool->threads);
    apr__mutex_destroy(&pool->mutex);
    apr__cond_destroy(&pool->wake);
    APR_FREE(pool);
}

/* fn(arg, i, n_chunks) for every i < n_chunks (at most APR__POOL_MAX_CHUNKS). pool may be
   NULL. Not reentrant: one caller at a time, and fn must not run a job on the same pool. */
static void apr__pool_run_chunks(apr__pool *pool, apr__pool_fn fn, void *arg, int n_chunks) {
    if (n_chunks > APR__POOL_MAX_CHUNKS) n_chunks = APR__POOL_MAX_CHUNKS;
    if (!pool || pool->n_threads <= 1 || n_chunks <= 1) {
        for (int i = 0; i < n_chunks; i++) fn(arg, i, n_chunks);
        return;
    }
    pool->fn = fn;
    pool->arg = arg;
    APR__ATOMIC_STORE(&pool->n_finished, 0);
    uint32_t gen = (uint32_t)(APR__ATOMIC_LOAD64(&pool->work) >> 32) + 1;
    APR__ATOMIC_STORE64(&pool->work, ((uint64_t)gen << 32) | ((uint64_t)n_chunks << 16));
    if (APR__ATOMIC_LOAD_SC(&pool->n_sleeping) > 0) {
        apr__mutex_lock(&pool->mutex);
        apr__cond_broadcast(&pool->wake);
        apr__mutex_unlock(&pool->mutex);
    }
    apr__pool_work(pool, gen);
    /* only chunks another thread has started remain; yield now and then so that, on an
       oversubscribed machine, the thread running one gets the core */
    for (unsigned spins = 1; APR__ATOMIC_LOAD(&pool->n_finished) < n_chunks; spins++) {
        if (spins % 256 == 0) apr__thread_yield();
        else apr__cpu_relax();
    }
}

/* fn(arg, ith, n) for ith < n = min(nth, pool size) (nth <= 0: the pool size). */
static void apr__pool_run(apr__pool *pool, apr__pool_fn fn, void *arg, int nth) {
    int n = pool ? pool->n_threads : 1;
    if (nth > 0 && nth < n) n = nth;
    apr__pool_run_chunks(pool, fn, arg, n);
}

/* Split [0, total) into nth nearly equal parts, rounded to multiples of `align`. */
static void apr__split_range(int64_t total, int64_t align, int ith, int nth, int64_t *begin, int64_t *end) {
    if (align < 1) align = 1;
    int64_t units = (total + align - 1) / align;
    int64_t per = units / nth, extra = units % nth;
    int64_t u0 = ith * per + (ith < extra ? ith : extra);
    int64_t u1 = u0 + per + (ith < extra ? 1 : 0);
    *begin = APR__MIN(u0 * align, total);
    *end = APR__MIN(u1 * align, total);
}

/* ---- CPU features: the one piece of global state, written once ------------------------- */

static apr_cpu_features apr__cpu_features_cache;
static volatile int apr__cpu_features_ready;
static volatile int apr__max_simd_level = 99;

#if defined(APR__X86)
static void apr__cpuid(int leaf, int sub, unsigned r[4]) {
#if defined(_MSC_VER)
    int v[4];
    __cpuidex(v, leaf, sub);
    for (int i = 0; i < 4; i++) r[i] = (unsigned)v[i];
#else
    __asm__ __volatile__("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
#endif
}
static uint64_t apr__xgetbv0(void) {
#if defined(_MSC_VER)
    return _xgetbv(0);
#else
    unsigned lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
#endif
}
#endif

APR__IMPL apr_cpu_features apr_cpu_detect(void) {
    if (apr__cpu_features_ready) return apr__cpu_features_cache;
    apr_cpu_features f;
    memset(&f, 0, sizeof f);
#if defined(APR__X86)
    unsigned r[4];
    apr__cpuid(0, 0, r);
    unsigned max_leaf = r[0];
    apr__cpuid(1, 0, r);
    bool osxsave = (r[2] >> 27) & 1;
    bool avx = (r[2] >> 28) & 1;
    f.fma = (r[2] >> 12) & 1;
    f.f16c = (r[2] >> 29) & 1;
    uint64_t xcr0 = osxsave ? apr__xgetbv0() : 0;
    bool os_avx = (xcr0 & 6) == 6;
    bool os_avx512 = (xcr0 & 0xe6) == 0xe6;
    if (max_leaf >= 7) {
        apr__cpuid(7, 0, r);
        f.avx2 = avx && os_avx && ((r[1] >> 5) & 1);
        f.avx512f = os_avx512 && ((r[1] >> 16) & 1);
        f.avx512bw = os_avx512 && ((r[1] >> 30) & 1);
        f.avx512vnni = os_avx512 && ((r[2] >> 11) & 1);
        apr__cpuid(7, 1, r);
        f.avx_vnni = os_avx && ((r[0] >> 4) & 1);
    }
    f.fma = f.fma && os_avx;
    f.f16c = f.f16c && os_avx;
#elif defined(APR__ARM64)
    f.neon = true;
#if defined(__ARM_FEATURE_DOTPROD)
    f.dotprod = true;
#endif
#endif
    apr__cpu_features_cache = f;
    apr__cpu_features_ready = 1;
    return f;
}

APR__IMPL void apr_cpu_set_max_simd(int level) { apr__max_simd_level = level; }

/* SIMD level used by the kernels: 0 scalar, 1 AVX2(+FMA+F16C), 2 AVX-512 (F+BW+VL), or for
   ARM 2 = NEON. */
static int apr__simd_level(void) {
    apr_cpu_features f = apr_cpu_detect();
    int level = 0;
#if defined(APR__HAVE_X86_SIMD)
    if (f.avx2 && f.fma && f.f16c) level = 1;
    if (level == 1 && f.avx512f && f.avx512bw) level = 2;
#elif defined(APR__HAVE_NEON)
    if (f.neon) level = 2;
#else
    (void)f;
#endif
    return APR__MIN(level, apr__max_simd_level);
}

APR__IMPL const char *apr_cpu_simd_name(void) {
    int level = apr__simd_level();
#if defined(APR__HAVE_NEON)
    return level >= 2 ? "NEON" : "scalar";
#else
    return level >= 2 ? "AVX512" : level == 1 ? "AVX2" : "scalar";
#endif
}

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

/* =====================================================================================
   Tensor types: block formats, dequantization, activation quantization, dot products.

   Block layouts are byte-identical to ggml's (GGUF files store them as they are).

   Internal API used by the CPU backend:
     apr__type_traits_of(type)     name, block size/bytes, activation type, dequant fn;
                                   NULL for ids apr does not know.
     Activation ("act") types, as ggml's vec_dot_type: a weight row is multiplied with an
       activation row quantized to the weight's act type:
         F32, F16, BF16 weights          -> F32 activations (plain floats)
         Q4_0, Q5_0, Q8_0, IQ4_NL        -> Q8_0 (32 int8 + fp16 scale per block)
         Q4_1, Q5_1                      -> Q8_1 (Q8_0 plus fp16 d*sum of the block)
         Q2_K..Q6_K, IQ4_XS              -> Q8_K (256 int8, f32 scale, int16 sums of 16)
     apr__act_row_bytes(act, n)     bytes of one quantized activation row of n floats
                                   (a Q8_0 row is its ggml blocks plus a float copy of
                                   each block scale: always use this for strides).
     apr__quantize_act(act, x, dst, n)
                                   quantize n floats (n a multiple of the act block size;
                                   for F32 it is a copy). SIMD chosen by apr__simd_level();
                                   every level gives the same bytes as the scalar one.
     apr__vec_dot_for(wtype, level) -> apr__vec_dot_fn(n, &out, w_row, act_row)
                                   level 0 is the scalar reference; pass apr__simd_level().
                                   The integer paths compute the same integer sums at every
                                   level: only the float accumulation order differs.
     apr__gemm_rows(wtype, n, w, w_stride, n_rows, act, act_stride, n_tok, out, ld_out)
                                   out[t*ld_out + r] = dot(w row r, act row t) for all
                                   r < n_rows, t < n_tok; tiles rows x tokens so a decoded
                                   weight block feeds several tokens. Single-threaded: the
                                   caller splits rows (in multiples of 4 ideally) over threads.
     apr__expand_to_q8_0(type, src, dst, n)
                                   Q4_0/Q5_0/IQ4_NL row -> Q8_0 row with the same values: a
                                   load-time repack for compute-bound CPUs (Q8_0 kernels do
                                   1.6x the weights/s); dot products stay bit-identical.
   ===================================================================================== */

#define APR__QK 32     /* elements per block of the 32-element formats */
#define APR__QK_K 256  /* elements per super-block of the K-quants */

typedef struct { uint16_t d; uint8_t qs[16]; } apr__block_q4_0;
typedef struct { uint16_t d, m; uint8_t qs[16]; } apr__block_q4_1;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } apr__block_q5_0;
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; } apr__block_q5_1;
typedef struct { uint16_t d; int8_t qs[32]; } apr__block_q8_0;
typedef struct { uint16_t d, s; int8_t qs[32]; } apr__block_q8_1;   /* s = d * sum(qs) */
typedef struct { uint8_t scales[16]; uint8_t qs[64]; uint16_t d, dmin; } apr__block_q2_K;
typedef struct { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint16_t d; } apr__block_q3_K;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } apr__block_q4_K;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } apr__block_q5_K;
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } apr__block_q6_K;
typedef struct { float d; int8_t qs[256]; int16_t bsums[16]; } apr__block_q8_K;
typedef struct { uint16_t d; uint8_t qs[16]; } apr__block_iq4_nl;
typedef struct { uint16_t d; uint16_t scales_h; uint8_t scales_l[4]; uint8_t qs[128]; } apr__block_iq4_xs;

/* compile-time size checks (a negative array size fails the build) */
typedef char apr__chk_q4_0[sizeof(apr__block_q4_0) == 18 ? 1 : -1];
typedef char apr__chk_q4_1[sizeof(apr__block_q4_1) == 20 ? 1 : -1];
typedef char apr__chk_q5_0[sizeof(apr__block_q5_0) == 22 ? 1 : -1];
typedef char apr__chk_q5_1[sizeof(apr__block_q5_1) == 24 ? 1 : -1];
typedef char apr__chk_q8_0[sizeof(apr__block_q8_0) == 34 ? 1 : -1];
typedef char apr__chk_q8_1[sizeof(apr__block_q8_1) == 36 ? 1 : -1];
typedef char apr__chk_q2_K[sizeof(apr__block_q2_K) == 84 ? 1 : -1];
typedef char apr__chk_q3_K[sizeof(apr__block_q3_K) == 110 ? 1 : -1];
typedef char apr__chk_q4_K[sizeof(apr__block_q4_K) == 144 ? 1 : -1];
typedef char apr__chk_q5_K[sizeof(apr__block_q5_K) == 176 ? 1 : -1];
typedef char apr__chk_q6_K[sizeof(apr__block_q6_K) == 210 ? 1 : -1];
typedef char apr__chk_q8_K[sizeof(apr__block_q8_K) == 292 ? 1 : -1];
typedef char apr__chk_iq4_nl[sizeof(apr__block_iq4_nl) == 18 ? 1 : -1];
typedef char apr__chk_iq4_xs[sizeof(apr__block_iq4_xs) == 136 ? 1 : -1];

/* A Q8_0 activation row is its blocks (ggml's layout) followed, at a 4-byte aligned offset,
   by each block's scale as a float: kernels then need not convert the fp16 scale again
   for every weight row. The float equals the fp16 value exactly. */
static inline size_t apr__q8_0_scales_offset(int64_t n) { return ((size_t)(n / 32) * 34 + 3) & ~(size_t)3; }
static inline const float *apr__q8_0_act_scales(const void *act, int64_t n) {
    return (const float *)(const void *)((const uint8_t *)act + apr__q8_0_scales_offset(n));
}
static inline void apr__q8_0_write_scales(void *act, int64_t n) {
    const apr__block_q8_0 *y = (const apr__block_q8_0 *)act;
    uint8_t *base = (uint8_t *)act;
    size_t end = (size_t)(n / 32) * 34, off = apr__q8_0_scales_offset(n);
    memset(base + end, 0, off - end);
    for (int64_t i = 0; i < n / 32; i++) {
        float f = apr__fp16_to_fp32(y[i].d);
        memcpy(base + off + 4 * (size_t)i, &f, 4);
    }
}

/* The 16 non-linear levels of IQ4_NL / IQ4_XS. */
static const int8_t apr__iq4nl_values[16] = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113
};

/* Q4_K / Q5_K pack 8 six-bit scales and 8 six-bit mins into 12 bytes. */
static inline void apr__scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Q3_K packs 16 six-bit scales (biased by 32) into 12 bytes. */
static inline void apr__q3k_scales(const uint8_t *packed, int8_t out[16]) {
    uint32_t aux[4];
    memcpy(aux, packed, 12);
    uint32_t tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & 0x0f0f0f0fu) | (((tmp >> 4) & 0x03030303u) << 4);
    aux[3] = ((aux[1] >> 4) & 0x0f0f0f0fu) | (((tmp >> 6) & 0x03030303u) << 4);
    aux[0] = (aux[0] & 0x0f0f0f0fu) | (((tmp >> 0) & 0x03030303u) << 4);
    aux[1] = (aux[1] & 0x0f0f0f0fu) | (((tmp >> 2) & 0x03030303u) << 4);
    memcpy(out, aux, 16);
    for (int i = 0; i < 16; i++) out[i] = (int8_t)(out[i] - 32);
}

/* IQ4_XS: 6-bit scale of sub-block ib (biased by 32). */
static inline int apr__iq4xs_scale(const apr__block_iq4_xs *b, int ib) {
    return (((b->scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((b->scales_h >> 2 * ib) & 3) << 4)) - 32;
}

/* ---- dequantization (scalar, bit-exact with ggml: same float operations in the same
   order; built without FP contraction so a*b-c is not fused) --------------------------- */

static void apr__dequant_f32(const void *src, float *y, int64_t n) { memcpy(y, src, (size_t)n * 4); }

static void apr__dequant_f16(const void *src, float *y, int64_t n) {
    const uint8_t *p = (const uint8_t *)src;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h; memcpy(&h, p + 2 * i, 2);
        y[i] = apr__fp16_to_fp32(h);
    }
}

static void apr__dequant_bf16(const void *src, float *y, int64_t n) {
    const uint8_t *p = (const uint8_t *)src;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h; memcpy(&h, p + 2 * i, 2);
        y[i] = apr__bf16_to_fp32(h);
    }
}

static void apr__dequant_q4_0(const void *src, float *y, int64_t n) {
    const apr__block_q4_0 *x = (const apr__block_q4_0 *)src;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const float d = apr__fp16_to_fp32(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((x[i].qs[j] & 0xF) - 8) * d;
            y[j + 16] = (float)((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void apr__dequant_q4_1(const void *src, float *y, int64_t n) {
    const apr__block_q4_1 *x = (const apr__block_q4_1 *)src;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const float d = apr__fp16_to_fp32(x[i].d), m = apr__fp16_to_fp32(x[i].m);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(x[i].qs[j] & 0xF) * d + m;
            y[j + 16] = (float)(x[i].qs[j] >> 4) * d + m;
        }
    }
}

static void apr__dequant_q5_0(const void *src, float *y, int64_t n) {
    const apr__block_q5_0 *x = (const apr__block_q5_0 *)src;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const float d = apr__fp16_to_fp32(x[i].d);
        uint32_t qh; memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            int h0 = (int)((qh >> j) << 4) & 0x10, h1 = (int)(qh >> (j + 12)) & 0x10;
            y[j] = (float)(((x[i].qs[j] & 0xF) | h0) - 16) * d;
            y[j + 16] = (float)(((x[i].qs[j] >> 4) | h1) - 16) * d;
        }
    }
}

static void apr__dequant_q5_1(const void *src, float *y, int64_t n) {
    const apr__block_q5_1 *x = (const apr__block_q5_1 *)src;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const float d = apr__fp16_to_fp32(x[i].d), m = apr__fp16_to_fp32(x[i].m);
        uint32_t qh; memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            int h0 = (int)((qh >> j) << 4) & 0x10, h1 = (int)(qh >> (j + 12)) & 0x10;
            y[j] = (float)((x[i].qs[j] & 0xF) | h0) * d + m;
            y[j + 16] = (float)((x[i].qs[j] >> 4) | h1) * d + m;
        }
    }
}

static void apr__dequant_q8_0(const void *src, float *y, int64_t n) {
    const apr__block_q8_0 *x = (const apr__block_q8_0 *)src;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const float d = apr__fp16_to_fp32(x[i].d);
        for (int j = 0; j < 32; j++) y[j] = (float)x[i].qs[j] * d;
    }
}

static void apr__dequant_q8_1(const void *src, float *y, int64_t n) {
    const apr__block_q8_1 *x = (const apr__block_q8_1 *)src;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const float d = apr__fp16_to_fp32(x[i].d);
        for (int j = 0; j < 32; j++) y[j] = (float)x[i].qs[j] * d;
    }
}

static void apr__dequant_q2_K(const void *src, float *y, int64_t n) {
    const apr__block_q2_K *x = (const apr__block_q2_K *)src;
    for (int64_t i = 0; i < n / 256; i++) {
        const float d = apr__fp16_to_fp32(x[i].d), min = apr__fp16_to_fp32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        int is = 0;
        for (int k = 0; k < 256; k += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; half++) {
                    uint8_t sc = x[i].scales[is++];
                    const float dl = d * (float)(sc & 0xF), ml = min * (float)(sc >> 4);
                    for (int l = 0; l < 16; l++) *y++ = dl * (float)((q[l + 16 * half] >> shift) & 3) - ml;
                }
            }
        }
    }
}

static void apr__dequant_q3_K(const void *src, float *y, int64_t n) {
    const apr__block_q3_K *x = (const apr__block_q3_K *)src;
    for (int64_t i = 0; i < n / 256; i++) {
        const float d = apr__fp16_to_fp32(x[i].d);
        int8_t sc[16];
        apr__q3k_scales(x[i].scales, sc);
        const uint8_t *q = x[i].qs, *hm = x[i].hmask;
        int is = 0;
        uint8_t m = 1;
        for (int k = 0; k < 256; k += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m = (uint8_t)(m << 1)) {
                for (int half = 0; half < 2; half++) {
                    const float dl = d * (float)sc[is++];
                    for (int l = 16 * half; l < 16 * half + 16; l++)
                        *y++ = dl * (float)(((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
                }
            }
        }
    }
}

static void apr__dequant_q4_K(const void *src, float *y, int64_t n) {
    const apr__block_q4_K *x = (const apr__block_q4_K *)src;
    for (int64_t i = 0; i < n / 256; i++) {
        const float d = apr__fp16_to_fp32(x[i].d), min = apr__fp16_to_fp32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        for (int j = 0; j < 8; j += 2, q += 32) {
            uint8_t sc, m;
            apr__scale_min_k4(j, x[i].scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = min * (float)m;
            apr__scale_min_k4(j + 1, x[i].scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = min * (float)m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

static void apr__dequant_q5_K(const void *src, float *y, int64_t n) {
    const apr__block_q5_K *x = (const apr__block_q5_K *)src;
    for (int64_t i = 0; i < n / 256; i++) {
        const float d = apr__fp16_to_fp32(x[i].d), min = apr__fp16_to_fp32(x[i].dmin);
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0; j < 8; j += 2, ql += 32, u1 = (uint8_t)(u1 << 2), u2 = (uint8_t)(u2 << 2)) {
            uint8_t sc, m;
            apr__scale_min_k4(j, x[i].scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = min * (float)m;
            apr__scale_min_k4(j + 1, x[i].scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = min * (float)m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)((ql[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
        }
    }
}

static void apr__dequant_q6_K(const void *src, float *y, int64_t n) {
    const apr__block_q6_K *x = (const apr__block_q6_K *)src;
    for (int64_t i = 0; i < n / 256; i++) {
        const float d = apr__fp16_to_fp32(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int k = 0; k < 256; k += 128, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * (float)sc[is] * (float)q1;
                y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}

static void apr__dequant_q8_K(const void *src, float *y, int64_t n) {
    const apr__block_q8_K *x = (const apr__block_q8_K *)src;
    for (int64_t i = 0; i < n / 256; i++)
        for (int j = 0; j < 256; j++) *y++ = x[i].d * (float)x[i].qs[j];
}

static void apr__dequant_iq4_nl(const void *src, float *y, int64_t n) {
    const apr__block_iq4_nl *x = (const apr__block_iq4_nl *)src;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const float d = apr__fp16_to_fp32(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)apr__iq4nl_values[x[i].qs[j] & 0xf];
            y[j + 16] = d * (float)apr__iq4nl_values[x[i].qs[j] >> 4];
        }
    }
}

static void apr__dequant_iq4_xs(const void *src, float *y, int64_t n) {
    const apr__block_iq4_xs *x = (const apr__block_iq4_xs *)src;
    for (int64_t i = 0; i < n / 256; i++) {
        const float d = apr__fp16_to_fp32(x[i].d);
        const uint8_t *qs = x[i].qs;
        for (int ib = 0; ib < 8; ib++, y += 32, qs += 16) {
            const float dl = d * (float)apr__iq4xs_scale(&x[i], ib);
            for (int j = 0; j < 16; j++) {
                y[j] = dl * (float)apr__iq4nl_values[qs[j] & 0xf];
                y[j + 16] = dl * (float)apr__iq4nl_values[qs[j] >> 4];
            }
        }
    }
}

/* ---- activation quantization: scalar reference ---------------------------------------
   Round to nearest even (as the SIMD conversions do), scale = amax/127, so every value
   lies in [-127, 127] (the AVX2 sign trick needs no -128). */

static inline int apr__round_i(float x) {
    if (!(x >= -127.5f && x <= 127.5f)) return x > 0 ? 127 : x < 0 ? -127 : 0; /* NaN/inf: no UB */
    return (int)nearbyintf(x);
}

static void apr__quantize_q8_0_ref(const float *x, void *dst, int64_t n) {
    apr__block_q8_0 *y = (apr__block_q8_0 *)dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = APR__MAX(amax, fabsf(x[j]));
        const float d = amax / 127.0f, id = amax != 0 ? 127.0f / amax : 0.0f;
        y[i].d = apr__fp32_to_fp16(d);
        for (int j = 0; j < 32; j++) y[i].qs[j] = (int8_t)apr__round_i(x[j] * id);
    }
    apr__q8_0_write_scales(dst, n);
}

static void apr__quantize_q8_1_ref(const float *x, void *dst, int64_t n) {
    apr__block_q8_1 *y = (apr__block_q8_1 *)dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = APR__MAX(amax, fabsf(x[j]));
        const float d = amax / 127.0f, id = amax != 0 ? 127.0f / amax : 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            y[i].qs[j] = (int8_t)apr__round_i(x[j] * id);
            sum += y[i].qs[j];
        }
        y[i].d = apr__fp32_to_fp16(d);
        y[i].s = apr__fp32_to_fp16((float)sum * d);
    }
}

static void apr__quantize_q8_K_ref(const float *x, void *dst, int64_t n) {
    apr__block_q8_K *y = (apr__block_q8_K *)dst;
    for (int64_t i = 0; i < n / 256; i++, x += 256) {
        float amax = 0;
        for (int j = 0; j < 256; j++) amax = APR__MAX(amax, fabsf(x[j]));
        const float id = amax != 0 ? 127.0f / amax : 0.0f;
        y[i].d = amax / 127.0f;
        for (int j = 0; j < 256; j++) y[i].qs[j] = (int8_t)apr__round_i(x[j] * id);
        for (int j = 0; j < 16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++) s += y[i].qs[16 * j + l];
            y[i].bsums[j] = (int16_t)s;
        }
    }
}

static void apr__quantize_f32_copy(const float *x, void *dst, int64_t n) { memcpy(dst, x, (size_t)n * 4); }

/* ---- dot products: scalar reference --------------------------------------------------
   A vec_dot multiplies one weight row with one activation row of n elements. The integer
   sums per block are exact; SIMD versions compute the same integers. */

typedef void (*apr__vec_dot_fn)(int64_t n, float *out, const void *w_row, const void *act);
/* one weight row times nt (1..4) activation rows act + t*act_stride: res[t] */
typedef void (*apr__tile_fn)(int64_t n, const void *w_row, const uint8_t *act, size_t act_stride, int nt, float *res);
/* two weight rows (w, w + w_stride) times nt activation rows: res[r * 4 + t] */
typedef void (*apr__tile2_fn)(int64_t n, const void *w, size_t w_stride, const uint8_t *act, size_t act_stride, int nt, float *res);

#if defined(__GNUC__) || defined(__clang__)
#define APR__INLINE inline __attribute__((always_inline))
/* the token loops of the tiles must unroll so that their accumulators live in registers */
#define APR__UNROLL _Pragma("GCC unroll 8")
#else
#define APR__INLINE __forceinline
#define APR__UNROLL
#endif

static void apr__vec_dot_f32_ref(int64_t n, float *out, const void *w, const void *a) {
    const float *x = (const float *)w, *y = (const float *)a;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * (double)y[i];
    *out = (float)s;
}

static void apr__vec_dot_f16_ref(int64_t n, float *out, const void *w, const void *a) {
    const uint8_t *x = (const uint8_t *)w;
    const float *y = (const float *)a;
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h; memcpy(&h, x + 2 * i, 2);
        s += (double)apr__fp16_to_fp32(h) * (double)y[i];
    }
    *out = (float)s;
}

static void apr__vec_dot_bf16_ref(int64_t n, float *out, const void *w, const void *a) {
    const uint8_t *x = (const uint8_t *)w;
    const float *y = (const float *)a;
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h; memcpy(&h, x + 2 * i, 2);
        s += (double)apr__bf16_to_fp32(h) * (double)y[i];
    }
    *out = (float)s;
}

static void apr__vec_dot_q4_0_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_q4_0 *x = (const apr__block_q4_0 *)w;
    const apr__block_q8_0 *y = (const apr__block_q8_0 *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++)
            sumi += ((x[i].qs[j] & 0xF) - 8) * y[i].qs[j] + ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
        s += apr__fp16_to_fp32(x[i].d) * apr__fp16_to_fp32(y[i].d) * (float)sumi;
    }
    *out = s;
}

static void apr__vec_dot_q4_1_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_q4_1 *x = (const apr__block_q4_1 *)w;
    const apr__block_q8_1 *y = (const apr__block_q8_1 *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++)
            sumi += (x[i].qs[j] & 0xF) * y[i].qs[j] + (x[i].qs[j] >> 4) * y[i].qs[j + 16];
        s += apr__fp16_to_fp32(x[i].d) * apr__fp16_to_fp32(y[i].d) * (float)sumi +
             apr__fp16_to_fp32(x[i].m) * apr__fp16_to_fp32(y[i].s);
    }
    *out = s;
}

static void apr__vec_dot_q5_0_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_q5_0 *x = (const apr__block_q5_0 *)w;
    const apr__block_q8_0 *y = (const apr__block_q8_0 *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        uint32_t qh; memcpy(&qh, x[i].qh, 4);
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            int h0 = (int)((qh >> j) << 4) & 0x10, h1 = (int)(qh >> (j + 12)) & 0x10;
            sumi += (((x[i].qs[j] & 0xF) | h0) - 16) * y[i].qs[j] + (((x[i].qs[j] >> 4) | h1) - 16) * y[i].qs[j + 16];
        }
        s += apr__fp16_to_fp32(x[i].d) * apr__fp16_to_fp32(y[i].d) * (float)sumi;
    }
    *out = s;
}

static void apr__vec_dot_q5_1_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_q5_1 *x = (const apr__block_q5_1 *)w;
    const apr__block_q8_1 *y = (const apr__block_q8_1 *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        uint32_t qh; memcpy(&qh, x[i].qh, 4);
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            int h0 = (int)((qh >> j) << 4) & 0x10, h1 = (int)(qh >> (j + 12)) & 0x10;
            sumi += ((x[i].qs[j] & 0xF) | h0) * y[i].qs[j] + ((x[i].qs[j] >> 4) | h1) * y[i].qs[j + 16];
        }
        s += apr__fp16_to_fp32(x[i].d) * apr__fp16_to_fp32(y[i].d) * (float)sumi +
             apr__fp16_to_fp32(x[i].m) * apr__fp16_to_fp32(y[i].s);
    }
    *out = s;
}

static void apr__vec_dot_q8_0_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_q8_0 *x = (const apr__block_q8_0 *)w;
    const apr__block_q8_0 *y = (const apr__block_q8_0 *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        int sumi = 0;
        for (int j = 0; j < 32; j++) sumi += x[i].qs[j] * y[i].qs[j];
        s += apr__fp16_to_fp32(x[i].d) * apr__fp16_to_fp32(y[i].d) * (float)sumi;
    }
    *out = s;
}

static void apr__vec_dot_iq4_nl_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_iq4_nl *x = (const apr__block_iq4_nl *)w;
    const apr__block_q8_0 *y = (const apr__block_q8_0 *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++)
            sumi += apr__iq4nl_values[x[i].qs[j] & 0xf] * y[i].qs[j] + apr__iq4nl_values[x[i].qs[j] >> 4] * y[i].qs[j + 16];
        s += apr__fp16_to_fp32(x[i].d) * apr__fp16_to_fp32(y[i].d) * (float)sumi;
    }
    *out = s;
}

static void apr__vec_dot_q2_K_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_q2_K *x = (const apr__block_q2_K *)w;
    const apr__block_q8_K *y = (const apr__block_q8_K *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        const uint8_t *q2 = x[i].qs;
        const int8_t *q8 = y[i].qs;
        int summ = 0, sumi = 0, is = 0;
        for (int j = 0; j < 16; j++) summ += y[i].bsums[j] * (x[i].scales[j] >> 4);
        for (int k = 0; k < 2; k++, q2 += 32) {
            for (int shift = 0; shift < 8; shift += 2, q8 += 32) {
                for (int half = 0; half < 2; half++) {
                    int t = 0;
                    for (int l = 16 * half; l < 16 * half + 16; l++) t += q8[l] * ((q2[l] >> shift) & 3);
                    sumi += (x[i].scales[is++] & 0xF) * t;
                }
            }
        }
        s += y[i].d * apr__fp16_to_fp32(x[i].d) * (float)sumi - y[i].d * apr__fp16_to_fp32(x[i].dmin) * (float)summ;
    }
    *out = s;
}

static void apr__vec_dot_q3_K_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_q3_K *x = (const apr__block_q3_K *)w;
    const apr__block_q8_K *y = (const apr__block_q8_K *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        int8_t sc[16];
        apr__q3k_scales(x[i].scales, sc);
        const uint8_t *q3 = x[i].qs, *hm = x[i].hmask;
        const int8_t *q8 = y[i].qs;
        int sumi = 0, is = 0;
        uint8_t m = 1;
        for (int k = 0; k < 2; k++, q3 += 32) {
            for (int shift = 0; shift < 8; shift += 2, m = (uint8_t)(m << 1), q8 += 32) {
                for (int half = 0; half < 2; half++) {
                    int t = 0;
                    for (int l = 16 * half; l < 16 * half + 16; l++)
                        t += q8[l] * (((q3[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
                    sumi += sc[is++] * t;
                }
            }
        }
        s += y[i].d * apr__fp16_to_fp32(x[i].d) * (float)sumi;
    }
    *out = s;
}

/* Q4_K / Q5_K: the 8 scales and mins of a super-block, unpacked. */
static inline void apr__k4_scales(const uint8_t *packed, uint8_t sc[8], uint8_t m[8]) {
    for (int j = 0; j < 8; j++) apr__scale_min_k4(j, packed, &sc[j], &m[j]);
}

/* Q4_K / Q5_K scales and mins, 6 bits each, unpacked to 8 + 8 bytes. */
static inline void apr__k4_unpack(const uint8_t *packed, uint32_t u[4]) {
    memcpy(u, packed, 12);
    u[3] = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);
    const uint32_t t = u[1] & 0x3f3f3f3fu;
    u[1] = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);
    u[2] = t;
    u[0] &= 0x3f3f3f3fu;
}

static void apr__vec_dot_q4_K_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_q4_K *x = (const apr__block_q4_K *)w;
    const apr__block_q8_K *y = (const apr__block_q8_K *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        uint8_t sc[8], mn[8];
        apr__k4_scales(x[i].scales, sc, mn);
        const uint8_t *q4 = x[i].qs;
        const int8_t *q8 = y[i].qs;
        int sumi = 0, summ = 0;
        for (int j = 0; j < 8; j++) summ += mn[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        for (int j = 0; j < 8; j += 2, q4 += 32, q8 += 64) {
            int t0 = 0, t1 = 0;
            for (int l = 0; l < 32; l++) {
                t0 += (q4[l] & 0xF) * q8[l];
                t1 += (q4[l] >> 4) * q8[l + 32];
            }
            sumi += sc[j] * t0 + sc[j + 1] * t1;
        }
        s += y[i].d * apr__fp16_to_fp32(x[i].d) * (float)sumi - y[i].d * apr__fp16_to_fp32(x[i].dmin) * (float)summ;
    }
    *out = s;
}

static void apr__vec_dot_q5_K_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_q5_K *x = (const apr__block_q5_K *)w;
    const apr__block_q8_K *y = (const apr__block_q8_K *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        uint8_t sc[8], mn[8];
        apr__k4_scales(x[i].scales, sc, mn);
        const uint8_t *q5 = x[i].qs, *qh = x[i].qh;
        const int8_t *q8 = y[i].qs;
        int sumi = 0, summ = 0;
        for (int j = 0; j < 8; j++) summ += mn[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        for (int j = 0; j < 8; j += 2, q5 += 32, q8 += 64) {
            int t0 = 0, t1 = 0;
            for (int l = 0; l < 32; l++) {
                t0 += ((q5[l] & 0xF) | (((qh[l] >> j) & 1) << 4)) * q8[l];
                t1 += ((q5[l] >> 4) | (((qh[l] >> (j + 1)) & 1) << 4)) * q8[l + 32];
            }
            sumi += sc[j] * t0 + sc[j + 1] * t1;
        }
        s += y[i].d * apr__fp16_to_fp32(x[i].d) * (float)sumi - y[i].d * apr__fp16_to_fp32(x[i].dmin) * (float)summ;
    }
    *out = s;
}

static void apr__vec_dot_q6_K_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_q6_K *x = (const apr__block_q6_K *)w;
    const apr__block_q8_K *y = (const apr__block_q8_K *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales, *q8 = y[i].qs;
        int sumi = 0;
        for (int k = 0; k < 2; k++, ql += 64, qh += 32, sc += 8, q8 += 128) {
            int t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                t[is + 0] += q1 * q8[l];
                t[is + 2] += q2 * q8[l + 32];
                t[is + 4] += q3 * q8[l + 64];
                t[is + 6] += q4 * q8[l + 96];
            }
            for (int j = 0; j < 8; j++) sumi += sc[j] * t[j];
        }
        s += y[i].d * apr__fp16_to_fp32(x[i].d) * (float)sumi;
    }
    *out = s;
}

static void apr__vec_dot_iq4_xs_ref(int64_t n, float *out, const void *w, const void *a) {
    const apr__block_iq4_xs *x = (const apr__block_iq4_xs *)w;
    const apr__block_q8_K *y = (const apr__block_q8_K *)a;
    float s = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        const uint8_t *qs = x[i].qs;
        const int8_t *q8 = y[i].qs;
        int sumi = 0;
        for (int ib = 0; ib < 8; ib++, qs += 16, q8 += 32) {
            int t = 0;
            for (int j = 0; j < 16; j++)
                t += apr__iq4nl_values[qs[j] & 0xf] * q8[j] + apr__iq4nl_values[qs[j] >> 4] * q8[j + 16];
            sumi += apr__iq4xs_scale(&x[i], ib) * t;
        }
        s += y[i].d * apr__fp16_to_fp32(x[i].d) * (float)sumi;
    }
    *out = s;
}

/* ---- AVX2 kernels ----------------------------------------------------------------------
   Weights are expanded to unsigned bytes (0..15, 0..31, 0..63) and multiplied with the
   signed int8 activations by maddubs (u8 x s8 -> s16 pairs) and madd (-> s32). Offsets
   (the -8 of Q4_0, the -16 of Q5_0, the -32 of Q6_K) are taken off afterwards with the
   activation sums, so the integer result equals the scalar reference's exactly. Signed
   weights (Q8_0, IQ4) use the sign trick: |w| * (a * sign(w)). Activations never hold
   -128, so no pair sum saturates. */

#if defined(APR__HAVE_X86_SIMD)

APR__TARGET_AVX2 static inline float apr__hsum_f32x8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

APR__TARGET_AVX2 static inline int apr__hsum_i32x8(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

APR__TARGET_AVX2 static inline float apr__h2f(uint16_t h) {
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

/* 16 bytes of packed nibbles -> 32 bytes: low nibbles (elements 0..15), then high. */
APR__TARGET_AVX2 static inline __m256i apr__nibbles_x32(const uint8_t *p) {
    __m128i t = _mm_loadu_si128((const __m128i *)p);
    __m256i b = _mm256_insertf128_si256(_mm256_castsi128_si256(t), _mm_srli_epi16(t, 4), 1);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0F));
}

/* 32 bits -> 32 bytes: 0xFF where the bit is set. */
APR__TARGET_AVX2 static inline __m256i apr__bits_x32(const uint8_t *p) {
    uint32_t x;
    memcpy(&x, p, 4);
    const __m256i spread = _mm256_setr_epi64x(0, 0x0101010101010101ll, 0x0202020202020202ll, 0x0303030303030303ll);
    __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), spread);
    b = _mm256_or_si256(b, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfell));
    return _mm256_cmpeq_epi8(b, _mm256_set1_epi64x(-1));
}

/* sum of products of unsigned u and signed s bytes, as 8 int32 */
APR__TARGET_AVX2 static inline __m256i apr__dot_us_x32(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* sum of products of two signed byte vectors (w may hold -128, a may not) */
APR__TARGET_AVX2 static inline __m256i apr__dot_ss_x32(__m256i w, __m256i a) {
    return apr__dot_us_x32(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
}

APR__TARGET_AVX2 static void apr__vec_dot_f32_avx2(int64_t n, float *out, const void *w, const void *a) {
    const float *x = (const float *)w, *y = (const float *)a;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), acc3);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
    float s = apr__hsum_f32x8(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++) s += x[i] * y[i];
    *out = s;
}

APR__TARGET_AVX2 static void apr__vec_dot_f16_avx2(int64_t n, float *out, const void *w, const void *a) {
    const uint16_t *x = (const uint16_t *)w;
    const float *y = (const float *)a;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    int64_t i = 0;
#define APR__F16X8(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(APR__F16X8(x + i), _mm256_loadu_ps(y + i), acc0);
        acc1 = _mm256_fmadd_ps(APR__F16X8(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(APR__F16X8(x + i + 16), _mm256_loadu_ps(y + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(APR__F16X8(x + i + 24), _mm256_loadu_ps(y + i + 24), acc3);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(APR__F16X8(x + i), _mm256_loadu_ps(y + i), acc0);
#undef APR__F16X8
    float s = apr__hsum_f32x8(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++) { uint16_t h; memcpy(&h, x + i, 2); s += apr__fp16_to_fp32(h) * y[i]; }
    *out = s;
}

APR__TARGET_AVX2 static void apr__vec_dot_bf16_avx2(int64_t n, float *out, const void *w, const void *a) {
    const uint16_t *x = (const uint16_t *)w;
    const float *y = (const float *)a;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
#define APR__BF16X8(p) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(APR__BF16X8(x + i), _mm256_loadu_ps(y + i), acc0);
        acc1 = _mm256_fmadd_ps(APR__BF16X8(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(APR__BF16X8(x + i), _mm256_loadu_ps(y + i), acc0);
#undef APR__BF16X8
    float s = apr__hsum_f32x8(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) { uint16_t h; memcpy(&h, x + i, 2); s += apr__bf16_to_fp32(h) * y[i]; }
    *out = s;
}

/* Blocks of 32 against Q8_0: the block's integer dot as 8 int32 lanes. */
APR__TARGET_AVX2 static inline __m256i apr__q4_0_dot_x32(const apr__block_q4_0 *x, __m256i a) {
    __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(apr__nibbles_x32(x->qs), a),
                                 _mm256_maddubs_epi16(_mm256_set1_epi8(8), a));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}
APR__TARGET_AVX2 static inline __m256i apr__q5_0_dot_x32(const apr__block_q5_0 *x, __m256i a) {
    __m256i q = _mm256_or_si256(apr__nibbles_x32(x->qs), _mm256_and_si256(apr__bits_x32(x->qh), _mm256_set1_epi8(0x10)));
    __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q, a), _mm256_maddubs_epi16(_mm256_set1_epi8(16), a));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}
APR__TARGET_AVX2 static inline __m256i apr__q8_0_dot_x32(const apr__block_q8_0 *x, __m256i a) {
    return apr__dot_ss_x32(_mm256_loadu_si256((const __m256i *)x->qs), a);
}
APR__TARGET_AVX2 static inline __m256i apr__iq4_nl_dot_x32(const apr__block_iq4_nl *x, __m256i a) {
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)apr__iq4nl_values));
    return apr__dot_ss_x32(_mm256_shuffle_epi8(table, apr__nibbles_x32(x->qs)), a);
}

/* One kernel per 32-block type: two independent accumulators hide the FMA latency. */
#define APR__DEFINE_DOT32_AVX2(NAME, BLOCK, DOTFN)                                              \
    APR__TARGET_AVX2 static void NAME(int64_t n, float *out, const void *w, const void *act) {  \
        const BLOCK *x = (const BLOCK *)w;                                                      \
        const apr__block_q8_0 *y = (const apr__block_q8_0 *)act;                                \
        const int64_t nb = n / 32;                                                              \
        const float *sa = apr__q8_0_act_scales(act, n);                                         \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();                          \
        int64_t i = 0;                                                                          \
        for (; i + 2 <= nb; i += 2) {                                                           \
            __m256i s0 = DOTFN(&x[i], _mm256_loadu_si256((const __m256i *)y[i].qs));            \
            __m256i s1 = DOTFN(&x[i + 1], _mm256_loadu_si256((const __m256i *)y[i + 1].qs));    \
            __m256 d0 = _mm256_set1_ps(apr__h2f(x[i].d) * sa[i]);                               \
            __m256 d1 = _mm256_set1_ps(apr__h2f(x[i + 1].d) * sa[i + 1]);                       \
            acc0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(s0), acc0);                           \
            acc1 = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(s1), acc1);                           \
        }                                                                                       \
        for (; i < nb; i++) {                                                                   \
            __m256i s0 = DOTFN(&x[i], _mm256_loadu_si256((const __m256i *)y[i].qs));            \
            __m256 d0 = _mm256_set1_ps(apr__h2f(x[i].d) * sa[i]);                               \
            acc0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(s0), acc0);                           \
        }                                                                                       \
        *out = apr__hsum_f32x8(_mm256_add_ps(acc0, acc1));                                      \
    }

APR__DEFINE_DOT32_AVX2(apr__vec_dot_q4_0_avx2, apr__block_q4_0, apr__q4_0_dot_x32)
APR__DEFINE_DOT32_AVX2(apr__vec_dot_q5_0_avx2, apr__block_q5_0, apr__q5_0_dot_x32)
APR__DEFINE_DOT32_AVX2(apr__vec_dot_q8_0_avx2, apr__block_q8_0, apr__q8_0_dot_x32)
APR__DEFINE_DOT32_AVX2(apr__vec_dot_iq4_nl_avx2, apr__block_iq4_nl, apr__iq4_nl_dot_x32)

/* Q4_1 / Q5_1 against Q8_1: unsigned weights, so no offset; the min meets the block sum. */
APR__TARGET_AVX2 static void apr__vec_dot_q4_1_avx2(int64_t n, float *out, const void *w, const void *act) {
    const apr__block_q4_1 *x = (const apr__block_q4_1 *)w;
    const apr__block_q8_1 *y = (const apr__block_q8_1 *)act;
    __m256 acc = _mm256_setzero_ps();
    float sm = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        __m256i s = apr__dot_us_x32(apr__nibbles_x32(x[i].qs), _mm256_loadu_si256((const __m256i *)y[i].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(apr__h2f(x[i].d) * apr__h2f(y[i].d)), _mm256_cvtepi32_ps(s), acc);
        sm += apr__h2f(x[i].m) * apr__h2f(y[i].s);
    }
    *out = apr__hsum_f32x8(acc) + sm;
}

APR__TARGET_AVX2 static void apr__vec_dot_q5_1_avx2(int64_t n, float *out, const void *w, const void *act) {
    const apr__block_q5_1 *x = (const apr__block_q5_1 *)w;
    const apr__block_q8_1 *y = (const apr__block_q8_1 *)act;
    __m256 acc = _mm256_setzero_ps();
    float sm = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        __m256i q = _mm256_or_si256(apr__nibbles_x32(x[i].qs), _mm256_and_si256(apr__bits_x32(x[i].qh), _mm256_set1_epi8(0x10)));
        __m256i s = apr__dot_us_x32(q, _mm256_loadu_si256((const __m256i *)y[i].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(apr__h2f(x[i].d) * apr__h2f(y[i].d)), _mm256_cvtepi32_ps(s), acc);
        sm += apr__h2f(x[i].m) * apr__h2f(y[i].s);
    }
    *out = apr__hsum_f32x8(acc) + sm;
}


/* sum over j of mins[j] * (bsums[2j] + bsums[2j+1]) */
APR__TARGET_AVX2 static inline int apr__k4_min_sum(const uint32_t u[4], const int16_t *bsums) {
    __m128i bs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)bsums), _mm_loadu_si128((const __m128i *)(bsums + 8)));
    __m128i mins = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)u[3], (int)u[2]));
    __m128i p = _mm_madd_epi16(bs, mins);
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0x4e));
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0xb1));
    return _mm_cvtsi128_si32(p);
}

/* int16 scale pairs for 16-element groups g and g+1 of a 16-scale block (Q6_K, Q3_K). */
APR__TARGET_AVX2 static inline __m256i apr__scale_pair16(__m128i sc8, int g) {
    const __m128i idx = _mm_add_epi8(_mm_set1_epi8((char)g), _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
    return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc8, idx));
}

/* Activation quantizers: the same float operations as the scalar ones (max of |x|,
   x * (127/amax), round to nearest even), so the bytes are identical. */
APR__TARGET_AVX2 static inline __m256i apr__round_pack_x32(const float *x, __m256 id) {
    __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), id));
    __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8), id));
    __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16), id));
    __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 24), id));
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

APR__TARGET_AVX2 static inline float apr__amax_f32(const float *x, int n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < n; j += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

APR__TARGET_AVX2 static void apr__quantize_q8_0_avx2(const float *x, void *dst, int64_t n) {
    apr__block_q8_0 *y = (apr__block_q8_0 *)dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        const float amax = apr__amax_f32(x, 32);
        const float id = amax != 0 ? 127.0f / amax : 0.0f;
        y[i].d = apr__fp32_to_fp16(amax / 127.0f);
        _mm256_storeu_si256((__m256i *)y[i].qs, apr__round_pack_x32(x, _mm256_set1_ps(id)));
    }
    apr__q8_0_write_scales(dst, n);
}

APR__TARGET_AVX2 static void apr__quantize_q8_1_avx2(const float *x, void *dst, int64_t n) {
    apr__block_q8_1 *y = (apr__block_q8_1 *)dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        const float amax = apr__amax_f32(x, 32);
        const float d = amax / 127.0f;
        const __m256i q = apr__round_pack_x32(x, _mm256_set1_ps(amax != 0 ? 127.0f / amax : 0.0f));
        _mm256_storeu_si256((__m256i *)y[i].qs, q);
        const int sum = apr__hsum_i32x8(_mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1)));
        y[i].d = apr__fp32_to_fp16(d);
        y[i].s = apr__fp32_to_fp16((float)sum * d);
    }
}

APR__TARGET_AVX2 static void apr__quantize_q8_K_avx2(const float *x, void *dst, int64_t n) {
    apr__block_q8_K *y = (apr__block_q8_K *)dst;
    for (int64_t i = 0; i < n / 256; i++, x += 256) {
        const float amax = apr__amax_f32(x, 256);
        const __m256 id = _mm256_set1_ps(amax != 0 ? 127.0f / amax : 0.0f);
        y[i].d = amax / 127.0f;
        for (int j = 0; j < 8; j++) {
            __m256i q = apr__round_pack_x32(x + 32 * j, id);
            _mm256_storeu_si256((__m256i *)(y[i].qs + 32 * j), q);
            /* two sums of 16: maddubs with ones gives pair sums, madd folds to 4+4 int32 */
            __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
            s = _mm256_hadd_epi32(s, s);
            s = _mm256_hadd_epi32(s, s);
            y[i].bsums[2 * j] = (int16_t)_mm256_extract_epi32(s, 0);
            y[i].bsums[2 * j + 1] = (int16_t)_mm256_extract_epi32(s, 4);
        }
    }
}

#endif /* APR__HAVE_X86_SIMD */

/* ---- AVX2 tiles for apr__gemm_rows: one weight row x up to 4 tokens --------------------
   Each weight block is decoded once and multiplied with the 4 tokens' activations, so
   the unpacking cost (nibbles, high bits, scales) is shared. The integer sums are the
   vec_dot ones; only the float accumulation order differs. */

#if defined(APR__HAVE_X86_SIMD)

/* kind: 0 Q4_0, 1 Q5_0, 2 Q8_0, 3 IQ4_NL (the Q8_0-activation types) */
APR__TARGET_AVX2 static APR__INLINE void apr__tile32_avx2(const int kind, const int NT, int64_t n, const void *w_row,
                                                           const uint8_t *act, size_t act_stride, float *res) {
    const int64_t nb = n / 32;
    __m256 acc[4];
    APR__UNROLL
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)apr__iq4nl_values));
    const __m256i off = _mm256_set1_epi8(kind == 0 ? 8 : 16);
    const uint8_t *wb = (const uint8_t *)w_row;
    const size_t bsz = kind == 0 ? 18 : kind == 1 ? 22 : kind == 2 ? 34 : 18;
    for (int64_t i = 0; i < nb; i++, wb += bsz) {
        uint16_t dh;
        memcpy(&dh, wb, 2);
        __m256i q, sg = _mm256_setzero_si256();
        if (kind == 0) {
            q = apr__nibbles_x32(wb + 2);
        } else if (kind == 1) {
            q = _mm256_or_si256(apr__nibbles_x32(wb + 6), _mm256_and_si256(apr__bits_x32(wb + 2), _mm256_set1_epi8(0x10)));
        } else {
            sg = kind == 2 ? _mm256_loadu_si256((const __m256i *)(wb + 2)) : _mm256_shuffle_epi8(table, apr__nibbles_x32(wb + 2));
            q = _mm256_sign_epi8(sg, sg);
        }
        const float dw = apr__h2f(dh);
        APR__UNROLL
        for (int t = 0; t < NT; t++) {
            const apr__block_q8_0 *y = (const apr__block_q8_0 *)(act + (size_t)t * act_stride) + i;
            const __m256i a = _mm256_loadu_si256((const __m256i *)y->qs);
            __m256i p;
            if (kind <= 1) p = _mm256_sub_epi16(_mm256_maddubs_epi16(q, a), _mm256_maddubs_epi16(off, a));
            else p = _mm256_maddubs_epi16(q, _mm256_sign_epi8(a, sg));
            const __m256i s = _mm256_madd_epi16(p, _mm256_set1_epi16(1));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * apr__q8_0_act_scales(act + (size_t)t * act_stride, n)[i]),
                                     _mm256_cvtepi32_ps(s), acc[t]);
        }
    }
    APR__UNROLL
    for (int t = 0; t < NT; t++) res[t] = apr__hsum_f32x8(acc[t]);
}

/* Two rows x NT tokens of a 32-block type: the rows share each activation load and, for
   Q4_0/Q5_0, the offset term maddubs(8 or 16, a). res[r * 4 + t]. */
APR__TARGET_AVX2 static APR__INLINE void apr__tile32x2_avx2(const int kind, const int NT, int64_t n, const void *w_row,
                                                             size_t w_stride, const uint8_t *act, size_t act_stride,
                                                             float *res) {
    const int64_t nb = n / 32;
    __m256 acc0[4], acc1[4];
    APR__UNROLL
    for (int t = 0; t < NT; t++) { acc0[t] = _mm256_setzero_ps(); acc1[t] = _mm256_setzero_ps(); }
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)apr__iq4nl_values));
    const __m256i off = _mm256_set1_epi8(kind == 0 ? 8 : 16), ones = _mm256_set1_epi16(1);
    const uint8_t *wb0 = (const uint8_t *)w_row, *wb1 = wb0 + w_stride;
    const size_t bsz = kind == 0 ? 18 : kind == 1 ? 22 : kind == 2 ? 34 : 18;
    for (int64_t i = 0; i < nb; i++, wb0 += bsz, wb1 += bsz) {
        uint16_t dh0, dh1;
        memcpy(&dh0, wb0, 2);
        memcpy(&dh1, wb1, 2);
        __m256i q0, q1, sg0 = _mm256_setzero_si256(), sg1 = _mm256_setzero_si256();
        if (kind == 0) {
            q0 = apr__nibbles_x32(wb0 + 2);
            q1 = apr__nibbles_x32(wb1 + 2);
        } else if (kind == 1) {
            q0 = _mm256_or_si256(apr__nibbles_x32(wb0 + 6), _mm256_and_si256(apr__bits_x32(wb0 + 2), _mm256_set1_epi8(0x10)));
            q1 = _mm256_or_si256(apr__nibbles_x32(wb1 + 6), _mm256_and_si256(apr__bits_x32(wb1 + 2), _mm256_set1_epi8(0x10)));
        } else {
            sg0 = kind == 2 ? _mm256_loadu_si256((const __m256i *)(wb0 + 2)) : _mm256_shuffle_epi8(table, apr__nibbles_x32(wb0 + 2));
            sg1 = kind == 2 ? _mm256_loadu_si256((const __m256i *)(wb1 + 2)) : _mm256_shuffle_epi8(table, apr__nibbles_x32(wb1 + 2));
            q0 = _mm256_sign_epi8(sg0, sg0);
            q1 = _mm256_sign_epi8(sg1, sg1);
        }
        const float dw0 = apr__h2f(dh0), dw1 = apr__h2f(dh1);
        APR__UNROLL
        for (int t = 0; t < NT; t++) {
            const apr__block_q8_0 *y = (const apr__block_q8_0 *)(act + (size_t)t * act_stride) + i;
            const __m256i a = _mm256_loadu_si256((const __m256i *)y->qs);
            __m256i p0, p1;
            if (kind <= 1) {
                const __m256i o = _mm256_maddubs_epi16(off, a);
                p0 = _mm256_sub_epi16(_mm256_maddubs_epi16(q0, a), o);
                p1 = _mm256_sub_epi16(_mm256_maddubs_epi16(q1, a), o);
            } else {
                p0 = _mm256_maddubs_epi16(q0, _mm256_sign_epi8(a, sg0));
                p1 = _mm256_maddubs_epi16(q1, _mm256_sign_epi8(a, sg1));
            }
            const float da = apr__q8_0_act_scales(act + (size_t)t * act_stride, n)[i];
            acc0[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw0 * da), _mm256_cvtepi32_ps(_mm256_madd_epi16(p0, ones)), acc0[t]);
            acc1[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw1 * da), _mm256_cvtepi32_ps(_mm256_madd_epi16(p1, ones)), acc1[t]);
        }
    }
    APR__UNROLL
    for (int t = 0; t < NT; t++) {
        res[t] = apr__hsum_f32x8(acc0[t]);
        res[4 + t] = apr__hsum_f32x8(acc1[t]);
    }
}

/* kind: 0 Q4_K, 1 Q5_K */
APR__TARGET_AVX2 static APR__INLINE void apr__tile_k45_avx2(const int kind, const int NT, int64_t n, const void *w_row,
                                                             const uint8_t *act, size_t act_stride, float *res) {
    __m256 acc[4];
    float accm[4];
    APR__UNROLL
    for (int t = 0; t < NT; t++) { acc[t] = _mm256_setzero_ps(); accm[t] = 0; }
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < n / 256; i++) {
        const uint8_t *scales, *qs, *qh = NULL;
        uint16_t dh, dmh;
        if (kind == 0) {
            const apr__block_q4_K *x = (const apr__block_q4_K *)w_row + i;
            scales = x->scales; qs = x->qs; dh = x->d; dmh = x->dmin;
        } else {
            const apr__block_q5_K *x = (const apr__block_q5_K *)w_row + i;
            scales = x->scales; qs = x->qs; qh = x->qh; dh = x->d; dmh = x->dmin;
        }
        uint32_t u[4];
        apr__k4_unpack(scales, u);
        const float dw = apr__h2f(dh), dmw = apr__h2f(dmh);
        const __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)u[1], (int)u[0])));
        const __m256i hb = kind == 1 ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
        __m256i sumi[4];
        APR__UNROLL
        for (int t = 0; t < NT; t++) {
            const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride) + i;
            accm[t] += y->d * dmw * (float)apr__k4_min_sum(u, y->bsums);
            sumi[t] = _mm256_setzero_si256();
        }
        APR__UNROLL
        for (int j = 0; j < 4; j++) {
            const __m256i scl = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(((4 * j + 1) << 8) | (4 * j))));
            const __m256i sch = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(((4 * j + 3) << 8) | (4 * j + 2))));
            const __m256i qb = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
            __m256i ql = _mm256_and_si256(qb, m4), qhh = _mm256_and_si256(_mm256_srli_epi16(qb, 4), m4);
            if (kind == 1) {
                ql = _mm256_or_si256(ql, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), one), 4));
                qhh = _mm256_or_si256(qhh, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), one), 4));
            }
            APR__UNROLL
            for (int t = 0; t < NT; t++) {
                const int8_t *q8 = ((const apr__block_q8_K *)(act + (size_t)t * act_stride) + i)->qs + 64 * j;
                __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(ql, _mm256_loadu_si256((const __m256i *)q8)), scl);
                __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(qhh, _mm256_loadu_si256((const __m256i *)(q8 + 32))), sch);
                sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(pl, ph));
            }
        }
        APR__UNROLL
        for (int t = 0; t < NT; t++) {
            const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride) + i;
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(y->d * dw), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
        }
    }
    APR__UNROLL
    for (int t = 0; t < NT; t++) res[t] = apr__hsum_f32x8(acc[t]) - accm[t];
}

APR__TARGET_AVX2 static APR__INLINE void apr__tile6k_avx2(const int NT, int64_t n, const void *w_row,
                                                              const uint8_t *act, size_t act_stride, float *res) {
    __m256 acc[4];
    APR__UNROLL
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3);
    for (int64_t i = 0; i < n / 256; i++) {
        const apr__block_q6_K *x = (const apr__block_q6_K *)w_row + i;
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)x->scales);
        const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
        __m256i sumi[4];
        APR__UNROLL
        for (int t = 0; t < NT; t++) {
            const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride) + i;
            sumi[t] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                       _mm256_slli_epi32(_mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)y->bsums)), 5));
        }
        APR__UNROLL
        for (int k = 0; k < 2; k++) {
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * k));
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * k + 32));
            const __m256i h = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * k));
            __m256i q[4], s[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m3), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m3), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m3), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m3), 4));
            APR__UNROLL
            for (int g = 0; g < 4; g++) s[g] = apr__scale_pair16(sc8, 8 * k + 2 * g);
            APR__UNROLL
            for (int t = 0; t < NT; t++) {
                const int8_t *q8 = ((const apr__block_q8_K *)(act + (size_t)t * act_stride) + i)->qs + 128 * k;
                __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(q[0], _mm256_loadu_si256((const __m256i *)q8)), s[0]);
                __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q[1], _mm256_loadu_si256((const __m256i *)(q8 + 32))), s[1]);
                __m256i p2 = _mm256_madd_epi16(_mm256_maddubs_epi16(q[2], _mm256_loadu_si256((const __m256i *)(q8 + 64))), s[2]);
                __m256i p3 = _mm256_madd_epi16(_mm256_maddubs_epi16(q[3], _mm256_loadu_si256((const __m256i *)(q8 + 96))), s[3]);
                sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(_mm256_add_epi32(p0, p1), _mm256_add_epi32(p2, p3)));
            }
        }
        const float dw = apr__h2f(x->d);
        APR__UNROLL
        for (int t = 0; t < NT; t++) {
            const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride) + i;
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(y->d * dw), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
        }
    }
    APR__UNROLL
    for (int t = 0; t < NT; t++) res[t] = apr__hsum_f32x8(acc[t]);
}

/* F32/F16 weights: 4 tokens share each weight load and conversion. */
/* f16: 0 F32, 1 F16, 2 BF16 weights */
APR__TARGET_AVX2 static APR__INLINE void apr__tile_f_avx2(const int f16, const int NT, int64_t n, const void *w_row,
                                                           const uint8_t *act, size_t act_stride, float *res) {
    __m256 acc[4];
    APR__UNROLL
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h8 = _mm_loadu_si128((const __m128i *)((const uint16_t *)w_row + i));
        const __m256 wv = f16 == 1 ? _mm256_cvtph_ps(h8)
                          : f16 == 2 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h8), 16))
                                     : _mm256_loadu_ps((const float *)w_row + i);
        APR__UNROLL
        for (int t = 0; t < NT; t++)
            acc[t] = _mm256_fmadd_ps(wv, _mm256_loadu_ps((const float *)(act + (size_t)t * act_stride) + i), acc[t]);
    }
    APR__UNROLL
    for (int t = 0; t < NT; t++) {
        float s = apr__hsum_f32x8(acc[t]);
        const float *y = (const float *)(act + (size_t)t * act_stride);
        for (int64_t j = i; j < n; j++) {
            float wj;
            if (f16) {
                uint16_t h;
                memcpy(&h, (const uint16_t *)w_row + j, 2);
                wj = f16 == 1 ? apr__fp16_to_fp32(h) : apr__bf16_to_fp32(h);
            }
            else wj = ((const float *)w_row)[j];
            s += wj * y[j];
        }
        res[t] = s;
    }
}

/* kind: 0 Q2_K, 1 Q3_K, 2 IQ4_XS: 32-element groups with a per-16 (or per-32) scale */
APR__TARGET_AVX2 static APR__INLINE void apr__tile_k23_avx2(const int kind, const int NT, int64_t n, const void *w_row,
                                                             const uint8_t *act, size_t act_stride, float *res) {
    __m256 acc[4];
    float accm[4];
    APR__UNROLL
    for (int t = 0; t < NT; t++) { acc[t] = _mm256_setzero_ps(); accm[t] = 0; }
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)apr__iq4nl_values));
    for (int64_t i = 0; i < n / 256; i++) {
        __m256i sumi[4];
        __m128i sc8 = _mm_setzero_si128();
        __m256i qb[2], hm = _mm256_setzero_si256();
        float dw;
        const uint8_t *xq = NULL;
        const apr__block_iq4_xs *bx = NULL;
        if (kind == 0) {
            const apr__block_q2_K *x = (const apr__block_q2_K *)w_row + i;
            const __m128i raw = _mm_loadu_si128((const __m128i *)x->scales);
            sc8 = _mm_and_si128(raw, _mm_set1_epi8(0x0F));
            const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0F)));
            const float dmw = apr__h2f(x->dmin);
            APR__UNROLL
            for (int t = 0; t < NT; t++) {
                const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride) + i;
                accm[t] += y->d * dmw * (float)apr__hsum_i32x8(_mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)y->bsums)));
                sumi[t] = _mm256_setzero_si256();
            }
            xq = x->qs;
            dw = apr__h2f(x->d);
        } else if (kind == 1) {
            const apr__block_q3_K *x = (const apr__block_q3_K *)w_row + i;
            int8_t sc[16];
            apr__q3k_scales(x->scales, sc);
            sc8 = _mm_loadu_si128((const __m128i *)sc);
            const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
            APR__UNROLL
            for (int t = 0; t < NT; t++) {
                const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride) + i;
                sumi[t] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                           _mm256_slli_epi32(_mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)y->bsums)), 2));
            }
            hm = _mm256_loadu_si256((const __m256i *)x->hmask);
            xq = x->qs;
            dw = apr__h2f(x->d);
        } else {
            bx = (const apr__block_iq4_xs *)w_row + i;
            APR__UNROLL
            for (int t = 0; t < NT; t++) sumi[t] = _mm256_setzero_si256();
            dw = apr__h2f(bx->d);
        }
        if (kind <= 1) {
            qb[0] = _mm256_loadu_si256((const __m256i *)xq);
            qb[1] = _mm256_loadu_si256((const __m256i *)(xq + 32));
        }
        APR__UNROLL
        for (int g = 0; g < 8; g++) {  /* 32 elements each */
            __m256i q, sc;
            if (kind <= 1) {
                const int k = g / 4, s2 = g % 4;
                q = _mm256_and_si256(_mm256_srli_epi16(qb[k], 2 * s2), m3);
                if (kind == 1) q = _mm256_or_si256(q, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hm, g), one), 2));
                sc = apr__scale_pair16(sc8, 8 * k + 2 * s2);
            } else {
                const __m256i v = _mm256_shuffle_epi8(table, apr__nibbles_x32(bx->qs + 16 * g));
                q = _mm256_sign_epi8(v, v);
                sc = _mm256_set1_epi16((short)apr__iq4xs_scale(bx, g));
                APR__UNROLL
                for (int t = 0; t < NT; t++) {
                    const int8_t *q8 = ((const apr__block_q8_K *)(act + (size_t)t * act_stride) + i)->qs + 32 * g;
                    const __m256i p = _mm256_maddubs_epi16(q, _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)q8), v));
                    sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p, sc));
                }
                continue;
            }
            APR__UNROLL
            for (int t = 0; t < NT; t++) {
                const int8_t *q8 = ((const apr__block_q8_K *)(act + (size_t)t * act_stride) + i)->qs + 32 * g;
                const __m256i p = _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)q8));
                sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p, sc));
            }
        }
        APR__UNROLL
        for (int t = 0; t < NT; t++) {
            const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride) + i;
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(y->d * dw), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
        }
    }
    APR__UNROLL
    for (int t = 0; t < NT; t++) res[t] = apr__hsum_f32x8(acc[t]) - accm[t];
}

/* their vec_dot is the one-token tile: fully unrolled, it measured faster than a loop */
APR__TARGET_AVX2 static void apr__vec_dot_q2_K_avx2(int64_t n, float *out, const void *w, const void *a) {
    apr__tile_k23_avx2(0, 1, n, w, (const uint8_t *)a, 0, out);
}
APR__TARGET_AVX2 static void apr__vec_dot_q3_K_avx2(int64_t n, float *out, const void *w, const void *a) {
    apr__tile_k23_avx2(1, 1, n, w, (const uint8_t *)a, 0, out);
}
APR__TARGET_AVX2 static void apr__vec_dot_iq4_xs_avx2(int64_t n, float *out, const void *w, const void *a) {
    apr__tile_k23_avx2(2, 1, n, w, (const uint8_t *)a, 0, out);
}

/* The K-quants' vec_dot is their one-token tile too: with the sub-block loop unrolled
   (constant scale shuffles) it measured 1.3x the looped kernel (Q5_K, Q6_K). */
APR__TARGET_AVX2 static void apr__vec_dot_q4_K_t1(int64_t n, float *out, const void *w, const void *a) {
    apr__tile_k45_avx2(0, 1, n, w, (const uint8_t *)a, 0, out);
}
APR__TARGET_AVX2 static void apr__vec_dot_q5_K_t1(int64_t n, float *out, const void *w, const void *a) {
    apr__tile_k45_avx2(1, 1, n, w, (const uint8_t *)a, 0, out);
}
APR__TARGET_AVX2 static void apr__vec_dot_q6_K_t1(int64_t n, float *out, const void *w, const void *a) {
    apr__tile6k_avx2(1, n, w, (const uint8_t *)a, 0, out);
}

#define APR__DEFINE_TILE_AVX2(NAME, CALL)                                                                        \
    APR__TARGET_AVX2 static void NAME(int64_t n, const void *w, const uint8_t *act, size_t as, int nt, float *res) { \
        switch (nt) {                                                                                            \
        case 4: CALL(4); break;                                                                                  \
        case 3: CALL(3); break;                                                                                  \
        case 2: CALL(2); break;                                                                                  \
        default: CALL(1); break;                                                                                 \
        }                                                                                                        \
    }
#define APR__T_Q4_0(NT) apr__tile32_avx2(0, NT, n, w, act, as, res)
#define APR__T_Q5_0(NT) apr__tile32_avx2(1, NT, n, w, act, as, res)
#define APR__T_Q8_0(NT) apr__tile32_avx2(2, NT, n, w, act, as, res)
#define APR__T_IQ4_NL(NT) apr__tile32_avx2(3, NT, n, w, act, as, res)
#define APR__T_Q4_K(NT) apr__tile_k45_avx2(0, NT, n, w, act, as, res)
#define APR__T_Q5_K(NT) apr__tile_k45_avx2(1, NT, n, w, act, as, res)
#define APR__T_Q6_K(NT) apr__tile6k_avx2(NT, n, w, act, as, res)
#define APR__T_F32(NT) apr__tile_f_avx2(0, NT, n, w, act, as, res)
#define APR__T_F16(NT) apr__tile_f_avx2(1, NT, n, w, act, as, res)
#define APR__T_BF16(NT) apr__tile_f_avx2(2, NT, n, w, act, as, res)
#define APR__T_Q2_K(NT) apr__tile_k23_avx2(0, NT, n, w, act, as, res)
#define APR__T_Q3_K(NT) apr__tile_k23_avx2(1, NT, n, w, act, as, res)
#define APR__T_IQ4_XS(NT) apr__tile_k23_avx2(2, NT, n, w, act, as, res)
#define APR__DEFINE_TILE2_AVX2(NAME, KIND)                                                                        \
    APR__TARGET_AVX2 static void NAME(int64_t n, const void *w, size_t ws, const uint8_t *act, size_t as, int nt,   \
                                      float *res) {                                                               \
        switch (nt) {                                                                                             \
        case 4: apr__tile32x2_avx2(KIND, 4, n, w, ws, act, as, res); break;                                       \
        case 3: apr__tile32x2_avx2(KIND, 3, n, w, ws, act, as, res); break;                                       \
        case 2: apr__tile32x2_avx2(KIND, 2, n, w, ws, act, as, res); break;                                       \
        default: apr__tile32x2_avx2(KIND, 1, n, w, ws, act, as, res); break;                                      \
        }                                                                                                         \
    }
APR__DEFINE_TILE2_AVX2(apr__tile2_q4_0_avx2, 0)
APR__DEFINE_TILE2_AVX2(apr__tile2_q5_0_avx2, 1)
APR__DEFINE_TILE_AVX2(apr__tile_q4_0_avx2, APR__T_Q4_0)
APR__DEFINE_TILE_AVX2(apr__tile_q5_0_avx2, APR__T_Q5_0)
APR__DEFINE_TILE_AVX2(apr__tile_q8_0_avx2, APR__T_Q8_0)
APR__DEFINE_TILE_AVX2(apr__tile_iq4_nl_avx2, APR__T_IQ4_NL)
APR__DEFINE_TILE_AVX2(apr__tile_q4_K_avx2, APR__T_Q4_K)
APR__DEFINE_TILE_AVX2(apr__tile_q5_K_avx2, APR__T_Q5_K)
APR__DEFINE_TILE_AVX2(apr__tile_q6_K_avx2, APR__T_Q6_K)
APR__DEFINE_TILE_AVX2(apr__tile_f32_avx2, APR__T_F32)
APR__DEFINE_TILE_AVX2(apr__tile_f16_avx2, APR__T_F16)
APR__DEFINE_TILE_AVX2(apr__tile_bf16_avx2, APR__T_BF16)
APR__DEFINE_TILE_AVX2(apr__tile_q2_K_avx2, APR__T_Q2_K)
APR__DEFINE_TILE_AVX2(apr__tile_q3_K_avx2, APR__T_Q3_K)
APR__DEFINE_TILE_AVX2(apr__tile_iq4_xs_avx2, APR__T_IQ4_XS)

#endif /* APR__HAVE_X86_SIMD */

/* ---- AVX-512 kernels (F + BW + VL + DQ) ---------------------------------------------------
   The AVX2 scheme on 64-byte registers: two 32-element blocks, or one 64-element slice of
   a K-quant super-block, per instruction. The AVX2 helpers inline into these. */

#if defined(APR__HAVE_X86_SIMD)

APR__TARGET_AVX512 static inline __m512i apr__cat256(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

APR__TARGET_AVX512 static void apr__vec_dot_f32_avx512(int64_t n, float *out, const void *w, const void *a) {
    const float *x = (const float *)w, *y = (const float *)a;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps(), acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), acc1);
        acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), _mm512_loadu_ps(y + i + 32), acc2);
        acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), _mm512_loadu_ps(y + i + 48), acc3);
    }
    for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), acc0);
    if (i < n) {  /* masked tail: n need not be a multiple of 16 */
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i), acc1);
    }
    *out = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

APR__TARGET_AVX512 static void apr__vec_dot_f16_avx512(int64_t n, float *out, const void *w, const void *a) {
    const uint16_t *x = (const uint16_t *)w;
    const float *y = (const float *)a;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))), _mm512_loadu_ps(y + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i + 16))), _mm512_loadu_ps(y + i + 16), acc1);
    }
    for (; i + 16 <= n; i += 16)
        acc0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))), _mm512_loadu_ps(y + i), acc0);
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        acc1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i)), _mm512_maskz_loadu_ps(m, y + i), acc1);
    }
    *out = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

/* 32-element blocks stay on AVX2 at level 2: 512-bit versions (two blocks per register,
   with maddubs/madd and with VNNI's dpbusd) measured 15-25% slower than the AVX2 kernels
   on a Xeon (Sapphire Rapids class) in bench_quant: the 34/22/18-byte blocks need
   inserts to fill a register, and the per-block scale work does not shrink. */

/* Q4_K / Q5_K stay on AVX2 at level 2: a 512-bit version (one 64-element slice per
   register) measured slower than the unrolled AVX2 one-token tile (Q5_K 12-13 vs 16-17
   GB/s, Xeon). Q6_K's 512-bit kernel is kept: it equals the AVX2 tile there. */

APR__TARGET_AVX512 static void apr__vec_dot_q6_K_avx512(int64_t n, float *out, const void *w, const void *act) {
    const apr__block_q6_K *x = (const apr__block_q6_K *)w;
    const apr__block_q8_K *y = (const apr__block_q8_K *)act;
    __m512 acc = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(3);
    const __m512i sh01 = apr__cat256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
    const __m512i sh23 = apr__cat256(_mm256_set1_epi16(4), _mm256_set1_epi16(6));
    /* int16 lane -> scale index: 8 lanes per 16-element group */
    const __m512i g0 = _mm512_set_epi64(0x0003000300030003ll, 0x0003000300030003ll, 0x0002000200020002ll, 0x0002000200020002ll,
                                        0x0001000100010001ll, 0x0001000100010001ll, 0, 0);
    for (int64_t i = 0; i < n / 256; i++) {
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)x[i].scales);
        const __m256i sc16y = _mm256_cvtepi8_epi16(sc8);
        const __m512i sc16 = _mm512_castsi256_si512(sc16y);
        __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(sc16y, _mm256_loadu_si256((const __m256i *)y[i].bsums)), 5);
        __m512i sumi = _mm512_castsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), corr));
        sumi = _mm512_inserti64x4(sumi, _mm256_setzero_si256(), 1);
        const int8_t *q8 = y[i].qs;
        for (int k = 0; k < 2; k++, q8 += 128) {
            const __m512i L = _mm512_loadu_si512((const void *)(x[i].ql + 64 * k));
            const __m512i H = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * k)));
            const __m512i q01 = _mm512_or_si512(_mm512_and_si512(L, m4), _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(H, sh01), m3), 4));
            const __m512i q23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(L, 4), m4), _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(H, sh23), m3), 4));
            const __m512i s01 = _mm512_permutexvar_epi16(_mm512_add_epi16(g0, _mm512_set1_epi16((short)(8 * k))), sc16);
            const __m512i s23 = _mm512_permutexvar_epi16(_mm512_add_epi16(g0, _mm512_set1_epi16((short)(8 * k + 4))), sc16);
            const __m512i p01 = _mm512_madd_epi16(_mm512_maddubs_epi16(q01, _mm512_loadu_si512((const void *)q8)), s01);
            const __m512i p23 = _mm512_madd_epi16(_mm512_maddubs_epi16(q23, _mm512_loadu_si512((const void *)(q8 + 64))), s23);
            sumi = _mm512_add_epi32(sumi, _mm512_add_epi32(p01, p23));
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(y[i].d * apr__h2f(x[i].d)), _mm512_cvtepi32_ps(sumi), acc);
    }
    *out = _mm512_reduce_add_ps(acc);
}

#endif /* APR__HAVE_X86_SIMD */


/* ---- NEON kernels (AArch64) --------------------------------------------------------------
   Weights are expanded to signed bytes and multiplied with the int8 activations 16 at a
   time: SDOT where the compiler targets it (armv8.2-a+dotprod), widening multiplies and
   pairwise adds otherwise. Same integer sums as the scalar reference. */

#if defined(APR__HAVE_NEON)

static inline int32x4_t apr__sdot_s8x16(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(acc, a, b);
#else
    int16x8_t lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    int16x8_t hi = vmull_high_s8(a, b);
    return vpadalq_s16(vpadalq_s16(acc, lo), hi);
#endif
}

/* 32 products of a 32-element block: w0/w1 are elements 0..15 / 16..31 */
static inline int32x4_t apr__sdot_x32(int8x16_t w0, int8x16_t w1, const int8_t *a) {
    return apr__sdot_s8x16(apr__sdot_s8x16(vdupq_n_s32(0), w0, vld1q_s8(a)), w1, vld1q_s8(a + 16));
}

static void apr__vec_dot_f32_neon(int64_t n, float *out, const void *w, const void *a) {
    const float *x = (const float *)w, *y = (const float *)a;
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0), acc2 = vdupq_n_f32(0), acc3 = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = vfmaq_f32(acc0, vld1q_f32(x + i), vld1q_f32(y + i));
        acc1 = vfmaq_f32(acc1, vld1q_f32(x + i + 4), vld1q_f32(y + i + 4));
        acc2 = vfmaq_f32(acc2, vld1q_f32(x + i + 8), vld1q_f32(y + i + 8));
        acc3 = vfmaq_f32(acc3, vld1q_f32(x + i + 12), vld1q_f32(y + i + 12));
    }
    for (; i + 4 <= n; i += 4) acc0 = vfmaq_f32(acc0, vld1q_f32(x + i), vld1q_f32(y + i));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3)));
    for (; i < n; i++) s += x[i] * y[i];
    *out = s;
}

static void apr__vec_dot_f16_neon(int64_t n, float *out, const void *w, const void *a) {
    const uint16_t *x = (const uint16_t *)w;
    const float *y = (const float *)a;
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(x + i));
        acc0 = vfmaq_f32(acc0, vcvt_f32_f16(vget_low_f16(h)), vld1q_f32(y + i));
        acc1 = vfmaq_f32(acc1, vcvt_high_f32_f16(h), vld1q_f32(y + i + 4));
    }
    float s = vaddvq_f32(vaddq_f32(acc0, acc1));
    for (; i < n; i++) s += apr__fp16_to_fp32(x[i]) * y[i];
    *out = s;
}

static void apr__vec_dot_bf16_neon(int64_t n, float *out, const void *w, const void *a) {
    const uint16_t *x = (const uint16_t *)w;
    const float *y = (const float *)a;
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint16x8_t h = vld1q_u16(x + i);
        acc0 = vfmaq_f32(acc0, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16)), vld1q_f32(y + i));
        acc1 = vfmaq_f32(acc1, vreinterpretq_f32_u32(vshll_high_n_u16(h, 16)), vld1q_f32(y + i + 4));
    }
    float s = vaddvq_f32(vaddq_f32(acc0, acc1));
    for (; i < n; i++) s += apr__bf16_to_fp32(x[i]) * y[i];
    *out = s;
}

/* 32 high bits of Q5 blocks -> two vectors of 0x10 / 0x00 */
static inline void apr__q5_high_neon(const uint8_t *qh4, uint8x16_t *h0, uint8x16_t *h1) {
    static const uint8_t bit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t m = vld1q_u8(bit), v10 = vdupq_n_u8(0x10);
    *h0 = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh4[0]), vdup_n_u8(qh4[1])), m), v10);
    *h1 = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh4[2]), vdup_n_u8(qh4[3])), m), v10);
}

/* kind: 0 Q4_0, 1 Q5_0, 2 Q8_0, 3 IQ4_NL */
static inline void apr__neon_block32(int kind, const uint8_t *b, int8x16_t *w0, int8x16_t *w1) {
    if (kind == 2) {
        *w0 = vld1q_s8((const int8_t *)b + 2);
        *w1 = vld1q_s8((const int8_t *)b + 18);
        return;
    }
    const uint8x16_t v = vld1q_u8(b + (kind == 1 ? 6 : 2));
    uint8x16_t lo = vandq_u8(v, vdupq_n_u8(0x0F)), hi = vshrq_n_u8(v, 4);
    if (kind == 0) {
        *w0 = vsubq_s8(vreinterpretq_s8_u8(lo), vdupq_n_s8(8));
        *w1 = vsubq_s8(vreinterpretq_s8_u8(hi), vdupq_n_s8(8));
    } else if (kind == 1) {
        uint8x16_t h0, h1;
        apr__q5_high_neon(b + 2, &h0, &h1);
        *w0 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo, h0)), vdupq_n_s8(16));
        *w1 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(hi, h1)), vdupq_n_s8(16));
    } else {
        const int8x16_t table = vld1q_s8(apr__iq4nl_values);
        *w0 = vqtbl1q_s8(table, lo);
        *w1 = vqtbl1q_s8(table, hi);
    }
}

static inline void apr__vec_dot32_neon(int kind, size_t bsz, int64_t n, float *out, const void *w, const void *act) {
    const uint8_t *b = (const uint8_t *)w;
    const apr__block_q8_0 *y = (const apr__block_q8_0 *)act;
    const float *sa = apr__q8_0_act_scales(act, n);
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
    const int64_t nb = n / 32;
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2, b += 2 * bsz) {
        int8x16_t w0, w1, w2, w3;
        apr__neon_block32(kind, b, &w0, &w1);
        apr__neon_block32(kind, b + bsz, &w2, &w3);
        uint16_t d0, d1;
        memcpy(&d0, b, 2);
        memcpy(&d1, b + bsz, 2);
        acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(apr__sdot_x32(w0, w1, y[i].qs)), apr__fp16_to_fp32(d0) * sa[i]);
        acc1 = vfmaq_n_f32(acc1, vcvtq_f32_s32(apr__sdot_x32(w2, w3, y[i + 1].qs)), apr__fp16_to_fp32(d1) * sa[i + 1]);
    }
    for (; i < nb; i++, b += bsz) {
        int8x16_t w0, w1;
        apr__neon_block32(kind, b, &w0, &w1);
        uint16_t d0;
        memcpy(&d0, b, 2);
        acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(apr__sdot_x32(w0, w1, y[i].qs)), apr__fp16_to_fp32(d0) * sa[i]);
    }
    *out = vaddvq_f32(vaddq_f32(acc0, acc1));
}

static void apr__vec_dot_q4_0_neon(int64_t n, float *out, const void *w, const void *a) { apr__vec_dot32_neon(0, 18, n, out, w, a); }
static void apr__vec_dot_q5_0_neon(int64_t n, float *out, const void *w, const void *a) { apr__vec_dot32_neon(1, 22, n, out, w, a); }
static void apr__vec_dot_q8_0_neon(int64_t n, float *out, const void *w, const void *a) { apr__vec_dot32_neon(2, 34, n, out, w, a); }
static void apr__vec_dot_iq4_nl_neon(int64_t n, float *out, const void *w, const void *a) { apr__vec_dot32_neon(3, 18, n, out, w, a); }

/* Q4_K (kind 0) / Q5_K (kind 1) */
static inline void apr__vec_dot_k45_neon(int kind, int64_t n, float *out, const void *w, const void *act) {
    const apr__block_q8_K *y = (const apr__block_q8_K *)act;
    float s = 0;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), v10 = vdupq_n_u8(0x10);
    for (int64_t i = 0; i < n / 256; i++) {
        const uint8_t *scales, *qs, *qh = NULL;
        uint16_t dh, dmh;
        if (kind == 0) {
            const apr__block_q4_K *x = (const apr__block_q4_K *)w + i;
            scales = x->scales; qs = x->qs; dh = x->d; dmh = x->dmin;
        } else {
            const apr__block_q5_K *x = (const apr__block_q5_K *)w + i;
            scales = x->scales; qs = x->qs; qh = x->qh; dh = x->d; dmh = x->dmin;
        }
        uint32_t u[4];
        apr__k4_unpack(scales, u);
        const uint8_t *sc = (const uint8_t *)u, *mn = (const uint8_t *)u + 8;
        int summ = 0;
        for (int j = 0; j < 8; j++) summ += mn[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        uint8x16_t hb0 = vdupq_n_u8(0), hb1 = vdupq_n_u8(0);
        if (kind == 1) { hb0 = vld1q_u8(qh); hb1 = vld1q_u8(qh + 16); }
        const int8_t *q8 = y[i].qs;
        int sumi = 0;
        for (int j = 0; j < 4; j++, qs += 32, q8 += 64) {
            const uint8x16_t v0 = vld1q_u8(qs), v1 = vld1q_u8(qs + 16);
            uint8x16_t l0 = vandq_u8(v0, m4), l1 = vandq_u8(v1, m4), h0 = vshrq_n_u8(v0, 4), h1 = vshrq_n_u8(v1, 4);
            if (kind == 1) {
                const uint8x16_t bl = vdupq_n_u8((uint8_t)(1u << (2 * j))), bh = vdupq_n_u8((uint8_t)(2u << (2 * j)));
                l0 = vorrq_u8(l0, vandq_u8(vtstq_u8(hb0, bl), v10));
                l1 = vorrq_u8(l1, vandq_u8(vtstq_u8(hb1, bl), v10));
                h0 = vorrq_u8(h0, vandq_u8(vtstq_u8(hb0, bh), v10));
                h1 = vorrq_u8(h1, vandq_u8(vtstq_u8(hb1, bh), v10));
            }
            int32x4_t pl = apr__sdot_x32(vreinterpretq_s8_u8(l0), vreinterpretq_s8_u8(l1), q8);
            int32x4_t ph = apr__sdot_x32(vreinterpretq_s8_u8(h0), vreinterpretq_s8_u8(h1), q8 + 32);
            sumi += sc[2 * j] * vaddvq_s32(pl) + sc[2 * j + 1] * vaddvq_s32(ph);
        }
        s += y[i].d * apr__fp16_to_fp32(dh) * (float)sumi - y[i].d * apr__fp16_to_fp32(dmh) * (float)summ;
    }
    *out = s;
}
static void apr__vec_dot_q4_K_neon(int64_t n, float *out, const void *w, const void *a) { apr__vec_dot_k45_neon(0, n, out, w, a); }
static void apr__vec_dot_q5_K_neon(int64_t n, float *out, const void *w, const void *a) { apr__vec_dot_k45_neon(1, n, out, w, a); }

static void apr__vec_dot_q6_K_neon(int64_t n, float *out, const void *w, const void *act) {
    const apr__block_q6_K *x = (const apr__block_q6_K *)w;
    const apr__block_q8_K *y = (const apr__block_q8_K *)act;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), m3 = vdupq_n_u8(3);
    const int8x16_t m32 = vdupq_n_s8(32);
    float s = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales, *q8 = y[i].qs;
        int sumi = 0;
        for (int k = 0; k < 2; k++, ql += 64, qh += 32, sc += 8, q8 += 128) {
            for (int hf = 0; hf < 2; hf++) {  /* l in [16*hf, 16*hf + 16) */
                const uint8x16_t a0 = vld1q_u8(ql + 16 * hf), a1 = vld1q_u8(ql + 32 + 16 * hf), h = vld1q_u8(qh + 16 * hf);
                const int8x16_t q1 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(a0, m4), vshlq_n_u8(vandq_u8(h, m3), 4))), m32);
                const int8x16_t q2 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(a1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(h, 2), m3), 4))), m32);
                const int8x16_t q3 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(a0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(h, 4), m3), 4))), m32);
                const int8x16_t q4 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(a1, 4), vshlq_n_u8(vshrq_n_u8(h, 6), 4))), m32);
                const int8_t *y8 = q8 + 16 * hf;
                sumi += sc[hf + 0] * vaddvq_s32(apr__sdot_s8x16(vdupq_n_s32(0), q1, vld1q_s8(y8)));
                sumi += sc[hf + 2] * vaddvq_s32(apr__sdot_s8x16(vdupq_n_s32(0), q2, vld1q_s8(y8 + 32)));
                sumi += sc[hf + 4] * vaddvq_s32(apr__sdot_s8x16(vdupq_n_s32(0), q3, vld1q_s8(y8 + 64)));
                sumi += sc[hf + 6] * vaddvq_s32(apr__sdot_s8x16(vdupq_n_s32(0), q4, vld1q_s8(y8 + 96)));
            }
        }
        s += y[i].d * apr__fp16_to_fp32(x[i].d) * (float)sumi;
    }
    *out = s;
}

/* activation quantizers: vcvtnq rounds to nearest even, as nearbyintf does */
static inline float apr__amax_neon(const float *x, int n) {
    float32x4_t m = vdupq_n_f32(0);
    for (int j = 0; j < n; j += 4) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + j)));
    return vmaxvq_f32(m);
}

static inline int8x16_t apr__round_pack_neon(const float *x, float32x4_t id) {
    int32x4_t i0 = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x), id));
    int32x4_t i1 = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + 4), id));
    int32x4_t i2 = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + 8), id));
    int32x4_t i3 = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + 12), id));
    int16x8_t a = vcombine_s16(vqmovn_s32(i0), vqmovn_s32(i1)), b = vcombine_s16(vqmovn_s32(i2), vqmovn_s32(i3));
    return vcombine_s8(vqmovn_s16(a), vqmovn_s16(b));
}

static void apr__quantize_q8_0_neon(const float *x, void *dst, int64_t n) {
    apr__block_q8_0 *y = (apr__block_q8_0 *)dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        const float amax = apr__amax_neon(x, 32);
        const float32x4_t id = vdupq_n_f32(amax != 0 ? 127.0f / amax : 0.0f);
        y[i].d = apr__fp32_to_fp16(amax / 127.0f);
        vst1q_s8(y[i].qs, apr__round_pack_neon(x, id));
        vst1q_s8(y[i].qs + 16, apr__round_pack_neon(x + 16, id));
    }
    apr__q8_0_write_scales(dst, n);
}

static void apr__quantize_q8_K_neon(const float *x, void *dst, int64_t n) {
    apr__block_q8_K *y = (apr__block_q8_K *)dst;
    for (int64_t i = 0; i < n / 256; i++, x += 256) {
        const float amax = apr__amax_neon(x, 256);
        const float32x4_t id = vdupq_n_f32(amax != 0 ? 127.0f / amax : 0.0f);
        y[i].d = amax / 127.0f;
        for (int j = 0; j < 16; j++) {
            int8x16_t q = apr__round_pack_neon(x + 16 * j, id);
            vst1q_s8(y[i].qs + 16 * j, q);
            y[i].bsums[j] = (int16_t)vaddlvq_s8(q);
        }
    }
}

#endif /* APR__HAVE_NEON */

/* ---- type table ------------------------------------------------------------------------ */

typedef void (*apr__dequant_fn)(const void *src, float *dst, int64_t n);
typedef void (*apr__quantize_act_fn)(const float *x, void *dst, int64_t n);

typedef struct apr__type_traits {
    const char *name;
    int type;
    int64_t block_size;
    size_t block_bytes;
    int act_type;              /* activation type for dot products; -1: not a weight type */
    bool weight;               /* apr loads weights of this type */
    apr__dequant_fn dequant;
    apr__vec_dot_fn vec_dot_ref;
} apr__type_traits;

static const apr__type_traits apr__traits_table[] = {
    {"F32", APR_TYPE_F32, 1, 4, APR_TYPE_F32, true, apr__dequant_f32, apr__vec_dot_f32_ref},
    {"F16", APR_TYPE_F16, 1, 2, APR_TYPE_F32, true, apr__dequant_f16, apr__vec_dot_f16_ref},
    {"Q4_0", APR_TYPE_Q4_0, 32, 18, APR_TYPE_Q8_0, true, apr__dequant_q4_0, apr__vec_dot_q4_0_ref},
    {"Q4_1", APR_TYPE_Q4_1, 32, 20, APR_TYPE_Q8_1, true, apr__dequant_q4_1, apr__vec_dot_q4_1_ref},
    {"Q5_0", APR_TYPE_Q5_0, 32, 22, APR_TYPE_Q8_0, true, apr__dequant_q5_0, apr__vec_dot_q5_0_ref},
    {"Q5_1", APR_TYPE_Q5_1, 32, 24, APR_TYPE_Q8_1, true, apr__dequant_q5_1, apr__vec_dot_q5_1_ref},
    {"Q8_0", APR_TYPE_Q8_0, 32, 34, APR_TYPE_Q8_0, true, apr__dequant_q8_0, apr__vec_dot_q8_0_ref},
    {"Q8_1", APR_TYPE_Q8_1, 32, 36, -1, false, apr__dequant_q8_1, NULL},
    {"Q2_K", APR_TYPE_Q2_K, 256, 84, APR_TYPE_Q8_K, true, apr__dequant_q2_K, apr__vec_dot_q2_K_ref},
    {"Q3_K", APR_TYPE_Q3_K, 256, 110, APR_TYPE_Q8_K, true, apr__dequant_q3_K, apr__vec_dot_q3_K_ref},
    {"Q4_K", APR_TYPE_Q4_K, 256, 144, APR_TYPE_Q8_K, true, apr__dequant_q4_K, apr__vec_dot_q4_K_ref},
    {"Q5_K", APR_TYPE_Q5_K, 256, 176, APR_TYPE_Q8_K, true, apr__dequant_q5_K, apr__vec_dot_q5_K_ref},
    {"Q6_K", APR_TYPE_Q6_K, 256, 210, APR_TYPE_Q8_K, true, apr__dequant_q6_K, apr__vec_dot_q6_K_ref},
    {"Q8_K", APR_TYPE_Q8_K, 256, 292, -1, false, apr__dequant_q8_K, NULL},
    {"IQ4_NL", APR_TYPE_IQ4_NL, 32, 18, APR_TYPE_Q8_0, true, apr__dequant_iq4_nl, apr__vec_dot_iq4_nl_ref},
    {"IQ4_XS", APR_TYPE_IQ4_XS, 256, 136, APR_TYPE_Q8_K, true, apr__dequant_iq4_xs, apr__vec_dot_iq4_xs_ref},
    {"BF16", APR_TYPE_BF16, 1, 2, APR_TYPE_F32, true, apr__dequant_bf16, apr__vec_dot_bf16_ref},
};

static const apr__type_traits *apr__type_traits_of(int type) {
    for (size_t i = 0; i < APR__ARRAY_LEN(apr__traits_table); i++)
        if (apr__traits_table[i].type == type) return &apr__traits_table[i];
    return NULL;
}

APR__IMPL bool apr_type_supported(int type) {
    const apr__type_traits *t = apr__type_traits_of(type);
    return t && t->weight;
}

APR__IMPL apr_result apr_dequantize_row(int type, const void *src, float *dst, int64_t n) {
    const apr__type_traits *t = apr__type_traits_of(type);
    if (!t) return APR_ERROR_UNSUPPORTED;
    if (!src || !dst || n < 0 || n % t->block_size != 0) return APR_ERROR_INVALID_ARGUMENT;
    t->dequant(src, dst, n);
    return APR_SUCCESS;
}

/* Expand a row of Q4_0 / Q5_0 / IQ4_NL blocks into Q8_0 blocks holding the same values
   (same fp16 scale, the int8 levels), so that a CPU backend bound by compute rather than
   memory bandwidth can run them on the Q8_0 kernels (1.5-2x the weights per second) at
   34 instead of 18/22 bytes per 32 weights. Dot products are bit-identical: the same
   integer sums meet the same scales in the same order. false: not one of those types. */
static APR__UNUSED bool apr__expand_to_q8_0(int type, const void *src, void *dst, int64_t n) {
    if (type != APR_TYPE_Q4_0 && type != APR_TYPE_Q5_0 && type != APR_TYPE_IQ4_NL) return false;
    const apr__type_traits *t = apr__type_traits_of(type);
    apr__block_q8_0 *y = (apr__block_q8_0 *)dst;
    float f[32];
    for (int64_t i = 0; i < n / 32; i++) {
        const uint8_t *b = (const uint8_t *)src + (size_t)i * t->block_bytes;
        uint16_t d;
        memcpy(&d, b, 2);
        /* the levels: dequantize with a unit scale, then copy d across */
        uint8_t blk[22];
        memcpy(blk, b, t->block_bytes);
        const uint16_t one = 0x3c00;
        memcpy(blk, &one, 2);
        t->dequant(blk, f, 32);
        y[i].d = d;
        for (int j = 0; j < 32; j++) y[i].qs[j] = (int8_t)f[j];
    }
    return true;
}

/* ---- activations ------------------------------------------------------------------------ */

static size_t apr__act_row_bytes(int act_type, int64_t n) {
    switch (act_type) {
    case APR_TYPE_F32: return (size_t)n * 4;
    case APR_TYPE_Q8_0: return apr__q8_0_scales_offset(n) + (size_t)(n / 32) * 4;
    case APR_TYPE_Q8_1: return (size_t)(n / 32) * sizeof(apr__block_q8_1);
    case APR_TYPE_Q8_K: return (size_t)(n / 256) * sizeof(apr__block_q8_K);
    }
    return 0;
}

static apr__quantize_act_fn apr__quantize_act_for(int act_type, int level) {
    (void)level;
    switch (act_type) {
    case APR_TYPE_F32: return apr__quantize_f32_copy;
    case APR_TYPE_Q8_0:
#if defined(APR__HAVE_X86_SIMD)
        if (level >= 1) return apr__quantize_q8_0_avx2;
#endif
#if defined(APR__HAVE_NEON)
        if (level >= 2) return apr__quantize_q8_0_neon;
#endif
        return apr__quantize_q8_0_ref;
    case APR_TYPE_Q8_1:
#if defined(APR__HAVE_X86_SIMD)
        if (level >= 1) return apr__quantize_q8_1_avx2;
#endif
        return apr__quantize_q8_1_ref;
    case APR_TYPE_Q8_K:
#if defined(APR__HAVE_X86_SIMD)
        if (level >= 1) return apr__quantize_q8_K_avx2;
#endif
#if defined(APR__HAVE_NEON)
        if (level >= 2) return apr__quantize_q8_K_neon;
#endif
        return apr__quantize_q8_K_ref;
    }
    return NULL;
}

static void apr__quantize_act(int act_type, const float *x, void *dst, int64_t n) {
    apr__quantize_act_fn f = apr__quantize_act_for(act_type, apr__simd_level());
    if (f) f(x, dst, n);
}

/* ---- kernel selection and the rows x tokens product ------------------------------------- */

static apr__vec_dot_fn apr__vec_dot_for(int weight_type, int simd_level) {
    const apr__type_traits *t = apr__type_traits_of(weight_type);
    if (!t) return NULL;
#if defined(APR__HAVE_X86_SIMD)
    if (simd_level >= 2) {
        /* the others stay on AVX2, whose kernels measured as fast or faster */
        switch (weight_type) {
        case APR_TYPE_F32: return apr__vec_dot_f32_avx512;
        case APR_TYPE_F16: return apr__vec_dot_f16_avx512;
        case APR_TYPE_Q6_K: return apr__vec_dot_q6_K_avx512;
        }
    }
    if (simd_level >= 1) {
        switch (weight_type) {
        case APR_TYPE_F32: return apr__vec_dot_f32_avx2;
        case APR_TYPE_F16: return apr__vec_dot_f16_avx2;
        case APR_TYPE_BF16: return apr__vec_dot_bf16_avx2;
        case APR_TYPE_Q4_0: return apr__vec_dot_q4_0_avx2;
        case APR_TYPE_Q4_1: return apr__vec_dot_q4_1_avx2;
        case APR_TYPE_Q5_0: return apr__vec_dot_q5_0_avx2;
        case APR_TYPE_Q5_1: return apr__vec_dot_q5_1_avx2;
        case APR_TYPE_Q8_0: return apr__vec_dot_q8_0_avx2;
        case APR_TYPE_Q2_K: return apr__vec_dot_q2_K_avx2;
        case APR_TYPE_Q3_K: return apr__vec_dot_q3_K_avx2;
        case APR_TYPE_Q4_K: return apr__vec_dot_q4_K_t1;
        case APR_TYPE_Q5_K: return apr__vec_dot_q5_K_t1;
        case APR_TYPE_Q6_K: return apr__vec_dot_q6_K_t1;
        case APR_TYPE_IQ4_NL: return apr__vec_dot_iq4_nl_avx2;
        case APR_TYPE_IQ4_XS: return apr__vec_dot_iq4_xs_avx2;
        }
    }
#endif
#if defined(APR__HAVE_NEON)
    if (simd_level >= 2) {
        switch (weight_type) {
        case APR_TYPE_F32: return apr__vec_dot_f32_neon;
        case APR_TYPE_F16: return apr__vec_dot_f16_neon;
        case APR_TYPE_BF16: return apr__vec_dot_bf16_neon;
        case APR_TYPE_Q4_0: return apr__vec_dot_q4_0_neon;
        case APR_TYPE_Q5_0: return apr__vec_dot_q5_0_neon;
        case APR_TYPE_Q8_0: return apr__vec_dot_q8_0_neon;
        case APR_TYPE_IQ4_NL: return apr__vec_dot_iq4_nl_neon;
        case APR_TYPE_Q4_K: return apr__vec_dot_q4_K_neon;
        case APR_TYPE_Q5_K: return apr__vec_dot_q5_K_neon;
        case APR_TYPE_Q6_K: return apr__vec_dot_q6_K_neon;
        }
    }
#endif
    (void)simd_level;
    return t->vec_dot_ref;
}

/* A tile: one weight row times nt (1..4) activation rows; res[t] for token t. */
static apr__tile_fn apr__tile_for(int weight_type, int simd_level) {
#if defined(APR__HAVE_X86_SIMD)
    if (simd_level >= 1) {
        switch (weight_type) {
        case APR_TYPE_F32: return apr__tile_f32_avx2;
        case APR_TYPE_F16: return apr__tile_f16_avx2;
        case APR_TYPE_BF16: return apr__tile_bf16_avx2;
        case APR_TYPE_Q2_K: return apr__tile_q2_K_avx2;
        case APR_TYPE_Q3_K: return apr__tile_q3_K_avx2;
        case APR_TYPE_IQ4_XS: return apr__tile_iq4_xs_avx2;
        case APR_TYPE_Q4_0: return apr__tile_q4_0_avx2;
        case APR_TYPE_Q5_0: return apr__tile_q5_0_avx2;
        case APR_TYPE_Q8_0: return apr__tile_q8_0_avx2;
        case APR_TYPE_IQ4_NL: return apr__tile_iq4_nl_avx2;
        case APR_TYPE_Q4_K: return apr__tile_q4_K_avx2;
        case APR_TYPE_Q5_K: return apr__tile_q5_K_avx2;
        case APR_TYPE_Q6_K: return apr__tile_q6_K_avx2;
        }
    }
#endif
    (void)weight_type;
    (void)simd_level;
    return NULL;
}

/* Two rows at once, for Q4_0/Q5_0 (NULL: use apr__tile_for row by row): +3-9% at 8 tokens. */
static apr__tile2_fn apr__tile2_for(int weight_type, int simd_level) {
#if defined(APR__HAVE_X86_SIMD)
    if (simd_level >= 1) {
        switch (weight_type) {
        /* Q8_0 / IQ4_NL measured no gain from pairing (their sign trick is per row) */
        case APR_TYPE_Q4_0: return apr__tile2_q4_0_avx2;
        case APR_TYPE_Q5_0: return apr__tile2_q5_0_avx2;
        }
    }
#endif
    (void)weight_type;
    (void)simd_level;
    return NULL;
}

/* Rows are taken in chunks whose weights stay in L2 while every group of 4 tokens
   (whose activations stay in L1) passes over them. */
static void apr__gemm_rows(int weight_type, int64_t n, const void *w, size_t w_row_stride,
                           int64_t n_rows, const void *act, size_t act_stride, int64_t n_tok,
                           float *out, int64_t ld_out) {
    const int level = apr__simd_level();
    apr__vec_dot_fn dot = apr__vec_dot_for(weight_type, level);
    apr__tile_fn tile = n_tok > 1 ? apr__tile_for(weight_type, level) : NULL;
    apr__tile2_fn tile2 = n_tok > 1 ? apr__tile2_for(weight_type, level) : NULL; /* decode: no gain measured */
    if (!dot) return;
    const uint8_t *wb = (const uint8_t *)w, *ab = (const uint8_t *)act;
    int64_t chunk = w_row_stride ? (int64_t)((256 * 1024) / w_row_stride) : n_rows;
    if (chunk < 4) chunk = 4;
    for (int64_t r0 = 0; r0 < n_rows; r0 += chunk) {
        const int64_t r1 = APR__MIN(n_rows, r0 + chunk);
        for (int64_t t0 = 0; t0 < n_tok; t0 += 4) {
            const int nt = (int)APR__MIN(4, n_tok - t0);
            const uint8_t *at = ab + (size_t)t0 * act_stride;
            int64_t r = r0;
            if (tile2) {
                for (; r + 2 <= r1; r += 2) {
                    float res[8];
                    tile2(n, wb + (size_t)r * w_row_stride, w_row_stride, at, act_stride, nt, res);
                    for (int k = 0; k < nt; k++) {
                        out[(t0 + k) * ld_out + r] = res[k];
                        out[(t0 + k) * ld_out + r + 1] = res[4 + k];
                    }
                }
            }
            for (; r < r1; r++) {
                const uint8_t *wr = wb + (size_t)r * w_row_stride;
#if defined(APR__HAVE_X86_SIMD)
                /* one token reads each row once from memory: software prefetch ~8 KB ahead
                   (the hardware prefetchers alone left ~35% of one core's bandwidth unused) */
                if (n_tok == 1 && level >= 1) {
                    const size_t ahead = (8192 / w_row_stride + 1) * w_row_stride;
                    if (r + (int64_t)(ahead / w_row_stride) < n_rows)
                        for (size_t l = 0; l < w_row_stride; l += 64) _mm_prefetch((const char *)wr + ahead + l, _MM_HINT_T0);
                }
#endif
                if (tile) {
                    float res[4];
                    tile(n, wr, at, act_stride, nt, res);
                    for (int k = 0; k < nt; k++) out[(t0 + k) * ld_out + r] = res[k];
                } else {
                    for (int k = 0; k < nt; k++) dot(n, &out[(t0 + k) * ld_out + r], wr, at + (size_t)k * act_stride);
                }
            }
        }
    }
}

/* ====================================================================================
   Weight quantization
   apr_quantize_row turns float rows into any weight type. Without an importance matrix the
   K-quants and the legacy types follow ggml's reference ("_ref") algorithms, so a file apr
   writes matches llama-quantize's byte for byte where the float arithmetic agrees. Then:
   llama.cpp's per-tensor recipes (Q4_K_M and friends, general.file_type), the streaming
   model converter behind apr-quantize, and synthetic models of real dimensions.
   Blocks are written through byte offsets (little-endian fp16 scales), the layouts being
   GGUF's: see apr__qz_put_f16 users below for each one.
   ==================================================================================== */

#define APR__QK_K 256

/* The quantizers are bit-exact float code: a fused multiply-add (which GCC forms by itself
   under -march=native in GNU C modes) would round differently from llama.cpp's reference
   and change the bytes, so contraction is off for this section. */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

static inline int apr__qz_nearest(float f) {
    /* round half to even through the float adder, as ggml's nearest_int (|f| < 2^22) */
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, 4);
    return (i & 0x007fffff) - 0x00400000;
}
static inline void apr__qz_put_f16(uint8_t *p, float f) {
    uint16_t h = apr__fp32_to_fp16(f);
    p[0] = (uint8_t)(h & 0xff);
    p[1] = (uint8_t)(h >> 8);
}
static inline float apr__qz_get_f16(const uint8_t *p) {
    return apr__fp16_to_fp32((uint16_t)(p[0] | (p[1] << 8)));
}
/* float -> small int by truncation with the clamp the callers need (never UB on NaN) */
static inline int apr__qz_trunc(float v, int lo, int hi) {
    if (!(v > (float)lo)) return lo;
    if (v >= (float)hi) return hi;
    return (int)v;
}
#define APR__QZ_CLAMP(v, lo, hi) ((v) < (lo) ? (lo) : (v) > (hi) ? (hi) : (v))

/* ---- 32-element legacy blocks ------------------------------------------------------------
   Q4_0 {f16 d; u8 qs[16]}  Q4_1 {f16 d, m; u8 qs[16]}  Q5_0 {f16 d; u8 qh[4]; u8 qs[16]}
   Q5_1 {f16 d, m; u8 qh[4]; u8 qs[16]}  Q8_0 {f16 d; i8 qs[32]}. Element j and j+16 share
   a byte (low, high nibble). */

/* the signed value of largest magnitude: its sign decides the sign of d */
static float apr__qz_absmax_signed(const float *x, int n, float *amax_out) {
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
    }
    if (amax_out) *amax_out = amax;
    return max;
}

static void apr__qz_q4_0(const float *x, uint8_t *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32, y += 18) {
        const float d = apr__qz_absmax_signed(x, 32, NULL) / -8;
        const float id = d ? 1.0f / d : 0.0f;
        apr__qz_put_f16(y, d);
        for (int j = 0; j < 16; j++) {
            int q0 = apr__qz_trunc(x[j] * id + 8.5f, 0, 15);
            int q1 = apr__qz_trunc(x[j + 16] * id + 8.5f, 0, 15);
            y[2 + j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

static void apr__qz_minmax(const float *x, int n, float *mn, float *mx) {
    float a = FLT_MAX, b = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < a) a = x[j];
        if (x[j] > b) b = x[j];
    }
    *mn = a; *mx = b;
}

static void apr__qz_q4_1(const float *x, uint8_t *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32, y += 20) {
        float min, max;
        apr__qz_minmax(x, 32, &min, &max);
        const float d = (max - min) / 15;
        const float id = d ? 1.0f / d : 0.0f;
        apr__qz_put_f16(y, d);
        apr__qz_put_f16(y + 2, min);
        for (int j = 0; j < 16; j++) {
            int q0 = apr__qz_trunc((x[j] - min) * id + 0.5f, 0, 15);
            int q1 = apr__qz_trunc((x[j + 16] - min) * id + 0.5f, 0, 15);
            y[4 + j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

static void apr__qz_put_qh(uint8_t *p, uint32_t qh) {
    p[0] = (uint8_t)qh; p[1] = (uint8_t)(qh >> 8); p[2] = (uint8_t)(qh >> 16); p[3] = (uint8_t)(qh >> 24);
}

static void apr__qz_q5_0(const float *x, uint8_t *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32, y += 22) {
        const float d = apr__qz_absmax_signed(x, 32, NULL) / -16;
        const float id = d ? 1.0f / d : 0.0f;
        apr__qz_put_f16(y, d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = apr__qz_trunc(x[j] * id + 16.5f, 0, 31);
            int q1 = apr__qz_trunc(x[j + 16] * id + 16.5f, 0, 31);
            y[6 + j] = (uint8_t)((q0 & 15) | ((q1 & 15) << 4));
            qh |= (uint32_t)(q0 >> 4) << j;
            qh |= (uint32_t)(q1 >> 4) << (j + 16);
        }
        apr__qz_put_qh(y + 2, qh);
    }
}

static void apr__qz_q5_1(const float *x, uint8_t *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32, y += 24) {
        float min, max;
        apr__qz_minmax(x, 32, &min, &max);
        const float d = (max - min) / 31;
        const float id = d ? 1.0f / d : 0.0f;
        apr__qz_put_f16(y, d);
        apr__qz_put_f16(y + 2, min);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = apr__qz_trunc((x[j] - min) * id + 0.5f, 0, 31);
            int q1 = apr__qz_trunc((x[j + 16] - min) * id + 0.5f, 0, 31);
            y[8 + j] = (uint8_t)((q0 & 15) | ((q1 & 15) << 4));
            qh |= (uint32_t)(q0 >> 4) << j;
            qh |= (uint32_t)(q1 >> 4) << (j + 16);
        }
        apr__qz_put_qh(y + 4, qh);
    }
}

static void apr__qz_q8_0(const float *x, uint8_t *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32, y += 34) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = APR__MAX(amax, fabsf(x[j]));
        const float d = amax / 127;
        const float id = d ? 1.0f / d : 0.0f;
        apr__qz_put_f16(y, d);
        for (int j = 0; j < 32; j++) {
            float v = roundf(x[j] * id);           /* half away from zero, as ggml */
            v = APR__QZ_CLAMP(v, -127.0f, 127.0f); /* also maps NaN to -127..127 range */
            y[2 + j] = (uint8_t)(int8_t)(v == v ? (int)v : 0);
        }
    }
}

/* ---- helpers of the K-quants (ggml's make_qx_quants, make_q3_quants, make_qkx2_quants) --- */

/* Symmetric levels in [-nmax, nmax-1] minimising sum w*(x - s*l)^2 (w = x^2 or given),
   searching 19 candidate scales around nmax/max. Returns s; L gets l + nmax. */
static float apr__qz_make_qx(int n, int nmax, const float *x, int8_t *L, const float *qw) {
    float amax = 0;
    float max = apr__qz_absmax_signed(x, n, &amax);
    if (amax < 1e-15f) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = apr__qz_nearest(iscale * x[i]);
        l = APR__QZ_CLAMP(l, -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = qw ? qw[i] : x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = apr__qz_nearest(iscale * x[i]);
            l = APR__QZ_CLAMP(l, -nmax, nmax - 1);
            float w = qw ? qw[i] : x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                int l = apr__qz_nearest(iscale * x[i]);
                L[i] = (int8_t)(nmax + APR__QZ_CLAMP(l, -nmax, nmax - 1));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Q3_K's sub-block levels: start at nmax/max, then move single levels while that lowers
   the x^2-weighted error (at most 5 sweeps). L gets l + nmax. */
static float apr__qz_make_q3(int n, int nmax, const float *x, int8_t *L) {
    float amax = 0;
    float max = apr__qz_absmax_signed(x, n, &amax);
    if (amax < 1e-15f) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = apr__qz_nearest(iscale * x[i]);
        l = APR__QZ_CLAMP(l, -nmax, nmax - 1);
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (slx > 0) {
                float sl2 = suml2 - w * L[i] * L[i];
                int new_l = apr__qz_nearest(x[i] * sl2 / slx);
                new_l = APR__QZ_CLAMP(new_l, -nmax, nmax - 1);
                if (new_l != L[i]) {
                    slx += w * x[i] * new_l;
                    sl2 += w * new_l * new_l;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)new_l; sumlx = slx; suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Asymmetric levels 0..nmax with x ~ scale*l - min: tries nstep+1 scales from
   (nmax + rmin)/(max - min) in steps of rdelta, each followed by a weighted least-squares
   fit of scale and min. Returns scale; *the_min gets the (positive) offset. */
static float apr__qz_make_qkx2(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                               float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep,
                               bool use_mad) {
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; i++) L[i] = 0;
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        int l = apr__qz_nearest(iscale * (x[i] - min));
        L[i] = (uint8_t)APR__QZ_CLAMP(l, 0, nmax);
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_error += weights[i] * diff;
    }
    if (nstep < 1) {
        *the_min = -min;
        return scale;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = apr__qz_nearest(iscale * (x[i] - min));
            l = APR__QZ_CLAMP(l, 0, nmax);
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                cur_error += weights[i] * diff;
            }
            if (cur_error < best_error) {
                for (int i = 0; i < n; i++) L[i] = Laux[i];
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* apr__qz_make_qkx2 (squared errors, n = 32) on the 8 sub-blocks of a super-block at once.
   Lane j performs exactly the operations of the scalar search on sub-block j, in the same
   order, so the results are the same bits; but eight independent chains of additions run
   side by side instead of one chain of dependent ones, and the compiler may vectorize
   across the lanes. Several times faster: Q4_K and Q5_K dominate a Q4_K_M conversion. */
#if defined(__GNUC__) || defined(__clang__)
#define APR__QZ_INLINE static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define APR__QZ_INLINE static __forceinline
#else
#define APR__QZ_INLINE static inline
#endif

APR__QZ_INLINE void apr__qz_make_qkx2_x8_body(int nmax, const float *x, const float *w, uint8_t *L, float *scales,
                                              float *the_mins, float rmin, float rdelta, int nstep) {
    /* levels are kept as floats: round(v) is (v + 1.5*2^23) - 1.5*2^23 exactly, the value
       apr__qz_nearest gives, and then all lane operations are plain float arithmetic */
    const float magic = 12582912.f, fmax_l = (float)nmax;
    float xt[32][8], wt[32][8], Lt[32][8], Lx[32][8];
    float mn[8], mx[8], sw[8], sx[8], scale[8], best[8], isc[8], ce[8], ts[8], tm[8];
    float sl[8], sl2[8], sxl[8];
    bool live[8], ok[8];
    for (int i = 0; i < 32; i++)
        for (int j = 0; j < 8; j++) {
            xt[i][j] = x[32 * j + i];
            wt[i][j] = w[32 * j + i];
        }
    for (int j = 0; j < 8; j++) {
        mn[j] = mx[j] = xt[0][j];
        sw[j] = wt[0][j];
        sx[j] = sw[j] * xt[0][j];
    }
    for (int i = 1; i < 32; i++)
        for (int j = 0; j < 8; j++) {
            mn[j] = xt[i][j] < mn[j] ? xt[i][j] : mn[j];
            mx[j] = xt[i][j] > mx[j] ? xt[i][j] : mx[j];
            sw[j] += wt[i][j];
            sx[j] += wt[i][j] * xt[i][j];
        }
    for (int j = 0; j < 8; j++) {
        if (mn[j] > 0) mn[j] = 0;
        live[j] = !(mx[j] == mn[j]);
        isc[j] = live[j] ? nmax / (mx[j] - mn[j]) : 0.0f;
        scale[j] = live[j] ? 1 / isc[j] : 0.0f;
        best[j] = 0;
    }
    for (int i = 0; i < 32; i++)
        for (int j = 0; j < 8; j++) {
            float l = (isc[j] * (xt[i][j] - mn[j]) + magic) - magic;
            l = l < 0.0f ? 0.0f : l > fmax_l ? fmax_l : l;
            Lt[i][j] = l;
            float diff = scale[j] * l + mn[j] - xt[i][j];
            best[j] += wt[i][j] * (diff * diff);
        }
    for (int is = 0; is <= nstep; is++) {
        for (int j = 0; j < 8; j++) {
            isc[j] = live[j] ? (rmin + rdelta * is + nmax) / (mx[j] - mn[j]) : 0.0f;
            sl[j] = sl2[j] = sxl[j] = ce[j] = 0;
        }
        for (int i = 0; i < 32; i++)
            for (int j = 0; j < 8; j++) {
                float l = (isc[j] * (xt[i][j] - mn[j]) + magic) - magic;
                l = l < 0.0f ? 0.0f : l > fmax_l ? fmax_l : l;
                Lx[i][j] = l;
                float wv = wt[i][j];
                sl[j] += wv * l;
                sl2[j] += wv * l * l;
                sxl[j] += wv * l * xt[i][j];
            }
        for (int j = 0; j < 8; j++) {
            float D = sw[j] * sl2[j] - sl[j] * sl[j];
            ok[j] = live[j] && D > 0;
            ts[j] = tm[j] = 0;
            if (ok[j]) {
                ts[j] = (sw[j] * sxl[j] - sx[j] * sl[j]) / D;
                tm[j] = (sl2[j] * sx[j] - sl[j] * sxl[j]) / D;
                if (tm[j] > 0) {
                    tm[j] = 0;
                    ts[j] = sxl[j] / sl2[j];
                }
            }
        }
        for (int i = 0; i < 32; i++)
            for (int j = 0; j < 8; j++) {
                float diff = ts[j] * Lx[i][j] + tm[j] - xt[i][j];
                ce[j] += wt[i][j] * (diff * diff);
            }
        for (int j = 0; j < 8; j++) {
            if (!ok[j] || !(ce[j] < best[j])) continue;
            for (int i = 0; i < 32; i++) Lt[i][j] = Lx[i][j];
            best[j] = ce[j];
            scale[j] = ts[j];
            mn[j] = tm[j];
        }
    }
    for (int j = 0; j < 8; j++) {
        scales[j] = live[j] ? scale[j] : 0.0f;
        the_mins[j] = -mn[j];
        for (int i = 0; i < 32; i++) L[32 * j + i] = live[j] ? (uint8_t)(int)Lt[i][j] : 0;
    }
}

static void apr__qz_make_qkx2_x8_generic(int nmax, const float *x, const float *w, uint8_t *L, float *scales,
                                         float *the_mins, float rmin, float rdelta, int nstep) {
    apr__qz_make_qkx2_x8_body(nmax, x, w, L, scales, the_mins, rmin, rdelta, nstep);
}
#if defined(APR__HAVE_X86_SIMD) && (defined(__GNUC__) || defined(__clang__))
/* The same code with 256-bit vectors for the 8 lanes. AVX2 without FMA on purpose: a fused
   multiply-add would round differently from the reference. */
__attribute__((target("avx2"))) static void apr__qz_make_qkx2_x8_avx2(int nmax, const float *x, const float *w,
                                                                      uint8_t *L, float *scales, float *the_mins,
                                                                      float rmin, float rdelta, int nstep) {
    apr__qz_make_qkx2_x8_body(nmax, x, w, L, scales, the_mins, rmin, rdelta, nstep);
}
#endif
static void apr__qz_make_qkx2_x8(int nmax, const float *x, const float *w, uint8_t *L, float *scales,
                                 float *the_mins, float rmin, float rdelta, int nstep) {
#if defined(APR__HAVE_X86_SIMD) && (defined(__GNUC__) || defined(__clang__))
    if (apr__simd_level() >= 1) {
        apr__qz_make_qkx2_x8_avx2(nmax, x, w, L, scales, the_mins, rmin, rdelta, nstep);
        return;
    }
#endif
    apr__qz_make_qkx2_x8_generic(nmax, x, w, L, scales, the_mins, rmin, rdelta, nstep);
}

/* apr__qz_make_qx (n = 16) on the 16 sub-blocks of a Q6_K super-block at once, lane by
   lane the same operations as the scalar search (see apr__qz_make_qkx2_x8). w: the
   weights of the 256 elements (x^2, or the imatrix). */
APR__QZ_INLINE void apr__qz_make_qx_x16_body(int nmax, const float *x, const float *w, int8_t *L, float *scales) {
    const float magic = 12582912.f, lo = (float)-nmax, hi = (float)(nmax - 1);
    float xt[16][16], wt[16][16], Lt[16][16], Lx[16][16];
    float amax[16], max[16], isc[16], slx[16], sl2[16], scale[16], best[16];
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            xt[i][j] = x[16 * j + i];
            wt[i][j] = w[16 * j + i];
        }
    for (int j = 0; j < 16; j++) amax[j] = max[j] = 0;
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            float ax = fabsf(xt[i][j]);
            bool gt = ax > amax[j];
            amax[j] = gt ? ax : amax[j];
            max[j] = gt ? xt[i][j] : max[j];
        }
    for (int j = 0; j < 16; j++) {
        isc[j] = amax[j] < 1e-15f ? 0.0f : -nmax / max[j];
        slx[j] = sl2[j] = 0;
    }
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            float l = (isc[j] * xt[i][j] + magic) - magic;
            l = l < lo ? lo : l > hi ? hi : l;
            Lt[i][j] = l;
            slx[j] += wt[i][j] * xt[i][j] * l;
            sl2[j] += wt[i][j] * l * l;
        }
    for (int j = 0; j < 16; j++) {
        scale[j] = sl2[j] ? slx[j] / sl2[j] : 0.0f;
        best[j] = scale[j] * slx[j];
    }
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        for (int j = 0; j < 16; j++) {
            isc[j] = amax[j] < 1e-15f ? 0.0f : -(nmax + 0.1f * is) / max[j];
            slx[j] = sl2[j] = 0;
        }
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 16; j++) {
                float l = (isc[j] * xt[i][j] + magic) - magic;
                l = l < lo ? lo : l > hi ? hi : l;
                Lx[i][j] = l;
                slx[j] += wt[i][j] * xt[i][j] * l;
                sl2[j] += wt[i][j] * l * l;
            }
        for (int j = 0; j < 16; j++) {
            if (!(sl2[j] > 0 && slx[j] * slx[j] > best[j] * sl2[j])) continue;
            for (int i = 0; i < 16; i++) Lt[i][j] = Lx[i][j];
            scale[j] = slx[j] / sl2[j];
            best[j] = scale[j] * slx[j];
        }
    }
    for (int j = 0; j < 16; j++) {
        bool dead = amax[j] < 1e-15f;
        scales[j] = dead ? 0.0f : scale[j];
        for (int i = 0; i < 16; i++) L[16 * j + i] = dead ? 0 : (int8_t)((int)Lt[i][j] + nmax);
    }
}

static void apr__qz_make_qx_x16_generic(int nmax, const float *x, const float *w, int8_t *L, float *scales) {
    apr__qz_make_qx_x16_body(nmax, x, w, L, scales);
}
#if defined(APR__HAVE_X86_SIMD) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2"))) static void apr__qz_make_qx_x16_avx2(int nmax, const float *x, const float *w,
                                                                     int8_t *L, float *scales) {
    apr__qz_make_qx_x16_body(nmax, x, w, L, scales);
}
#endif
static void apr__qz_make_qx_x16(int nmax, const float *x, const float *w, int8_t *L, float *scales) {
#if defined(APR__HAVE_X86_SIMD) && (defined(__GNUC__) || defined(__clang__))
    if (apr__simd_level() >= 1) {
        apr__qz_make_qx_x16_avx2(nmax, x, w, L, scales);
        return;
    }
#endif
    apr__qz_make_qx_x16_generic(nmax, x, w, L, scales);
}

/* 6-bit scale and min of sub-block j in the 12-byte packing of Q4_K / Q5_K */
static void apr__qz_pack_k4(uint8_t *s, int j, uint8_t ls, uint8_t lm) {
    if (j < 4) {
        s[j] = ls;
        s[j + 4] = lm;
    } else {
        s[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
        s[j - 4] |= (uint8_t)((ls >> 4) << 6);
        s[j] |= (uint8_t)((lm >> 4) << 6);
    }
}
static void apr__qz_unpack_k4(const uint8_t *q, int j, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63; *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* ---- K-quants: super-blocks of 256 -------------------------------------------------------- */

/* Q2_K {u8 scales[16] (lo: scale, hi: min); u8 qs[64]; f16 d; f16 dmin} = 84 bytes.
   Once d, dmin and the scales are set, every element's level is found again with them
   (L holds the search's levels for sub-blocks whose scale rounded to 0). */
static void apr__qz_q2_levels(const float *x, uint8_t *y, uint8_t *L) {
    const uint8_t *sc = y;
    const float dd = apr__qz_get_f16(y + 80), dmin = apr__qz_get_f16(y + 82);
    for (int j = 0; j < 16; j++) {
        const float d = dd * (sc[j] & 0xF);
        if (!d) continue;
        const float dm = dmin * (sc[j] >> 4);
        for (int ii = 0; ii < 16; ii++) {
            int l = apr__qz_nearest((x[16 * j + ii] + dm) / d);
            L[16 * j + ii] = (uint8_t)APR__QZ_CLAMP(l, 0, 3);
        }
    }
    for (int j = 0; j < APR__QK_K; j += 128)
        for (int l = 0; l < 32; l++)
            y[16 + j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

static void apr__qz_q2_k(const float *x, uint8_t *y, int64_t nb) {
    uint8_t L[APR__QK_K], Laux[16];
    float weights[16], mins[16], scales[16];
    for (int64_t i = 0; i < nb; i++, x += APR__QK_K, y += 84) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; j++) {
            for (int l = 0; l < 16; l++) weights[l] = fabsf(x[16 * j + l]);
            scales[j] = apr__qz_make_qkx2(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux,
                                          -0.5f, 0.1f, 15, true);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        uint8_t *sc = y;
        if (max_scale > 0) {
            float iscale = 15.f / max_scale;
            for (int j = 0; j < 16; j++) sc[j] = (uint8_t)apr__qz_nearest(iscale * scales[j]);
            apr__qz_put_f16(y + 80, max_scale / 15.f);
        } else {
            for (int j = 0; j < 16; j++) sc[j] = 0;
            apr__qz_put_f16(y + 80, 0.f);
        }
        if (max_min > 0) {
            float iscale = 15.f / max_min;
            for (int j = 0; j < 16; j++) sc[j] |= (uint8_t)(apr__qz_nearest(iscale * mins[j]) << 4);
            apr__qz_put_f16(y + 82, max_min / 15.f);
        } else {
            apr__qz_put_f16(y + 82, 0.f);
        }
        apr__qz_q2_levels(x, y, L);
    }
}

/* Q3_K's 6-bit scale j (0..63, 32 meaning 0) into the 12-byte packing */
static void apr__qz_pack_k3(uint8_t *sc, int j, int l) {
    if (j < 8) sc[j] = (uint8_t)(l & 0xF);
    else sc[j - 8] |= (uint8_t)((l & 0xF) << 4);
    sc[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
}

/* Levels of every element from d and the scales, then high bits into hmask, low 2 bits
   into qs */
static void apr__qz_q3_levels(const float *x, uint8_t *y, int8_t *L) {
    const uint8_t *sc = y + 96;
    const float dd = apr__qz_get_f16(y + 108);
    for (int j = 0; j < 16; j++) {
        int s = j < 8 ? sc[j] & 0xF : sc[j - 8] >> 4;
        s = (s | (((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
        float d = dd * s;
        if (!d) continue;
        for (int ii = 0; ii < 16; ii++) {
            int l = apr__qz_nearest(x[16 * j + ii] / d);
            L[16 * j + ii] = (int8_t)(APR__QZ_CLAMP(l, -4, 3) + 4);
        }
    }
    uint8_t *hmask = y, *qs = y + 32;
    memset(hmask, 0, 32);
    int m = 0;
    uint8_t hm = 1;
    for (int j = 0; j < APR__QK_K; j++) {
        if (L[j] > 3) {
            hmask[m] |= hm;
            L[j] -= 4;
        }
        if (++m == 32) { m = 0; hm = (uint8_t)(hm << 1); }
    }
    for (int j = 0; j < APR__QK_K; j += 128)
        for (int l = 0; l < 32; l++)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

/* Q3_K {u8 hmask[32]; u8 qs[64]; u8 scales[12] (16 x 6-bit); f16 d} = 110 bytes */
static void apr__qz_q3_k(const float *x, uint8_t *y, int64_t nb) {
    int8_t L[APR__QK_K];
    float scales[16];
    for (int64_t i = 0; i < nb; i++, x += APR__QK_K, y += 110) {
        float max_scale = 0, amax = 0;
        for (int j = 0; j < 16; j++) {
            scales[j] = apr__qz_make_q3(16, 4, x + 16 * j, L + 16 * j);
            float a = fabsf(scales[j]);
            if (a > amax) { amax = a; max_scale = scales[j]; }
        }
        uint8_t *sc = y + 96;
        memset(sc, 0, 12);
        if (max_scale) {
            float iscale = -32.f / max_scale;
            for (int j = 0; j < 16; j++) {
                int l = apr__qz_nearest(iscale * scales[j]);
                apr__qz_pack_k3(sc, j, APR__QZ_CLAMP(l, -32, 31) + 32);
            }
            apr__qz_put_f16(y + 108, 1 / iscale);
        } else {
            apr__qz_put_f16(y + 108, 0.f);
        }
        apr__qz_q3_levels(x, y, L);
    }
}

/* Q4_K / Q5_K: every element's level from d, dmin and the 6-bit scales, then packed */
static void apr__qz_q45_levels(const float *x, uint8_t *y, int nmax) {
    uint8_t L[APR__QK_K];
    const uint8_t *sc = y + 4;
    const float dd = apr__qz_get_f16(y), dmin = apr__qz_get_f16(y + 2);
    for (int j = 0; j < 8; j++) {
        uint8_t s, m;
        apr__qz_unpack_k4(sc, j, &s, &m);
        const float d = dd * s;
        if (!d) continue;
        const float dm = dmin * m;
        for (int ii = 0; ii < 32; ii++) {
            int l = apr__qz_nearest((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = (uint8_t)APR__QZ_CLAMP(l, 0, nmax);
        }
    }
    if (nmax == 15) {
        uint8_t *q = y + 16;
        for (int j = 0; j < APR__QK_K; j += 64, q += 32)
            for (int l = 0; l < 32; l++) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    } else {
        uint8_t *qh = y + 16, *ql = y + 48;
        memset(qh, 0, 32);
        uint8_t m1 = 1, m2 = 2;
        for (int n = 0; n < APR__QK_K; n += 64, ql += 32) {
            for (int j = 0; j < 32; j++) {
                int l1 = L[n + j], l2 = L[n + j + 32];
                if (l1 > 15) { l1 -= 16; qh[j] |= m1; }
                if (l2 > 15) { l2 -= 16; qh[j] |= m2; }
                ql[j] = (uint8_t)(l1 | (l2 << 4));
            }
            m1 = (uint8_t)(m1 << 2);
            m2 = (uint8_t)(m2 << 2);
        }
    }
}

/* Q4_K {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]} = 144 and
   Q5_K {f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]} = 176 share the search */
static void apr__qz_q45_k(const float *x, uint8_t *y, int64_t nb, int nmax) {
    uint8_t L[APR__QK_K];
    float weights[APR__QK_K], mins[8], scales[8];
    const int bytes = nmax == 15 ? 144 : 176;
    for (int64_t i = 0; i < nb; i++, x += APR__QK_K, y += bytes) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 8; j++) {
            float sum_x2 = 0;
            for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
            float av_x = sqrtf(sum_x2 / 32);
            for (int l = 0; l < 32; l++) weights[32 * j + l] = av_x + fabsf(x[32 * j + l]);
        }
        if (nmax == 15) apr__qz_make_qkx2_x8(15, x, weights, L, scales, mins, -1.f, 0.1f, 20);
        else apr__qz_make_qkx2_x8(31, x, weights, L, scales, mins, -0.5f, 0.1f, 15);
        for (int j = 0; j < 8; j++) {
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
        float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
        uint8_t *sc = y + 4;
        memset(sc, 0, 12);
        for (int j = 0; j < 8; j++) {
            uint8_t ls = (uint8_t)apr__qz_nearest(inv_scale * scales[j]);
            uint8_t lm = (uint8_t)apr__qz_nearest(inv_min * mins[j]);
            apr__qz_pack_k4(sc, j, APR__MIN(63, ls), APR__MIN(63, lm));
        }
        apr__qz_put_f16(y, max_scale / 63.f);
        apr__qz_put_f16(y + 2, max_min / 63.f);
        apr__qz_q45_levels(x, y, nmax);
    }
}

/* Q6_K {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d} = 210 bytes */
static void apr__qz_q6_k(const float *x, uint8_t *y, int64_t nb, const float *qw) {
    int8_t L[APR__QK_K];
    float scales[16], weights[APR__QK_K];
    for (int64_t i = 0; i < nb; i++, x += APR__QK_K, y += 210) {
        float max_scale = 0, max_abs_scale = 0;
        /* with an imatrix its values are the weights, as in llama.cpp; else x^2 */
        for (int l = 0; l < APR__QK_K; l++) weights[l] = qw ? qw[APR__QK_K * i + l] : x[l] * x[l];
        apr__qz_make_qx_x16(32, x, weights, L, scales);
        for (int ib = 0; ib < 16; ib++) {
            const float scale = scales[ib];
            if (fabsf(scale) > max_abs_scale) { max_abs_scale = fabsf(scale); max_scale = scale; }
        }
        if (max_abs_scale < 1e-15f) {
            memset(y, 0, 210);
            continue;
        }
        float iscale = -128.f / max_scale;
        apr__qz_put_f16(y + 208, 1 / iscale);
        int8_t *sc = (int8_t *)(y + 192);
        for (int ib = 0; ib < 16; ib++) sc[ib] = (int8_t)APR__MIN(127, apr__qz_nearest(iscale * scales[ib]));
        const float dd = apr__qz_get_f16(y + 208);
        for (int j = 0; j < 16; j++) {
            float d = dd * sc[j];
            if (!d) continue;
            for (int ii = 0; ii < 16; ii++) {
                int l = apr__qz_nearest(x[16 * j + ii] / d);
                L[16 * j + ii] = (int8_t)(APR__QZ_CLAMP(l, -32, 31) + 32);
            }
        }
        uint8_t *ql = y, *qh = y + 128;
        for (int j = 0; j < APR__QK_K; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; l++) {
                const uint8_t q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF;
                const uint8_t q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                ql[l] = (uint8_t)(q1 | (q3 << 4));
                ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
                qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                                  ((L[j + l + 96] >> 4) << 6));
            }
        }
    }
}

/* ---- with an importance matrix (llama.cpp's *_impl paths): each element's error counts
   with weight imatrix[col] * sqrt(sigma2 + x^2); the scales of K-quant sub-blocks are then
   fit to the sub-blocks' total weights instead of following the largest one. ----------- */

/* make_qkx2's search with 37 finer steps and squared errors */
static float apr__qz_make_qkx3(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min,
                               uint8_t *Laux) {
    const float rmin = -0.9f, rdelta = 0.05f;
    const int nstep = 36;
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += weights[i];
        sum_x += weights[i] * x[i];
    }
    if (min > 0) min = 0;
    if (!(max > min)) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_mad = 0;
    for (int i = 0; i < n; i++) {
        int l = apr__qz_nearest(iscale * (x[i] - min));
        L[i] = (uint8_t)APR__QZ_CLAMP(l, 0, nmax);
        float diff = scale * L[i] + min - x[i];
        best_mad += weights[i] * diff * diff;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            const float v = iscale * (x[i] - min);
            const int l = v > 0 ? apr__qz_nearest(APR__MIN(v, (float)nmax)) : 0;
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float mad = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                mad += weights[i] * diff * diff;
            }
            if (mad < best_mad) {
                memcpy(L, Laux, (size_t)n);
                best_mad = mad;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* Levels 0..nmax for non-negative values (the sub-block scales or mins themselves). */
static float apr__qz_make_qp(int n, int nmax, const float *x, uint8_t *L, const float *qw) {
    float max = 0;
    for (int i = 0; i < n; i++) max = APR__MAX(max, x[i]);
    if (max < 1e-15f) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = nmax / max;
    for (int i = 0; i < n; i++) L[i] = (uint8_t)apr__qz_nearest(iscale * x[i]);
    float scale = 1 / iscale;
    float best_mse = 0;
    for (int i = 0; i < n; i++) {
        float diff = x[i] - scale * L[i];
        best_mse += qw[i] * diff * diff;
    }
    for (int is = -4; is <= 4; is++) {
        if (is == 0) continue;
        float iscale_is = (0.1f * is + nmax) / max;
        float scale_is = 1 / iscale_is;
        float mse = 0;
        for (int i = 0; i < n; i++) {
            int l = APR__MIN(nmax, apr__qz_nearest(iscale_is * x[i]));
            float diff = x[i] - scale_is * l;
            mse += qw[i] * diff * diff;
        }
        if (mse < best_mse) {
            best_mse = mse;
            iscale = iscale_is;
        }
    }
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = APR__MIN(nmax, apr__qz_nearest(iscale * x[i]));
        L[i] = (uint8_t)l;
        sumlx += qw[i] * x[i] * l;
        suml2 += qw[i] * l * l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            float w = qw[i];
            float slx = sumlx - w * x[i] * L[i];
            float sl2 = suml2 - w * L[i] * L[i];
            if (slx > 0 && sl2 > 0) {
                int new_l = APR__MIN(nmax, apr__qz_nearest(x[i] * sl2 / slx));
                if (new_l != L[i]) {
                    slx += w * x[i] * new_l;
                    sl2 += w * new_l * new_l;
                    if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (uint8_t)new_l; sumlx = slx; suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Q4_0 / Q5_0 (levels -8..7 / -16..15) and Q4_1 / Q5_1 (0..15 / 0..31) of one row; sigma2
   is the row's mean square */
static void apr__qz_legacy_w(int type, const float *x, uint8_t *y, int64_t n, const float *qw) {
    float sigma2 = 0;
    for (int64_t j = 0; j < n; j++) sigma2 += x[j] * x[j];
    sigma2 /= n;
    float weight[32];
    int8_t L[32];
    uint8_t U[32], Laux[32];
    const int bytes = type == APR_TYPE_Q4_0 ? 18 : type == APR_TYPE_Q4_1 ? 20 : type == APR_TYPE_Q5_0 ? 22 : 24;
    for (int64_t ib = 0; ib < n / 32; ib++, y += bytes) {
        const float *xb = x + 32 * ib;
        for (int j = 0; j < 32; j++) weight[j] = qw[32 * ib + j] * sqrtf(sigma2 + xb[j] * xb[j]);
        uint8_t *qs;
        if (type == APR_TYPE_Q4_0 || type == APR_TYPE_Q5_0) {
            float d = apr__qz_make_qx(32, type == APR_TYPE_Q4_0 ? 8 : 16, xb, L, weight);
            apr__qz_put_f16(y, d);
            for (int j = 0; j < 32; j++) U[j] = (uint8_t)L[j];
            qs = y + (type == APR_TYPE_Q4_0 ? 2 : 6);
        } else {
            float min;
            float d = apr__qz_make_qkx3(32, type == APR_TYPE_Q4_1 ? 15 : 31, xb, weight, U, &min, Laux);
            apr__qz_put_f16(y, d);
            apr__qz_put_f16(y + 2, -min);
            qs = y + (type == APR_TYPE_Q4_1 ? 4 : 8);
        }
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            qs[j] = (uint8_t)((U[j] & 15) | ((U[j + 16] & 15) << 4));
            qh |= (uint32_t)((U[j] >> 4) & 1) << j;
            qh |= (uint32_t)((U[j + 16] >> 4) & 1) << (j + 16);
        }
        if (type == APR_TYPE_Q5_0) apr__qz_put_qh(y + 2, qh);
        if (type == APR_TYPE_Q5_1) apr__qz_put_qh(y + 4, qh);
    }
}

static void apr__qz_q2_k_w(const float *x, uint8_t *y, int64_t nb, const float *qw) {
    uint8_t L[APR__QK_K], Laux[16], Ls[16], Lm[16];
    float mins[16], scales[16], sw[16], weight[16];
    for (int64_t i = 0; i < nb; i++, x += APR__QK_K, y += 84) {
        float sumx2 = 0;
        for (int j = 0; j < APR__QK_K; j++) sumx2 += x[j] * x[j];
        float sigma2 = sumx2 / APR__QK_K;
        for (int j = 0; j < 16; j++) {
            const float *w = qw + APR__QK_K * i + 16 * j;
            for (int l = 0; l < 16; l++) weight[l] = w[l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
            sw[j] = 0;
            for (int l = 0; l < 16; l++) sw[j] += weight[l];
            scales[j] = apr__qz_make_qkx3(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], Laux);
        }
        float dm = apr__qz_make_qp(16, 15, scales, Ls, sw);
        float mm = apr__qz_make_qp(16, 15, mins, Lm, sw);
        apr__qz_put_f16(y + 80, dm);
        apr__qz_put_f16(y + 82, mm);
        for (int j = 0; j < 16; j++) y[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));
        apr__qz_q2_levels(x, y, L);
    }
}

static void apr__qz_q3_k_w(const float *x, uint8_t *y, int64_t nb, const float *qw) {
    int8_t L[APR__QK_K], Ls[16];
    float scales[16], weight[16], sw[16];
    for (int64_t i = 0; i < nb; i++, x += APR__QK_K, y += 110) {
        float sumx2 = 0;
        for (int j = 0; j < APR__QK_K; j++) sumx2 += x[j] * x[j];
        float sigma2 = 2 * sumx2 / APR__QK_K;
        for (int j = 0; j < 16; j++) {
            const float *w = qw + APR__QK_K * i + 16 * j;
            for (int l = 0; l < 16; l++) weight[l] = w[l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
            float sumw = 0;
            for (int l = 0; l < 16; l++) sumw += weight[l];
            sw[j] = sumw;
            scales[j] = apr__qz_make_qx(16, 4, x + 16 * j, L + 16 * j, weight);
        }
        uint8_t *sc = y + 96;
        memset(sc, 0, 12);
        float d_block = apr__qz_make_qx(16, 32, scales, Ls, sw);
        for (int j = 0; j < 16; j++) apr__qz_pack_k3(sc, j, Ls[j]);
        apr__qz_put_f16(y + 108, d_block);
        apr__qz_q3_levels(x, y, L);
    }
}

static void apr__qz_q45_k_w(const float *x, uint8_t *y, int64_t nb, int nmax, const float *qw) {
    uint8_t L[APR__QK_K], Laux[32], Ls[8], Lm[8];
    float weights[32], sw[8], mins[8], scales[8];
    const int bytes = nmax == 15 ? 144 : 176;
    for (int64_t i = 0; i < nb; i++, x += APR__QK_K, y += bytes) {
        float sum_x2 = 0;
        for (int l = 0; l < APR__QK_K; l++) sum_x2 += x[l] * x[l];
        float sigma2 = 2 * sum_x2 / APR__QK_K;
        for (int j = 0; j < 8; j++) {
            const float *w = qw + APR__QK_K * i + 32 * j;
            for (int l = 0; l < 32; l++) weights[l] = w[l] * sqrtf(sigma2 + x[32 * j + l] * x[32 * j + l]);
            float sumw = 0;
            for (int l = 0; l < 32; l++) sumw += weights[l];
            sw[j] = sumw;
            scales[j] = apr__qz_make_qkx3(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux);
        }
        float d_block = apr__qz_make_qp(8, 63, scales, Ls, sw);
        float m_block = apr__qz_make_qp(8, 63, mins, Lm, sw);
        uint8_t *sc = y + 4;
        memset(sc, 0, 12);
        for (int j = 0; j < 8; j++) apr__qz_pack_k4(sc, j, APR__MIN(63, Ls[j]), APR__MIN(63, Lm[j]));
        apr__qz_put_f16(y, d_block);
        apr__qz_put_f16(y + 2, m_block);
        apr__qz_q45_levels(x, y, nmax);
    }
}

/* ---- IQ4_NL {f16 d; u8 qs[16]} and IQ4_XS {f16 d; u16 scales_h; u8 scales_l[4]; u8 qs[128]}:
   16 non-linear levels; the scale is searched over 15 candidates per block of 32 ------------ */

static const int8_t apr__qz_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                                1,    13,   25,  38,  53,  69,  89,  113};

static int apr__qz_iq4_index(float x) {
    /* the nearest level; at a midpoint the upper one */
    const int8_t *v = apr__qz_iq4nl_values;
    const float x2 = x + x;
    int idx = 0;
    for (int step = 8; step > 0; step >>= 1) {
        const int j = idx + step;
        idx = (x2 >= (float)(v[j - 1] + v[j])) ? j : idx;
    }
    return idx;
}

/* One super-block of sb elements in blocks of 32 (sb == 32: IQ4_NL, 256: IQ4_XS). */
static void apr__qz_iq4_super(int sb, const float *x, uint8_t *dh, uint8_t *q4, uint8_t *scales_h,
                              uint8_t *scales_l, const float *qw) {
    const int8_t *values = apr__qz_iq4nl_values;
    const int ntry = 7;
    float scales[APR__QK_K / 32], weight[32];
    uint8_t L[APR__QK_K];
    float sigma2 = 0;
    for (int j = 0; j < sb; j++) sigma2 += x[j] * x[j];
    sigma2 *= 2.f / sb;
    memset(q4, 0, (size_t)sb / 2);
    apr__qz_put_f16(dh, 0.f);
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < sb / 32; ib++) {
        const float *xb = x + ib * 32;
        uint8_t *Lb = L + ib * 32;
        if (qw) {
            for (int j = 0; j < 32; j++) weight[j] = qw[ib * 32 + j] * sqrtf(sigma2 + xb[j] * xb[j]);
        } else {
            for (int j = 0; j < 32; j++) weight[j] = xb[j] * xb[j];
        }
        float amax = 0;
        float max = apr__qz_absmax_signed(xb, 32, &amax);
        if (amax < 1e-15f) {
            scales[ib] = 0;
            for (int j = 0; j < 32; j++) Lb[j] = 0;
            continue;
        }
        float d = -max / values[0];
        float id = 1 / d;
        float sumqx = 0, sumq2 = 0;
        for (int j = 0; j < 32; j++) {
            int l = apr__qz_iq4_index(id * xb[j]);
            Lb[j] = (uint8_t)l;
            float q = values[l], w = weight[j];
            sumqx += w * q * xb[j];
            sumq2 += w * q * q;
        }
        d = sumqx / sumq2;
        float best = d * sumqx;
        for (int itry = -ntry; itry <= ntry; itry++) {
            id = (itry + values[0]) / max;
            sumqx = sumq2 = 0;
            for (int j = 0; j < 32; j++) {
                int l = apr__qz_iq4_index(id * xb[j]);
                float q = values[l], w = weight[j];
                sumqx += w * q * xb[j];
                sumq2 += w * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        scales[ib] = d;
        if (fabsf(d) > amax_scale) { amax_scale = fabsf(d); max_scale = d; }
    }
    if (sb > 32) {
        int nb = sb / 32;
        scales_h[0] = scales_h[1] = 0;
        float d = -max_scale / 32;
        apr__qz_put_f16(dh, d);
        float id = d ? 1 / d : 0.f;
        uint16_t sh = 0;
        for (int ib = 0; ib < nb; ib++) {
            int l = apr__qz_nearest(id * scales[ib]);
            l = APR__QZ_CLAMP(l, -32, 31);
            float dl = d * l;
            float idl = dl ? 1 / dl : 0.f;
            uint8_t *Lb = L + ib * 32;
            const float *xb = x + ib * 32;
            for (int j = 0; j < 32; j++) Lb[j] = (uint8_t)apr__qz_iq4_index(idl * xb[j]);
            l += 32;
            if (ib % 2 == 0) scales_l[ib / 2] = (uint8_t)(l & 0xf);
            else scales_l[ib / 2] |= (uint8_t)((l & 0xf) << 4);
            sh |= (uint16_t)((l >> 4) << (2 * (ib % 8)));
        }
        scales_h[0] = (uint8_t)(sh & 0xff);
        scales_h[1] = (uint8_t)(sh >> 8);
    } else {
        apr__qz_put_f16(dh, scales[0]);
        float id = scales[0] ? 1 / scales[0] : 0;
        for (int j = 0; j < sb; j++) L[j] = (uint8_t)apr__qz_iq4_index(id * x[j]);
    }
    for (int i = 0; i < sb / 32; i++)
        for (int j = 0; j < 16; j++) q4[16 * i + j] = (uint8_t)(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

static void apr__qz_iq4_nl(const float *x, uint8_t *y, int64_t nb, const float *qw) {
    for (int64_t i = 0; i < nb; i++)
        apr__qz_iq4_super(32, x + 32 * i, y + 18 * i, y + 18 * i + 2, NULL, NULL, qw ? qw + 32 * i : NULL);
}

static void apr__qz_iq4_xs(const float *x, uint8_t *y, int64_t nb, const float *qw) {
    for (int64_t i = 0; i < nb; i++) {
        uint8_t *b = y + 136 * i;
        apr__qz_iq4_super(APR__QK_K, x + APR__QK_K * i, b, b + 8, b + 2, b + 4,
                          qw ? qw + APR__QK_K * i : NULL);
    }
}

/* Without an imatrix n may span several rows. With one, n is ONE row and imatrix has n
   weights (one per column), as llama.cpp's quantize_* functions use it. */
APR__IMPL apr_result apr_quantize_row(int type, const float *src, void *dst, int64_t n,
                                      const float *imatrix) {
    if (!src || !dst || n < 0) return APR_ERROR_INVALID_ARGUMENT;
    int64_t bs = apr_type_block_size(type);
    if (bs <= 0 || n % bs != 0) return APR_ERROR_INVALID_ARGUMENT;
    int64_t nb = n / bs;
    uint8_t *y = (uint8_t *)dst;
    switch (type) {
    case APR_TYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); return APR_SUCCESS;
    case APR_TYPE_F16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = apr__fp32_to_fp16(src[i]);
            y[2 * i] = (uint8_t)h; y[2 * i + 1] = (uint8_t)(h >> 8);
        }
        return APR_SUCCESS;
    case APR_TYPE_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = apr__fp32_to_bf16(src[i]);
            y[2 * i] = (uint8_t)h; y[2 * i + 1] = (uint8_t)(h >> 8);
        }
        return APR_SUCCESS;
    case APR_TYPE_Q4_0: case APR_TYPE_Q4_1: case APR_TYPE_Q5_0: case APR_TYPE_Q5_1:
        if (imatrix) apr__qz_legacy_w(type, src, y, n, imatrix);
        else if (type == APR_TYPE_Q4_0) apr__qz_q4_0(src, y, nb);
        else if (type == APR_TYPE_Q4_1) apr__qz_q4_1(src, y, nb);
        else if (type == APR_TYPE_Q5_0) apr__qz_q5_0(src, y, nb);
        else apr__qz_q5_1(src, y, nb);
        return APR_SUCCESS;
    case APR_TYPE_Q8_0: apr__qz_q8_0(src, y, nb); return APR_SUCCESS;   /* imatrix unused, as llama.cpp */
    case APR_TYPE_Q2_K:
        if (imatrix) apr__qz_q2_k_w(src, y, nb, imatrix); else apr__qz_q2_k(src, y, nb);
        return APR_SUCCESS;
    case APR_TYPE_Q3_K:
        if (imatrix) apr__qz_q3_k_w(src, y, nb, imatrix); else apr__qz_q3_k(src, y, nb);
        return APR_SUCCESS;
    case APR_TYPE_Q4_K: case APR_TYPE_Q5_K: {
        int nmax = type == APR_TYPE_Q4_K ? 15 : 31;
        if (imatrix) apr__qz_q45_k_w(src, y, nb, nmax, imatrix); else apr__qz_q45_k(src, y, nb, nmax);
        return APR_SUCCESS;
    }
    case APR_TYPE_Q6_K: apr__qz_q6_k(src, y, nb, imatrix); return APR_SUCCESS;
    case APR_TYPE_IQ4_NL: apr__qz_iq4_nl(src, y, nb, imatrix); return APR_SUCCESS;
    case APR_TYPE_IQ4_XS: apr__qz_iq4_xs(src, y, nb, imatrix); return APR_SUCCESS;
    default: return APR_ERROR_UNSUPPORTED;
    }
}

/* True for the types apr_quantize_row writes (weights; not the activation-only Q8_1/Q8_K). */
static bool apr__qz_can_write(int type) {
    switch (type) {
    case APR_TYPE_F32: case APR_TYPE_F16: case APR_TYPE_BF16: case APR_TYPE_Q4_0: case APR_TYPE_Q4_1:
    case APR_TYPE_Q5_0: case APR_TYPE_Q5_1: case APR_TYPE_Q8_0: case APR_TYPE_Q2_K: case APR_TYPE_Q3_K:
    case APR_TYPE_Q4_K: case APR_TYPE_Q5_K: case APR_TYPE_Q6_K: case APR_TYPE_IQ4_NL: case APR_TYPE_IQ4_XS:
        return true;
    default: return false;
    }
}

/* ---- recipes: llama.cpp's file types and its per-tensor choices ---------------------------
   A recipe name is a general.file_type of llama.cpp ("Q4_K_M" = 15): its default type goes
   to every 2-D weight, then the mixture moves some tensors up (output Q6_K, attn_v and
   ffn_down Q6_K in the layers use_more_bits picks, ...), then a tensor whose row length is
   not a multiple of the type's block falls back to a 32-element type (Q4_K -> Q5_0,
   Q6_K -> Q8_0, ...). That is why most of Qwen2.5-0.5B (896 = 3.5 x 256) is Q5_0/Q8_0. */

typedef struct apr__qz_ftype {
    const char *name;
    int ftype;        /* general.file_type */
    int type;         /* default tensor type */
    bool pure;        /* a plain type name that is no llama.cpp recipe: no mixture */
} apr__qz_ftype;

static const apr__qz_ftype apr__qz_ftypes[] = {
    {"F32", 0, APR_TYPE_F32, false},      {"F16", 1, APR_TYPE_F16, false},
    {"BF16", 32, APR_TYPE_BF16, false},   {"Q4_0", 2, APR_TYPE_Q4_0, false},
    {"Q4_1", 3, APR_TYPE_Q4_1, false},    {"Q8_0", 7, APR_TYPE_Q8_0, false},
    {"Q5_0", 8, APR_TYPE_Q5_0, false},    {"Q5_1", 9, APR_TYPE_Q5_1, false},
    /* (Q2_K_S, 21, is left out: llama.cpp makes it only with an importance matrix) */
    {"Q2_K", 10, APR_TYPE_Q2_K, false},
    {"Q3_K_S", 11, APR_TYPE_Q3_K, false}, {"Q3_K_M", 12, APR_TYPE_Q3_K, false},
    {"Q3_K_L", 13, APR_TYPE_Q3_K, false}, {"Q4_K_S", 14, APR_TYPE_Q4_K, false},
    {"Q4_K_M", 15, APR_TYPE_Q4_K, false}, {"Q5_K_S", 16, APR_TYPE_Q5_K, false},
    {"Q5_K_M", 17, APR_TYPE_Q5_K, false}, {"Q6_K", 18, APR_TYPE_Q6_K, false},
    {"IQ4_NL", 25, APR_TYPE_IQ4_NL, false}, {"IQ4_XS", 30, APR_TYPE_IQ4_XS, false},
    /* plain types: the file type llama-quantize --pure writes for them */
    {"Q3_K", 12, APR_TYPE_Q3_K, true},    {"Q4_K", 15, APR_TYPE_Q4_K, true},
    {"Q5_K", 17, APR_TYPE_Q5_K, true},
};

static bool apr__qz_ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        int ca = (*a >= 'a' && *a <= 'z') ? *a - 32 : *a, cb = (*b >= 'a' && *b <= 'z') ? *b - 32 : *b;
        if (ca != cb) return false;
    }
    return *a == *b;
}

static const apr__qz_ftype *apr__qz_find_ftype(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < APR__ARRAY_LEN(apr__qz_ftypes); i++)
        if (apr__qz_ieq(apr__qz_ftypes[i].name, name)) return &apr__qz_ftypes[i];
    return NULL;
}

APR__IMPL int apr_ftype_from_name(const char *name) {
    const apr__qz_ftype *f = apr__qz_find_ftype(name);
    return f ? f->ftype : -1;
}

APR__IMPL const char *apr_ftype_name(int ftype) {
    for (size_t i = 0; i < APR__ARRAY_LEN(apr__qz_ftypes); i++)
        if (apr__qz_ftypes[i].ftype == ftype && !apr__qz_ftypes[i].pure) return apr__qz_ftypes[i].name;
    return NULL;
}

static bool apr__qz_ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* llama.cpp quantizes 2-D (and 3-D expert) ".weight" tensors except norms and a few small
   special ones. */
static bool apr__qz_allows(const char *name, int n_dims) {
    static const char *const never[] = {"_norm.weight", "ffn_gate_inp.weight", "altup", "laurel",
                                        "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight",
                                        "time_mix_", "attn_rel_b.weight", "position_embd", "pos_embd",
                                        "token_types", ".rel_pos", ".patch_embd", ".patch_merger"};
    if (n_dims < 2 || !apr__qz_ends_with(name, "weight")) return false;
    for (size_t i = 0; i < APR__ARRAY_LEN(never); i++)
        if (strstr(name, never[i])) return false;
    return true;
}

enum { APR__QZ_OTHER, APR__QZ_TOKEN_EMBD, APR__QZ_OUTPUT, APR__QZ_ATTN_V, APR__QZ_ATTN_K, APR__QZ_ATTN_Q,
       APR__QZ_ATTN_QKV, APR__QZ_ATTN_OUT, APR__QZ_FFN_UP, APR__QZ_FFN_GATE, APR__QZ_FFN_DOWN };

static int apr__qz_category(const char *name) {
    if (strcmp(name, "output.weight") == 0) return APR__QZ_OUTPUT;
    if (strcmp(name, "token_embd.weight") == 0) return APR__QZ_TOKEN_EMBD;
    if (strstr(name, "attn_qkv.weight")) return APR__QZ_ATTN_QKV;
    if (strstr(name, "attn_kv_b.weight") || strstr(name, "attn_v.weight")) return APR__QZ_ATTN_V;
    if (strstr(name, "attn_k.weight")) return APR__QZ_ATTN_K;
    if (strstr(name, "attn_q.weight")) return APR__QZ_ATTN_Q;
    if (strstr(name, "attn_output.weight")) return APR__QZ_ATTN_OUT;
    if (strstr(name, "ffn_up")) return APR__QZ_FFN_UP;
    if (strstr(name, "ffn_gate")) return APR__QZ_FFN_GATE;
    if (strstr(name, "ffn_down")) return APR__QZ_FFN_DOWN;
    return APR__QZ_OTHER;
}

/* llama.cpp's use_more_bits: the first and last eighth of the layers and every third one */
static bool apr__qz_more_bits(int i, int n) {
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* A row of n elements cannot take a type whose block does not divide it. (The table of
   llama.cpp since 2025; older builds sent Q2_K and Q3_K to IQ4_NL instead of Q4_0.) */
static int apr__qz_fallback(int type, int64_t ncols) {
    int64_t bs = apr_type_block_size(type);
    if (bs <= 0 || ncols % bs == 0) return type;
    int t;
    switch (type) {
    case APR_TYPE_IQ4_XS: t = APR_TYPE_IQ4_NL; break;
    case APR_TYPE_Q2_K: case APR_TYPE_Q3_K: t = APR_TYPE_Q4_0; break;
    case APR_TYPE_Q4_K: t = APR_TYPE_Q5_0; break;
    case APR_TYPE_Q5_K: t = APR_TYPE_Q5_1; break;
    case APR_TYPE_Q6_K: t = APR_TYPE_Q8_0; break;
    default: t = APR_TYPE_F16; break;
    }
    if (ncols % apr_type_block_size(t) != 0) t = APR_TYPE_F16;
    return t;
}

/* The mixture of llama.cpp's llama_tensor_get_type for the file types apr writes. */
static int apr__qz_mix(const apr__qz_ftype *ft, const apr_quantize_model_info *mi, const char *name,
                       const int64_t *ne, int type) {
    const int f = ft->ftype;
    const int cat = apr__qz_category(name);
    const bool falcon = mi->arch && strcmp(mi->arch, "falcon") == 0;
    const int n_layer = mi->n_layer > 0 ? mi->n_layer : 1;
    const int gqa = mi->n_head_kv > 0 ? mi->n_head / mi->n_head_kv : 1;
    const bool is70b = mi->arch && strcmp(mi->arch, "llama") == 0 && mi->n_layer == 80 && mi->n_head != mi->n_head_kv;
    int layer = 0;
    if (strncmp(name, "blk.", 4) == 0) layer = atoi(name + 4);
    if (cat == APR__QZ_OUTPUT || (!mi->has_output && cat == APR__QZ_TOKEN_EMBD)) {
        if (falcon || ne[0] % apr_type_block_size(type) != 0) return APR_TYPE_Q8_0;
        return type != APR_TYPE_Q8_0 ? APR_TYPE_Q6_K : type;
    }
    switch (cat) {
    case APR__QZ_ATTN_V:
        if (f == 10) type = gqa >= 4 ? APR_TYPE_Q4_K : APR_TYPE_Q3_K;
        else if (f == 12) type = layer < 2 ? APR_TYPE_Q5_K : APR_TYPE_Q4_K;
        else if (f == 13) type = APR_TYPE_Q5_K;
        else if ((f == 25 || f == 30) && gqa >= 4) type = APR_TYPE_Q5_K;
        else if ((f == 15 || f == 17) && apr__qz_more_bits(layer, n_layer)) type = APR_TYPE_Q6_K;
        else if (f == 14 && layer < 4) type = APR_TYPE_Q5_K;
        if (is70b && (type == APR_TYPE_Q3_K || type == APR_TYPE_Q4_K)) type = APR_TYPE_Q5_K;
        if (mi->n_expert == 8) type = APR_TYPE_Q8_0;
        break;
    case APR__QZ_ATTN_K:
        if (mi->n_expert == 8) type = APR_TYPE_Q8_0;
        break;
    case APR__QZ_FFN_DOWN:
        if (f == 10) type = APR_TYPE_Q3_K;
        else if (f == 12)
            type = layer < n_layer / 16 ? APR_TYPE_Q5_K
                 : (!falcon || apr__qz_more_bits(layer, n_layer)) ? APR_TYPE_Q4_K : APR_TYPE_Q3_K;
        else if (f == 13) type = falcon ? APR_TYPE_Q4_K : APR_TYPE_Q5_K;
        else if (f == 15) {
            if (falcon)
                type = layer < n_layer / 16 ? APR_TYPE_Q6_K
                     : apr__qz_more_bits(layer, n_layer) ? APR_TYPE_Q5_K : APR_TYPE_Q4_K;
            else if (apr__qz_more_bits(layer, n_layer)) type = APR_TYPE_Q6_K;
        }
        else if (layer < n_layer / 8 && (f == 25 || f == 30)) type = APR_TYPE_Q5_K;
        else if (f == 17 && apr__qz_more_bits(layer, n_layer)) type = APR_TYPE_Q6_K;
        else if (f == 14 && !falcon && layer < n_layer / 8) type = APR_TYPE_Q5_K;
        break;
    case APR__QZ_ATTN_OUT:
        if (!falcon) {
            if (mi->n_expert == 8) {
                if (f == 10 || f == 11 || f == 12 || f == 25 || f == 14 || f == 15 || f == 30) type = APR_TYPE_Q5_K;
            } else {
                if (f == 10) type = APR_TYPE_Q3_K;
                else if (f == 12) type = APR_TYPE_Q4_K;
                else if (f == 13) type = APR_TYPE_Q5_K;
            }
        } else if (f == 13) {
            type = APR_TYPE_Q4_K;
        }
        break;
    case APR__QZ_ATTN_QKV:
        if (f == 12 || f == 13) type = APR_TYPE_Q4_K;
        else if (f == 15) type = APR_TYPE_Q5_K;
        else if (f == 17) type = APR_TYPE_Q6_K;
        break;
    default: break;
    }
    return type;
}

static bool apr__qz_is_quantized(int type) {
    return type != APR_TYPE_F32 && type != APR_TYPE_F16 && type != APR_TYPE_BF16;
}

APR__IMPL int apr_quantize_tensor_type(const char *type_or_recipe, bool pure, const apr_quantize_model_info *info,
                                       const char *name, int n_dims, const int64_t *ne, int cur_type) {
    const apr__qz_ftype *ft = apr__qz_find_ftype(type_or_recipe);
    if (!ft || !info || !name || !ne || n_dims < 1) return -1;
    if (!apr__qz_allows(name, n_dims)) return cur_type;
    int type = ft->type;
    if (!apr__qz_is_quantized(type)) return type;
    if (!pure && !ft->pure) type = apr__qz_mix(ft, info, name, ne, type);
    return apr__qz_fallback(type, ne[0]);
}

#if defined(__clang__)
#pragma clang fp contract(on)
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

APR__IMPL apr_quantize_params apr_quantize_default_params(void) {
    apr_quantize_params p;
    memset(&p, 0, sizeof p);
    p.seed = 42;
    return p;
}

/* ---- the converter: one tensor at a time, rows quantized in parallel ----------------------
   Each tensor's rows come from a source (rows of a GGUF tensor, dequantized, or generated
   random values), are quantized by all threads into one buffer of the tensor's new size,
   and the buffer is written. Memory: the largest output tensor plus a few rows a thread. */

enum { APR__QZ_SRC_GGUF, APR__QZ_SRC_RANDOM };

typedef struct apr__qz_tensor {
    char name[64];
    int n_dims;
    int64_t ne[4];
    int type;                      /* output type */
    const apr_gguf_tensor *src;    /* APR__QZ_SRC_GGUF */
    float offset, amplitude;       /* APR__QZ_SRC_RANDOM: offset + amplitude * U(-1, 1) */
} apr__qz_tensor;

typedef struct apr__qz_job {
    int source;
    const apr__qz_tensor *t;
    uint64_t seed;                 /* per tensor */
    int64_t nrows, ncols;
    size_t src_row, dst_row;
    uint8_t *dst;
    float **bufs;                  /* one per thread */
    int64_t buf_rows;
    volatile int failed;
} apr__qz_job;

static uint64_t apr__qz_mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Row r of a random tensor depends only on (seed, r): the thread count changes nothing. */
static void apr__qz_random_row(uint64_t seed, int64_t row, float offset, float amplitude, float *out, int64_t n) {
    uint64_t s = apr__qz_mix64(seed ^ apr__qz_mix64((uint64_t)row));
    if (!s) s = 1;
    const float k = amplitude * (2.0f / 16777216.0f);
    int64_t i = 0;
    for (; i + 1 < n; i += 2) {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        uint64_t r = s * 2685821657736338717ull;
        out[i] = offset + (float)(int32_t)((r >> 40) & 0xFFFFFF) * k - amplitude;
        out[i + 1] = offset + (float)(int32_t)((r >> 8) & 0xFFFFFF) * k - amplitude;
    }
    if (i < n) {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        out[i] = offset + (float)(int32_t)(((s * 2685821657736338717ull) >> 40) & 0xFFFFFF) * k - amplitude;
    }
}

/* Source rows as floats; false for a type apr cannot read. */
static bool apr__qz_read_rows(int type, const uint8_t *src, float *out, int64_t n) {
    if (type == APR_TYPE_F32) {
        memcpy(out, src, (size_t)n * sizeof(float));
        return true;
    }
    if (type == APR_TYPE_F16 || type == APR_TYPE_BF16) {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));
            out[i] = type == APR_TYPE_F16 ? apr__fp16_to_fp32(h) : apr__bf16_to_fp32(h);
        }
        return true;
    }
    return apr_dequantize_row(type, src, out, n) == APR_SUCCESS;
}

static void apr__qz_job_run(void *arg, int ith, int nth) {
    apr__qz_job *job = (apr__qz_job *)arg;
    int64_t r0, r1;
    apr__split_range(job->nrows, 1, ith, nth, &r0, &r1);
    float *buf = job->bufs[ith];
    for (int64_t r = r0; r < r1 && !job->failed; r += job->buf_rows) {
        int64_t nr = APR__MIN(job->buf_rows, r1 - r);
        int64_t n = nr * job->ncols;
        if (job->source == APR__QZ_SRC_RANDOM) {
            for (int64_t k = 0; k < nr; k++)
                apr__qz_random_row(job->seed, r + k, job->t->offset, job->t->amplitude, buf + k * job->ncols,
                                   job->ncols);
        } else if (!apr__qz_read_rows(job->t->src->type, (const uint8_t *)job->t->src->data + (size_t)r * job->src_row,
                                      buf, n)) {
            job->failed = 1;
            return;
        }
        if (apr_quantize_row(job->t->type, buf, job->dst + (size_t)r * job->dst_row, n, NULL) != APR_SUCCESS) {
            job->failed = 1;
            return;
        }
    }
}

static uint64_t apr__qz_nrows(const apr__qz_tensor *t) {
    uint64_t n = 1;
    for (int d = 1; d < 4; d++) n *= (uint64_t)(t->ne[d] > 0 ? t->ne[d] : 1);
    return n;
}

static uint64_t apr__qz_tensor_bytes(const apr__qz_tensor *t) {
    return (uint64_t)apr_type_row_bytes(t->type, t->ne[0]) * apr__qz_nrows(t);
}

/* The file is written by a thread of its own while the pool converts the next tensor (two
   output buffers): on a big model the disk and the cores are busy at the same time. */
typedef struct apr__qz_writer {
    apr_gguf_writer *w;
    apr__mutex mu;
    apr__cond cv;
    const void *data;      /* the tensor being written, NULL when idle */
    size_t size;
    bool stop;
    apr_result res;
} apr__qz_writer;

static APR__UNUSED void apr__qz_writer_main(void *arg) {
    apr__qz_writer *q = (apr__qz_writer *)arg;
    apr__mutex_lock(&q->mu);
    for (;;) {
        while (!q->data && !q->stop) apr__cond_wait(&q->cv, &q->mu);
        if (!q->data) break;
        const void *data = q->data;
        size_t size = q->size;
        apr__mutex_unlock(&q->mu);
        apr_result r = apr_gguf_writer_write_tensor_data(q->w, data, size);
        apr__mutex_lock(&q->mu);
        if (r != APR_SUCCESS && q->res == APR_SUCCESS) q->res = r;
        q->data = NULL;
        apr__cond_broadcast(&q->cv);
    }
    apr__mutex_unlock(&q->mu);
}

/* Wait until the previous tensor is written, then hand over this one (data NULL: only
   wait). Without a writer thread, write here. */
static apr_result apr__qz_writer_put(apr__qz_writer *q, bool threaded, const void *data, size_t size) {
    if (!threaded) return data ? apr_gguf_writer_write_tensor_data(q->w, data, size) : APR_SUCCESS;
    apr__mutex_lock(&q->mu);
    while (q->data) apr__cond_wait(&q->cv, &q->mu);
    apr_result r = q->res;
    if (r == APR_SUCCESS && data) {
        q->data = data;
        q->size = size;
        apr__cond_broadcast(&q->cv);
    }
    apr__mutex_unlock(&q->mu);
    return r;
}

/* Write every tensor of the plan (already added to the writer, header begun). */
static apr_result apr__qz_write_tensors(apr_gguf_writer *w, const apr__qz_tensor *ts, int64_t n_tensors, int source,
                                        uint64_t seed, const apr_quantize_params *p, apr_error *err) {
    apr__logger lg;
    lg.fn = p->log_fn;
    lg.user = p->log_user;
    lg.level = APR_LOG_INFO;
    int n_threads = p->n_threads > 0 ? p->n_threads : apr_cpu_count();
    apr__pool *pool = apr__pool_create(n_threads);
    if (!pool) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory for the thread pool");
    n_threads = pool->n_threads;
    int64_t max_cols = 1;
    uint64_t max_bytes = 0;
    for (int64_t i = 0; i < n_tensors; i++) {
        max_cols = APR__MAX(max_cols, ts[i].ne[0]);
        max_bytes = APR__MAX(max_bytes, apr__qz_tensor_bytes(&ts[i]));
    }
    /* each thread converts about 64K values at a time (at least one row) */
    int64_t buf_elems = APR__MAX(max_cols, (int64_t)65536);
    float **bufs = (float **)apr__calloc((size_t)n_threads, sizeof(float *));
    uint8_t *outs[2];
    for (int k = 0; k < 2; k++)
        outs[k] = max_bytes <= SIZE_MAX ? (uint8_t *)APR_MALLOC((size_t)APR__MAX(max_bytes, (uint64_t)1)) : NULL;
    apr_result res = APR_SUCCESS;
    if (!bufs || !outs[0] || !outs[1])
        res = apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory for two tensors of %llu bytes",
                        (unsigned long long)max_bytes);
    for (int i = 0; i < n_threads && res == APR_SUCCESS; i++) {
        bufs[i] = (float *)APR_MALLOC((size_t)buf_elems * sizeof(float));
        if (!bufs[i]) res = apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory for conversion buffers");
    }
    apr__qz_writer wq;
    memset(&wq, 0, sizeof wq);
    wq.w = w;
    apr__mutex_init(&wq.mu);
    apr__cond_init(&wq.cv);
    apr__thread writer_thread;
    bool threaded = false;
#if !defined(APR_NO_THREADS)
    if (res == APR_SUCCESS) threaded = apr__thread_create(&writer_thread, apr__qz_writer_main, &wq);
#endif
    uint64_t t_start = apr__time_ns(), total = 0;
    for (int64_t i = 0; i < n_tensors && res == APR_SUCCESS; i++) {
        const apr__qz_tensor *t = &ts[i];
        uint64_t bytes = apr__qz_tensor_bytes(t);
        uint64_t t0 = apr__time_ns();
        uint8_t *out = outs[i & 1];   /* the other one may still be being written */
        const void *data = out;
        if (source == APR__QZ_SRC_GGUF && t->src->type == t->type) {
            data = t->src->data;     /* unchanged: copy the bytes as they are */
        } else {
            apr__qz_job job;
            memset(&job, 0, sizeof job);
            job.source = source;
            job.t = t;
            job.seed = apr__qz_mix64(seed + 0x1000193ull * (uint64_t)(i + 1));
            job.nrows = (int64_t)apr__qz_nrows(t);
            job.ncols = t->ne[0];
            job.src_row = source == APR__QZ_SRC_GGUF ? apr_type_row_bytes(t->src->type, t->ne[0]) : 0;
            job.dst_row = apr_type_row_bytes(t->type, t->ne[0]);
            job.dst = out;
            job.bufs = bufs;
            job.buf_rows = APR__MAX((int64_t)1, buf_elems / t->ne[0]);
            apr__pool_run(pool, apr__qz_job_run, &job, n_threads);
            if (job.failed) {
                res = apr__fail(err, APR_ERROR_UNSUPPORTED, "tensor '%s': cannot convert %s to %s", t->name,
                                source == APR__QZ_SRC_GGUF ? apr_type_name(t->src->type) : "F32",
                                apr_type_name(t->type));
                break;
            }
        }
        if (apr__qz_writer_put(&wq, threaded, data, (size_t)bytes) != APR_SUCCESS) {
            res = apr__fail(err, APR_ERROR_IO, "writing the tensors failed (at '%s')", t->name);
            break;
        }
        total += bytes;
        char shape[96];
        int len = snprintf(shape, sizeof shape, "%lld", (long long)t->ne[0]);
        for (int d = 1; d < t->n_dims && len > 0 && len < (int)sizeof shape; d++)
            len += snprintf(shape + len, sizeof shape - (size_t)len, " x %lld", (long long)t->ne[d]);
        apr__log(&lg, APR_LOG_INFO, "[%4lld/%4lld] %-32s [%s] %s -> %s, %.2f MiB, %.0f ms", (long long)(i + 1),
                 (long long)n_tensors, t->name, shape,
                 source == APR__QZ_SRC_GGUF ? apr_type_name(t->src->type) : "F32", apr_type_name(t->type),
                 bytes / 1048576.0, (apr__time_ns() - t0) / 1e6);
    }
    if (threaded) {
        apr_result r = apr__qz_writer_put(&wq, true, NULL, 0);
        if (r != APR_SUCCESS && res == APR_SUCCESS) res = apr__fail(err, APR_ERROR_IO, "writing the tensors failed");
        apr__mutex_lock(&wq.mu);
        wq.stop = true;
        apr__cond_broadcast(&wq.cv);
        apr__mutex_unlock(&wq.mu);
        apr__thread_join(writer_thread);
    }
    apr__cond_destroy(&wq.cv);
    apr__mutex_destroy(&wq.mu);
    if (res == APR_SUCCESS)
        apr__log(&lg, APR_LOG_INFO, "%lld tensors, %.2f MiB of tensor data in %.1f s on %d threads",
                 (long long)n_tensors, total / 1048576.0, (apr__time_ns() - t_start) / 1e9, n_threads);
    for (int i = 0; bufs && i < n_threads; i++) APR_FREE(bufs[i]);
    APR_FREE(bufs);
    APR_FREE(outs[0]);
    APR_FREE(outs[1]);
    apr__pool_free(pool);
    return res;
}

static apr_result apr__qz_add_tensors(apr_gguf_writer *w, const apr__qz_tensor *ts, int64_t n, apr_error *err) {
    for (int64_t i = 0; i < n; i++) {
        apr_result r = apr_gguf_writer_add_tensor(w, ts[i].name, ts[i].type, ts[i].n_dims, ts[i].ne);
        if (r != APR_SUCCESS) return apr__fail(err, r, "tensor '%s': cannot add it to the output", ts[i].name);
    }
    return APR_SUCCESS;
}

static void apr__qz_copy_name(char *dst, const char *src, size_t len) {
    if (len > 63) len = 63;
    memcpy(dst, src, len);
    dst[len] = 0;
}

static int64_t apr__qz_get_i(const apr_gguf *g, const char *arch, const char *suffix, int64_t def) {
    char key[128];
    int64_t v;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return apr_gguf_get_i64(g, key, &v) ? v : def;
}

APR__IMPL apr_result apr_quantize_model(const char *in_path, const char *out_path, const char *type_or_recipe,
                                        const apr_quantize_params *params, apr_error *err) {
    apr__error_clear(err);
    apr_quantize_params p = params ? *params : apr_quantize_default_params();
    const apr__qz_ftype *ft = apr__qz_find_ftype(type_or_recipe);
    if (!in_path || !out_path) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_quantize_model: NULL path");
    if (!ft) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "unknown type or recipe '%s'",
                              type_or_recipe ? type_or_recipe : "(null)");
    apr_gguf *g = NULL;
    apr_result res = apr_gguf_open(in_path, &g, err);
    if (res != APR_SUCCESS) return res;
    apr_gguf_writer *w = NULL;
    apr__qz_tensor *ts = NULL;
    int64_t nt = apr_gguf_n_tensors(g);
    char arch[64] = "";
    apr_str s;
    if (apr_gguf_get_str(g, "general.architecture", &s)) apr__qz_copy_name(arch, s.ptr, (size_t)s.len);
    apr_quantize_model_info mi;
    memset(&mi, 0, sizeof mi);
    mi.arch = arch;
    mi.n_layer = (int32_t)apr__qz_get_i(g, arch, "block_count", 0);
    mi.n_head = (int32_t)apr__qz_get_i(g, arch, "attention.head_count", 1);
    mi.n_head_kv = (int32_t)apr__qz_get_i(g, arch, "attention.head_count_kv", mi.n_head);
    mi.n_expert = (int32_t)apr__qz_get_i(g, arch, "expert_count", 0);
    mi.has_output = apr_gguf_find_tensor(g, "output.weight") != NULL;

    ts = (apr__qz_tensor *)apr__calloc((size_t)(nt > 0 ? nt : 1), sizeof *ts);
    if (!ts) { res = apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory"); goto done; }
    for (int64_t i = 0; i < nt; i++) {
        const apr_gguf_tensor *t = apr_gguf_tensor_at(g, i);
        apr__qz_tensor *q = &ts[i];
        if (t->name.len > 63) { res = apr__fail(err, APR_ERROR_UNSUPPORTED, "tensor %lld: name too long", (long long)i); goto done; }
        apr__qz_copy_name(q->name, t->name.ptr, (size_t)t->name.len);
        q->n_dims = t->n_dims;
        for (int d = 0; d < 4; d++) q->ne[d] = t->ne[d];
        q->src = t;
        q->type = apr_quantize_tensor_type(ft->name, p.pure, &mi, q->name, t->n_dims, t->ne, t->type);
        if (q->type != t->type && !apr__qz_can_write(q->type)) q->type = t->type;
    }

    res = apr_gguf_writer_create(&w, err);
    if (res != APR_SUCCESS) goto done;
    {
        uint64_t align = apr_gguf_alignment(g);
        if (align && align <= 0x80000000ull) apr_gguf_writer_set_alignment(w, (uint32_t)align);
    }
    for (int64_t i = 0; i < apr_gguf_n_kv(g); i++) {
        apr_str k = apr_gguf_key(g, i);
        /* set below, as llama.cpp does; split keys do not apply to the one output file */
        static const char *const skip[] = {"general.file_type", "general.quantization_version", "split.no",
                                           "split.count", "split.tensors.count"};
        bool skipped = false;
        for (size_t j = 0; j < APR__ARRAY_LEN(skip); j++)
            if (k.len == strlen(skip[j]) && memcmp(k.ptr, skip[j], (size_t)k.len) == 0) skipped = true;
        if (skipped) continue;
        res = apr_gguf_writer_copy_kv(w, g, i);
        if (res != APR_SUCCESS) {
            res = apr__fail(err, res, "cannot copy metadata key '%.*s'", (int)APR__MIN(k.len, 200), k.ptr);
            goto done;
        }
    }
    if (apr_gguf_writer_add_u32(w, "general.quantization_version", 2) != APR_SUCCESS ||
        apr_gguf_writer_add_u32(w, "general.file_type", (uint32_t)ft->ftype) != APR_SUCCESS) {
        res = apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "cannot add general.file_type");
        goto done;
    }
    res = apr__qz_add_tensors(w, ts, nt, err);
    if (res != APR_SUCCESS) goto done;
    res = apr_gguf_writer_begin_file(w, out_path, err);
    if (res != APR_SUCCESS) goto done;
    res = apr__qz_write_tensors(w, ts, nt, APR__QZ_SRC_GGUF, p.seed, &p, err);
    {
        apr_error e2;
        apr_result r2 = apr_gguf_writer_finish(w, &e2);
        if (res == APR_SUCCESS && r2 != APR_SUCCESS) res = apr__fail(err, r2, "%s", e2.message);
    }
done:
    apr_gguf_writer_free(w);
    APR_FREE(ts);
    apr_gguf_close(g);
    return res;
}

/* ---- synthetic models: real dimensions, random weights, a real tokenizer -------------------
   For benchmarks: the speed of a model depends on its shapes and types, not on its values.
   Weights are uniform with the spread of a trained model's initialisation (std 1/sqrt(fan-in)
   for projections, norms near 1, small biases), so activations stay finite through every
   layer; each row is a function of (seed, tensor, row), so any thread count writes the
   same file. */

typedef struct apr__synth_spec {
    const char *name, *arch, *title, *size_label;
    int32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
    bool tied, qkv_bias;
    float rope_base, eps;
    int32_t head_dim;      /* 0: n_embd / n_head; qwen3 sets it (and has q/k norms) */
    bool out_bias;         /* attn_output.bias (test-wide: a residual matvec with a bias) */
} apr__synth_spec;

static const apr__synth_spec apr__synth_specs[] = {
    {"qwen2.5-0.5b", "qwen2", "Qwen2.5 0.5B (synthetic)", "0.5B", 896, 24, 14, 2, 4864, 151936, 32768, true, true, 1e6f, 1e-6f, 0, false},
    {"qwen2.5-1.5b", "qwen2", "Qwen2.5 1.5B (synthetic)", "1.5B", 1536, 28, 12, 2, 8960, 151936, 32768, true, true, 1e6f, 1e-6f, 0, false},
    {"qwen2.5-3b", "qwen2", "Qwen2.5 3B (synthetic)", "3B", 2048, 36, 16, 2, 11008, 151936, 32768, true, true, 1e6f, 1e-6f, 0, false},
    {"qwen2.5-7b", "qwen2", "Qwen2.5 7B (synthetic)", "7B", 3584, 28, 28, 4, 18944, 151936, 32768, false, true, 1e6f, 1e-6f, 0, false},
    {"qwen2.5-14b", "qwen2", "Qwen2.5 14B (synthetic)", "14B", 5120, 48, 40, 8, 13824, 152064, 32768, false, true, 1e6f, 1e-6f, 0, false},
    {"qwen2.5-32b", "qwen2", "Qwen2.5 32B (synthetic)", "32B", 5120, 64, 40, 8, 27648, 151936, 32768, false, true, 1e6f, 1e-6f, 0, false},
    {"llama3-8b", "llama", "Llama 3 8B (synthetic)", "8B", 4096, 32, 32, 8, 14336, 128256, 8192, false, false, 500000.f, 1e-5f, 0, false},
    /* Qwen3 dense models (Hugging Face configs): head_dim 128 whatever n_embd / n_head */
    {"qwen3-0.6b", "qwen3", "Qwen3 0.6B (synthetic)", "0.6B", 1024, 28, 16, 8, 3072, 151936, 40960, true, false, 1e6f, 1e-6f, 128, false},
    {"qwen3-1.7b", "qwen3", "Qwen3 1.7B (synthetic)", "1.7B", 2048, 28, 16, 8, 6144, 151936, 40960, true, false, 1e6f, 1e-6f, 128, false},
    {"qwen3-4b", "qwen3", "Qwen3 4B (synthetic)", "4B", 2560, 36, 32, 8, 9728, 151936, 40960, true, false, 1e6f, 1e-6f, 128, false},
    {"qwen3-8b", "qwen3", "Qwen3 8B (synthetic)", "8B", 4096, 36, 32, 8, 12288, 151936, 40960, false, false, 1e6f, 1e-6f, 128, false},
    /* small ones for tests: the real vocabularies, every code path, seconds to write */
    {"test-qwen2", "qwen2", "Qwen2 test (synthetic)", "tiny", 128, 2, 4, 2, 384, 151936, 4096, true, true, 1e6f, 1e-6f, 0, false},
    {"test-llama3", "llama", "Llama 3 test (synthetic)", "tiny", 256, 2, 4, 2, 512, 128256, 8192, false, false, 500000.f, 1e-5f, 0, false},
    {"test-qwen3", "qwen3", "Qwen3 test (synthetic)", "tiny", 128, 2, 4, 2, 384, 151936, 40960, true, false, 1e6f, 1e-6f, 64, false},
    /* one layer whose rows take the CUDA decode matvec several steps each, where tiny
       rows take one, and an attn_output bias (tests/test_cuda.c); with the 32,000 tokens
       of llama-spm, ~130M weights */
    {"test-wide", "qwen2", "Qwen2 wide test (synthetic)", "tiny", 2304, 1, 18, 2, 6144, 32000, 4096, true, true, 1e6f, 1e-6f, 0, true},
};

APR__IMPL const char *const *apr_synthetic_names(void) {
    static const char *const names[] = {"qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-3b", "qwen2.5-7b", "qwen2.5-14b",
                                        "qwen2.5-32b",  "llama3-8b",    "qwen3-0.6b", "qwen3-1.7b", "qwen3-4b",
                                        "qwen3-8b",     NULL};
    return names;
}

static const apr__synth_spec *apr__synth_find(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < APR__ARRAY_LEN(apr__synth_specs); i++)
        if (apr__qz_ieq(apr__synth_specs[i].name, name)) return &apr__synth_specs[i];
    return NULL;
}

static void apr__synth_tensor(apr__qz_tensor *t, const char *name, int n_dims, int64_t ne0, int64_t ne1, float offset,
                              float amplitude) {
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = n_dims;
    t->ne[0] = ne0;
    t->ne[1] = n_dims > 1 ? ne1 : 1;
    t->ne[2] = t->ne[3] = 1;
    t->type = APR_TYPE_F32;
    t->offset = offset;
    t->amplitude = amplitude;
}

/* The tensors of a model of spec sp with n_vocab tokens, in the order of llama.cpp's
   converter; types from the recipe. Returns the count (ts may be NULL to count). */
static int64_t apr__synth_plan(const apr__synth_spec *sp, int32_t n_vocab, const apr__qz_ftype *ft, bool pure,
                               apr__qz_tensor *ts) {
    const int64_t E = sp->n_embd, hd = sp->head_dim > 0 ? sp->head_dim : sp->n_embd / sp->n_head;
    const int64_t q_dim = hd * sp->n_head, kv_dim = hd * sp->n_head_kv, F = sp->n_ff;
    const float bias = 0.02f, norm = 0.05f;
    const float a_e = sqrtf(3.0f / (float)E), a_q = sqrtf(3.0f / (float)q_dim), a_f = sqrtf(3.0f / (float)F);
    int64_t n = 0;
    char name[64];
#define APR__SYNTH(nm, nd, a, b, off, amp) \
    do { if (ts) apr__synth_tensor(&ts[n], (nm), (nd), (a), (b), (off), (amp)); n++; } while (0)
    APR__SYNTH("token_embd.weight", 2, E, n_vocab, 0.0f, a_e);
    for (int l = 0; l < sp->n_layer; l++) {
#define APR__SYNTH_L(suffix, nd, a, b, off, amp) \
    do { snprintf(name, sizeof name, "blk.%d.%s", l, suffix); APR__SYNTH(name, nd, a, b, off, amp); } while (0)
        APR__SYNTH_L("attn_norm.weight", 1, E, 1, 1.0f, norm);
        APR__SYNTH_L("attn_q.weight", 2, E, q_dim, 0.0f, a_e);
        if (sp->qkv_bias) APR__SYNTH_L("attn_q.bias", 1, q_dim, 1, 0.0f, bias);
        if (sp->head_dim > 0) APR__SYNTH_L("attn_q_norm.weight", 1, hd, 1, 1.0f, norm);
        APR__SYNTH_L("attn_k.weight", 2, E, kv_dim, 0.0f, a_e);
        if (sp->qkv_bias) APR__SYNTH_L("attn_k.bias", 1, kv_dim, 1, 0.0f, bias);
        if (sp->head_dim > 0) APR__SYNTH_L("attn_k_norm.weight", 1, hd, 1, 1.0f, norm);
        APR__SYNTH_L("attn_v.weight", 2, E, kv_dim, 0.0f, a_e);
        if (sp->qkv_bias) APR__SYNTH_L("attn_v.bias", 1, kv_dim, 1, 0.0f, bias);
        APR__SYNTH_L("attn_output.weight", 2, q_dim, E, 0.0f, a_q);
        if (sp->out_bias) APR__SYNTH_L("attn_output.bias", 1, E, 1, 0.0f, bias);
        APR__SYNTH_L("ffn_norm.weight", 1, E, 1, 1.0f, norm);
        APR__SYNTH_L("ffn_gate.weight", 2, E, F, 0.0f, a_e);
        APR__SYNTH_L("ffn_up.weight", 2, E, F, 0.0f, a_e);
        APR__SYNTH_L("ffn_down.weight", 2, F, E, 0.0f, a_f);
#undef APR__SYNTH_L
    }
    APR__SYNTH("output_norm.weight", 1, E, 1, 1.0f, norm);
    if (!sp->tied) APR__SYNTH("output.weight", 2, E, n_vocab, 0.0f, a_e);
#undef APR__SYNTH
    if (ts && ft) {
        apr_quantize_model_info mi;
        memset(&mi, 0, sizeof mi);
        mi.arch = sp->arch;
        mi.n_layer = sp->n_layer;
        mi.n_head = sp->n_head;
        mi.n_head_kv = sp->n_head_kv;
        mi.has_output = !sp->tied;
        for (int64_t i = 0; i < n; i++)
            ts[i].type = apr_quantize_tensor_type(ft->name, pure, &mi, ts[i].name, ts[i].n_dims, ts[i].ne, APR_TYPE_F32);
    }
    return n;
}

APR__IMPL apr_result apr_synthetic_plan(const char *name, const char *type_or_recipe, bool pure, uint64_t *tensor_bytes,
                                        uint64_t *n_params) {
    const apr__synth_spec *sp = apr__synth_find(name);
    const apr__qz_ftype *ft = apr__qz_find_ftype(type_or_recipe);
    if (!sp || !ft) return APR_ERROR_INVALID_ARGUMENT;
    int64_t n = apr__synth_plan(sp, sp->n_vocab, ft, pure, NULL);
    apr__qz_tensor *ts = (apr__qz_tensor *)apr__calloc((size_t)n, sizeof *ts);
    if (!ts) return APR_ERROR_OUT_OF_MEMORY;
    apr__synth_plan(sp, sp->n_vocab, ft, pure, ts);
    uint64_t bytes = 0, params = 0;
    for (int64_t i = 0; i < n; i++) {
        bytes += apr__qz_tensor_bytes(&ts[i]);
        params += (uint64_t)ts[i].ne[0] * apr__qz_nrows(&ts[i]);
    }
    APR_FREE(ts);
    if (tensor_bytes) *tensor_bytes = bytes;
    if (n_params) *n_params = params;
    return APR_SUCCESS;
}

/* Chat templates for vocabularies that have none (the vocab-only files of llama.cpp). */
static const char apr__synth_qwen_template[] =
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + "
    "'<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a "
    "helpful assistant.<|im_end|>\\n' }}{%- endif %}{%- for message in messages %}{%- if not (message.role == "
    "'system' and loop.first) %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- endif %}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
static const char apr__synth_llama3_template[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + "
    "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

/* Llama 3's special tokens at 128000..128255 (the rest of the range is reserved). */
static void apr__synth_llama3_special(int32_t id, char *buf, size_t size) {
    static const char *const named[10] = {"<|begin_of_text|>", "<|end_of_text|>", NULL, NULL, NULL, NULL,
                                           "<|start_header_id|>", "<|end_header_id|>", NULL, "<|eot_id|>"};
    static const int reserved[10] = {0, 0, 0, 1, 2, 3, 0, 0, 4, 0};
    int k = id - 128000;
    if (k < 10 && named[k]) snprintf(buf, size, "%s", named[k]);
    else snprintf(buf, size, "<|reserved_special_token_%d|>", k < 10 ? reserved[k] : k - 5);
}

/* Copy the tokenizer of vocab file v, padded to n_vocab tokens when it has fewer. */
static apr_result apr__synth_tokenizer(apr_gguf_writer *w, const apr_gguf *v, const apr__synth_spec *sp,
                                       int32_t n_vocab, int64_t n_tok, apr_error *err) {
    const bool pad = n_tok < n_vocab;
    const bool llama3 = pad && strcmp(sp->arch, "llama") == 0 && n_vocab == 128256 && n_tok <= 128000;
    bool has_template = false;
    apr_result res = APR_SUCCESS;
    for (int64_t i = 0; i < apr_gguf_n_kv(v); i++) {
        apr_str k = apr_gguf_key(v, i);
        if (k.len < 10 || memcmp(k.ptr, "tokenizer.", 10) != 0) continue;
        char key[128];
        apr__qz_copy_name(key, k.ptr, (size_t)APR__MIN(k.len, (uint64_t)127));
        if (strcmp(key, "tokenizer.chat_template") == 0) has_template = true;
        if (pad && (strcmp(key, "tokenizer.ggml.tokens") == 0 || strcmp(key, "tokenizer.ggml.token_type") == 0 ||
                    strcmp(key, "tokenizer.ggml.scores") == 0))
            continue;
        if (llama3 && (strcmp(key, "tokenizer.ggml.bos_token_id") == 0 || strcmp(key, "tokenizer.ggml.eos_token_id") == 0 ||
                       strcmp(key, "tokenizer.ggml.add_bos_token") == 0))
            continue;
        res = apr_gguf_writer_copy_kv(w, v, i);
        if (res != APR_SUCCESS) return apr__fail(err, res, "cannot copy vocabulary key '%s'", key);
    }
    if (pad) {
        /* tokens, types and scores, each extended to n_vocab */
        apr_str *toks = (apr_str *)apr__calloc((size_t)n_vocab, sizeof *toks);
        int32_t *types = (int32_t *)apr__calloc((size_t)n_vocab, sizeof *types);
        char *names = (char *)APR_MALLOC((size_t)(n_vocab - n_tok) * 40);
        float *scores = NULL;
        apr_gguf_value_type et;
        uint64_t cnt = 0;
        const void *data = NULL;
        bool has_scores = apr_gguf_get_arr(v, "tokenizer.ggml.scores", &et, &cnt, &data) && et == APR_GGUF_FLOAT32 &&
                          cnt == (uint64_t)n_tok;
        if (has_scores) scores = (float *)apr__calloc((size_t)n_vocab, sizeof *scores);
        if (!toks || !types || !names || (has_scores && !scores)) {
            res = apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory for the vocabulary");
        } else {
            const void *tdata = NULL;
            bool has_types = apr_gguf_get_arr(v, "tokenizer.ggml.token_type", &et, &cnt, &tdata) &&
                             (et == APR_GGUF_INT32 || et == APR_GGUF_UINT32) && cnt == (uint64_t)n_tok;
            for (int64_t i = 0; i < n_tok; i++) {
                toks[i] = apr_gguf_arr_str(v, "tokenizer.ggml.tokens", (uint64_t)i);
                int32_t ty = 1;
                if (has_types) memcpy(&ty, (const uint8_t *)tdata + 4 * i, 4);
                types[i] = ty;
                if (has_scores) memcpy(&scores[i], (const uint8_t *)data + 4 * i, 4);
            }
            for (int64_t i = n_tok; i < n_vocab; i++) {
                char *nm = names + (i - n_tok) * 40;
                if (llama3 && i >= 128000) {
                    apr__synth_llama3_special((int32_t)i, nm, 40);
                    types[i] = 3;  /* control */
                } else {
                    snprintf(nm, 40, "[PAD%lld]", (long long)i);
                    types[i] = 5;  /* unused */
                }
                toks[i].ptr = nm;
                toks[i].len = strlen(nm);
                if (scores) scores[i] = 0.0f;
            }
            res = apr_gguf_writer_add_arr(w, "tokenizer.ggml.tokens", APR_GGUF_STRING, (uint64_t)n_vocab, toks);
            if (res == APR_SUCCESS)
                res = apr_gguf_writer_add_arr(w, "tokenizer.ggml.token_type", APR_GGUF_INT32, (uint64_t)n_vocab, types);
            if (res == APR_SUCCESS && scores)
                res = apr_gguf_writer_add_arr(w, "tokenizer.ggml.scores", APR_GGUF_FLOAT32, (uint64_t)n_vocab, scores);
            if (res != APR_SUCCESS) apr__fail(err, res, "cannot write the padded vocabulary");
        }
        APR_FREE(toks);
        APR_FREE(types);
        APR_FREE(names);
        APR_FREE(scores);
        if (res != APR_SUCCESS) return res;
    }
    if (llama3) {
        if (apr_gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 128000) != APR_SUCCESS ||
            apr_gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 128009) != APR_SUCCESS ||
            apr_gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", true) != APR_SUCCESS)
            return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "cannot write the special token ids");
    }
    if (!has_template) {
        const char *tmpl = strncmp(sp->arch, "qwen", 4) == 0 ? apr__synth_qwen_template
                         : (llama3 || apr_gguf_find_key(v, "tokenizer.ggml.eot_token_id") >= 0) ? apr__synth_llama3_template
                         : NULL;
        if (tmpl && apr_gguf_writer_add_str(w, "tokenizer.chat_template", tmpl) != APR_SUCCESS)
            return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "cannot write the chat template");
    }
    return APR_SUCCESS;
}

APR__IMPL apr_result apr_synthetic_model(const char *name, const char *vocab_path, const char *out_path,
                                         const char *type_or_recipe, const apr_quantize_params *params, apr_error *err) {
    apr__error_clear(err);
    apr_quantize_params p = params ? *params : apr_quantize_default_params();
    const apr__synth_spec *sp = apr__synth_find(name);
    const apr__qz_ftype *ft = apr__qz_find_ftype(type_or_recipe);
    if (!sp) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "unknown synthetic model '%s'", name ? name : "(null)");
    if (!ft) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "unknown type or recipe '%s'",
                              type_or_recipe ? type_or_recipe : "(null)");
    if (!vocab_path || !out_path) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "a vocabulary file and an output path are needed");
    apr__logger lg;
    lg.fn = p.log_fn;
    lg.user = p.log_user;
    lg.level = APR_LOG_INFO;
    apr_gguf *v = NULL;
    apr_result res = apr_gguf_open(vocab_path, &v, err);
    if (res != APR_SUCCESS) return res;
    apr_gguf_writer *w = NULL;
    apr__qz_tensor *ts = NULL;
    apr_gguf_value_type et;
    uint64_t n_tok = 0;
    const void *tok_data;
    int32_t n_vocab = sp->n_vocab;
    int64_t nt = 0;
    if (!apr_gguf_get_arr(v, "tokenizer.ggml.tokens", &et, &n_tok, &tok_data) || et != APR_GGUF_STRING || n_tok == 0 ||
        n_tok > 0x7fffffff) {
        res = apr__fail(err, APR_ERROR_INVALID_FILE, "'%s': no tokenizer.ggml.tokens", vocab_path);
        goto done;
    }
    if ((int64_t)n_tok > n_vocab) {
        apr__log(&lg, APR_LOG_WARN, "the vocabulary has %llu tokens, more than the %d of %s: the model gets %llu",
                 (unsigned long long)n_tok, n_vocab, sp->name, (unsigned long long)n_tok);
        n_vocab = (int32_t)n_tok;
    } else if ((int64_t)n_tok < n_vocab) {
        apr__log(&lg, APR_LOG_INFO, "the vocabulary has %llu tokens: padded to %d", (unsigned long long)n_tok, n_vocab);
    }
    nt = apr__synth_plan(sp, n_vocab, ft, p.pure, NULL);
    ts = (apr__qz_tensor *)apr__calloc((size_t)nt, sizeof *ts);
    if (!ts) { res = apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory"); goto done; }
    apr__synth_plan(sp, n_vocab, ft, p.pure, ts);

    res = apr_gguf_writer_create(&w, err);
    if (res != APR_SUCCESS) goto done;
    {
        const char *a = sp->arch;
        char key[96];
        apr_result r = APR_SUCCESS;
#define APR__KEY(suffix) (snprintf(key, sizeof key, "%s.%s", a, suffix), key)
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_str(w, "general.architecture", a);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_str(w, "general.type", "model");
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_str(w, "general.name", sp->title);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_str(w, "general.size_label", sp->size_label);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, APR__KEY("block_count"), (uint32_t)sp->n_layer);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, APR__KEY("context_length"), (uint32_t)sp->n_ctx);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, APR__KEY("embedding_length"), (uint32_t)sp->n_embd);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, APR__KEY("feed_forward_length"), (uint32_t)sp->n_ff);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, APR__KEY("attention.head_count"), (uint32_t)sp->n_head);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, APR__KEY("attention.head_count_kv"), (uint32_t)sp->n_head_kv);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_f32(w, APR__KEY("rope.freq_base"), sp->rope_base);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_f32(w, APR__KEY("attention.layer_norm_rms_epsilon"), sp->eps);
        if (sp->head_dim > 0) {
            if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, APR__KEY("attention.key_length"), (uint32_t)sp->head_dim);
            if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, APR__KEY("attention.value_length"), (uint32_t)sp->head_dim);
        }
        if (strcmp(a, "llama") == 0) {
            if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, APR__KEY("rope.dimension_count"), (uint32_t)(sp->n_embd / sp->n_head));
            if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, APR__KEY("vocab_size"), (uint32_t)n_vocab);
        }
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, "general.file_type", (uint32_t)ft->ftype);
        if (r == APR_SUCCESS) r = apr_gguf_writer_add_u32(w, "general.quantization_version", 2);
#undef APR__KEY
        if (r != APR_SUCCESS) { res = apr__fail(err, r, "cannot write the model metadata"); goto done; }
    }
    res = apr__synth_tokenizer(w, v, sp, n_vocab, (int64_t)n_tok, err);
    if (res != APR_SUCCESS) goto done;
    res = apr__qz_add_tensors(w, ts, nt, err);
    if (res != APR_SUCCESS) goto done;
    res = apr_gguf_writer_begin_file(w, out_path, err);
    if (res != APR_SUCCESS) goto done;
    res = apr__qz_write_tensors(w, ts, nt, APR__QZ_SRC_RANDOM, p.seed, &p, err);
    {
        apr_error e2;
        apr_result r2 = apr_gguf_writer_finish(w, &e2);
        if (res == APR_SUCCESS && r2 != APR_SUCCESS) res = apr__fail(err, r2, "%s", e2.message);
    }
done:
    apr_gguf_writer_free(w);
    APR_FREE(ts);
    apr_gguf_close(v);
    return res;
}

/* =====================================================================================
   Tokenizers: the vocabulary from GGUF metadata, SentencePiece-style (SPM) and byte-level
   BPE tokenization, decoding and streaming decoding.

   The algorithms follow llama.cpp's so that token ids match it exactly:
   - special tokens are split out of the text first (longest token text first, each one
     claiming its leftmost non-overlapping occurrences in what is still plain text);
     control tokens only with APR_TOKENIZE_PARSE_SPECIAL, user-defined tokens always;
   - SPM: '▁' for spaces (and one in front of text that starts the input or follows a
     special token), symbols are characters, the adjacent pair whose concatenation is the
     token of highest score is merged first (ties: leftmost), leftovers become byte
     tokens <0xXX>;
   - BPE: the pre-tokenizer of the vocabulary (a list of regexes, each splitting the
     pieces of the previous one) cuts the text into words, each word's bytes become the
     GPT-2 byte characters, and the adjacent pair of lowest merge rank is merged first.
   The regexes are implemented as hand-written scanners over code points (no regex
   engine, no recursion): the ones llama.cpp runs through std::regex over its "collapsed"
   text (one byte per code point, categories as placeholder bytes) are reproduced with
   ECMAScript's leftmost, first-alternative, backtracking semantics worked out per regex.
   Every scanner does work linear in the text.

   Differences from llama.cpp, all on inputs it does not handle well: an invalid UTF-8
   byte is one unit of its own classified as U+FFFD but kept as its byte (llama.cpp's BPE
   replaces it by the bytes of U+FFFD), so tokenization is lossless for any bytes; decoding
   does not apply llama.cpp's "clean spaces" rewriting, so detokenize(tokenize(s)) == s.
   ===================================================================================== */

/* ---- Unicode categories ---------------------------------------------------------------- */

/* BEGIN GENERATED UNICODE TABLES (tools/gen_unicode.py, Python unicodedata 14.0.0): do not edit */
#define APR__UC_OTHER 0
#define APR__UC_L 1
#define APR__UC_N 2
#define APR__UC_P 3
#define APR__UC_S 4
#define APR__UC_M 5
static const uint8_t apr__ucat_ascii[128] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 3, 3, 3, 4, 3, 3, 3, 3, 3, 3, 4, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 4, 4, 4, 3,
    3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 4, 3,
    4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 4, 3, 4, 0,
};
static const uint32_t apr__ucat_ranges[2205] = {
    0x0000000, 0x000010b, 0x0000124, 0x000012b, 0x000015c, 0x0000163, 0x0000182, 0x00001d3,
    0x00001e4, 0x00001fb, 0x0000209, 0x00002db, 0x00002f4, 0x00002fb, 0x0000304, 0x0000309,
    0x00003db, 0x00003e4, 0x00003eb, 0x00003f4, 0x00003f8, 0x000050b, 0x0000514, 0x000053b,
    0x0000544, 0x0000551, 0x000055b, 0x0000564, 0x0000568, 0x0000574, 0x0000592, 0x00005a4,
    0x00005a9, 0x00005b3, 0x00005c4, 0x00005ca, 0x00005d1, 0x00005db, 0x00005e2, 0x00005fb,
    0x0000601, 0x00006bc, 0x00006c1, 0x00007bc, 0x00007c1, 0x0001614, 0x0001631, 0x0001694,
    0x0001701, 0x000172c, 0x0001761, 0x000176c, 0x0001771, 0x000177c, 0x0001805, 0x0001b81,
    0x0001bac, 0x0001bb1, 0x0001bc0, 0x0001bd1, 0x0001bf3, 0x0001bf9, 0x0001c00, 0x0001c24,
    0x0001c31, 0x0001c3b, 0x0001c41, 0x0001c58, 0x0001c61, 0x0001c68, 0x0001c71, 0x0001d10,
    0x0001d19, 0x0001fb4, 0x0001fb9, 0x0002414, 0x000241d, 0x0002451, 0x0002980, 0x0002989,
    0x0002ab8, 0x0002ac9, 0x0002ad3, 0x0002b01, 0x0002c4b, 0x0002c58, 0x0002c6c, 0x0002c80,
    0x0002c8d, 0x0002df3, 0x0002dfd, 0x0002e03, 0x0002e0d, 0x0002e1b, 0x0002e25, 0x0002e33,
    0x0002e3d, 0x0002e40, 0x0002e81, 0x0002f58, 0x0002f79, 0x0002f9b, 0x0002fa8, 0x0003034,
    0x000304b, 0x000305c, 0x0003063, 0x0003074, 0x0003085, 0x00030db, 0x00030e0, 0x00030eb,
    0x0003101, 0x000325d, 0x0003302, 0x0003353, 0x0003371, 0x0003385, 0x0003389, 0x00036a3,
    0x00036a9, 0x00036b5, 0x00036e8, 0x00036f4, 0x00036fd, 0x0003729, 0x000373d, 0x000374c,
    0x0003755, 0x0003771, 0x0003782, 0x00037d1, 0x00037ec, 0x00037f9, 0x0003803, 0x0003870,
    0x0003881, 0x000388d, 0x0003891, 0x0003985, 0x0003a58, 0x0003a69, 0x0003d35, 0x0003d89,
    0x0003d90, 0x0003e02, 0x0003e51, 0x0003f5d, 0x0003fa1, 0x0003fb4, 0x0003fbb, 0x0003fd1,
    0x0003fd8, 0x0003fed, 0x0003ff4, 0x0004001, 0x00040b5, 0x00040d1, 0x00040dd, 0x0004121,
    0x000412d, 0x0004141, 0x000414d, 0x0004170, 0x0004183, 0x00041f8, 0x0004201, 0x00042cd,
    0x00042e0, 0x00042f3, 0x00042f8, 0x0004301, 0x0004358, 0x0004381, 0x0004444, 0x0004449,
    0x0004478, 0x00044c5, 0x0004501, 0x0004655, 0x0004710, 0x000471d, 0x0004821, 0x00049d5,
    0x00049e9, 0x00049f5, 0x0004a81, 0x0004a8d, 0x0004ac1, 0x0004b15, 0x0004b23, 0x0004b32,
    0x0004b83, 0x0004b89, 0x0004c0d, 0x0004c20, 0x0004c29, 0x0004c68, 0x0004c79, 0x0004c88,
    0x0004c99, 0x0004d48, 0x0004d51, 0x0004d88, 0x0004d91, 0x0004d98, 0x0004db1, 0x0004dd0,
    0x0004de5, 0x0004de9, 0x0004df5, 0x0004e28, 0x0004e3d, 0x0004e48, 0x0004e5d, 0x0004e71,
    0x0004e78, 0x0004ebd, 0x0004ec0, 0x0004ee1, 0x0004ef0, 0x0004ef9, 0x0004f15, 0x0004f20,
    0x0004f32, 0x0004f81, 0x0004f94, 0x0004fa2, 0x0004fd4, 0x0004fe1, 0x0004feb, 0x0004ff5,
    0x0004ff8, 0x000500d, 0x0005020, 0x0005029, 0x0005058, 0x0005079, 0x0005088, 0x0005099,
    0x0005148, 0x0005151, 0x0005188, 0x0005191, 0x00051a0, 0x00051a9, 0x00051b8, 0x00051c1,
    0x00051d0, 0x00051e5, 0x00051e8, 0x00051f5, 0x0005218, 0x000523d, 0x0005248, 0x000525d,
    0x0005270, 0x000528d, 0x0005290, 0x00052c9, 0x00052e8, 0x00052f1, 0x00052f8, 0x0005332,
    0x0005385, 0x0005391, 0x00053ad, 0x00053b3, 0x00053b8, 0x000540d, 0x0005420, 0x0005429,
    0x0005470, 0x0005479, 0x0005490, 0x0005499, 0x0005548, 0x0005551, 0x0005588, 0x0005591,
    0x00055a0, 0x00055a9, 0x00055d0, 0x00055e5, 0x00055e9, 0x00055f5, 0x0005630, 0x000563d,
    0x0005650, 0x000565d, 0x0005670, 0x0005681, 0x0005688, 0x0005701, 0x0005715, 0x0005720,
    0x0005732, 0x0005783, 0x000578c, 0x0005790, 0x00057c9, 0x00057d5, 0x0005800, 0x000580d,
    0x0005820, 0x0005829, 0x0005868, 0x0005879, 0x0005888, 0x0005899, 0x0005948, 0x0005951,
    0x0005988, 0x0005991, 0x00059a0, 0x00059a9, 0x00059d0, 0x00059e5, 0x00059e9, 0x00059f5,
    0x0005a28, 0x0005a3d, 0x0005a48, 0x0005a5d, 0x0005a70, 0x0005aad, 0x0005ac0, 0x0005ae1,
    0x0005af0, 0x0005af9, 0x0005b15, 0x0005b20, 0x0005b32, 0x0005b84, 0x0005b89, 0x0005b92,
    0x0005bc0, 0x0005c15, 0x0005c19, 0x0005c20, 0x0005c29, 0x0005c58, 0x0005c71, 0x0005c88,
    0x0005c91, 0x0005cb0, 0x0005cc9, 0x0005cd8, 0x0005ce1, 0x0005ce8, 0x0005cf1, 0x0005d00,
    0x0005d19, 0x0005d28, 0x0005d41, 0x0005d58, 0x0005d71, 0x0005dd0, 0x0005df5, 0x0005e18,
    0x0005e35, 0x0005e48, 0x0005e55, 0x0005e70, 0x0005e81, 0x0005e88, 0x0005ebd, 0x0005ec0,
    0x0005f32, 0x0005f9c, 0x0005fd8, 0x0006005, 0x0006029, 0x0006068, 0x0006071, 0x0006088,
    0x0006091, 0x0006148, 0x0006151, 0x00061d0, 0x00061e5, 0x00061e9, 0x00061f5, 0x0006228,
    0x0006235, 0x0006248, 0x0006255, 0x0006270, 0x00062ad, 0x00062b8, 0x00062c1, 0x00062d8,
    0x00062e9, 0x00062f0, 0x0006301, 0x0006315, 0x0006320, 0x0006332, 0x0006380, 0x00063bb,
    0x00063c2, 0x00063fc, 0x0006401, 0x000640d, 0x0006423, 0x0006429, 0x0006468, 0x0006471,
    0x0006488, 0x0006491, 0x0006548, 0x0006551, 0x00065a0, 0x00065a9, 0x00065d0, 0x00065e5,
    0x00065e9, 0x00065f5, 0x0006628, 0x0006635, 0x0006648, 0x0006655, 0x0006670, 0x00066ad,
    0x00066b8, 0x00066e9, 0x00066f8, 0x0006701, 0x0006715, 0x0006720, 0x0006732, 0x0006780,
    0x0006789, 0x0006798, 0x0006805, 0x0006821, 0x0006868, 0x0006871, 0x0006888, 0x0006891,
    0x00069dd, 0x00069e9, 0x00069f5, 0x0006a28, 0x0006a35, 0x0006a48, 0x0006a55, 0x0006a71,
    0x0006a7c, 0x0006a80, 0x0006aa1, 0x0006abd, 0x0006ac2, 0x0006af9, 0x0006b15, 0x0006b20,
    0x0006b32, 0x0006bcc, 0x0006bd1, 0x0006c00, 0x0006c0d, 0x0006c20, 0x0006c29, 0x0006cb8,
    0x0006cd1, 0x0006d90, 0x0006d99, 0x0006de0, 0x0006de9, 0x0006df0, 0x0006e01, 0x0006e38,
    0x0006e55, 0x0006e58, 0x0006e7d, 0x0006ea8, 0x0006eb5, 0x0006eb8, 0x0006ec5, 0x0006f00,
    0x0006f32, 0x0006f80, 0x0006f95, 0x0006fa3, 0x0006fa8, 0x0007009, 0x000718d, 0x0007191,
    0x00071a5, 0x00071d8, 0x00071fc, 0x0007201, 0x000723d, 0x000727b, 0x0007282, 0x00072d3,
    0x00072e0, 0x0007409, 0x0007418, 0x0007421, 0x0007428, 0x0007431, 0x0007458, 0x0007461,
    0x0007520, 0x0007529, 0x0007530, 0x0007539, 0x000758d, 0x0007591, 0x00075a5, 0x00075e9,
    0x00075f0, 0x0007601, 0x0007628, 0x0007631, 0x0007638, 0x0007645, 0x0007670, 0x0007682,
    0x00076d0, 0x00076e1, 0x0007700, 0x0007801, 0x000780c, 0x0007823, 0x000789c, 0x00078a3,
    0x00078ac, 0x00078c5, 0x00078d4, 0x0007902, 0x00079a4, 0x00079ad, 0x00079b4, 0x00079bd,
    0x00079c4, 0x00079cd, 0x00079d3, 0x00079f5, 0x0007a01, 0x0007a40, 0x0007a49, 0x0007b68,
    0x0007b8d, 0x0007c2b, 0x0007c35, 0x0007c41, 0x0007c6d, 0x0007cc0, 0x0007ccd, 0x0007de8,
    0x0007df4, 0x0007e35, 0x0007e3c, 0x0007e68, 0x0007e74, 0x0007e83, 0x0007eac, 0x0007ecb,
    0x0007ed8, 0x0008001, 0x000815d, 0x00081f9, 0x0008202, 0x0008253, 0x0008281, 0x00082b5,
    0x00082d1, 0x00082f5, 0x0008309, 0x0008315, 0x0008329, 0x000833d, 0x0008371, 0x000838d,
    0x00083a9, 0x0008415, 0x0008471, 0x000847d, 0x0008482, 0x00084d5, 0x00084f4, 0x0008501,
    0x0008630, 0x0008639, 0x0008640, 0x0008669, 0x0008670, 0x0008681, 0x00087db, 0x00087e1,
    0x0009248, 0x0009251, 0x0009270, 0x0009281, 0x00092b8, 0x00092c1, 0x00092c8, 0x00092d1,
    0x00092f0, 0x0009301, 0x0009448, 0x0009451, 0x0009470, 0x0009481, 0x0009588, 0x0009591,
    0x00095b0, 0x00095c1, 0x00095f8, 0x0009601, 0x0009608, 0x0009611, 0x0009630, 0x0009641,
    0x00096b8, 0x00096c1, 0x0009888, 0x0009891, 0x00098b0, 0x00098c1, 0x0009ad8, 0x0009aed,
    0x0009b03, 0x0009b4a, 0x0009be8, 0x0009c01, 0x0009c84, 0x0009cd0, 0x0009d01, 0x0009fb0,
    0x0009fc1, 0x0009ff0, 0x000a003, 0x000a009, 0x000b36c, 0x000b373, 0x000b379, 0x000b400,
    0x000b409, 0x000b4db, 0x000b4e8, 0x000b501, 0x000b75b, 0x000b772, 0x000b789, 0x000b7c8,
    0x000b801, 0x000b895, 0x000b8b0, 0x000b8f9, 0x000b995, 0x000b9ab, 0x000b9b8, 0x000ba01,
    0x000ba95, 0x000baa0, 0x000bb01, 0x000bb68, 0x000bb71, 0x000bb88, 0x000bb95, 0x000bba0,
    0x000bc01, 0x000bda5, 0x000bea3, 0x000beb9, 0x000bec3, 0x000bedc, 0x000bee1, 0x000beed,
    0x000bef0, 0x000bf02, 0x000bf50, 0x000bf82, 0x000bfd0, 0x000c003, 0x000c05d, 0x000c070,
    0x000c07d, 0x000c082, 0x000c0d0, 0x000c101, 0x000c3c8, 0x000c401, 0x000c42d, 0x000c439,
    0x000c54d, 0x000c551, 0x000c558, 0x000c581, 0x000c7b0, 0x000c801, 0x000c8f8, 0x000c905,
    0x000c960, 0x000c985, 0x000c9e0, 0x000ca04, 0x000ca08, 0x000ca23, 0x000ca32, 0x000ca81,
    0x000cb70, 0x000cb81, 0x000cba8, 0x000cc01, 0x000cd60, 0x000cd81, 0x000ce50, 0x000ce82,
    0x000ced8, 0x000cef4, 0x000d001, 0x000d0bd, 0x000d0e0, 0x000d0f3, 0x000d101, 0x000d2ad,
    0x000d2f8, 0x000d305, 0x000d3e8, 0x000d3fd, 0x000d402, 0x000d450, 0x000d482, 0x000d4d0,
    0x000d503, 0x000d539, 0x000d543, 0x000d570, 0x000d585, 0x000d678, 0x000d805, 0x000d829,
    0x000d9a5, 0x000da29, 0x000da68, 0x000da82, 0x000dad3, 0x000db0c, 0x000db5d, 0x000dba4,
    0x000dbeb, 0x000dbf8, 0x000dc05, 0x000dc19, 0x000dd0d, 0x000dd71, 0x000dd82, 0x000ddd1,
    0x000df35, 0x000dfa0, 0x000dfe3, 0x000e001, 0x000e125, 0x000e1c0, 0x000e1db, 0x000e202,
    0x000e250, 0x000e269, 0x000e282, 0x000e2d1, 0x000e3f3, 0x000e401, 0x000e448, 0x000e481,
    0x000e5d8, 0x000e5e9, 0x000e603, 0x000e640, 0x000e685, 0x000e69b, 0x000e6a5, 0x000e749,
    0x000e76d, 0x000e771, 0x000e7a5, 0x000e7a9, 0x000e7bd, 0x000e7d1, 0x000e7d8, 0x000e801,
    0x000ee05, 0x000f001, 0x000f8b0, 0x000f8c1, 0x000f8f0, 0x000f901, 0x000fa30, 0x000fa41,
    0x000fa70, 0x000fa81, 0x000fac0, 0x000fac9, 0x000fad0, 0x000fad9, 0x000fae0, 0x000fae9,
    0x000faf0, 0x000faf9, 0x000fbf0, 0x000fc01, 0x000fda8, 0x000fdb1, 0x000fdec, 0x000fdf1,
    0x000fdfc, 0x000fe11, 0x000fe28, 0x000fe31, 0x000fe6c, 0x000fe81, 0x000fea0, 0x000feb1,
    0x000fee0, 0x000feec, 0x000ff01, 0x000ff6c, 0x000ff80, 0x000ff91, 0x000ffa8, 0x000ffb1,
    0x000ffec, 0x000fff8, 0x0010083, 0x0010140, 0x0010183, 0x0010224, 0x001022b, 0x0010294,
    0x001029b, 0x00102f8, 0x0010382, 0x0010389, 0x0010390, 0x00103a2, 0x00103d4, 0x00103eb,
    0x00103f9, 0x0010402, 0x0010454, 0x001046b, 0x0010478, 0x0010481, 0x00104e8, 0x0010504,
    0x0010608, 0x0010685, 0x0010788, 0x0010804, 0x0010811, 0x001081c, 0x0010839, 0x0010844,
    0x0010851, 0x00108a4, 0x00108a9, 0x00108b4, 0x00108c9, 0x00108f4, 0x0010921, 0x001092c,
    0x0010931, 0x001093c, 0x0010941, 0x001094c, 0x0010951, 0x0010974, 0x0010979, 0x00109d4,
    0x00109e1, 0x0010a04, 0x0010a29, 0x0010a54, 0x0010a71, 0x0010a7c, 0x0010a82, 0x0010c19,
    0x0010c2a, 0x0010c54, 0x0010c60, 0x0010c84, 0x0011843, 0x0011864, 0x001194b, 0x001195c,
    0x0012138, 0x0012204, 0x0012258, 0x0012302, 0x00124e4, 0x0012752, 0x0012804, 0x0013b43,
    0x0013bb2, 0x0013ca4, 0x0013e2b, 0x0013e3c, 0x0013f33, 0x0013f84, 0x0014c1b, 0x0014ccc,
    0x0014ec3, 0x0014ee4, 0x0014fe3, 0x0014ff4, 0x0015ba0, 0x0015bb4, 0x0015cb0, 0x0015cbc,
    0x0016001, 0x001672c, 0x0016759, 0x001677d, 0x0016791, 0x00167a0, 0x00167cb, 0x00167ea,
    0x00167f3, 0x0016801, 0x0016930, 0x0016939, 0x0016940, 0x0016969, 0x0016970, 0x0016981,
    0x0016b40, 0x0016b79, 0x0016b83, 0x0016b88, 0x0016bfd, 0x0016c01, 0x0016cb8, 0x0016d01,
    0x0016d38, 0x0016d41, 0x0016d78, 0x0016d81, 0x0016db8, 0x0016dc1, 0x0016df8, 0x0016e01,
    0x0016e38, 0x0016e41, 0x0016e78, 0x0016e81, 0x0016eb8, 0x0016ec1, 0x0016ef8, 0x0016f05,
    0x0017003, 0x0017179, 0x0017183, 0x0017284, 0x0017293, 0x00172f0, 0x0017404, 0x00174d0,
    0x00174dc, 0x00177a0, 0x0017804, 0x0017eb0, 0x0017f84, 0x0017fe0, 0x001800b, 0x0018024,
    0x0018029, 0x001803a, 0x0018043, 0x0018094, 0x00180a3, 0x0018104, 0x001810a, 0x0018155,
    0x0018183, 0x0018189, 0x00181b4, 0x00181c2, 0x00181d9, 0x00181eb, 0x00181f4, 0x0018200,
    0x0018209, 0x00184b8, 0x00184cd, 0x00184dc, 0x00184e9, 0x0018503, 0x0018509, 0x00187db,
    0x00187e1, 0x0018800, 0x0018829, 0x0018980, 0x0018989, 0x0018c78, 0x0018c84, 0x0018c92,
    0x0018cb4, 0x0018d01, 0x0018e04, 0x0018f20, 0x0018f81, 0x0019004, 0x00190f8, 0x0019102,
    0x0019154, 0x0019242, 0x0019284, 0x001928a, 0x0019304, 0x0019402, 0x0019454, 0x001958a,
    0x0019604, 0x001a001, 0x0026e04, 0x0027001, 0x0052468, 0x0052484, 0x0052638, 0x0052681,
    0x00527f3, 0x0052801, 0x005306b, 0x0053081, 0x0053102, 0x0053151, 0x0053160, 0x0053201,
    0x005337d, 0x005339b, 0x00533a5, 0x00533f3, 0x00533f9, 0x00534f5, 0x0053501, 0x0053732,
    0x0053785, 0x0053793, 0x00537c0, 0x0053804, 0x00538b9, 0x0053904, 0x0053911, 0x0053c4c,
    0x0053c59, 0x0053e58, 0x0053e81, 0x0053e90, 0x0053e99, 0x0053ea0, 0x0053ea9, 0x0053ed0,
    0x0053f91, 0x0054015, 0x0054019, 0x0054035, 0x0054039, 0x005405d, 0x0054061, 0x005411d,
    0x0054144, 0x0054165, 0x0054168, 0x0054182, 0x00541b4, 0x00541d0, 0x0054201, 0x00543a3,
    0x00543c0, 0x0054405, 0x0054411, 0x00545a5, 0x0054630, 0x0054673, 0x0054682, 0x00546d0,
    0x0054705, 0x0054791, 0x00547c3, 0x00547d9, 0x00547e3, 0x00547e9, 0x00547fd, 0x0054802,
    0x0054851, 0x0054935, 0x0054973, 0x0054981, 0x0054a3d, 0x0054aa0, 0x0054afb, 0x0054b01,
    0x0054be8, 0x0054c05, 0x0054c21, 0x0054d9d, 0x0054e0b, 0x0054e70, 0x0054e79, 0x0054e82,
    0x0054ed0, 0x0054ef3, 0x0054f01, 0x0054f2d, 0x0054f31, 0x0054f82, 0x0054fd1, 0x0054ff8,
    0x0055001, 0x005514d, 0x00551b8, 0x0055201, 0x005521d, 0x0055221, 0x0055265, 0x0055270,
    0x0055282, 0x00552d0, 0x00552e3, 0x0055301, 0x00553bc, 0x00553d1, 0x00553dd, 0x00553f1,
    0x0055585, 0x0055589, 0x0055595, 0x00555a9, 0x00555bd, 0x00555c9, 0x00555f5, 0x0055601,
    0x005560d, 0x0055611, 0x0055618, 0x00556d9, 0x00556f3, 0x0055701, 0x005575d, 0x0055783,
    0x0055791, 0x00557ad, 0x00557b8, 0x0055809, 0x0055838, 0x0055849, 0x0055878, 0x0055889,
    0x00558b8, 0x0055901, 0x0055938, 0x0055941, 0x0055978, 0x0055981, 0x0055adc, 0x0055ae1,
    0x0055b54, 0x0055b60, 0x0055b81, 0x0055f1d, 0x0055f5b, 0x0055f65, 0x0055f70, 0x0055f82,
    0x0055fd0, 0x0056001, 0x006bd20, 0x006bd81, 0x006be38, 0x006be59, 0x006bfe0, 0x007c801,
    0x007d370, 0x007d381, 0x007d6d0, 0x007d801, 0x007d838, 0x007d899, 0x007d8c0, 0x007d8e9,
    0x007d8f5, 0x007d8f9, 0x007d94c, 0x007d951, 0x007d9b8, 0x007d9c1, 0x007d9e8, 0x007d9f1,
    0x007d9f8, 0x007da01, 0x007da10, 0x007da19, 0x007da28, 0x007da31, 0x007dd94, 0x007de18,
    0x007de99, 0x007e9f3, 0x007ea04, 0x007ea81, 0x007ec80, 0x007ec91, 0x007ee40, 0x007ee7c,
    0x007ee80, 0x007ef81, 0x007efe4, 0x007f005, 0x007f083, 0x007f0d0, 0x007f105, 0x007f183,
    0x007f298, 0x007f2a3, 0x007f314, 0x007f31b, 0x007f324, 0x007f338, 0x007f343, 0x007f34c,
    0x007f353, 0x007f360, 0x007f381, 0x007f3a8, 0x007f3b1, 0x007f7e8, 0x007f80b, 0x007f824,
    0x007f82b, 0x007f85c, 0x007f863, 0x007f882, 0x007f8d3, 0x007f8e4, 0x007f8fb, 0x007f909,
    0x007f9db, 0x007f9f4, 0x007f9fb, 0x007fa04, 0x007fa09, 0x007fadb, 0x007fae4, 0x007faeb,
    0x007faf4, 0x007fafb, 0x007fb31, 0x007fdf8, 0x007fe11, 0x007fe40, 0x007fe51, 0x007fe80,
    0x007fe91, 0x007fec0, 0x007fed1, 0x007fee8, 0x007ff04, 0x007ff38, 0x007ff44, 0x007ff78,
    0x007ffe4, 0x007fff0, 0x0080001, 0x0080060, 0x0080069, 0x0080138, 0x0080141, 0x00801d8,
    0x00801e1, 0x00801f0, 0x00801f9, 0x0080270, 0x0080281, 0x00802f0, 0x0080401, 0x00807d8,
    0x0080803, 0x0080818, 0x008083a, 0x00809a0, 0x00809bc, 0x0080a02, 0x0080bcc, 0x0080c52,
    0x0080c64, 0x0080c78, 0x0080c84, 0x0080ce8, 0x0080d04, 0x0080d08, 0x0080e84, 0x0080fed,
    0x0080ff0, 0x0081401, 0x00814e8, 0x0081501, 0x0081688, 0x0081705, 0x008170a, 0x00817e0,
    0x0081801, 0x0081902, 0x0081920, 0x0081969, 0x0081a0a, 0x0081a11, 0x0081a52, 0x0081a58,
    0x0081a81, 0x0081bb5, 0x0081bd8, 0x0081c01, 0x0081cf0, 0x0081cfb, 0x0081d01, 0x0081e20,
    0x0081e41, 0x0081e83, 0x0081e8a, 0x0081eb0, 0x0082001, 0x00824f0, 0x0082502, 0x0082550,
    0x0082581, 0x00826a0, 0x00826c1, 0x00827e0, 0x0082801, 0x0082940, 0x0082981, 0x0082b20,
    0x0082b7b, 0x0082b81, 0x0082bd8, 0x0082be1, 0x0082c58, 0x0082c61, 0x0082c98, 0x0082ca1,
    0x0082cb0, 0x0082cb9, 0x0082d10, 0x0082d19, 0x0082d90, 0x0082d99, 0x0082dd0, 0x0082dd9,
    0x0082de8, 0x0083001, 0x00839b8, 0x0083a01, 0x0083ab0, 0x0083b01, 0x0083b40, 0x0083c01,
    0x0083c30, 0x0083c39, 0x0083d88, 0x0083d91, 0x0083dd8, 0x0084001, 0x0084030, 0x0084041,
    0x0084048, 0x0084051, 0x00841b0, 0x00841b9, 0x00841c8, 0x00841e1, 0x00841e8, 0x00841f9,
    0x00842b0, 0x00842bb, 0x00842c2, 0x0084301, 0x00843bc, 0x00843ca, 0x0084401, 0x00844f8,
    0x008453a, 0x0084580, 0x0084701, 0x0084798, 0x00847a1, 0x00847b0, 0x00847da, 0x0084801,
    0x00848b2, 0x00848e0, 0x00848fb, 0x0084901, 0x00849d0, 0x00849fb, 0x0084a00, 0x0084c01,
    0x0084dc0, 0x0084de2, 0x0084df1, 0x0084e02, 0x0084e80, 0x0084e92, 0x0085001, 0x008500d,
    0x0085020, 0x008502d, 0x0085038, 0x0085065, 0x0085081, 0x00850a0, 0x00850a9, 0x00850c0,
    0x00850c9, 0x00851b0, 0x00851c5, 0x00851d8, 0x00851fd, 0x0085202, 0x0085248, 0x0085283,
    0x00852c8, 0x0085301, 0x00853ea, 0x00853fb, 0x0085401, 0x00854ea, 0x0085500, 0x0085601,
    0x0085644, 0x0085649, 0x008572d, 0x0085738, 0x008575a, 0x0085783, 0x00857b8, 0x0085801,
    0x00859b0, 0x00859cb, 0x0085a01, 0x0085ab0, 0x0085ac2, 0x0085b01, 0x0085b98, 0x0085bc2,
    0x0085c01, 0x0085c90, 0x0085ccb, 0x0085ce8, 0x0085d4a, 0x0085d80, 0x0086001, 0x0086248,
    0x0086401, 0x0086598, 0x0086601, 0x0086798, 0x00867d2, 0x0086801, 0x0086925, 0x0086940,
    0x0086982, 0x00869d0, 0x0087302, 0x00873f8, 0x0087401, 0x0087550, 0x008755d, 0x008756b,
    0x0087570, 0x0087581, 0x0087590, 0x0087801, 0x00878ea, 0x0087939, 0x0087940, 0x0087981,
    0x0087a35, 0x0087a8a, 0x0087aab, 0x0087ad0, 0x0087b81, 0x0087c15, 0x0087c33, 0x0087c50,
    0x0087d81, 0x0087e2a, 0x0087e60, 0x0087f01, 0x0087fb8, 0x0088005, 0x0088019, 0x00881c5,
    0x008823b, 0x0088270, 0x0088292, 0x0088385, 0x0088389, 0x008839d, 0x00883a9, 0x00883b0,
    0x00883fd, 0x0088419, 0x0088585, 0x00885db, 0x00885e8, 0x00885f3, 0x0088615, 0x0088618,
    0x0088681, 0x0088748, 0x0088782, 0x00887d0, 0x0088805, 0x0088819, 0x008893d, 0x00889a8,
    0x00889b2, 0x0088a03, 0x0088a21, 0x0088a2d, 0x0088a39, 0x0088a40, 0x0088a81, 0x0088b9d,
    0x0088ba3, 0x0088bb1, 0x0088bb8, 0x0088c05, 0x0088c19, 0x0088d9d, 0x0088e09, 0x0088e2b,
    0x0088e4d, 0x0088e6b, 0x0088e75, 0x0088e82, 0x0088ed1, 0x0088edb, 0x0088ee1, 0x0088eeb,
    0x0088f00, 0x0088f0a, 0x0088fa8, 0x0089001, 0x0089090, 0x0089099, 0x0089165, 0x00891c3,
    0x00891f5, 0x00891f8, 0x0089401, 0x0089438, 0x0089441, 0x0089448, 0x0089451, 0x0089470,
    0x0089479, 0x00894f0, 0x00894f9, 0x008954b, 0x0089550, 0x0089581, 0x00896fd, 0x0089758,
    0x0089782, 0x00897d0, 0x0089805, 0x0089820, 0x0089829, 0x0089868, 0x0089879, 0x0089888,
    0x0089899, 0x0089948, 0x0089951, 0x0089988, 0x0089991, 0x00899a0, 0x00899a9, 0x00899d0,
    0x00899dd, 0x00899e9, 0x00899f5, 0x0089a28, 0x0089a3d, 0x0089a48, 0x0089a5d, 0x0089a70,
    0x0089a81, 0x0089a88, 0x0089abd, 0x0089ac0, 0x0089ae9, 0x0089b15, 0x0089b20, 0x0089b35,
    0x0089b68, 0x0089b85, 0x0089ba8, 0x008a001, 0x008a1ad, 0x008a239, 0x008a25b, 0x008a282,
    0x008a2d3, 0x008a2e0, 0x008a2eb, 0x008a2f5, 0x008a2f9, 0x008a310, 0x008a401, 0x008a585,
    0x008a621, 0x008a633, 0x008a639, 0x008a640, 0x008a682, 0x008a6d0, 0x008ac01, 0x008ad7d,
    0x008adb0, 0x008adc5, 0x008ae0b, 0x008aec1, 0x008aee5, 0x008aef0, 0x008b001, 0x008b185,
    0x008b20b, 0x008b221, 0x008b228, 0x008b282, 0x008b2d0, 0x008b303, 0x008b368, 0x008b401,
    0x008b55d, 0x008b5c1, 0x008b5cb, 0x008b5d0, 0x008b602, 0x008b650, 0x008b801, 0x008b8d8,
    0x008b8ed, 0x008b960, 0x008b982, 0x008b9e3, 0x008b9fc, 0x008ba01, 0x008ba38, 0x008c001,
    0x008c165, 0x008c1db, 0x008c1e0, 0x008c501, 0x008c702, 0x008c798, 0x008c7f9, 0x008c838,
    0x008c849, 0x008c850, 0x008c861, 0x008c8a0, 0x008c8a9, 0x008c8b8, 0x008c8c1, 0x008c985,
    0x008c9b0, 0x008c9bd, 0x008c9c8, 0x008c9dd, 0x008c9f9, 0x008ca05, 0x008ca09, 0x008ca15,
    0x008ca23, 0x008ca38, 0x008ca82, 0x008cad0, 0x008cd01, 0x008cd40, 0x008cd51, 0x008ce8d,
    0x008cec0, 0x008ced5, 0x008cf09, 0x008cf13, 0x008cf19, 0x008cf25, 0x008cf28, 0x008d001,
    0x008d00d, 0x008d059, 0x008d19d, 0x008d1d1, 0x008d1dd, 0x008d1fb, 0x008d23d, 0x008d240,
    0x008d281, 0x008d28d, 0x008d2e1, 0x008d455, 0x008d4d3, 0x008d4e9, 0x008d4f3, 0x008d518,
    0x008d581, 0x008d7c8, 0x008e001, 0x008e048, 0x008e051, 0x008e17d, 0x008e1b8, 0x008e1c5,
    0x008e201, 0x008e20b, 0x008e230, 0x008e282, 0x008e368, 0x008e383, 0x008e391, 0x008e480,
    0x008e495, 0x008e540, 0x008e54d, 0x008e5b8, 0x008e801, 0x008e838, 0x008e841, 0x008e850,
    0x008e859, 0x008e98d, 0x008e9b8, 0x008e9d5, 0x008e9d8, 0x008e9e5, 0x008e9f0, 0x008e9fd,
    0x008ea31, 0x008ea3d, 0x008ea40, 0x008ea82, 0x008ead0, 0x008eb01, 0x008eb30, 0x008eb39,
    0x008eb48, 0x008eb51, 0x008ec55, 0x008ec78, 0x008ec85, 0x008ec90, 0x008ec9d, 0x008ecc1,
    0x008ecc8, 0x008ed02, 0x008ed50, 0x008f701, 0x008f79d, 0x008f7bb, 0x008f7c8, 0x008fd81,
    0x008fd88, 0x008fe02, 0x008feac, 0x008ff90, 0x008fffb, 0x0090001, 0x0091cd0, 0x0092002,
    0x0092378, 0x0092383, 0x00923a8, 0x0092401, 0x0092a20, 0x0097c81, 0x0097f8b, 0x0097f98,
    0x0098001, 0x009a178, 0x00a2001, 0x00a3238, 0x00b4001, 0x00b51c8, 0x00b5201, 0x00b52f8,
    0x00b5302, 0x00b5350, 0x00b5373, 0x00b5381, 0x00b55f8, 0x00b5602, 0x00b5650, 0x00b5681,
    0x00b5770, 0x00b5785, 0x00b57ab, 0x00b57b0, 0x00b5801, 0x00b5985, 0x00b59bb, 0x00b59e4,
    0x00b5a01, 0x00b5a23, 0x00b5a2c, 0x00b5a30, 0x00b5a82, 0x00b5ad0, 0x00b5ada, 0x00b5b10,
    0x00b5b19, 0x00b5bc0, 0x00b5be9, 0x00b5c80, 0x00b7201, 0x00b7402, 0x00b74bb, 0x00b74d8,
    0x00b7801, 0x00b7a58, 0x00b7a7d, 0x00b7a81, 0x00b7a8d, 0x00b7c40, 0x00b7c7d, 0x00b7c99,
    0x00b7d00, 0x00b7f01, 0x00b7f13, 0x00b7f19, 0x00b7f25, 0x00b7f28, 0x00b7f85, 0x00b7f90,
    0x00b8001, 0x00c3fc0, 0x00c4001, 0x00c66b0, 0x00c6801, 0x00c6848, 0x00d7f81, 0x00d7fa0,
    0x00d7fa9, 0x00d7fe0, 0x00d7fe9, 0x00d7ff8, 0x00d8001, 0x00d8918, 0x00d8a81, 0x00d8a98,
    0x00d8b21, 0x00d8b40, 0x00d8b81, 0x00d97e0, 0x00de001, 0x00de358, 0x00de381, 0x00de3e8,
    0x00de401, 0x00de448, 0x00de481, 0x00de4d0, 0x00de4e4, 0x00de4ed, 0x00de4fb, 0x00de500,
    0x00e7805, 0x00e7970, 0x00e7985, 0x00e7a38, 0x00e7a84, 0x00e7e20, 0x00e8004, 0x00e87b0,
    0x00e8804, 0x00e8938, 0x00e894c, 0x00e8b2d, 0x00e8b54, 0x00e8b6d, 0x00e8b98, 0x00e8bdd,
    0x00e8c1c, 0x00e8c2d, 0x00e8c64, 0x00e8d55, 0x00e8d74, 0x00e8f58, 0x00e9004, 0x00e9215,
    0x00e922c, 0x00e9230, 0x00e9702, 0x00e97a0, 0x00e9804, 0x00e9ab8, 0x00e9b02, 0x00e9bc8,
    0x00ea001, 0x00ea2a8, 0x00ea2b1, 0x00ea4e8, 0x00ea4f1, 0x00ea500, 0x00ea511, 0x00ea518,
    0x00ea529, 0x00ea538, 0x00ea549, 0x00ea568, 0x00ea571, 0x00ea5d0, 0x00ea5d9, 0x00ea5e0,
    0x00ea5e9, 0x00ea620, 0x00ea629, 0x00ea830, 0x00ea839, 0x00ea858, 0x00ea869, 0x00ea8a8,
    0x00ea8b1, 0x00ea8e8, 0x00ea8f1, 0x00ea9d0, 0x00ea9d9, 0x00ea9f8, 0x00eaa01, 0x00eaa28,
    0x00eaa31, 0x00eaa38, 0x00eaa51, 0x00eaa88, 0x00eaa91, 0x00eb530, 0x00eb541, 0x00eb60c,
    0x00eb611, 0x00eb6dc, 0x00eb6e1, 0x00eb7dc, 0x00eb7e1, 0x00eb8ac, 0x00eb8b1, 0x00eb9ac,
    0x00eb9b1, 0x00eba7c, 0x00eba81, 0x00ebb7c, 0x00ebb81, 0x00ebc4c, 0x00ebc51, 0x00ebd4c,
    0x00ebd51, 0x00ebe1c, 0x00ebe21, 0x00ebe60, 0x00ebe72, 0x00ec004, 0x00ed005, 0x00ed1bc,
    0x00ed1dd, 0x00ed36c, 0x00ed3ad, 0x00ed3b4, 0x00ed425, 0x00ed42c, 0x00ed43b, 0x00ed460,
    0x00ed4dd, 0x00ed500, 0x00ed50d, 0x00ed580, 0x00ef801, 0x00ef8f8, 0x00f0005, 0x00f0038,
    0x00f0045, 0x00f00c8, 0x00f00dd, 0x00f0110, 0x00f011d, 0x00f0128, 0x00f0135, 0x00f0158,
    0x00f0801, 0x00f0968, 0x00f0985, 0x00f09b9, 0x00f09f0, 0x00f0a02, 0x00f0a50, 0x00f0a71,
    0x00f0a7c, 0x00f0a80, 0x00f1481, 0x00f1575, 0x00f1578, 0x00f1601, 0x00f1765, 0x00f1782,
    0x00f17d0, 0x00f17fc, 0x00f1800, 0x00f3f01, 0x00f3f38, 0x00f3f41, 0x00f3f60, 0x00f3f69,
    0x00f3f78, 0x00f3f81, 0x00f3ff8, 0x00f4001, 0x00f4628, 0x00f463a, 0x00f4685, 0x00f46b8,
    0x00f4801, 0x00f4a25, 0x00f4a59, 0x00f4a60, 0x00f4a82, 0x00f4ad0, 0x00f4af3, 0x00f4b00,
    0x00f638a, 0x00f6564, 0x00f656a, 0x00f6584, 0x00f658a, 0x00f65a8, 0x00f680a, 0x00f6974,
    0x00f697a, 0x00f69f0, 0x00f7001, 0x00f7020, 0x00f7029, 0x00f7100, 0x00f7109, 0x00f7118,
    0x00f7121, 0x00f7128, 0x00f7139, 0x00f7140, 0x00f7149, 0x00f7198, 0x00f71a1, 0x00f71c0,
    0x00f71c9, 0x00f71d0, 0x00f71d9, 0x00f71e0, 0x00f7211, 0x00f7218, 0x00f7239, 0x00f7240,
    0x00f7249, 0x00f7250, 0x00f7259, 0x00f7260, 0x00f7269, 0x00f7280, 0x00f7289, 0x00f7298,
    0x00f72a1, 0x00f72a8, 0x00f72b9, 0x00f72c0, 0x00f72c9, 0x00f72d0, 0x00f72d9, 0x00f72e0,
    0x00f72e9, 0x00f72f0, 0x00f72f9, 0x00f7300, 0x00f7309, 0x00f7318, 0x00f7321, 0x00f7328,
    0x00f7339, 0x00f7358, 0x00f7361, 0x00f7398, 0x00f73a1, 0x00f73c0, 0x00f73c9, 0x00f73e8,
    0x00f73f1, 0x00f73f8, 0x00f7401, 0x00f7450, 0x00f7459, 0x00f74e0, 0x00f7509, 0x00f7520,
    0x00f7529, 0x00f7550, 0x00f7559, 0x00f75e0, 0x00f7784, 0x00f7790, 0x00f8004, 0x00f8160,
    0x00f8184, 0x00f84a0, 0x00f8504, 0x00f8578, 0x00f858c, 0x00f8600, 0x00f860c, 0x00f8680,
    0x00f868c, 0x00f87b0, 0x00f8802, 0x00f886c, 0x00f8d70, 0x00f8f34, 0x00f9018, 0x00f9084,
    0x00f91e0, 0x00f9204, 0x00f9248, 0x00f9284, 0x00f9290, 0x00f9304, 0x00f9330, 0x00f9804,
    0x00fb6c0, 0x00fb6ec, 0x00fb768, 0x00fb784, 0x00fb7e8, 0x00fb804, 0x00fbba0, 0x00fbc04,
    0x00fbec8, 0x00fbf04, 0x00fbf60, 0x00fbf84, 0x00fbf88, 0x00fc004, 0x00fc060, 0x00fc084,
    0x00fc240, 0x00fc284, 0x00fc2d0, 0x00fc304, 0x00fc440, 0x00fc484, 0x00fc570, 0x00fc584,
    0x00fc590, 0x00fc804, 0x00fd2a0, 0x00fd304, 0x00fd370, 0x00fd384, 0x00fd3a8, 0x00fd3c4,
    0x00fd3e8, 0x00fd404, 0x00fd438, 0x00fd484, 0x00fd568, 0x00fd584, 0x00fd5d8, 0x00fd604,
    0x00fd630, 0x00fd684, 0x00fd6d0, 0x00fd704, 0x00fd740, 0x00fd784, 0x00fd7b8, 0x00fd804,
    0x00fdc98, 0x00fdca4, 0x00fde58, 0x00fdf82, 0x00fdfd0, 0x0100001, 0x0153700, 0x0153801,
    0x015b9c8, 0x015ba01, 0x015c0f0, 0x015c101, 0x0167510, 0x0167581, 0x0175f08, 0x017c001,
    0x017d0f0, 0x0180001, 0x0189a58, 0x0700805, 0x0700f80,
};
static const uint32_t apr__uws_list[25] = {
    0x0009, 0x000a, 0x000b, 0x000c, 0x000d, 0x0020, 0x0085, 0x00a0, 0x1680, 0x2000,
    0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
    0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
};
static const uint32_t apr__deepseek_llm_letters[84][2] = {
    {0x00041, 0x0005a}, {0x00061, 0x0007a}, {0x000b5, 0x000b5}, {0x000c0, 0x000d6},
    {0x000d8, 0x000f6}, {0x000f8, 0x001ba}, {0x001bc, 0x001bf}, {0x001c4, 0x00293},
    {0x00295, 0x002af}, {0x00370, 0x00373}, {0x00376, 0x00377}, {0x0037b, 0x0037d},
    {0x0037f, 0x0037f}, {0x00386, 0x00386}, {0x00388, 0x0038a}, {0x0038c, 0x0038c},
    {0x0038e, 0x003a1}, {0x003a3, 0x003f5}, {0x003f7, 0x00481}, {0x0048a, 0x0052f},
    {0x00531, 0x00556}, {0x010a0, 0x010c5}, {0x013a0, 0x013f5}, {0x013f8, 0x013fd},
    {0x01c90, 0x01cba}, {0x01cbd, 0x01cbf}, {0x01d00, 0x01d2b}, {0x01d6b, 0x01d77},
    {0x01d79, 0x01d9a}, {0x01e00, 0x01f15}, {0x01f18, 0x01f1d}, {0x01f20, 0x01f45},
    {0x01f48, 0x01f4d}, {0x01f50, 0x01f57}, {0x01f59, 0x01f59}, {0x01f5b, 0x01f5b},
    {0x01f5d, 0x01f5d}, {0x01f5f, 0x01f7d}, {0x01f80, 0x01fb4}, {0x01fb6, 0x01fbc},
    {0x01fbe, 0x01fbe}, {0x01fc2, 0x01fc4}, {0x01fc6, 0x01fcc}, {0x01fd0, 0x01fd3},
    {0x01fd6, 0x01fdb}, {0x01fe0, 0x01fec}, {0x01ff2, 0x01ff4}, {0x01ff6, 0x01ffc},
    {0x02102, 0x02102}, {0x02107, 0x02107}, {0x0210a, 0x02113}, {0x02115, 0x02115},
    {0x02119, 0x0211d}, {0x02124, 0x02124}, {0x02126, 0x02126}, {0x02128, 0x02128},
    {0x0212a, 0x0212d}, {0x0212f, 0x02134}, {0x02139, 0x02139}, {0x0213c, 0x0213f},
    {0x02145, 0x02149}, {0x0214e, 0x0214e}, {0x02183, 0x02184}, {0x02c00, 0x02c7b},
    {0x02c7e, 0x02ce4}, {0x02ceb, 0x02cee}, {0x02cf2, 0x02cf3}, {0x0a640, 0x0a66d},
    {0x0a680, 0x0a69b}, {0x0a722, 0x0a76f}, {0x0a771, 0x0a787}, {0x0a78b, 0x0a78e},
    {0x0ab70, 0x0abbf}, {0x0fb00, 0x0fb06}, {0x0fb13, 0x0fb17}, {0x0ff21, 0x0ff3a},
    {0x0ff41, 0x0ff5a}, {0x10400, 0x1044f}, {0x104b0, 0x104d3}, {0x104d8, 0x104fb},
    {0x10c80, 0x10cb2}, {0x10cc0, 0x10cf2}, {0x118a0, 0x118df}, {0x1e900, 0x1e943},
};
/* END GENERATED UNICODE TABLES */

static int apr__ucat(uint32_t cp) {
    if (cp < 128) return apr__ucat_ascii[cp];
    if (cp >= 0x110000) return APR__UC_OTHER;
    size_t lo = 0, hi = APR__ARRAY_LEN(apr__ucat_ranges);
    while (hi - lo > 1) { /* last range whose start is <= cp */
        size_t mid = lo + (hi - lo) / 2;
        if ((apr__ucat_ranges[mid] >> 3) <= cp) lo = mid; else hi = mid;
    }
    return (int)(apr__ucat_ranges[lo] & 7);
}

static bool apr__uws(uint32_t cp) {
    if (cp < 128) return (cp >= 9 && cp <= 13) || cp == 32;
    for (size_t i = 0; i < APR__ARRAY_LEN(apr__uws_list); i++)
        if (apr__uws_list[i] == cp) return true;
    return false;
}

static bool apr__in_ranges(const uint32_t (*r)[2], size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid][0]) hi = mid;
        else if (cp > r[mid][1]) lo = mid + 1;
        else return true;
    }
    return false;
}

/* Per-unit flags the scanners test. VALID marks a unit inside the current piece, so a
   position past the end reads as 0 (llama.cpp's "out of range" code point). */
#define APR__UF_L 1
#define APR__UF_N 2
#define APR__UF_P 4
#define APR__UF_S 8
#define APR__UF_M 16
#define APR__UF_W 32
#define APR__UF_VALID 64

static uint8_t apr__uflags(uint32_t cp) {
    static const uint8_t cat_bit[6] = {0, APR__UF_L, APR__UF_N, APR__UF_P, APR__UF_S, APR__UF_M};
    uint8_t f = (uint8_t)(APR__UF_VALID | cat_bit[apr__ucat(cp)]);
    if (apr__uws(cp)) f |= APR__UF_W;
    return f;
}

/* ---- UTF-8 ------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 character at s[0..n) and its code point; an invalid or
   truncated sequence gives 1 byte and U+FFFD, so every byte string splits into units and
   every byte survives. */
static int apr__utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    *cp = 0xFFFD;
    if (c < 0x80) { *cp = c; return 1; }
    if (c < 0xC2 || c > 0xF4) return 1;
    int len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (n < (size_t)len) return 1;
    unsigned c1 = s[1];
    if ((c1 & 0xC0) != 0x80) return 1;
    if (c == 0xE0 && c1 < 0xA0) return 1; /* overlong */
    if (c == 0xED && c1 > 0x9F) return 1; /* surrogate */
    if (c == 0xF0 && c1 < 0x90) return 1; /* overlong */
    if (c == 0xF4 && c1 > 0x8F) return 1; /* > U+10FFFF */
    for (int i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 1;
    uint32_t v = len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int i = 1; i < len; i++) v = (v << 6) | (s[i] & 0x3F);
    *cp = v;
    return len;
}

static int apr__utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Number of bytes at the end of s[0..n) that start a valid UTF-8 character still missing
   its last bytes (0..3): what a streaming decoder must hold back. */
static int apr__utf8_incomplete_tail(const unsigned char *s, size_t n) {
    for (int j = 1; j <= 3 && (size_t)j <= n; j++) {
        unsigned c = s[n - (size_t)j];
        if ((c & 0xC0) == 0x80) continue;
        if (c < 0xC2 || c > 0xF4) return 0;
        int len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (j >= len) return 0;
        if (j >= 2) {
            unsigned c1 = s[n - (size_t)j + 1];
            if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) ||
                (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F)) return 0;
        }
        return j;
    }
    return 0;
}

/* GPT-2's byte-to-unicode map: printable Latin-1 bytes stand for themselves, the other 68
   bytes for U+0100.. in byte order, so every byte is a visible character. */
static uint32_t apr__gpt2_byte_cp(int b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) return (uint32_t)b;
    int k = 0;
    for (int i = 0; i < b; i++)
        if (!((i >= 0x21 && i <= 0x7E) || (i >= 0xA1 && i <= 0xAC) || i >= 0xAE)) k++;
    return 256u + (uint32_t)k;
}

/* ---- the vocabulary ------------------------------------------------------------------------ */

/* token types (tokenizer.ggml.token_type, = llama.cpp's llama_token_type) */
#define APR__TT_UNDEFINED 0
#define APR__TT_NORMAL 1
#define APR__TT_UNKNOWN 2
#define APR__TT_CONTROL 3
#define APR__TT_USER_DEFINED 4
#define APR__TT_UNUSED 5
#define APR__TT_BYTE 6

/* pre-tokenizer stages: each regex of llama.cpp's list for a pre-tokenizer type */
enum {
    APR__ST_END = 0,
    APR__ST_GPT2,         /* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) (llama.cpp's custom code) */
    APR__ST_LLAMA3,       /* (?i:'s|..)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
    APR__ST_QWEN2,        /* the same with \p{N} instead of \p{N}{1,3} */
    APR__ST_CRLF,         /* [\r\n] */
    APR__ST_WS_LETTERS,   /* \s?\p{L}+ */
    APR__ST_WS_PUNCT,     /* \s?\p{P}+ */
    APR__ST_CJK,          /* [一-龥ࠀ-一가-퟿]+ */
    APR__ST_DIGIT,        /* \p{N} */
    APR__ST_DIGITS,       /* \p{N}+ */
    APR__ST_DSLLM_LETTERS,/* \s?[A-Za-zµÀ-ÖØ-öø-ƺ...]+ (deepseek-llm's letter class) */
    APR__ST_DSLLM_PUNCT,  /* \s?[!-/:-~！-／：-～‘-‟　-。]+ */
    APR__ST_WS_END,       /* \s+$ */
    APR__ST_PUNCT_RUN,    /* [\p{P}\$\+<=>\^~\|]+ */
    APR__ST_PUNCT_RUN_BT, /* [\p{P}\$\+<=>\^~\|`]+ (falcon) */
    APR__ST_DIGIT3        /* [0-9][0-9][0-9] */
};

typedef struct apr__pre_def {
    const char *names; /* '|'-separated names of tokenizer.ggml.pre */
    unsigned char stages[8];
    bool ignore_merges; /* a word that is a whole token is taken as is (Llama 3) */
    bool add_bos;
} apr__pre_def;

static const apr__pre_def apr__pre_defs[] = {
    {"default", {APR__ST_PUNCT_RUN, APR__ST_GPT2, APR__ST_DIGITS, APR__ST_DIGIT3, 0, 0, 0, 0}, false, false},
    {"llama3|llama-v3|llama-bpe|falcon3", {APR__ST_LLAMA3, 0, 0, 0, 0, 0, 0, 0}, true, true},
    {"dbrx|smaug-bpe|chatglm-bpe", {APR__ST_LLAMA3, 0, 0, 0, 0, 0, 0, 0}, false, false},
    {"qwen2|deepseek-r1-qwen|stablelm2|megrez", {APR__ST_QWEN2, 0, 0, 0, 0, 0, 0, 0}, false, false},
    {"gpt-2|phi-2|mpt|olmo|jais|roberta-bpe|gigachat|jina-es|jina-de|jina-v1-en|jina-v2-es|jina-v2-de|jina-v2-code",
     {APR__ST_GPT2, 0, 0, 0, 0, 0, 0, 0}, false, false},
    {"deepseek-llm", {APR__ST_CRLF, APR__ST_DSLLM_LETTERS, APR__ST_DSLLM_PUNCT, APR__ST_WS_END, APR__ST_CJK,
                      APR__ST_DIGITS, 0, 0}, false, false},
    {"deepseek-coder", {APR__ST_CRLF, APR__ST_WS_LETTERS, APR__ST_WS_PUNCT, APR__ST_CJK, APR__ST_DIGIT, 0, 0, 0},
     false, false},
    {"falcon", {APR__ST_PUNCT_RUN_BT, APR__ST_GPT2, APR__ST_DIGIT3, 0, 0, 0, 0, 0}, false, false},
    {"starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b", {APR__ST_DIGIT, APR__ST_GPT2, 0, 0, 0, 0, 0, 0},
     false, false},
};

static bool apr__name_in_list(const char *list, const char *name, size_t n) {
    const char *p = list;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0) return true;
        if (!bar) break;
        p = bar + 1;
    }
    return false;
}

typedef struct apr__trie_node {
    int32_t child;   /* first child, -1 if none */
    int32_t sibling; /* next child of the same parent, -1 if none */
    int32_t rank;    /* index into special[] of the token ending here, -1 if none */
    unsigned char byte;
} apr__trie_node;

struct apr_vocab {
    apr_vocab_kind kind;
    int32_t n_tokens;
    char *text;          /* every token's text, back to back */
    uint32_t *text_off;  /* token i is text[text_off[i] .. text_off[i+1]) */
    float *scores;
    uint8_t *type;       /* APR__TT_* */
    uint8_t *eog;        /* 1 if the token ends generation */
    int16_t *byte_val;   /* SPM byte tokens <0xXX>: the byte; else -1 */
    uint32_t max_token_len;
    /* token text -> id: open addressing, -1 empty */
    int32_t *hash;
    uint32_t hash_mask;
    /* BPE merges: (left id, right id) -> rank and merged token */
    uint64_t *merge_key; /* UINT64_MAX empty */
    int32_t *merge_rank, *merge_result;
    uint64_t merge_mask;
    int32_t byte_token[256]; /* the token of a single byte (SPM <0xXX>, BPE byte char) */
    int16_t cp_byte[324];    /* BPE: code point of a byte char -> byte, -1 */
    int32_t bos, eos, eot, eom, unk, pad;
    bool add_bos, add_eos, add_space_prefix, ignore_merges;
    bool spm_split_words; /* no token has '▁' after another character */
    unsigned char stages[8];
    char pre_name[64];
    /* special tokens (control, user-defined, unknown), longest text first, in a trie */
    int32_t *special;
    int32_t n_special;
    apr__trie_node *trie;
    int32_t n_trie;
    int32_t trie_root[256];
};

#define APR__FNV_INIT 1469598103934665603ull

static int apr__hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static uint64_t apr__fnv(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static const char *apr__tok_text(const apr_vocab *v, int32_t id, size_t *len) {
    *len = v->text_off[id + 1] - v->text_off[id];
    return v->text + v->text_off[id];
}

static bool apr__is_spm_space(const char *p) { return memcmp(p, "\xe2\x96\x81", 3) == 0; }

/* Token whose text is a followed by b (either may be empty), or -1. */
static int32_t apr__vocab_lookup2(const apr_vocab *v, const char *a, size_t na, const char *b, size_t nb) {
    size_t n = na + nb;
    if (n == 0 || n > v->max_token_len) return -1;
    uint64_t h = apr__fnv(apr__fnv(APR__FNV_INIT, a, na), b, nb);
    for (uint64_t i = h & v->hash_mask;; i = (i + 1) & v->hash_mask) {
        int32_t id = v->hash[i];
        if (id < 0) return -1;
        size_t tl;
        const char *t = apr__tok_text(v, id, &tl);
        if (tl == n && memcmp(t, a, na) == 0 && memcmp(t + na, b, nb) == 0) return id;
    }
}

static int32_t apr__vocab_lookup(const apr_vocab *v, const char *s, size_t n) {
    return apr__vocab_lookup2(v, s, n, "", 0);
}

static uint64_t apr__merge_slot(uint64_t key, uint64_t mask) {
    return ((key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
}

/* rank of merging tokens l and r, or -1; *result gets the merged token (-1 if the merged
   text is not a token) */
static int32_t apr__merge_find(const apr_vocab *v, int32_t l, int32_t r, int32_t *result) {
    if (!v->merge_key || l < 0 || r < 0) return -1;
    uint64_t key = ((uint64_t)(uint32_t)l << 32) | (uint32_t)r;
    for (uint64_t i = apr__merge_slot(key, v->merge_mask);; i = (i + 1) & v->merge_mask) {
        if (v->merge_key[i] == UINT64_MAX) return -1;
        if (v->merge_key[i] == key) {
            *result = v->merge_result[i];
            return v->merge_rank[i];
        }
    }
}

APR__IMPL void apr_vocab_free(apr_vocab *v) {
    if (!v) return;
    APR_FREE(v->text);
    APR_FREE(v->text_off);
    APR_FREE(v->scores);
    APR_FREE(v->type);
    APR_FREE(v->eog);
    APR_FREE(v->byte_val);
    APR_FREE(v->hash);
    APR_FREE(v->merge_key);
    APR_FREE(v->merge_rank);
    APR_FREE(v->merge_result);
    APR_FREE(v->special);
    APR_FREE(v->trie);
    APR_FREE(v);
}

/* A special token id key: absent leaves *id; -1 / 0xFFFFFFFF (how converters write
   "none") gives -1; anything else outside the vocabulary is an error. */
static apr_result apr__vocab_read_id(const apr_gguf *g, const char *key, int32_t n, int32_t *id,
                                     apr_error *err) {
    int64_t k = apr_gguf_find_key(g, key);
    if (k < 0) return APR_SUCCESS;
    int64_t s;
    uint64_t u;
    if (apr_gguf_get_i64(g, key, &s)) {
        if (s == -1 || s == 0xFFFFFFFFll) { *id = -1; return APR_SUCCESS; }
        if (s < 0 || s >= n)
            return apr__fail(err, APR_ERROR_INVALID_FILE, "%s = %lld is outside the vocabulary of %d tokens",
                             key, (long long)s, (int)n);
        *id = (int32_t)s;
        return APR_SUCCESS;
    }
    if (apr_gguf_get_u64(g, key, &u)) {
        if (u == UINT64_MAX) { *id = -1; return APR_SUCCESS; }
        return apr__fail(err, APR_ERROR_INVALID_FILE, "%s = %llu is outside the vocabulary of %d tokens", key,
                         (unsigned long long)u, (int)n);
    }
    return apr__fail(err, APR_ERROR_INVALID_FILE, "%s is not an integer", key);
}

static apr_result apr__vocab_read_bool(const apr_gguf *g, const char *key, bool *out, apr_error *err) {
    if (apr_gguf_find_key(g, key) < 0) return APR_SUCCESS;
    if (!apr_gguf_get_bool(g, key, out))
        return apr__fail(err, APR_ERROR_INVALID_FILE, "%s is not a bool", key);
    return APR_SUCCESS;
}

/* The first token of `names` present in the vocabulary, or -1. */
static int32_t apr__vocab_find_any(const apr_vocab *v, const char *const *names, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int32_t id = apr__vocab_lookup(v, names[i], strlen(names[i]));
        if (id >= 0) return id;
    }
    return -1;
}

static int apr__special_cmp(const void *a, const void *b, const apr_vocab *v) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    uint32_t lx = v->text_off[x + 1] - v->text_off[x], ly = v->text_off[y + 1] - v->text_off[y];
    if (lx != ly) return lx > ly ? -1 : 1;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Special tokens ordered longest first (ties: lower id), and a byte trie over their texts
   so that the text is scanned once whatever their number. */
static apr_result apr__vocab_build_specials(apr_vocab *v, apr_error *err) {
    int32_t n = 0;
    uint64_t bytes = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        int t = v->type[i];
        if ((t == APR__TT_CONTROL || t == APR__TT_USER_DEFINED || t == APR__TT_UNKNOWN) &&
            v->text_off[i + 1] > v->text_off[i]) {
            n++;
            bytes += v->text_off[i + 1] - v->text_off[i];
        }
    }
    for (int i = 0; i < 256; i++) v->trie_root[i] = -1;
    if (n == 0) return APR_SUCCESS;
    if (bytes > INT32_MAX) return apr__fail(err, APR_ERROR_INVALID_FILE, "special tokens too long");
    v->special = (int32_t *)APR_MALLOC((size_t)n * sizeof(int32_t));
    v->trie = (apr__trie_node *)APR_MALLOC((size_t)bytes * sizeof(apr__trie_node));
    if (!v->special || !v->trie) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory (special tokens)");
    n = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        int t = v->type[i];
        if ((t == APR__TT_CONTROL || t == APR__TT_USER_DEFINED || t == APR__TT_UNKNOWN) &&
            v->text_off[i + 1] > v->text_off[i])
            v->special[n++] = i;
    }
    v->n_special = n;
    /* insertion sort would be quadratic for vocabularies with many added tokens: a merge
       sort on a scratch copy */
    int32_t *tmp = (int32_t *)APR_MALLOC((size_t)n * sizeof(int32_t));
    if (!tmp) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory (special tokens)");
    for (int32_t width = 1; width < n; width *= 2) {
        for (int32_t lo = 0; lo < n; lo += 2 * width) {
            int32_t mid = APR__MIN(lo + width, n), hi = APR__MIN(lo + 2 * width, n);
            int32_t a = lo, b = mid, k = lo;
            while (a < mid && b < hi)
                tmp[k++] = apr__special_cmp(&v->special[b], &v->special[a], v) < 0 ? v->special[b++] : v->special[a++];
            while (a < mid) tmp[k++] = v->special[a++];
            while (b < hi) tmp[k++] = v->special[b++];
        }
        memcpy(v->special, tmp, (size_t)n * sizeof(int32_t));
    }
    APR_FREE(tmp);
    for (int32_t r = 0; r < n; r++) {
        size_t len;
        const unsigned char *s = (const unsigned char *)apr__tok_text(v, v->special[r], &len);
        int32_t *slot = &v->trie_root[s[0]];
        int32_t node = -1;
        for (size_t j = 0; j < len; j++) {
            if (j > 0) {
                slot = &v->trie[node].child;
                while (*slot >= 0 && v->trie[*slot].byte != s[j]) slot = &v->trie[*slot].sibling;
            }
            if (*slot < 0) {
                apr__trie_node *nd = &v->trie[v->n_trie];
                nd->child = nd->sibling = nd->rank = -1;
                nd->byte = s[j];
                *slot = v->n_trie++;
            }
            node = *slot;
        }
        if (v->trie[node].rank < 0) v->trie[node].rank = r; /* a duplicate text: the first wins */
    }
    return APR_SUCCESS;
}

APR__IMPL apr_result apr_vocab_load(const apr_gguf *g, apr_vocab **out, apr_error *err) {
    if (!out) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_vocab_load: out is NULL");
    *out = NULL;
    if (!g) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_vocab_load: gguf is NULL");
    apr_result rc = APR_SUCCESS;
    apr_str model;
    if (apr_gguf_find_key(g, "tokenizer.ggml.model") < 0)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.model is missing: no vocabulary");
    if (!apr_gguf_get_str(g, "tokenizer.ggml.model", &model))
        return apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.model is not a string");
    apr_vocab_kind kind;
    if (model.len == 5 && memcmp(model.ptr, "llama", 5) == 0) kind = APR_VOCAB_SPM;
    else if (model.len == 4 && memcmp(model.ptr, "gpt2", 4) == 0) kind = APR_VOCAB_BPE;
    else
        return apr__fail(err, APR_ERROR_UNSUPPORTED, "tokenizer.ggml.model '%.*s' is not supported (llama, gpt2)",
                         (int)APR__MIN(model.len, 64), model.ptr);

    int64_t kt = apr_gguf_find_key(g, "tokenizer.ggml.tokens");
    apr_gguf_value_type et;
    uint64_t count;
    const void *data;
    if (kt < 0) return apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.tokens is missing");
    if (!apr_gguf_kv_arr(g, kt, &et, &count, &data) || et != APR_GGUF_STRING)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.tokens is not an array of strings");
    if (count == 0 || count > (uint64_t)INT32_MAX - 1)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.tokens has %llu entries",
                         (unsigned long long)count);
    int32_t n = (int32_t)count;

    apr_vocab *v = (apr_vocab *)apr__calloc(1, sizeof(apr_vocab));
    if (!v) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory (vocabulary)");
    v->kind = kind;
    v->n_tokens = n;
    v->bos = v->eos = v->eot = v->eom = v->unk = v->pad = -1;

    /* token texts, copied so that the vocabulary does not depend on the file staying open */
    uint64_t total = 0, hsize = 1;
    for (int32_t i = 0; i < n; i++) total += apr_gguf_kv_arr_str(g, kt, (uint64_t)i).len;
    if (total >= UINT32_MAX) {
        rc = apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.tokens: %llu bytes of text is too much",
                       (unsigned long long)total);
        goto fail;
    }
    v->text = (char *)APR_MALLOC((size_t)total + 1);
    v->text_off = (uint32_t *)APR_MALLOC(((size_t)n + 1) * sizeof(uint32_t));
    v->scores = (float *)apr__calloc((size_t)n, sizeof(float));
    v->type = (uint8_t *)APR_MALLOC((size_t)n);
    v->eog = (uint8_t *)apr__calloc((size_t)n, 1);
    v->byte_val = (int16_t *)APR_MALLOC((size_t)n * sizeof(int16_t));
    while (hsize < (uint64_t)n * 2) hsize *= 2;
    v->hash = (int32_t *)APR_MALLOC((size_t)hsize * sizeof(int32_t));
    if (!v->text || !v->text_off || !v->scores || !v->type || !v->eog || !v->byte_val || !v->hash) {
        rc = apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory (vocabulary of %d tokens)", (int)n);
        goto fail;
    }
    {
        uint32_t off = 0;
        for (int32_t i = 0; i < n; i++) {
            apr_str s = apr_gguf_kv_arr_str(g, kt, (uint64_t)i);
            v->text_off[i] = off;
            if (s.len) memcpy(v->text + off, s.ptr, (size_t)s.len);
            off += (uint32_t)s.len;
            if (s.len > v->max_token_len) v->max_token_len = (uint32_t)s.len;
            v->type[i] = APR__TT_NORMAL;
            v->byte_val[i] = -1;
        }
        v->text_off[n] = off;
        v->text[off] = 0;
    }

    /* scores: float32, one per token */
    {
        int64_t k = apr_gguf_find_key(g, "tokenizer.ggml.scores");
        if (k >= 0) {
            if (!apr_gguf_kv_arr(g, k, &et, &count, &data) || et != APR_GGUF_FLOAT32 || count != (uint64_t)n) {
                rc = apr__fail(err, APR_ERROR_INVALID_FILE,
                               "tokenizer.ggml.scores must be an array of %d float32 values", (int)n);
                goto fail;
            }
            memcpy(v->scores, data, (size_t)n * sizeof(float));
        }
    }
    /* token types: int32 (or uint32), one per token, values 0..6 */
    {
        int64_t k = apr_gguf_find_key(g, "tokenizer.ggml.token_type");
        if (k >= 0) {
            if (!apr_gguf_kv_arr(g, k, &et, &count, &data) || (et != APR_GGUF_INT32 && et != APR_GGUF_UINT32) ||
                count != (uint64_t)n) {
                rc = apr__fail(err, APR_ERROR_INVALID_FILE,
                               "tokenizer.ggml.token_type must be an array of %d int32 values", (int)n);
                goto fail;
            }
            for (int32_t i = 0; i < n; i++) {
                uint32_t t;
                memcpy(&t, (const char *)data + (size_t)i * 4, 4);
                if (t > APR__TT_BYTE) {
                    rc = apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.token_type[%d] = %d is not a token type",
                                   (int)i, (int)(int32_t)t);
                    goto fail;
                }
                v->type[i] = (uint8_t)t;
            }
        }
    }

    /* text -> id; on duplicate texts the last token wins (as llama.cpp's map) */
    for (uint64_t i = 0; i < hsize; i++) v->hash[i] = -1;
    v->hash_mask = (uint32_t)(hsize - 1);
    for (int32_t i = 0; i < n; i++) {
        size_t len;
        const char *s = apr__tok_text(v, i, &len);
        if (len == 0) continue;
        uint64_t h = apr__fnv(APR__FNV_INIT, s, len);
        for (uint64_t j = h & v->hash_mask;; j = (j + 1) & v->hash_mask) {
            int32_t id = v->hash[j];
            if (id < 0) { v->hash[j] = i; break; }
            size_t l2;
            const char *s2 = apr__tok_text(v, id, &l2);
            if (l2 == len && memcmp(s2, s, len) == 0) { v->hash[j] = i; break; }
        }
    }

    /* defaults as llama.cpp, then the pre-tokenizer */
    if (kind == APR_VOCAB_SPM) {
        v->bos = n > 1 ? 1 : -1;
        v->eos = n > 2 ? 2 : -1;
        v->unk = 0;
        v->add_bos = true;
        v->add_space_prefix = true;
        snprintf(v->pre_name, sizeof v->pre_name, "default");
        apr_str pre;
        if (apr_gguf_get_str(g, "tokenizer.ggml.pre", &pre))
            snprintf(v->pre_name, sizeof v->pre_name, "%.*s", (int)APR__MIN(pre.len, 63), pre.ptr);
    } else {
        apr_str pre;
        pre.ptr = "default";
        pre.len = 7;
        if (apr_gguf_find_key(g, "tokenizer.ggml.pre") >= 0 && !apr_gguf_get_str(g, "tokenizer.ggml.pre", &pre)) {
            rc = apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.pre is not a string");
            goto fail;
        }
        const apr__pre_def *def = NULL;
        for (size_t i = 0; i < APR__ARRAY_LEN(apr__pre_defs) && !def; i++)
            if (apr__name_in_list(apr__pre_defs[i].names, pre.ptr, (size_t)pre.len)) def = &apr__pre_defs[i];
        if (!def) {
            rc = apr__fail(err, APR_ERROR_UNSUPPORTED, "tokenizer.ggml.pre '%.*s' is not a pre-tokenizer apr knows",
                           (int)APR__MIN(pre.len, 64), pre.ptr);
            goto fail;
        }
        memcpy(v->stages, def->stages, sizeof v->stages);
        v->ignore_merges = def->ignore_merges;
        v->add_bos = def->add_bos;
        snprintf(v->pre_name, sizeof v->pre_name, "%.*s", (int)APR__MIN(pre.len, 63), pre.ptr);
    }

    if ((rc = apr__vocab_read_id(g, "tokenizer.ggml.bos_token_id", n, &v->bos, err)) != APR_SUCCESS ||
        (rc = apr__vocab_read_id(g, "tokenizer.ggml.eos_token_id", n, &v->eos, err)) != APR_SUCCESS ||
        (rc = apr__vocab_read_id(g, "tokenizer.ggml.eot_token_id", n, &v->eot, err)) != APR_SUCCESS ||
        (rc = apr__vocab_read_id(g, "tokenizer.ggml.eom_token_id", n, &v->eom, err)) != APR_SUCCESS ||
        (rc = apr__vocab_read_id(g, "tokenizer.ggml.unknown_token_id", n, &v->unk, err)) != APR_SUCCESS ||
        (rc = apr__vocab_read_id(g, "tokenizer.ggml.padding_token_id", n, &v->pad, err)) != APR_SUCCESS ||
        (rc = apr__vocab_read_bool(g, "tokenizer.ggml.add_bos_token", &v->add_bos, err)) != APR_SUCCESS ||
        (rc = apr__vocab_read_bool(g, "tokenizer.ggml.add_eos_token", &v->add_eos, err)) != APR_SUCCESS ||
        (rc = apr__vocab_read_bool(g, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix, err)) != APR_SUCCESS)
        goto fail;

    /* single-byte tokens */
    for (int b = 0; b < 256; b++) {
        char s[8];
        int32_t id;
        if (kind == APR_VOCAB_SPM) {
            snprintf(s, sizeof s, "<0x%02X>", b);
            id = apr__vocab_lookup(v, s, 6);
            if (id < 0) { s[0] = (char)b; id = apr__vocab_lookup(v, s, 1); }
        } else {
            int k = apr__utf8_encode(apr__gpt2_byte_cp(b), s);
            id = apr__vocab_lookup(v, s, (size_t)k);
        }
        v->byte_token[b] = id;
    }
    for (int i = 0; i < 324; i++) v->cp_byte[i] = -1;
    for (int b = 0; b < 256; b++) v->cp_byte[apr__gpt2_byte_cp(b)] = (int16_t)b;
    for (int32_t i = 0; i < n; i++) {
        size_t len;
        const char *s = apr__tok_text(v, i, &len);
        if (v->type[i] == APR__TT_BYTE && len == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>') {
            int hi = apr__hex_digit(s[3]), lo = apr__hex_digit(s[4]);
            if (hi >= 0 && lo >= 0) v->byte_val[i] = (int16_t)(hi * 16 + lo);
        }
    }

    if (kind == APR_VOCAB_SPM) {
        v->spm_split_words = true;
        for (int32_t i = 0; i < n && v->spm_split_words; i++) {
            size_t len;
            const char *t = apr__tok_text(v, i, &len);
            for (size_t j = 1; j + 3 <= len; j++) {
                if (apr__is_spm_space(t + j) && !(j >= 3 && apr__is_spm_space(t + j - 3))) {
                    v->spm_split_words = false;
                    break;
                }
            }
        }
    }

    /* BPE merges "left right", rank = position; both sides must be tokens */
    if (kind == APR_VOCAB_BPE) {
        int64_t km = apr_gguf_find_key(g, "tokenizer.ggml.merges");
        if (km < 0) { rc = apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.merges is missing"); goto fail; }
        if (!apr_gguf_kv_arr(g, km, &et, &count, &data) || et != APR_GGUF_STRING) {
            rc = apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.merges is not an array of strings");
            goto fail;
        }
        if (count > (uint64_t)INT32_MAX / 2) {
            rc = apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.merges has %llu entries", (unsigned long long)count);
            goto fail;
        }
        uint64_t msize = 16;
        while (msize < count * 2) msize *= 2;
        v->merge_key = (uint64_t *)APR_MALLOC((size_t)msize * sizeof(uint64_t));
        v->merge_rank = (int32_t *)APR_MALLOC((size_t)msize * sizeof(int32_t));
        v->merge_result = (int32_t *)APR_MALLOC((size_t)msize * sizeof(int32_t));
        if (!v->merge_key || !v->merge_rank || !v->merge_result) {
            rc = apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory (merges)");
            goto fail;
        }
        for (uint64_t i = 0; i < msize; i++) v->merge_key[i] = UINT64_MAX;
        v->merge_mask = msize - 1;
        for (uint64_t i = 0; i < count; i++) {
            apr_str s = apr_gguf_kv_arr_str(g, km, i);
            const char *sp = s.len > 1 ? (const char *)memchr(s.ptr + 1, ' ', (size_t)s.len - 1) : NULL;
            if (!sp) {
                rc = apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.merges[%llu] is not two tokens separated by a space",
                               (unsigned long long)i);
                goto fail;
            }
            size_t na = (size_t)(sp - s.ptr), nb = (size_t)s.len - na - 1;
            int32_t l = apr__vocab_lookup(v, s.ptr, na), r = apr__vocab_lookup(v, sp + 1, nb);
            if (l < 0 || r < 0) {
                rc = apr__fail(err, APR_ERROR_INVALID_FILE, "tokenizer.ggml.merges[%llu] '%.*s' names a token that is not in the vocabulary",
                               (unsigned long long)i, (int)APR__MIN(s.len, 64), s.ptr);
                goto fail;
            }
            uint64_t key = ((uint64_t)(uint32_t)l << 32) | (uint32_t)r;
            for (uint64_t j = apr__merge_slot(key, v->merge_mask);; j = (j + 1) & v->merge_mask) {
                if (v->merge_key[j] == key) break; /* a repeated merge keeps its first rank */
                if (v->merge_key[j] == UINT64_MAX) {
                    v->merge_key[j] = key;
                    v->merge_rank[j] = (int32_t)i;
                    v->merge_result[j] = apr__vocab_lookup2(v, s.ptr, na, sp + 1, nb);
                    break;
                }
            }
        }
    }

    /* End-of-turn, FIM and end-of-generation tokens found by their text, as llama.cpp does
       (converters do not always write the ids); such tokens are control tokens. */
    {
        static const char *const eot_names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                                "<EOT>", "<\357\275\234end\342\226\201of\342\226\201sentence\357\275\234>"};
        static const char *const eom_names[] = {"<|eom_id|>"};
        static const char *const fim_pre[] = {"<|fim_prefix|>", "<fim-prefix>", "<\357\275\234fim\342\226\201begin\357\275\234>", "<PRE>"};
        static const char *const fim_suf[] = {"<|fim_suffix|>", "<fim-suffix>", "<\357\275\234fim\342\226\201hole\357\275\234>", "<SUF>"};
        static const char *const fim_mid[] = {"<|fim_middle|>", "<fim-middle>", "<\357\275\234fim\342\226\201end\357\275\234>", "<MID>"};
        static const char *const fim_pad[] = {"<|fim_pad|>", "<fim-pad>", "<PAD>"};
        static const char *const fim_rep[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>"};
        static const char *const fim_sep[] = {"<|file_sep|>"};
        static const char *const eog_names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                                "<|endoftext|>", "<|eom_id|>", "<EOT>"};
        static const char *const eog_if_control[] = {"<|end_of_text|>", "</s>"};
        int32_t id;
        if (v->eot < 0 && (id = apr__vocab_find_any(v, eot_names, APR__ARRAY_LEN(eot_names))) >= 0) {
            v->eot = id;
            v->type[id] = APR__TT_CONTROL;
        }
        if (v->eom < 0 && (id = apr__vocab_find_any(v, eom_names, 1)) >= 0) {
            v->eom = id;
            v->type[id] = APR__TT_CONTROL;
        }
        const char *const *fims[6] = {fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep};
        const size_t nfims[6] = {APR__ARRAY_LEN(fim_pre), APR__ARRAY_LEN(fim_suf), APR__ARRAY_LEN(fim_mid),
                                 APR__ARRAY_LEN(fim_pad), APR__ARRAY_LEN(fim_rep), APR__ARRAY_LEN(fim_sep)};
        for (int f = 0; f < 6; f++) {
            if ((id = apr__vocab_find_any(v, fims[f], nfims[f])) >= 0) {
                v->type[id] = APR__TT_CONTROL;
                if (f >= 3) v->eog[id] = 1; /* pad, repo and file separator end generation */
            }
        }
        for (size_t i = 0; i < APR__ARRAY_LEN(eog_names); i++) {
            if ((id = apr__vocab_lookup(v, eog_names[i], strlen(eog_names[i]))) >= 0) {
                v->eog[id] = 1;
                v->type[id] = APR__TT_CONTROL;
            }
        }
        for (size_t i = 0; i < APR__ARRAY_LEN(eog_if_control); i++) {
            id = apr__vocab_lookup(v, eog_if_control[i], strlen(eog_if_control[i]));
            if (id >= 0 && v->type[id] == APR__TT_CONTROL) v->eog[id] = 1;
        }
        if (v->eos >= 0) v->eog[v->eos] = 1;
        if (v->eot >= 0) v->eog[v->eot] = 1;
        if (v->eom >= 0) v->eog[v->eom] = 1;
    }

    if ((rc = apr__vocab_build_specials(v, err)) != APR_SUCCESS) goto fail;
    *out = v;
    return APR_SUCCESS;
fail:
    apr_vocab_free(v);
    return rc;
}

APR__IMPL int32_t apr_vocab_n_tokens(const apr_vocab *v) { return v ? v->n_tokens : 0; }
APR__IMPL apr_vocab_kind apr_vocab_type(const apr_vocab *v) { return v ? v->kind : APR_VOCAB_NONE; }
APR__IMPL const char *apr_vocab_pre_name(const apr_vocab *v) { return v ? v->pre_name : ""; }
APR__IMPL int32_t apr_vocab_bos(const apr_vocab *v) { return v ? v->bos : -1; }
APR__IMPL int32_t apr_vocab_eos(const apr_vocab *v) { return v ? v->eos : -1; }
APR__IMPL int32_t apr_vocab_eot(const apr_vocab *v) { return v ? v->eot : -1; }
APR__IMPL bool apr_vocab_add_bos(const apr_vocab *v) { return v && v->add_bos && v->bos >= 0; }

APR__IMPL bool apr_vocab_is_eog(const apr_vocab *v, int32_t token) {
    return v && token >= 0 && token < v->n_tokens && v->eog[token];
}

APR__IMPL bool apr_vocab_is_control(const apr_vocab *v, int32_t token) {
    return v && token >= 0 && token < v->n_tokens && v->type[token] == APR__TT_CONTROL;
}

APR__IMPL apr_str apr_vocab_token_text(const apr_vocab *v, int32_t token) {
    apr_str s;
    s.ptr = "";
    s.len = 0;
    if (v && token >= 0 && token < v->n_tokens) {
        size_t len;
        s.ptr = apr__tok_text(v, token, &len);
        s.len = len;
    }
    return s;
}

APR__IMPL int32_t apr_vocab_max_piece(const apr_vocab *v) {
    /* a piece is never longer than its token's text + 1, the stream adds up to 3 held bytes */
    return v ? (int32_t)APR__MIN((uint64_t)v->max_token_len + 4, (uint64_t)INT32_MAX) : 0;
}

APR__IMPL int32_t apr_vocab_find(const apr_vocab *v, const char *text) {
    if (!v || !text) return -1;
    return apr__vocab_lookup(v, text, strlen(text));
}

/* ---- tokenization: scratch space ----------------------------------------------------------- */

typedef struct apr__sym {
    uint32_t start, n; /* bytes of the symbol in the word / escaped text; n = 0 once merged away */
    int32_t prev, next;
    int32_t id;        /* BPE: its token (-1 if none) */
} apr__sym;

/* A candidate merge of symbol `left` with the one after it. key = priority << 32 | left,
   lower first (SPM: descending score, BPE: ascending rank; ties: leftmost). It is stale
   once either symbol changed, which shows as a different total size (a symbol only
   grows, by absorbing its right neighbour). */
typedef struct apr__bigram {
    uint64_t key;
    uint32_t size;
    int32_t id;        /* the merged token */
} apr__bigram;

typedef struct apr__tok_scratch {
    uint32_t *cp, *off;   /* units (characters) of the current fragment */
    uint8_t *fl;
    size_t cap_units;
    uint32_t *pa, *pb;    /* pieces, [begin, end) unit pairs, ping-pong */
    size_t cap_pieces;
    apr__sym *sym;
    size_t cap_sym;
    apr__bigram *heap;
    size_t n_heap, cap_heap;
    char *buf;
    size_t cap_buf;
    int32_t *out;
    int64_t max, n;
    bool oom;
} apr__tok_scratch;

/* Grow *p to hold need elements; false (and s->oom) on failure. */
static bool apr__tok_grow(apr__tok_scratch *s, void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    if (c > SIZE_MAX / elem) { s->oom = true; return false; }
    void *q = APR_REALLOC(*p, c * elem);
    if (!q) { s->oom = true; return false; }
    *p = q;
    *cap = c;
    return true;
}

static void apr__tok_scratch_free(apr__tok_scratch *s) {
    APR_FREE(s->cp); APR_FREE(s->off); APR_FREE(s->fl);
    APR_FREE(s->pa); APR_FREE(s->pb);
    APR_FREE(s->sym); APR_FREE(s->heap); APR_FREE(s->buf);
}

static void apr__tok_emit(apr__tok_scratch *s, int32_t id) {
    if (s->n < s->max) s->out[s->n] = id;
    s->n++;
}

static bool apr__bigram_before(const apr__bigram *a, const apr__bigram *b) { return a->key < b->key; }

/* float score -> 32-bit key, higher score = lower key */
static uint32_t apr__score_key(float f) {
    uint32_t u = apr__f32_to_bits(f);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return ~u;
}

static void apr__heap_push(apr__tok_scratch *s, const apr__bigram *b) {
    if (!apr__tok_grow(s, (void **)&s->heap, &s->cap_heap, s->n_heap + 1, sizeof(apr__bigram))) return;
    size_t i = s->n_heap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!apr__bigram_before(b, &s->heap[parent])) break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = *b;
}

static apr__bigram apr__heap_pop(apr__tok_scratch *s) {
    apr__bigram top = s->heap[0];
    apr__bigram last = s->heap[--s->n_heap];
    size_t i = 0, n = s->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && apr__bigram_before(&s->heap[c + 1], &s->heap[c])) c++;
        if (!apr__bigram_before(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n > 0) s->heap[i] = last;
    return top;
}

/* ---- SPM ---------------------------------------------------------------------------------- */

static void apr__spm_try_bigram(const apr_vocab *v, apr__tok_scratch *s, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const apr__sym *a = &s->sym[l], *b = &s->sym[r];
    int32_t id = apr__vocab_lookup(v, s->buf + a->start, (size_t)a->n + b->n);
    if (id < 0) return;
    apr__bigram bg;
    bg.key = ((uint64_t)apr__score_key(v->scores[id]) << 32) | (uint32_t)l;
    bg.size = a->n + b->n;
    bg.id = id;
    apr__heap_push(s, &bg);
}

/* Merge the symbols of buf[b..e) as llama.cpp's llm_tokenizer_spm and emit the tokens. */
static void apr__spm_segment(const apr_vocab *v, apr__tok_scratch *s, size_t b, size_t e) {
    if (!apr__tok_grow(s, (void **)&s->sym, &s->cap_sym, e - b, sizeof(apr__sym))) return;
    int32_t ns = 0;
    for (size_t i = b; i < e;) {
        uint32_t cp;
        int k = apr__utf8_decode((const unsigned char *)s->buf + i, e - i, &cp);
        apr__sym *y = &s->sym[ns];
        y->start = (uint32_t)i;
        y->n = (uint32_t)k;
        y->prev = ns - 1;
        y->next = ns + 1;
        y->id = -1;
        ns++;
        i += (size_t)k;
    }
    s->sym[ns - 1].next = -1;
    s->n_heap = 0;
    for (int32_t i = 1; i < ns; i++) apr__spm_try_bigram(v, s, i - 1, i);
    while (s->n_heap > 0 && !s->oom) {
        apr__bigram bg = apr__heap_pop(s);
        int32_t left = (int32_t)(uint32_t)bg.key;
        apr__sym *a = &s->sym[left];
        if (a->n == 0 || a->next < 0) continue;
        apr__sym *c = &s->sym[a->next];
        if (a->n + c->n != bg.size) continue;
        a->n += c->n;
        c->n = 0;
        a->next = c->next;
        if (c->next >= 0) s->sym[c->next].prev = left;
        apr__spm_try_bigram(v, s, a->prev, left);
        apr__spm_try_bigram(v, s, left, a->next);
    }
    for (int32_t i = 0; i != -1; i = s->sym[i].next) {
        const apr__sym *y = &s->sym[i];
        int32_t id = apr__vocab_lookup(v, s->buf + y->start, y->n);
        if (id >= 0) { apr__tok_emit(s, id); continue; }
        for (uint32_t j = 0; j < y->n; j++) { /* byte fallback */
            int32_t bt = v->byte_token[(unsigned char)s->buf[y->start + j]];
            if (bt < 0) bt = v->unk;
            if (bt >= 0) apr__tok_emit(s, bt);
        }
    }
}

static void apr__spm_fragment(const apr_vocab *v, apr__tok_scratch *s, const char *text, size_t len, bool prefix) {
    /* escape: ' ' -> U+2581 '▁', with one in front when asked */
    if (!apr__tok_grow(s, (void **)&s->buf, &s->cap_buf, (len + 1) * 3, 1)) return;
    size_t m = 0;
    if (prefix) { memcpy(s->buf, "\xe2\x96\x81", 3); m = 3; }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') { memcpy(s->buf + m, "\xe2\x96\x81", 3); m += 3; }
        else s->buf[m++] = text[i];
    }
    if (m == 0) return;
    /* Where no token has a '▁' right after another character (checked at load), no merge
       can join what precedes such a '▁' to it: the words are merged one at a time, which
       gives the same tokens as one queue over the whole text, with a small queue. */
    size_t seg = 0;
    if (v->spm_split_words) {
        for (size_t p = 1; p + 3 <= m; p++) {
            if ((unsigned char)s->buf[p] != 0xE2 || !apr__is_spm_space(s->buf + p)) continue;
            if (p >= 3 && apr__is_spm_space(s->buf + p - 3)) continue;
            apr__spm_segment(v, s, seg, p);
            seg = p;
        }
    }
    apr__spm_segment(v, s, seg, m);
}

/* ---- BPE pre-tokenizers ------------------------------------------------------------------------ */

static uint8_t apr__pf(const apr__tok_scratch *s, size_t i, size_t e) { return i < e ? s->fl[i] : 0; }
static uint32_t apr__pc(const apr__tok_scratch *s, size_t i, size_t e) { return i < e ? s->cp[i] : 0xFFFFFFFFu; }

/* not \s, \p{L} or \p{N}, and inside the piece */
static bool apr__pf_other(uint8_t f) {
    return (f & APR__UF_VALID) && !(f & (APR__UF_W | APR__UF_L | APR__UF_N));
}

static bool apr__is_crlf(uint32_t c) { return c == '\r' || c == '\n'; }

/* 's|'t|'re|'ve|'m|'ll|'d (ASCII case-insensitive when icase): end of the match or p */
static size_t apr__pre_contraction(const apr__tok_scratch *s, size_t p, size_t e, bool icase) {
    if (apr__pc(s, p, e) != '\'' || p + 1 >= e) return p;
    uint32_t c1 = apr__pc(s, p + 1, e);
    if (icase && c1 >= 'A' && c1 <= 'Z') c1 += 32;
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return p + 2;
    if (p + 2 >= e) return p;
    uint32_t c2 = apr__pc(s, p + 2, e);
    if (icase && c2 >= 'A' && c2 <= 'Z') c2 += 32;
    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return p + 3;
    return p;
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S), with a
   lone whitespace character that matches nothing taken as its own piece. */
static size_t apr__pre_gpt2(const apr__tok_scratch *s, size_t p, size_t e) {
    size_t q = apr__pre_contraction(s, p, e, false);
    if (q > p) return q;
    uint32_t c = apr__pc(s, p, e);
    uint8_t f2 = c == ' ' ? apr__pf(s, p + 1, e) : apr__pf(s, p, e);
    size_t i = p + (c == ' ');
    if (f2 & APR__UF_L) { while (apr__pf(s, i, e) & APR__UF_L) i++; return i; }
    if (f2 & APR__UF_N) { while (apr__pf(s, i, e) & APR__UF_N) i++; return i; }
    if (apr__pf_other(f2)) { while (apr__pf_other(apr__pf(s, i, e))) i++; return i; }
    size_t k = 0;
    while (apr__pf(s, p + k, e) & APR__UF_W) k++;
    if (k > 1 && p + k < e) return p + k - 1; /* \s+(?!\S): leave the last one to the next word */
    if (k > 0) return p + k;
    return p + 1;
}

/* Llama 3 (max_digits 3) and Qwen2 (1):
   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max}| ?[^\s\p{L}\p{N}]+[\r\n]*|
   \s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t apr__pre_llama3(const apr__tok_scratch *s, size_t p, size_t e, size_t max_digits) {
    size_t q = apr__pre_contraction(s, p, e, true);
    if (q > p) return q;
    uint32_t c = apr__pc(s, p, e);
    uint8_t f = apr__pf(s, p, e);
    if (!(apr__is_crlf(c) || (f & APR__UF_N)) && ((f & APR__UF_L) || (apr__pf(s, p + 1, e) & APR__UF_L))) {
        size_t i = p + 1;
        while (apr__pf(s, i, e) & APR__UF_L) i++;
        return i;
    }
    if (f & APR__UF_N) {
        size_t i = p + 1;
        while (i - p < max_digits && (apr__pf(s, i, e) & APR__UF_N)) i++;
        return i;
    }
    uint8_t f2 = c == ' ' ? apr__pf(s, p + 1, e) : f;
    if (!(f2 & (APR__UF_W | APR__UF_L | APR__UF_N)) && (f & APR__UF_VALID)) {
        size_t i = p + (c == ' ');
        while (apr__pf_other(apr__pf(s, i, e))) i++;
        while (apr__is_crlf(apr__pc(s, i, e))) i++;
        return i;
    }
    size_t k = 0, last_crlf = 0;
    while (apr__pf(s, p + k, e) & APR__UF_W) {
        if (apr__is_crlf(apr__pc(s, p + k, e))) last_crlf = p + k + 1;
        k++;
    }
    if (last_crlf > 0) return last_crlf;   /* \s*[\r\n]+ */
    if (k > 1 && p + k < e) return p + k - 1; /* \s+(?!\S) */
    if (k > 0) return p + k;               /* \s+ */
    return p + 1;
}

static bool apr__is_cjk(uint32_t c, uint8_t f) { /* [一-龥ࠀ-一가-퟿], whitespace excluded */
    return ((c >= 0x0800 && c <= 0x9FA5) || (c >= 0xAC00 && c <= 0xD7FF)) && !(f & APR__UF_W);
}

static bool apr__is_dsllm_punct(uint32_t c, uint8_t f) { /* [!-/:-~！-／：-～‘-‟　-。] */
    return ((c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x7E) || (c >= 0xFF01 && c <= 0xFF0F) ||
            (c >= 0xFF1A && c <= 0xFF5E) || (c >= 0x2018 && c <= 0x201F) || (c >= 0x3000 && c <= 0x3002)) &&
           !(f & APR__UF_W);
}

static bool apr__is_dsllm_letter(uint32_t c) {
    return apr__in_ranges(apr__deepseek_llm_letters, APR__ARRAY_LEN(apr__deepseek_llm_letters), c);
}

static bool apr__is_punct_run(uint32_t c, uint8_t f) { /* [\p{P}\$\+<=>\^~\|] */
    return (f & APR__UF_P) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' || c == '~' ||
           c == '|';
}

/* \s?X+ where X never matches whitespace: end of the match or p */
#define APR__WS_OPT_RUN(COND_AT)                                                   \
    do {                                                                           \
        size_t i_ = p;                                                             \
        if ((apr__pf(s, p, e) & APR__UF_W) && p + 1 < e && (COND_AT(p + 1))) i_++; \
        if (i_ < e && (COND_AT(i_))) {                                             \
            while (i_ < e && (COND_AT(i_))) i_++;                                  \
            return i_;                                                             \
        }                                                                          \
        return p;                                                                  \
    } while (0)

/* The anchored match of one stage's regex at unit p of the piece ending at e: the end of
   the match, or p if none starts here. */
static size_t apr__pre_match(int stage, const apr__tok_scratch *s, size_t p, size_t e) {
#define APR__AT_L(i) (s->fl[i] & APR__UF_L)
#define APR__AT_P(i) (s->fl[i] & APR__UF_P)
#define APR__AT_DSL(i) (!(s->fl[i] & APR__UF_W) && apr__is_dsllm_letter(s->cp[i]))
#define APR__AT_DSP(i) apr__is_dsllm_punct(s->cp[i], s->fl[i])
    switch (stage) {
    case APR__ST_GPT2: return apr__pre_gpt2(s, p, e);
    case APR__ST_LLAMA3: return apr__pre_llama3(s, p, e, 3);
    case APR__ST_QWEN2: return apr__pre_llama3(s, p, e, 1);
    case APR__ST_CRLF: return apr__is_crlf(s->cp[p]) ? p + 1 : p;
    case APR__ST_WS_LETTERS: APR__WS_OPT_RUN(APR__AT_L);
    case APR__ST_WS_PUNCT: APR__WS_OPT_RUN(APR__AT_P);
    case APR__ST_DSLLM_LETTERS: APR__WS_OPT_RUN(APR__AT_DSL);
    case APR__ST_DSLLM_PUNCT: APR__WS_OPT_RUN(APR__AT_DSP);
    case APR__ST_CJK: {
        size_t i = p;
        while (i < e && apr__is_cjk(s->cp[i], s->fl[i])) i++;
        return i;
    }
    case APR__ST_DIGIT: return (s->fl[p] & APR__UF_N) ? p + 1 : p;
    case APR__ST_DIGITS: {
        size_t i = p;
        while (i < e && (s->fl[i] & APR__UF_N)) i++;
        return i;
    }
    case APR__ST_PUNCT_RUN: {
        size_t i = p;
        while (i < e && apr__is_punct_run(s->cp[i], s->fl[i])) i++;
        return i;
    }
    case APR__ST_PUNCT_RUN_BT: {
        size_t i = p;
        while (i < e && (apr__is_punct_run(s->cp[i], s->fl[i]) || s->cp[i] == '`')) i++;
        return i;
    }
    case APR__ST_DIGIT3: {
        for (size_t i = p; i < p + 3; i++)
            if (i >= e || s->cp[i] < '0' || s->cp[i] > '9') return p;
        return p + 3;
    }
    default: return p;
    }
#undef APR__AT_L
#undef APR__AT_P
#undef APR__AT_DSL
#undef APR__AT_DSP
}

/* Split every piece by one stage: matches and the text between them become pieces, as
   llama.cpp's std::regex iteration does. */
static size_t apr__pre_stage(apr__tok_scratch *s, int stage, size_t n_pieces) {
    size_t m = 0;
    for (size_t k = 0; k < n_pieces; k++) {
        size_t b = s->pa[2 * k], e = s->pa[2 * k + 1];
        if (stage == APR__ST_WS_END) { /* \s+$: the trailing whitespace of the piece */
            size_t t = e;
            while (t > b && (s->fl[t - 1] & APR__UF_W)) t--;
            if (b < t) { s->pb[2 * m] = (uint32_t)b; s->pb[2 * m + 1] = (uint32_t)t; m++; }
            if (t < e) { s->pb[2 * m] = (uint32_t)t; s->pb[2 * m + 1] = (uint32_t)e; m++; }
            continue;
        }
        size_t p = b, gap = b;
        while (p < e) {
            size_t q = apr__pre_match(stage, s, p, e);
            if (q > p) {
                if (gap < p) { s->pb[2 * m] = (uint32_t)gap; s->pb[2 * m + 1] = (uint32_t)p; m++; }
                s->pb[2 * m] = (uint32_t)p;
                s->pb[2 * m + 1] = (uint32_t)q;
                m++;
                p = gap = q;
            } else {
                p++;
            }
        }
        if (gap < e) { s->pb[2 * m] = (uint32_t)gap; s->pb[2 * m + 1] = (uint32_t)e; m++; }
    }
    uint32_t *t = s->pa;
    s->pa = s->pb;
    s->pb = t;
    return m;
}

/* ---- BPE ---------------------------------------------------------------------------------- */

static void apr__bpe_try_bigram(const apr_vocab *v, apr__tok_scratch *s, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    int32_t result;
    int32_t rank = apr__merge_find(v, s->sym[l].id, s->sym[r].id, &result);
    if (rank < 0) return;
    apr__bigram bg;
    bg.key = ((uint64_t)(uint32_t)rank << 32) | (uint32_t)l;
    bg.size = s->sym[l].n + s->sym[r].n;
    bg.id = result;
    apr__heap_push(s, &bg);
}

static void apr__bpe_word(const apr_vocab *v, apr__tok_scratch *s, const unsigned char *w, size_t n) {
    if (n == 0) return;
    if (v->ignore_merges) {
        if (!apr__tok_grow(s, (void **)&s->buf, &s->cap_buf, n * 2, 1)) return;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) m += (size_t)apr__utf8_encode(apr__gpt2_byte_cp(w[i]), s->buf + m);
        int32_t id = apr__vocab_lookup(v, s->buf, m);
        if (id >= 0) { apr__tok_emit(s, id); return; }
    }
    if (n == 1) {
        if (v->byte_token[w[0]] >= 0) apr__tok_emit(s, v->byte_token[w[0]]);
        return;
    }
    if (!apr__tok_grow(s, (void **)&s->sym, &s->cap_sym, n, sizeof(apr__sym))) return;
    for (size_t i = 0; i < n; i++) {
        apr__sym *y = &s->sym[i];
        y->start = (uint32_t)i;
        y->n = 1;
        y->prev = (int32_t)i - 1;
        y->next = i + 1 < n ? (int32_t)i + 1 : -1;
        y->id = v->byte_token[w[i]];
    }
    s->n_heap = 0;
    for (size_t i = 1; i < n; i++) apr__bpe_try_bigram(v, s, (int32_t)i - 1, (int32_t)i);
    while (s->n_heap > 0 && !s->oom) {
        apr__bigram bg = apr__heap_pop(s);
        int32_t left = (int32_t)(uint32_t)bg.key;
        apr__sym *a = &s->sym[left];
        if (a->n == 0 || a->next < 0) continue;
        apr__sym *b = &s->sym[a->next];
        if (a->n + b->n != bg.size) continue;
        a->n += b->n;
        a->id = bg.id;
        b->n = 0;
        a->next = b->next;
        if (b->next >= 0) s->sym[b->next].prev = left;
        apr__bpe_try_bigram(v, s, a->prev, left);
        apr__bpe_try_bigram(v, s, left, a->next);
    }
    for (int32_t i = 0; i != -1; i = s->sym[i].next) {
        const apr__sym *y = &s->sym[i];
        if (y->id >= 0) { apr__tok_emit(s, y->id); continue; }
        for (uint32_t j = 0; j < y->n; j++) { /* merged text that is not a token: its bytes */
            int32_t bt = v->byte_token[w[y->start + j]];
            if (bt >= 0) apr__tok_emit(s, bt);
        }
    }
}

static void apr__bpe_fragment(const apr_vocab *v, apr__tok_scratch *s, const char *text, size_t len) {
    if (len == 0) return;
    size_t cap = s->cap_units;
    if (!apr__tok_grow(s, (void **)&s->cp, &cap, len + 1, sizeof(uint32_t))) return;
    cap = s->cap_units;
    if (!apr__tok_grow(s, (void **)&s->off, &cap, len + 1, sizeof(uint32_t))) return;
    cap = s->cap_units;
    if (!apr__tok_grow(s, (void **)&s->fl, &cap, len + 1, 1)) return;
    s->cap_units = cap;
    size_t nu = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = apr__utf8_decode((const unsigned char *)text + i, len - i, &cp);
        s->cp[nu] = cp;
        s->off[nu] = (uint32_t)i;
        s->fl[nu] = apr__uflags(cp);
        nu++;
        i += (size_t)k;
    }
    s->off[nu] = (uint32_t)len;
    cap = s->cap_pieces;
    if (!apr__tok_grow(s, (void **)&s->pa, &cap, 2 * (nu + 1), sizeof(uint32_t))) return;
    cap = s->cap_pieces;
    if (!apr__tok_grow(s, (void **)&s->pb, &cap, 2 * (nu + 1), sizeof(uint32_t))) return;
    s->cap_pieces = cap;
    size_t np = 1;
    s->pa[0] = 0;
    s->pa[1] = (uint32_t)nu;
    for (int k = 0; k < 8 && v->stages[k] != APR__ST_END; k++) np = apr__pre_stage(s, v->stages[k], np);
    for (size_t k = 0; k < np && !s->oom; k++) {
        size_t b = s->off[s->pa[2 * k]], e = s->off[s->pa[2 * k + 1]];
        apr__bpe_word(v, s, (const unsigned char *)text + b, e - b);
    }
}

/* ---- special tokens, then the whole input ------------------------------------------------------ */

static int apr__u64_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Calls back for each fragment: plain text (token -1) or a special token. Candidates are
   every occurrence of every allowed special token; taken in the order (token rank,
   position), one is accepted where none of its bytes is already claimed, which is what
   llama.cpp's repeated splitting of the fragment list gives. */
static void apr__tok_fragments(const apr_vocab *v, apr__tok_scratch *s, const char *text, size_t len, bool parse_special,
                               void (*fn)(const apr_vocab *, apr__tok_scratch *, const char *, size_t, int32_t, void *),
                               void *user) {
    uint64_t *cand = NULL;
    size_t n_cand = 0, cap_cand = 0;
    if (v->n_special > 0) {
        for (size_t p = 0; p < len && !s->oom; p++) {
            int32_t node = v->trie_root[(unsigned char)text[p]];
            size_t q = p + 1;
            while (node >= 0) {
                int32_t r = v->trie[node].rank;
                if (r >= 0 && (parse_special || v->type[v->special[r]] == APR__TT_USER_DEFINED)) {
                    if (!apr__tok_grow(s, (void **)&cand, &cap_cand, n_cand + 1, sizeof(uint64_t))) break;
                    cand[n_cand++] = ((uint64_t)(uint32_t)r << 32) | (uint64_t)p;
                }
                if (q >= len) break;
                int32_t c = v->trie[node].child;
                while (c >= 0 && v->trie[c].byte != (unsigned char)text[q]) c = v->trie[c].sibling;
                node = c;
                q++;
            }
        }
    }
    if (n_cand == 0 || s->oom) {
        APR_FREE(cand);
        if (!s->oom) fn(v, s, text, len, -1, user);
        return;
    }
    uint8_t *claimed = (uint8_t *)apr__calloc(len, 1);
    if (!claimed) { s->oom = true; APR_FREE(cand); return; }
    qsort(cand, n_cand, sizeof(uint64_t), apr__u64_cmp);
    size_t n_acc = 0;
    for (size_t i = 0; i < n_cand; i++) {
        int32_t r = (int32_t)(cand[i] >> 32);
        size_t p = (size_t)(cand[i] & 0xFFFFFFFFu), tl;
        apr__tok_text(v, v->special[r], &tl);
        bool free_ = true;
        for (size_t j = 0; j < tl && free_; j++) free_ = !claimed[p + j];
        if (!free_) continue;
        memset(claimed + p, 1, tl);
        cand[n_acc++] = ((uint64_t)p << 32) | (uint32_t)r; /* accepted, now keyed by position */
    }
    qsort(cand, n_acc, sizeof(uint64_t), apr__u64_cmp);
    size_t cur = 0;
    for (size_t i = 0; i < n_acc && !s->oom; i++) {
        size_t p = (size_t)(cand[i] >> 32), tl;
        int32_t id = v->special[(int32_t)(cand[i] & 0xFFFFFFFFu)];
        apr__tok_text(v, id, &tl);
        if (p > cur) fn(v, s, text + cur, p - cur, -1, user);
        fn(v, s, text + p, tl, id, user);
        cur = p + tl;
    }
    if (cur < len && !s->oom) fn(v, s, text + cur, len - cur, -1, user);
    APR_FREE(claimed);
    APR_FREE(cand);
}

static void apr__tok_fragment_cb(const apr_vocab *v, apr__tok_scratch *s, const char *text, size_t len, int32_t token,
                                 void *user) {
    bool *prev_special = (bool *)user;
    if (token >= 0) {
        apr__tok_emit(s, token);
        *prev_special = true;
    } else if (v->kind == APR_VOCAB_SPM) {
        apr__spm_fragment(v, s, text, len, v->add_space_prefix && *prev_special);
        *prev_special = false;
    } else {
        apr__bpe_fragment(v, s, text, len);
        *prev_special = false;
    }
}

APR__IMPL int64_t apr_tokenize(const apr_vocab *v, const char *text, size_t len, int32_t *out, int64_t max_tokens,
                               int flags) {
    if (!v || (!text && len) || max_tokens < 0 || (max_tokens > 0 && !out)) return APR_ERROR_INVALID_ARGUMENT;
    if (len > ((size_t)1 << 29)) return APR_ERROR_INVALID_ARGUMENT; /* 512 MiB: offsets stay 32-bit */
    apr__tok_scratch s;
    memset(&s, 0, sizeof s);
    s.out = out;
    s.max = max_tokens;
    bool add_special = (flags & APR_TOKENIZE_ADD_BOS) != 0;
    if (add_special && v->add_bos && v->bos >= 0) apr__tok_emit(&s, v->bos);
    bool prev_special = true; /* SPM: text at the start gets the leading '▁' */
    if (len > 0)
        apr__tok_fragments(v, &s, text, len, (flags & APR_TOKENIZE_PARSE_SPECIAL) != 0, apr__tok_fragment_cb,
                           &prev_special);
    if (add_special && v->add_eos && v->eos >= 0) apr__tok_emit(&s, v->eos);
    apr__tok_scratch_free(&s);
    if (s.oom) return APR_ERROR_OUT_OF_MEMORY;
    return s.n;
}

/* ---- decoding ----------------------------------------------------------------------------------- */

/* The bytes of a token (at most cap written), returns the full length, which is never
   more than the token text's length + 1. */
static size_t apr__piece(const apr_vocab *v, int32_t token, bool special, char *dst, size_t cap) {
    if (!v || token < 0 || token >= v->n_tokens) return 0;
    int t = v->type[token];
    size_t len, n = 0;
    const char *s = apr__tok_text(v, token, &len);
    if (t == APR__TT_CONTROL || t == APR__TT_UNKNOWN) {
        if (!special) return 0;
        if (cap) memcpy(dst, s, APR__MIN(len, cap));
        return len;
    }
    if (t == APR__TT_USER_DEFINED) {
        if (cap) memcpy(dst, s, APR__MIN(len, cap));
        return len;
    }
    if (t == APR__TT_UNDEFINED || t == APR__TT_UNUSED) return 0;
    if (v->kind == APR_VOCAB_SPM) {
        if (t == APR__TT_BYTE && v->byte_val[token] >= 0) {
            if (cap) dst[0] = (char)v->byte_val[token];
            return 1;
        }
        for (size_t i = 0; i < len;) {
            char c = s[i];
            if (i + 3 <= len && memcmp(s + i, "\xe2\x96\x81", 3) == 0) { c = ' '; i += 3; }
            else i++;
            if (n < cap) dst[n] = c;
            n++;
        }
        return n;
    }
    for (size_t i = 0; i < len;) { /* BPE: byte characters back to bytes */
        uint32_t cp;
        int k = apr__utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (k > 1 || cp < 0x80) {
            if (cp < 324 && v->cp_byte[cp] >= 0) {
                if (n < cap) dst[n] = (char)v->cp_byte[cp];
                n++;
                i += (size_t)k;
                continue;
            }
        }
        for (int j = 0; j < k; j++, n++)
            if (n < cap) dst[n] = s[i + (size_t)j];
        i += (size_t)k;
    }
    return n;
}

APR__IMPL int32_t apr_token_to_piece(const apr_vocab *v, int32_t token, char *buf, int32_t size, bool render_special) {
    if (size < 0 || (!buf && size > 0)) return 0;
    size_t n = apr__piece(v, token, render_special, buf, (size_t)size);
    return (int32_t)APR__MIN(n, (size_t)INT32_MAX);
}

APR__IMPL int64_t apr_detokenize(const apr_vocab *v, const int32_t *tokens, int64_t n, char *buf, int64_t size,
                                 bool render_special) {
    if (!v || (!tokens && n > 0) || (!buf && size > 0) || size < 0) return 0;
    bool strip = v->add_space_prefix; /* the first text loses the space SPM put in front */
    int64_t total = 0;
    char local[256];
    char *tmp = local;
    size_t cap = sizeof local;
    for (int64_t i = 0; i < n; i++) {
        size_t need = apr__piece(v, tokens[i], render_special, NULL, 0);
        if (need == 0) continue;
        if (need > cap) {
            if (tmp != local) APR_FREE(tmp);
            tmp = (char *)APR_MALLOC(need);
            cap = need;
            if (!tmp) return APR_ERROR_OUT_OF_MEMORY;
        }
        apr__piece(v, tokens[i], render_special, tmp, cap);
        const char *p = tmp;
        if (strip) {
            if (p[0] == ' ') { p++; need--; }
            strip = false;
        }
        for (size_t j = 0; j < need; j++, total++)
            if (total < size) buf[total] = p[j];
    }
    if (tmp != local) APR_FREE(tmp);
    if (total < size) buf[total] = 0;
    return total;
}

APR__IMPL void apr_detok_stream_init(apr_detok_stream *s, const apr_vocab *v, bool render_special) {
    if (!s) return;
    memset(s, 0, sizeof *s);
    s->vocab = v;
    s->render_special = render_special;
    s->at_start = v && v->add_space_prefix;
    s->n_pending = 0;
}

/* Copy the n bytes of src into buf (size bytes), cut at a character boundary if they do
   not fit. */
static int32_t apr__stream_out(const unsigned char *src, size_t n, char *buf, int32_t size) {
    size_t cap = size > 0 ? (size_t)size : 0;
    if (n > cap) {
        n = cap;
        while (n > 0 && (src[n] & 0xC0) == 0x80) n--; /* src[n] exists: n < the original n */
    }
    if (n) memcpy(buf, src, n);
    return (int32_t)n;
}

APR__IMPL int32_t apr_detok_stream_push(apr_detok_stream *s, int32_t token, char *buf, int32_t size) {
    if (!s || !s->vocab || (!buf && size > 0)) return 0;
    const apr_vocab *v = s->vocab;
    size_t need = apr__piece(v, token, s->render_special, NULL, 0);
    if (need == 0) return 0;
    unsigned char local[512];
    unsigned char *data = local;
    size_t total = (size_t)s->n_pending + need;
    if (total > sizeof local) {
        data = (unsigned char *)APR_MALLOC(total);
        if (!data) return 0;
    }
    memcpy(data, s->pending, (size_t)s->n_pending);
    unsigned char *piece = data + s->n_pending;
    apr__piece(v, token, s->render_special, (char *)piece, need);
    if (s->at_start) {
        if (piece[0] == ' ') {
            memmove(piece, piece + 1, need - 1);
            total--;
        }
        s->at_start = false;
    }
    int hold = apr__utf8_incomplete_tail(data, total);
    int32_t n = apr__stream_out(data, total - (size_t)hold, buf, size);
    memcpy(s->pending, data + total - (size_t)hold, (size_t)hold);
    s->n_pending = hold;
    if (data != local) APR_FREE(data);
    return n;
}

APR__IMPL int32_t apr_detok_stream_flush(apr_detok_stream *s, char *buf, int32_t size) {
    if (!s || s->n_pending == 0) return 0;
    s->n_pending = 0;
    return apr__stream_out((const unsigned char *)"\xef\xbf\xbd", 3, buf, size);
}

/* ====================================================================================
   Chat templates
   A model's tokenizer.chat_template is a Jinja program; apr never runs it. Instead the
   family is recognised by substrings only that family's templates contain (the same
   fingerprints llama.cpp uses), and each family is rendered by a few lines of C that
   produce the bytes the Jinja template would for plain system/user/assistant turns.
   ==================================================================================== */

typedef enum apr__chat_family {
    APR__CHAT_CHATML = 0,
    APR__CHAT_QWEN2,
    APR__CHAT_LLAMA3,
    APR__CHAT_LLAMA2,
    APR__CHAT_LLAMA2_SYS,
    APR__CHAT_LLAMA2_SYS_BOS,
    APR__CHAT_LLAMA2_SYS_STRIP,
    APR__CHAT_MISTRAL_V1,
    APR__CHAT_MISTRAL_V3,
    APR__CHAT_MISTRAL_V3_TEKKEN,
    APR__CHAT_MISTRAL_V7,
    APR__CHAT_MISTRAL_V7_TEKKEN,
    APR__CHAT_ZEPHYR,
    APR__CHAT_TINYLLAMA,
    APR__CHAT_GEMMA,
    APR__CHAT_PHI3,
    APR__CHAT_PHI4,
    APR__CHAT_FALCON3,
    APR__CHAT_DEEPSEEK,
    APR__CHAT_DEEPSEEK2,
    APR__CHAT_DEEPSEEK3,
    APR__CHAT_VICUNA,
    APR__CHAT_VICUNA_ORCA,
    APR__CHAT_OPENCHAT,
    APR__CHAT_COMMAND_R,
    APR__CHAT_MONARCH,
    APR__CHAT_COUNT
} apr__chat_family;

/* Canonical names in family order, then aliases (accepted by apr_chat_render). */
static const char *const apr__chat_names[] = {
    "chatml", "qwen2", "llama3", "llama2", "llama2-sys", "llama2-sys-bos",
    "llama2-sys-strip", "mistral-v1", "mistral-v3", "mistral-v3-tekken", "mistral-v7",
    "mistral-v7-tekken", "zephyr", "tinyllama", "gemma", "phi3", "phi4", "falcon3", "deepseek",
    "deepseek2", "deepseek3", "vicuna", "vicuna-orca", "openchat", "command-r", "monarch",
    /* aliases */
    "mistral", "deepseek-coder", "qwen", NULL
};
static const int apr__chat_alias_family[] = {
    APR__CHAT_MISTRAL_V3, APR__CHAT_DEEPSEEK, APR__CHAT_QWEN2
};

static int apr__chat_family_of_name(const char *name) {
    if (!name) return -1;
    for (int i = 0; apr__chat_names[i]; i++) {
        if (strcmp(apr__chat_names[i], name) == 0)
            return i < APR__CHAT_COUNT ? i : apr__chat_alias_family[i - APR__CHAT_COUNT];
    }
    return -1;
}

APR__IMPL const char *const *apr_chat_template_names(void) { return apr__chat_names; }

/* The default system prompt of Qwen2.5 (and Qwen2.5-Coder) Instruct templates, used when
   the conversation has none. */
#define APR__QWEN25_SYSTEM "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

static int apr__chat_detect_family(const char *t) {
#define APR__HAS(s) (strstr(t, (s)) != NULL)
    if (APR__HAS("<|im_start|>")) {
        if (APR__HAS("<|im_sep|>")) return APR__CHAT_PHI4;
        if (APR__HAS("<end_of_utterance>")) return -1; /* SmolVLM: not ChatML */
        return APR__HAS("You are Qwen, created by Alibaba Cloud") ? APR__CHAT_QWEN2
                                                                  : APR__CHAT_CHATML;
    }
    if (strncmp(t, "mistral", 7) == 0 || APR__HAS("[INST]")) {
        if (APR__HAS("[SYSTEM_PROMPT]")) return APR__CHAT_MISTRAL_V7;
        if (APR__HAS("' [INST] ' + system_message") || APR__HAS("[AVAILABLE_TOOLS]")) {
            if (APR__HAS(" [INST]")) return APR__CHAT_MISTRAL_V1;
            if (APR__HAS("\"[INST]\"")) return APR__CHAT_MISTRAL_V3_TEKKEN;
            return APR__CHAT_MISTRAL_V3;
        }
        if (APR__HAS("content.strip()")) return APR__CHAT_LLAMA2_SYS_STRIP;
        if (APR__HAS("bos_token + '[INST]")) return APR__CHAT_LLAMA2_SYS_BOS;
        if (APR__HAS("<<SYS>>")) return APR__CHAT_LLAMA2_SYS;
        return APR__CHAT_LLAMA2;
    }
    if (APR__HAS("<|assistant|>") && APR__HAS("<|end|>")) return APR__CHAT_PHI3;
    if (APR__HAS("<|user|>") && APR__HAS("<|endoftext|>")) return APR__CHAT_ZEPHYR;
    /* TinyLlama-1.1B-Chat and zephyr-7b: the zephyr layout closed by eos_token (</s>) */
    if (APR__HAS("<|user|>") && APR__HAS("<|assistant|>") && APR__HAS("eos_token"))
        return APR__CHAT_TINYLLAMA;
    if (APR__HAS("<|user|>") && APR__HAS("<|assistant|>") && APR__HAS("</s>"))
        return APR__CHAT_FALCON3;
    if (APR__HAS("bos_token + message['role']")) return APR__CHAT_MONARCH;
    if (APR__HAS("<start_of_turn>")) return APR__CHAT_GEMMA;
    if (APR__HAS("GPT4 Correct ")) return APR__CHAT_OPENCHAT;
    if (APR__HAS("USER: ") && APR__HAS("ASSISTANT: "))
        return APR__HAS("SYSTEM: ") ? APR__CHAT_VICUNA_ORCA : APR__CHAT_VICUNA;
    if (APR__HAS("### Instruction:") && APR__HAS("<|EOT|>")) return APR__CHAT_DEEPSEEK;
    if (APR__HAS("<|START_OF_TURN_TOKEN|>") && APR__HAS("<|USER_TOKEN|>"))
        return APR__CHAT_COMMAND_R;
    if (APR__HAS("<|start_header_id|>") && APR__HAS("<|end_header_id|>"))
        return APR__CHAT_LLAMA3;
    if (APR__HAS("'Assistant: ' + message['content'] + eos_token")) return APR__CHAT_DEEPSEEK2;
    /* U+FF5C FULLWIDTH VERTICAL LINE and U+2581 in DeepSeek-V3 / R1 special tokens */
    if (APR__HAS("<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C>") &&
        APR__HAS("<\xEF\xBD\x9C" "User\xEF\xBD\x9C>"))
        return APR__CHAT_DEEPSEEK3;
    return -1;
#undef APR__HAS
}

APR__IMPL const char *apr_chat_template_detect(const char *jinja_template) {
    if (!jinja_template) return NULL;
    int f = apr__chat_family_of_name(jinja_template);  /* a bare name is accepted too */
    if (f < 0) f = apr__chat_detect_family(jinja_template);
    return f < 0 ? NULL : apr__chat_names[f];
}

/* ---- rendering: an appender that counts what it could not store ---------------------- */

typedef struct apr__sbuf {
    char *buf;
    int64_t size;  /* capacity of buf */
    int64_t len;   /* bytes produced so far (may exceed size) */
} apr__sbuf;

static void apr__sb_putn(apr__sbuf *sb, const char *s, size_t n) {
    if (sb->len < sb->size) {
        int64_t room = sb->size - sb->len;
        memcpy(sb->buf + sb->len, s, (size_t)APR__MIN((int64_t)n, room));
    }
    sb->len += (int64_t)n;
}
static void apr__sb_puts(apr__sbuf *sb, const char *s) { apr__sb_putn(sb, s, strlen(s)); }

static bool apr__chat_isspace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
/* Python's str.strip() on ASCII whitespace, as the Jinja templates use it. */
static void apr__sb_put_trimmed(apr__sbuf *sb, const char *s) {
    size_t b = 0, e = strlen(s);
    while (b < e && apr__chat_isspace(s[b])) b++;
    while (e > b && apr__chat_isspace(s[e - 1])) e--;
    apr__sb_putn(sb, s + b, e - b);
}

APR__IMPL int64_t apr_chat_render(const char *name, const apr_chat_message *messages,
                                  int64_t n_messages, bool add_assistant, char *buf,
                                  int64_t size) {
    int f = apr__chat_family_of_name(name);
    if (f < 0) return APR_ERROR_NOT_FOUND;
    if (n_messages < 0 || (n_messages > 0 && !messages) || size < 0 || (size > 0 && !buf))
        return APR_ERROR_INVALID_ARGUMENT;
    apr__sbuf sbv;
    apr__sbuf *sb = &sbv;
    sb->buf = buf;
    sb->size = size;
    sb->len = 0;
#define APR__ROLE(i) (messages[i].role ? messages[i].role : "")
#define APR__TEXT(i) (messages[i].content ? messages[i].content : "")
#define APR__IS(i, r) (strcmp(APR__ROLE(i), (r)) == 0)
    switch (f) {
    case APR__CHAT_CHATML:
    case APR__CHAT_QWEN2:
        if (f == APR__CHAT_QWEN2 && (n_messages == 0 || !APR__IS(0, "system")))
            apr__sb_puts(sb, "<|im_start|>system\n" APR__QWEN25_SYSTEM "<|im_end|>\n");
        for (int64_t i = 0; i < n_messages; i++) {
            apr__sb_puts(sb, "<|im_start|>");
            apr__sb_puts(sb, APR__ROLE(i));
            apr__sb_puts(sb, "\n");
            apr__sb_puts(sb, APR__TEXT(i));
            apr__sb_puts(sb, "<|im_end|>\n");
        }
        if (add_assistant) apr__sb_puts(sb, "<|im_start|>assistant\n");
        break;
    case APR__CHAT_LLAMA3:
        for (int64_t i = 0; i < n_messages; i++) {
            apr__sb_puts(sb, "<|start_header_id|>");
            apr__sb_puts(sb, APR__ROLE(i));
            apr__sb_puts(sb, "<|end_header_id|>\n\n");
            apr__sb_put_trimmed(sb, APR__TEXT(i));
            apr__sb_puts(sb, "<|eot_id|>");
        }
        if (add_assistant) apr__sb_puts(sb, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case APR__CHAT_LLAMA2:
    case APR__CHAT_LLAMA2_SYS:
    case APR__CHAT_LLAMA2_SYS_BOS:
    case APR__CHAT_LLAMA2_SYS_STRIP: {
        /* The first [INST] follows the BOS the tokenizer adds; later turns may carry their
           own <s> (the -bos variant). The assistant turn needs no opener. */
        bool inside = true;
        apr__sb_puts(sb, "[INST] ");
        for (int64_t i = 0; i < n_messages; i++) {
            if (!inside) {
                inside = true;
                apr__sb_puts(sb, f == APR__CHAT_LLAMA2_SYS_BOS ? "<s>[INST] " : "[INST] ");
            }
            if (APR__IS(i, "system")) {
                if (f != APR__CHAT_LLAMA2) apr__sb_puts(sb, "<<SYS>>\n");
                if (f == APR__CHAT_LLAMA2_SYS_STRIP) apr__sb_put_trimmed(sb, APR__TEXT(i));
                else apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, f != APR__CHAT_LLAMA2 ? "\n<</SYS>>\n\n" : "\n");
            } else if (APR__IS(i, "user")) {
                if (f == APR__CHAT_LLAMA2_SYS_STRIP) apr__sb_put_trimmed(sb, APR__TEXT(i));
                else apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, " [/INST]");
            } else {
                if (f == APR__CHAT_LLAMA2_SYS_STRIP) apr__sb_put_trimmed(sb, APR__TEXT(i));
                else apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "</s>");
                inside = false;
            }
        }
        break;
    }
    case APR__CHAT_MISTRAL_V1:
    case APR__CHAT_MISTRAL_V3:
    case APR__CHAT_MISTRAL_V3_TEKKEN: {
        const char *lead = f == APR__CHAT_MISTRAL_V1 ? " " : "";
        const char *trail = f == APR__CHAT_MISTRAL_V3_TEKKEN ? "" : " ";
        bool inside = false;
        for (int64_t i = 0; i < n_messages; i++) {
            if (!inside) {
                apr__sb_puts(sb, lead);
                apr__sb_puts(sb, "[INST]");
                apr__sb_puts(sb, trail);
                inside = true;
            }
            if (APR__IS(i, "system")) {
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "\n\n");
            } else if (APR__IS(i, "user")) {
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, lead);
                apr__sb_puts(sb, "[/INST]");
            } else {
                apr__sb_puts(sb, trail);
                if (f == APR__CHAT_MISTRAL_V3) apr__sb_put_trimmed(sb, APR__TEXT(i));
                else apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "</s>");
                inside = false;
            }
        }
        break;
    }
    case APR__CHAT_MISTRAL_V7:
    case APR__CHAT_MISTRAL_V7_TEKKEN: {
        const char *sp = f == APR__CHAT_MISTRAL_V7 ? " " : "";
        for (int64_t i = 0; i < n_messages; i++) {
            if (APR__IS(i, "system")) {
                apr__sb_puts(sb, "[SYSTEM_PROMPT]");
                apr__sb_puts(sb, sp);
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "[/SYSTEM_PROMPT]");
            } else if (APR__IS(i, "user")) {
                apr__sb_puts(sb, "[INST]");
                apr__sb_puts(sb, sp);
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "[/INST]");
            } else {
                apr__sb_puts(sb, sp);
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "</s>");
            }
        }
        break;
    }
    case APR__CHAT_ZEPHYR:
    case APR__CHAT_TINYLLAMA:
        for (int64_t i = 0; i < n_messages; i++) {
            apr__sb_puts(sb, "<|");
            apr__sb_puts(sb, APR__ROLE(i));
            apr__sb_puts(sb, "|>\n");
            apr__sb_puts(sb, APR__TEXT(i));
            apr__sb_puts(sb, f == APR__CHAT_ZEPHYR ? "<|endoftext|>\n" : "</s>\n");
        }
        if (add_assistant) apr__sb_puts(sb, "<|assistant|>\n");
        break;
    case APR__CHAT_GEMMA: {
        /* Gemma has no system role: the system text opens the next user turn. */
        int64_t pending_sys = -1;
        for (int64_t i = 0; i < n_messages; i++) {
            if (APR__IS(i, "system")) {
                pending_sys = i;
                continue;
            }
            bool model = APR__IS(i, "assistant");
            apr__sb_puts(sb, "<start_of_turn>");
            apr__sb_puts(sb, model ? "model" : APR__ROLE(i));
            apr__sb_puts(sb, "\n");
            if (pending_sys >= 0 && !model) {
                apr__sb_put_trimmed(sb, APR__TEXT(pending_sys));
                apr__sb_puts(sb, "\n\n");
                pending_sys = -1;
            }
            apr__sb_put_trimmed(sb, APR__TEXT(i));
            apr__sb_puts(sb, "<end_of_turn>\n");
        }
        if (add_assistant) apr__sb_puts(sb, "<start_of_turn>model\n");
        break;
    }
    case APR__CHAT_PHI3:
    case APR__CHAT_FALCON3:
        for (int64_t i = 0; i < n_messages; i++) {
            apr__sb_puts(sb, "<|");
            apr__sb_puts(sb, APR__ROLE(i));
            apr__sb_puts(sb, "|>\n");
            apr__sb_puts(sb, APR__TEXT(i));
            apr__sb_puts(sb, f == APR__CHAT_PHI3 ? "<|end|>\n" : "\n");
        }
        if (add_assistant) apr__sb_puts(sb, "<|assistant|>\n");
        break;
    case APR__CHAT_PHI4:
        for (int64_t i = 0; i < n_messages; i++) {
            apr__sb_puts(sb, "<|im_start|>");
            apr__sb_puts(sb, APR__ROLE(i));
            apr__sb_puts(sb, "<|im_sep|>");
            apr__sb_puts(sb, APR__TEXT(i));
            apr__sb_puts(sb, "<|im_end|>");
        }
        if (add_assistant) apr__sb_puts(sb, "<|im_start|>assistant<|im_sep|>");
        break;
    case APR__CHAT_DEEPSEEK:
        for (int64_t i = 0; i < n_messages; i++) {
            if (APR__IS(i, "system")) {
                apr__sb_puts(sb, APR__TEXT(i));
            } else if (APR__IS(i, "user")) {
                apr__sb_puts(sb, "### Instruction:\n");
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "\n");
            } else if (APR__IS(i, "assistant")) {
                apr__sb_puts(sb, "### Response:\n");
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "\n<|EOT|>\n");
            }
        }
        if (add_assistant) apr__sb_puts(sb, "### Response:\n");
        break;
    case APR__CHAT_DEEPSEEK2:
    case APR__CHAT_DEEPSEEK3: {
        static const char eos[] = "<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81"
                                  "sentence\xEF\xBD\x9C>";
        static const char user3[] = "<\xEF\xBD\x9C" "User\xEF\xBD\x9C>";
        static const char asst3[] = "<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C>";
        bool v3 = f == APR__CHAT_DEEPSEEK3;
        for (int64_t i = 0; i < n_messages; i++) {
            if (APR__IS(i, "system")) {
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "\n\n");
            } else if (APR__IS(i, "user")) {
                apr__sb_puts(sb, v3 ? user3 : "User: ");
                apr__sb_puts(sb, APR__TEXT(i));
                if (!v3) apr__sb_puts(sb, "\n\n");
            } else if (APR__IS(i, "assistant")) {
                apr__sb_puts(sb, v3 ? asst3 : "Assistant: ");
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, eos);
            }
        }
        if (add_assistant) apr__sb_puts(sb, v3 ? asst3 : "Assistant:");
        break;
    }
    case APR__CHAT_VICUNA:
    case APR__CHAT_VICUNA_ORCA:
        for (int64_t i = 0; i < n_messages; i++) {
            if (APR__IS(i, "system")) {
                if (f == APR__CHAT_VICUNA_ORCA) apr__sb_puts(sb, "SYSTEM: ");
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, f == APR__CHAT_VICUNA_ORCA ? "\n" : "\n\n");
            } else if (APR__IS(i, "user")) {
                apr__sb_puts(sb, "USER: ");
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "\n");
            } else if (APR__IS(i, "assistant")) {
                apr__sb_puts(sb, "ASSISTANT: ");
                apr__sb_puts(sb, APR__TEXT(i));
                apr__sb_puts(sb, "</s>\n");
            }
        }
        if (add_assistant) apr__sb_puts(sb, "ASSISTANT:");
        break;
    case APR__CHAT_OPENCHAT:
        for (int64_t i = 0; i < n_messages; i++) {
            if (APR__IS(i, "system")) {
                apr__sb_puts(sb, APR__TEXT(i));
            } else {
                const char *r = APR__ROLE(i);
                char first = r[0];
                if (first >= 'a' && first <= 'z') first = (char)(first - 'a' + 'A');
                apr__sb_puts(sb, "GPT4 Correct ");
                if (r[0]) {
                    apr__sb_putn(sb, &first, 1);
                    apr__sb_puts(sb, r + 1);
                }
                apr__sb_puts(sb, ": ");
                apr__sb_puts(sb, APR__TEXT(i));
            }
            apr__sb_puts(sb, "<|end_of_turn|>");
        }
        if (add_assistant) apr__sb_puts(sb, "GPT4 Correct Assistant:");
        break;
    case APR__CHAT_COMMAND_R:
        for (int64_t i = 0; i < n_messages; i++) {
            const char *tag = APR__IS(i, "system") ? "<|SYSTEM_TOKEN|>"
                            : APR__IS(i, "user") ? "<|USER_TOKEN|>"
                            : APR__IS(i, "assistant") ? "<|CHATBOT_TOKEN|>" : NULL;
            if (!tag) continue;
            apr__sb_puts(sb, "<|START_OF_TURN_TOKEN|>");
            apr__sb_puts(sb, tag);
            apr__sb_put_trimmed(sb, APR__TEXT(i));
            apr__sb_puts(sb, "<|END_OF_TURN_TOKEN|>");
        }
        if (add_assistant) apr__sb_puts(sb, "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>");
        break;
    case APR__CHAT_MONARCH:
        for (int64_t i = 0; i < n_messages; i++) {
            if (i > 0) apr__sb_puts(sb, "<s>");
            apr__sb_puts(sb, APR__ROLE(i));
            apr__sb_puts(sb, "\n");
            apr__sb_puts(sb, APR__TEXT(i));
            apr__sb_puts(sb, "</s>\n");
        }
        if (add_assistant) apr__sb_puts(sb, "<s>assistant\n");
        break;
    default:
        return APR_ERROR_NOT_FOUND;
    }
#undef APR__ROLE
#undef APR__TEXT
#undef APR__IS
    if (sb->len < size) buf[sb->len] = 0;
    return sb->len;
}

/* =====================================================================================
   Model: hyperparameters and weight views from a GGUF file
   The model owns the GGUF mapping and the vocabulary. It validates every tensor the
   forward pass will touch (presence, type, shape against the hyperparameters) so that
   backends never check again, then hands the backend an apr_model_view.
   ===================================================================================== */

struct apr_model {
    apr_gguf *gguf;
    apr_vocab *vocab;                 /* NULL: the file has no tokenizer */
    apr__logger log;
    char arch_name[16];
    char desc[128];
    char *chat_template;              /* family name, or NULL */
    apr_model_view view;
    apr_layer_view *layers;
    float *owned_f32;                 /* 1-D weights converted to F32 at load */
    uint64_t n_params, size_bytes, decode_bytes;
    int file_type;                    /* general.file_type, -1 if absent */
    int n_threads;
    /* backend */
    const apr_backend_vtable *backend;
    void *backend_state;
    void *cuda_lib;
    void *cpu_state;                  /* CPU backend state when CUDA runs some layers on CPU */
    apr_backend_host host;
    /* contexts of this model (partial offload finds a context's CPU half through this) */
    apr__mutex ctx_mutex;
    struct apr_context *contexts;
};

/* Defined in the context section, once the CPU backend and the CUDA loader exist. */
static apr_result apr__model_attach_backend(apr_model *m, const apr_model_params *p, apr_error *err);
static void apr__model_detach_backend(apr_model *m);

APR__IMPL apr_model_params apr_model_default_params(void) {
    apr_model_params p;
    memset(&p, 0, sizeof p);
    p.n_gpu_layers = -1;
    p.log_level = APR_LOG_INFO;
    return p;
}

/* ---- metadata ------------------------------------------------------------------------ */

static bool apr__model_key_i64(const apr_gguf *g, const char *arch, const char *suffix, int64_t *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return apr_gguf_get_i64(g, key, out);
}

static apr_result apr__model_key_i32_range(const apr_gguf *g, const char *arch, const char *suffix,
                                           bool required, int64_t lo, int64_t hi, int32_t *out,
                                           apr_error *err) {
    int64_t v;
    if (!apr__model_key_i64(g, arch, suffix, &v)) {
        /* an array (per-layer value) is not supported */
        char key[128];
        snprintf(key, sizeof key, "%s.%s", arch, suffix);
        if (apr_gguf_find_key(g, key) >= 0)
            return apr__fail(err, APR_ERROR_UNSUPPORTED, "metadata %s has a type apr cannot use", key);
        if (required)
            return apr__fail(err, APR_ERROR_INVALID_FILE, "metadata %s is missing", key);
        return APR_SUCCESS;
    }
    if (v < lo || v > hi)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "metadata %s.%s = %lld is out of range [%lld, %lld]",
                         arch, suffix, (long long)v, (long long)lo, (long long)hi);
    *out = (int32_t)v;
    return APR_SUCCESS;
}

static bool apr__model_key_f32(const apr_gguf *g, const char *arch, const char *suffix, float *out) {
    char key[128];
    double v;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (!apr_gguf_get_f64(g, key, &v)) return false;
    *out = (float)v;
    return true;
}

static bool apr__str_eq(apr_str s, const char *z) {
    size_t n = strlen(z);
    return s.len == n && memcmp(s.ptr, z, n) == 0;
}

/* ---- tensors ------------------------------------------------------------------------- */

static bool apr__model_weight_type_ok(int type) {
    return apr_type_supported(type) && apr_type_block_size(type) > 0;
}

/* Find a tensor and check its shape: ne1 == 0 means a 1-D tensor. */
static apr_result apr__model_tensor(apr_model *m, const char *name, int64_t ne0, int64_t ne1,
                                    bool required, apr_tensor_view *out, apr_error *err) {
    memset(out, 0, sizeof *out);
    const apr_gguf_tensor *t = apr_gguf_find_tensor(m->gguf, name);
    if (!t) {
        if (required) return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor %s is missing", name);
        return APR_SUCCESS;
    }
    const char *tn = apr_type_name(t->type);
    if (!apr__model_weight_type_ok(t->type))
        return apr__fail(err, APR_ERROR_UNSUPPORTED, "tensor %s has type %s (%d), which apr does not support",
                         name, tn ? tn : "unknown", t->type);
    int want_dims = ne1 ? 2 : 1;
    int64_t have_ne1 = t->ne[1] * t->ne[2] * t->ne[3];
    bool ok = t->ne[0] == ne0 && (ne1 ? have_ne1 == ne1 && t->ne[2] == 1 && t->ne[3] == 1 : have_ne1 == 1);
    if (!ok)
        return apr__fail(err, APR_ERROR_INVALID_FILE,
                         "tensor %s has shape [%lld, %lld, %lld, %lld], expected [%lld%s%lld] from the hyperparameters",
                         name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                         (long long)t->ne[3], (long long)ne0, want_dims == 2 ? ", " : "",
                         want_dims == 2 ? (long long)ne1 : 0LL);
    if (want_dims == 1) ne1 = 1;
    size_t row = apr_type_row_bytes(t->type, ne0);
    uint64_t need;
    if (row == 0)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor %s: row length %lld is not a multiple of the %s block size",
                         name, (long long)ne0, tn ? tn : "?");
    if (apr__mul_overflow_u64(row, (uint64_t)ne1, &need) || need > t->size || !t->data)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor %s: data size does not match its shape", name);
    out->type = t->type;
    out->n_dims = want_dims;
    out->ne[0] = ne0;
    out->ne[1] = ne1;
    out->ne[2] = out->ne[3] = 1;
    out->data = t->data;
    out->size = need;
    return APR_SUCCESS;
}

static uint64_t apr__view_elems(const apr_tensor_view *v) {
    return v->data ? (uint64_t)v->ne[0] * (uint64_t)v->ne[1] : 0;
}

/* Backends want norms and biases in F32; most files have them so, others get a copy. */
static apr_result apr__model_vectors_to_f32(apr_model *m, apr_error *err) {
    uint64_t total = 0;
    int n_layer = m->view.hp.n_layer;
    for (int pass = 0; pass < 2; pass++) {
        float *dst = m->owned_f32;
        for (int l = -1; l < n_layer; l++) {
            apr_tensor_view *list[8];
            int n = 0;
            if (l < 0) {
                list[n++] = &m->view.output_norm;
                list[n++] = &m->view.rope_freqs;
            } else {
                apr_layer_view *L = &m->layers[l];
                list[n++] = &L->attn_norm; list[n++] = &L->ffn_norm;
                list[n++] = &L->bq; list[n++] = &L->bk; list[n++] = &L->bv; list[n++] = &L->bo;
                list[n++] = &L->q_norm; list[n++] = &L->k_norm;
            }
            for (int i = 0; i < n; i++) {
                apr_tensor_view *v = list[i];
                if (!v->data || v->type == APR_TYPE_F32) continue;
                if (pass == 0) { total += (uint64_t)v->ne[0]; continue; }
                apr_result r = apr_dequantize_row(v->type, v->data, dst, v->ne[0]);
                if (r != APR_SUCCESS) return apr__fail(err, r, "cannot convert a norm/bias tensor to F32");
                v->type = APR_TYPE_F32;
                v->data = dst;
                v->size = (uint64_t)v->ne[0] * 4;
                dst += v->ne[0];
            }
        }
        if (pass == 0) {
            if (total == 0) return APR_SUCCESS;
            m->owned_f32 = (float *)APR_MALLOC((size_t)total * sizeof(float));
            if (!m->owned_f32) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory");
        }
    }
    return APR_SUCCESS;
}

/* ---- hyperparameters and weights ----------------------------------------------------- */

static apr_result apr__model_read(apr_model *m, apr_error *err) {
    const apr_gguf *g = m->gguf;
    apr_str arch;
    if (!apr_gguf_get_str(g, "general.architecture", &arch))
        return apr__fail(err, APR_ERROR_INVALID_FILE, "metadata general.architecture is missing");
    apr_hparams *hp = &m->view.hp;
    memset(hp, 0, sizeof *hp);
    if (apr__str_eq(arch, "llama")) hp->arch = APR_ARCH_LLAMA;
    else if (apr__str_eq(arch, "qwen2")) hp->arch = APR_ARCH_QWEN2;
    else if (apr__str_eq(arch, "qwen3")) hp->arch = APR_ARCH_QWEN3;
    else
        return apr__fail(err, APR_ERROR_UNSUPPORTED,
                         "architecture '%.*s' is not supported (apr runs llama, qwen2, qwen3)",
                         (int)APR__MIN(arch.len, 64), arch.ptr);
    snprintf(m->arch_name, sizeof m->arch_name, "%.*s", (int)arch.len, arch.ptr);
    const char *a = m->arch_name;
    apr_result r;
    const int64_t big = 1 << 20;
#define APR__HP(suffix, req, lo, hi, field)                                                \
    do {                                                                                   \
        r = apr__model_key_i32_range(g, a, suffix, req, lo, hi, &hp->field, err);         \
        if (r != APR_SUCCESS) return r;                                                    \
    } while (0)
    APR__HP("embedding_length", true, 1, big, n_embd);
    APR__HP("block_count", true, 1, 4096, n_layer);
    APR__HP("attention.head_count", true, 1, 4096, n_head);
    hp->n_head_kv = hp->n_head;
    APR__HP("attention.head_count_kv", false, 1, 4096, n_head_kv);
    if (hp->n_head % hp->n_head_kv != 0)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "%s.attention.head_count %d is not a multiple of head_count_kv %d",
                         a, hp->n_head, hp->n_head_kv);
    hp->head_dim = 0;
    APR__HP("attention.key_length", false, 1, 65536, head_dim);
    if (hp->head_dim == 0) {
        if (hp->n_embd % hp->n_head != 0)
            return apr__fail(err, APR_ERROR_INVALID_FILE, "%s.embedding_length %d is not a multiple of head_count %d",
                             a, hp->n_embd, hp->n_head);
        hp->head_dim = hp->n_embd / hp->n_head;
    }
    {
        int32_t vl = hp->head_dim;
        r = apr__model_key_i32_range(g, a, "attention.value_length", false, 1, 65536, &vl, err);
        if (r != APR_SUCCESS) return r;
        if (vl != hp->head_dim)
            return apr__fail(err, APR_ERROR_UNSUPPORTED, "%s.attention.value_length %d != key_length %d", a, vl, hp->head_dim);
    }
    /* head_dim x head_count may differ from embedding_length (Qwen3, Mistral Nemo): the
       attention tensors' shapes below must agree with it */
    if (hp->head_dim % 2 != 0)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "head dimension %d is odd", hp->head_dim);
    APR__HP("feed_forward_length", true, 1, 1 << 22, n_ff);
    hp->n_ctx_train = 4096;
    APR__HP("context_length", false, 1, 1 << 30, n_ctx_train);
    hp->rope_dim = hp->head_dim;
    APR__HP("rope.dimension_count", false, 2, hp->head_dim, rope_dim);
    if (hp->rope_dim % 2 != 0)
        return apr__fail(err, APR_ERROR_INVALID_FILE, "%s.rope.dimension_count %d is odd", a, hp->rope_dim);
#undef APR__HP
    hp->norm_eps = hp->arch == APR_ARCH_LLAMA ? 1e-5f : 1e-6f;
    apr__model_key_f32(g, a, "attention.layer_norm_rms_epsilon", &hp->norm_eps);
    if (!(hp->norm_eps >= 0 && hp->norm_eps < 1))
        return apr__fail(err, APR_ERROR_INVALID_FILE, "%s.attention.layer_norm_rms_epsilon is out of range", a);
    hp->rope_freq_base = 10000.0f;
    apr__model_key_f32(g, a, "rope.freq_base", &hp->rope_freq_base);
    if (!(hp->rope_freq_base > 1.0f && hp->rope_freq_base < 1e12f))
        return apr__fail(err, APR_ERROR_INVALID_FILE, "%s.rope.freq_base is out of range", a);
    hp->rope_freq_scale = 1.0f;
    {
        char key[128];
        apr_str st;
        float factor = 0;
        snprintf(key, sizeof key, "%s.rope.scaling.type", a);
        bool has_type = apr_gguf_get_str(g, key, &st);
        bool has_factor = apr__model_key_f32(g, a, "rope.scaling.factor", &factor);
        if (!has_factor) {
            float s;
            if (apr__model_key_f32(g, a, "rope.scale_linear", &s)) { factor = s; has_factor = true; }
        }
        if (has_type && !apr__str_eq(st, "linear") && !apr__str_eq(st, "none")) {
            apr__log(&m->log, APR_LOG_WARN, "rope scaling '%.*s' is not supported; using none",
                     (int)APR__MIN(st.len, 32), st.ptr);
        } else if (has_factor && factor != 0 && factor != 1) {
            if (!(factor > 0 && factor < 1e6f))
                return apr__fail(err, APR_ERROR_INVALID_FILE, "%s.rope.scaling.factor is out of range", a);
            if (!has_type || apr__str_eq(st, "linear")) hp->rope_freq_scale = 1.0f / factor;
        }
    }
    hp->rope_kind = hp->arch == APR_ARCH_LLAMA ? APR_ROPE_NORM : APR_ROPE_NEOX;

    /* token embedding gives the vocabulary size when the metadata does not */
    const apr_gguf_tensor *te = apr_gguf_find_tensor(g, "token_embd.weight");
    if (!te) return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor token_embd.weight is missing");
    if (te->ne[1] < 1 || te->ne[1] > (1 << 24))
        return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor token_embd.weight has %lld rows", (long long)te->ne[1]);
    hp->n_vocab = (int32_t)te->ne[1];
    {
        int32_t nv = 0;
        r = apr__model_key_i32_range(g, a, "vocab_size", false, 1, 1 << 24, &nv, err);
        if (r != APR_SUCCESS) return r;
        if (nv && nv != hp->n_vocab)
            return apr__fail(err, APR_ERROR_INVALID_FILE, "%s.vocab_size %d != token_embd.weight rows %d",
                             a, nv, hp->n_vocab);
    }

    int64_t E = hp->n_embd, Q = (int64_t)hp->n_head * hp->head_dim, KV = (int64_t)hp->n_head_kv * hp->head_dim;
    int64_t F = hp->n_ff, V = hp->n_vocab;
    r = apr__model_tensor(m, "token_embd.weight", E, V, true, &m->view.tok_embd, err);
    if (r != APR_SUCCESS) return r;
    r = apr__model_tensor(m, "output_norm.weight", E, 0, true, &m->view.output_norm, err);
    if (r != APR_SUCCESS) return r;
    r = apr__model_tensor(m, "output.weight", E, V, false, &m->view.output, err);
    if (r != APR_SUCCESS) return r;
    if (!m->view.output.data) m->view.output = m->view.tok_embd;
    r = apr__model_tensor(m, "rope_freqs.weight", hp->rope_dim / 2, 0, false, &m->view.rope_freqs, err);
    if (r != APR_SUCCESS) return r;

    m->layers = (apr_layer_view *)apr__calloc((size_t)hp->n_layer, sizeof(apr_layer_view));
    if (!m->layers) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory");
    m->view.layers = m->layers;
    bool qwen2 = hp->arch == APR_ARCH_QWEN2, qwen3 = hp->arch == APR_ARCH_QWEN3;
    for (int l = 0; l < hp->n_layer; l++) {
        apr_layer_view *L = &m->layers[l];
        struct { const char *name; int64_t ne0, ne1; bool req; apr_tensor_view *dst; } spec[16];
        int n = 0;
#define APR__T(nm, a0, a1, rq, d) (spec[n].name = nm, spec[n].ne0 = a0, spec[n].ne1 = a1, spec[n].req = rq, spec[n].dst = d, n++)
        APR__T("attn_norm.weight", E, 0, true, &L->attn_norm);
        APR__T("attn_q.weight", E, Q, true, &L->wq);
        APR__T("attn_k.weight", E, KV, true, &L->wk);
        APR__T("attn_v.weight", E, KV, true, &L->wv);
        APR__T("attn_output.weight", Q, E, true, &L->wo);
        APR__T("attn_q.bias", Q, 0, qwen2, &L->bq);
        APR__T("attn_k.bias", KV, 0, qwen2, &L->bk);
        APR__T("attn_v.bias", KV, 0, qwen2, &L->bv);
        APR__T("attn_output.bias", E, 0, false, &L->bo);
        APR__T("attn_q_norm.weight", hp->head_dim, 0, qwen3, &L->q_norm);
        APR__T("attn_k_norm.weight", hp->head_dim, 0, qwen3, &L->k_norm);
        APR__T("ffn_norm.weight", E, 0, true, &L->ffn_norm);
        APR__T("ffn_gate.weight", E, F, true, &L->ffn_gate);
        APR__T("ffn_up.weight", E, F, true, &L->ffn_up);
        APR__T("ffn_down.weight", F, E, true, &L->ffn_down);
#undef APR__T
        for (int i = 0; i < n; i++) {
            char name[96];
            snprintf(name, sizeof name, "blk.%d.%s", l, spec[i].name);
            r = apr__model_tensor(m, name, spec[i].ne0, spec[i].ne1, spec[i].req, spec[i].dst, err);
            if (r != APR_SUCCESS) return r;
        }
        if ((L->q_norm.data == NULL) != (L->k_norm.data == NULL))
            return apr__fail(err, APR_ERROR_INVALID_FILE, "layer %d has only one of attn_q_norm / attn_k_norm", l);
    }
    /* a file with more layers than block_count says is inconsistent, not truncated */
    {
        char name[96];
        snprintf(name, sizeof name, "blk.%d.attn_norm.weight", hp->n_layer);
        if (apr_gguf_find_tensor(g, name))
            return apr__fail(err, APR_ERROR_INVALID_FILE,
                             "the file has tensors for more layers than %s.block_count = %d", a, hp->n_layer);
    }

    /* sizes, for apr_model_size / decode cost model */
    for (int64_t i = 0; i < apr_gguf_n_tensors(g); i++) {
        const apr_gguf_tensor *t = apr_gguf_tensor_at(g, i);
        m->n_params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
        m->size_bytes += t->size;
        if (!apr__str_eq(t->name, "token_embd.weight")) m->decode_bytes += t->size;
    }
    m->decode_bytes += apr_type_row_bytes(m->view.tok_embd.type, E);
    if (m->view.output.data == m->view.tok_embd.data) m->decode_bytes += m->view.tok_embd.size;
    (void)apr__view_elems;
    r = apr__model_vectors_to_f32(m, err);
    if (r != APR_SUCCESS) return r;
    if (m->view.rope_freqs.data) {
        const float *ff = (const float *)m->view.rope_freqs.data;
        for (int64_t i = 0; i < m->view.rope_freqs.ne[0]; i++)
            if (!(ff[i] > 0 && ff[i] < 1e30f))
                return apr__fail(err, APR_ERROR_INVALID_FILE, "tensor rope_freqs.weight[%lld] = %g is not a positive number",
                                 (long long)i, (double)ff[i]);
    }
    return APR_SUCCESS;
}

/* ---- description --------------------------------------------------------------------- */

static const char *apr__ftype_name(int ft) {
    switch (ft) {
    case 0: return "all F32";
    case 1: return "F16";
    case 2: return "Q4_0";
    case 3: return "Q4_1";
    case 7: return "Q8_0";
    case 8: return "Q5_0";
    case 9: return "Q5_1";
    case 10: return "Q2_K - Medium";
    case 11: return "Q3_K - Small";
    case 12: return "Q3_K - Medium";
    case 13: return "Q3_K - Large";
    case 14: return "Q4_K - Small";
    case 15: return "Q4_K - Medium";
    case 16: return "Q5_K - Small";
    case 17: return "Q5_K - Medium";
    case 18: return "Q6_K";
    case 21: return "Q2_K - Small";
    case 25: return "IQ4_NL - 4.5 bpw";
    case 30: return "IQ4_XS - 4.25 bpw";
    case 32: return "BF16";
    default: return NULL;
    }
}

/* llama.cpp names model sizes by architecture and depth; fall back to the parameter count. */
static void apr__model_size_label(const apr_model *m, char *buf, size_t size) {
    const apr_hparams *hp = &m->view.hp;
    const char *s = NULL;
    int L = hp->n_layer, E = hp->n_embd;
    if (hp->arch == APR_ARCH_QWEN2) {
        if (L == 24) s = E == 896 ? "0.5B" : E == 1024 ? "0.5B" : NULL;
        else if (L == 28) s = E == 1536 ? "1.5B" : E == 3584 ? "7B" : NULL;
        else if (L == 32) s = "7B";
        else if (L == 36) s = "3B";
        else if (L == 40) s = E == 5120 ? "13B" : "14B";
        else if (L == 48) s = "14B";
        else if (L == 64) s = "32B";
        else if (L == 80) s = "70B";
    } else if (hp->arch == APR_ARCH_QWEN3) {
        if (L == 28) s = E == 1024 ? "0.6B" : E == 2048 ? "1.7B" : NULL;
        else if (L == 36) s = E == 2560 ? "4B" : E == 4096 ? "8B" : NULL;
        else if (L == 40) s = "14B";
        else if (L == 64) s = "32B";
    } else {
        if (L == 16) s = "1B";
        else if (L == 22) s = "1B";
        else if (L == 26) s = "3B";
        else if (L == 28) s = "3B";
        else if (L == 32) s = hp->n_vocab >= 100000 ? "8B" : "7B";
        else if (L == 40) s = "13B";
        else if (L == 48) s = "34B";
        else if (L == 60) s = "30B";
        else if (L == 80) s = hp->n_vocab >= 100000 ? "70B" : "65B";
    }
    if (s) { snprintf(buf, size, "%s", s); return; }
    double p = (double)m->n_params;
    if (p >= 1e9) snprintf(buf, size, "%.1fB", p / 1e9);
    else if (p >= 1e6) snprintf(buf, size, "%.0fM", p / 1e6);
    else snprintf(buf, size, "%.0fK", p / 1e3);
}

static void apr__model_make_desc(apr_model *m) {
    char label[32];
    apr__model_size_label(m, label, sizeof label);
    const char *ft = apr__ftype_name(m->file_type);
    char guess[32];
    if (!ft) {
        /* no general.file_type: name the type of the first attention matrix */
        const char *tn = apr_type_name(m->layers[0].wq.type);
        snprintf(guess, sizeof guess, "%s%s", m->file_type < 0 ? "" : "?", tn ? tn : "?");
        if (m->layers[0].wq.type == APR_TYPE_F32) snprintf(guess, sizeof guess, "all F32");
        ft = guess;
    }
    snprintf(m->desc, sizeof m->desc, "%s %s %s", m->arch_name, label, ft);
}

/* ---- load / free --------------------------------------------------------------------- */

APR__IMPL void apr_model_free(apr_model *m) {
    if (!m) return;
    apr__model_detach_backend(m);
    apr__mutex_destroy(&m->ctx_mutex);
    apr_vocab_free(m->vocab);
    apr_gguf_close(m->gguf);
    APR_FREE(m->layers);
    APR_FREE(m->owned_f32);
    APR_FREE(m->chat_template);
    APR_FREE(m);
}

static apr_result apr__model_finish_load(apr_model *m, const apr_model_params *params, apr_error *err) {
    apr_result r = apr__model_read(m, err);
    if (r != APR_SUCCESS) return r;
    int64_t ft;
    m->file_type = apr_gguf_get_i64(m->gguf, "general.file_type", &ft) && ft >= 0 && ft < 1000 ? (int)ft : -1;
    apr__model_make_desc(m);
    if (apr_gguf_find_key(m->gguf, "tokenizer.ggml.model") >= 0) {
        r = apr_vocab_load(m->gguf, &m->vocab, err);
        if (r != APR_SUCCESS) return r;
        if (apr_vocab_n_tokens(m->vocab) > m->view.hp.n_vocab)
            apr__log(&m->log, APR_LOG_WARN, "the tokenizer has %d tokens but the model only %d rows of embeddings",
                     apr_vocab_n_tokens(m->vocab), m->view.hp.n_vocab);
    }
    {
        apr_str tmpl;
        if (apr_gguf_get_str(m->gguf, "tokenizer.chat_template", &tmpl) && tmpl.len < ((uint64_t)1 << 24)) {
            char *text = (char *)APR_MALLOC((size_t)tmpl.len + 1);
            if (!text) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory");
            memcpy(text, tmpl.ptr, (size_t)tmpl.len);
            text[tmpl.len] = 0;
            const char *family = apr_chat_template_detect(text);
            APR_FREE(text);
            if (family) m->chat_template = apr__strdup(family);
        }
    }
    r = apr__model_attach_backend(m, params, err);
    if (r != APR_SUCCESS) return r;
    apr__log(&m->log, APR_LOG_INFO, "loaded %s: %d layers, %d embd, %d heads (%d kv), %d ff, %d vocab, backend %s",
             m->desc, m->view.hp.n_layer, m->view.hp.n_embd, m->view.hp.n_head, m->view.hp.n_head_kv,
             m->view.hp.n_ff, m->view.hp.n_vocab, m->backend ? m->backend->name : "?");
    return APR_SUCCESS;
}

static apr_result apr__model_load_any(const char *path, const void *data, size_t size,
                                      const apr_model_params *params, apr_model **out, apr_error *err) {
    apr__error_clear(err);
    if (!out) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_model_load: out is NULL");
    *out = NULL;
    apr_model_params p = params ? *params : apr_model_default_params();
    apr_model *m = (apr_model *)apr__calloc(1, sizeof *m);
    if (!m) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory");
    m->log.fn = p.log_fn;
    m->log.user = p.log_user;
    m->log.level = p.log_level;
    m->n_threads = p.n_threads > 0 ? p.n_threads : apr_cpu_count();
    m->file_type = -1;
    apr__mutex_init(&m->ctx_mutex);
    apr_result r = path ? apr_gguf_open(path, &m->gguf, err) : apr_gguf_open_memory(data, size, &m->gguf, err);
    if (r == APR_SUCCESS) r = apr__model_finish_load(m, &p, err);
    if (r != APR_SUCCESS) {
        if (err) apr__log(&m->log, APR_LOG_ERROR, "%s", err->message);
        apr_model_free(m);
        return r;
    }
    *out = m;
    return APR_SUCCESS;
}

APR__IMPL apr_result apr_model_load(const char *path, const apr_model_params *params, apr_model **out,
                                    apr_error *err) {
    if (!path) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_model_load: path is NULL");
    return apr__model_load_any(path, NULL, 0, params, out, err);
}

APR__IMPL apr_result apr_model_load_memory(const void *data, size_t size, const apr_model_params *params,
                                           apr_model **out, apr_error *err) {
    if (!data) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_model_load_memory: data is NULL");
    return apr__model_load_any(NULL, data, size, params, out, err);
}

/* ---- getters ------------------------------------------------------------------------- */

APR__IMPL const apr_gguf *apr_model_gguf(const apr_model *m) { return m ? m->gguf : NULL; }
APR__IMPL const apr_vocab *apr_model_vocab(const apr_model *m) { return m ? m->vocab : NULL; }
APR__IMPL const char *apr_model_arch(const apr_model *m) { return m ? m->arch_name : ""; }
APR__IMPL const char *apr_model_backend(const apr_model *m) {
    return m && m->backend ? m->backend->name : "CPU";
}
APR__IMPL const char *apr_model_gpu_name(const apr_model *m) {
    if (!m || !m->backend || !m->backend->device_name || !m->cuda_lib) return "";
    const char *s = m->backend->device_name(m->backend_state);
    return s ? s : "";
}
APR__IMPL uint64_t apr_model_device_memory(const apr_model *m) {
    if (!m || !m->backend || !m->backend->memory_used || !m->cuda_lib) return 0;
    return m->backend->memory_used(m->backend_state);
}
APR__IMPL int32_t apr_model_n_vocab(const apr_model *m) { return m ? m->view.hp.n_vocab : 0; }
APR__IMPL int32_t apr_model_n_embd(const apr_model *m) { return m ? m->view.hp.n_embd : 0; }
APR__IMPL int32_t apr_model_n_layer(const apr_model *m) { return m ? m->view.hp.n_layer : 0; }
APR__IMPL int32_t apr_model_n_ctx_train(const apr_model *m) { return m ? m->view.hp.n_ctx_train : 0; }
APR__IMPL uint64_t apr_model_n_params(const apr_model *m) { return m ? m->n_params : 0; }
APR__IMPL uint64_t apr_model_size(const apr_model *m) { return m ? m->size_bytes : 0; }
APR__IMPL uint64_t apr_model_decode_bytes(const apr_model *m) { return m ? m->decode_bytes : 0; }
APR__IMPL int apr_model_desc(const apr_model *m, char *buf, size_t size) {
    return snprintf(buf, size, "%s", m ? m->desc : "");
}
APR__IMPL const char *apr_model_chat_template(const apr_model *m) { return m ? m->chat_template : NULL; }

/* =====================================================================================
   CPU backend: the whole transformer step on the host, implementing apr_backend_vtable.
   The scalar path (apr_cpu_set_max_simd(0)) is the reference every other backend and
   every SIMD kernel is checked against. Two internal interfaces carry the heavy work,
   so the kernels can change without touching the forward pass:
     apr__cpu_matmul_n   y_k[t] = W_k x[t] (+ b_k) for up to three matrices sharing an
                         input, the input quantized once (quant.h's activation types),
                         rows split over the thread pool (apr__cpu_matmul: one matrix)
     apr__cpu_attention  causal attention of every (token, head) over its sequence's KV
   The KV cache is F16 by default (Q8_0 or F32 on request), one row per (layer, seq, pos).
   ===================================================================================== */

typedef struct apr__cpu_model {
    const apr_model_view *mv;
    apr__logger log;
    size_t max_act_row;        /* largest quantized activation row of any matrix */
    int32_t kv_layers;         /* layers [0, kv_layers) have a KV cache here: all of them,
                                  or under partial offload the ones left to the CPU */
    struct apr__cpu_packed *packed;  /* load-time repacked copies of some matrices */
    int n_packed;
    int64_t packed_max_cols;   /* widest repacked matrix (activation block sums per token) */
    const uint8_t *map_lo, *map_hi;  /* the model's own read-only file mapping, or NULL */
} apr__cpu_model;

typedef struct apr__cpu_packed {
    const apr_tensor_view *w;
    void *data;                /* 8-row groups of w->type (apr__block_q5_0x8, _q4_Kx8 or
                                  _q6_Kx8): rows [0, 8 * (ne[1] / 8)) */
} apr__cpu_packed;

typedef struct apr__cpu_ctx {
    const apr__cpu_model *cm;
    apr_backend_context_params p;
    apr__pool *pool;
    int n_threads;
    int simd;
    /* KV cache: [layer][seq][pos] rows of kv_dim elements, K and V apart */
    size_t kv_row_bytes;
    uint8_t *k_cache, *v_cache;
    /* scratch for one pass of up to n_batch tokens */
    float *x, *xn, *q, *k, *v, *att, *gate, *up, *rope_cs, *out_h;
    float *thread_f32;         /* per thread: attention scores (GQA group x n_ctx) + a K/V slice */
    size_t thread_f32_stride;
    void *actq[3];             /* quantized activations, n_batch rows, one per type in a job */
    int32_t *act_sums;         /* Q8_0 activation block sums for repacked Q5_0, n_batch rows */
} apr__cpu_ctx;

/* ---- small vector kernels (reference) ------------------------------------------------ */

static void apr__rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / (double)n + (double)eps));
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}


/* ---- repacked Q5_0: 8 rows interleaved ------------------------------------------------
   Q5_0 matrices (most of Qwen2.5-0.5B's Q4_K_M file: 896 columns are no multiple of 256)
   are repacked at load time into groups of 8 rows, block by block, so that one 32-byte
   register holds 4 consecutive weights of each of the 8 rows: one multiply-add against
   4 activation bytes broadcast then feeds 8 outputs in its 8 lanes, with no horizontal
   sums, and each weight register is decoded once for up to 4 tokens. A group block is
   176 bytes, like the 8 Q5_0 blocks it replaces (no more bytes for decode to read):
     d[8]     the 8 rows' fp16 scales
     qs[128]  4 x 32 bytes: vector m, byte 4r+e: low nibble = low 4 bits of weight 8m+e of
              row r, high nibble = those of weight 8m+4+e
     qh[32]   byte 4r+e, bit j: fifth bit of weight 4j+e of row r
   Weights are kept unsigned (0..31): sum (q-16)a = sum q a - 16 sum a, with the block sums
   of the activations computed once per token (apr__q8_0_block_sums). The integer sum of
   each block equals the Q5_0 kernels' exactly; only the float accumulation may round
   differently. */

typedef struct { uint16_t d[8]; uint8_t qs[128]; uint8_t qh[32]; } apr__block_q5_0x8;
typedef char apr__chk_q5_0x8[sizeof(apr__block_q5_0x8) == 176 ? 1 : -1];

/* Register j (0..7) of a group block holds weights 4j..4j+3 of every row; registers 2m
   and 2m+1 share qs vector m (low and high nibbles). */
static APR__UNUSED void apr__repack_q5_0x8(const uint8_t *src, size_t row_stride, int64_t n, apr__block_q5_0x8 *dst) {
    for (int64_t i = 0; i < n / 32; i++) {
        apr__block_q5_0x8 *g = dst + i;
        for (int r = 0; r < 8; r++) {
            const apr__block_q5_0 *b = (const apr__block_q5_0 *)(src + (size_t)r * row_stride) + i;
            uint32_t qh, q[4], v[4];
            memcpy(&qh, b->qh, 4);
            memcpy(q, b->qs, 16);
            g->d[r] = b->d;
            /* word m holds weights 8m..8m+3 (low nibbles) and 8m+4..8m+7 (high); the qs
               bytes hold weights k (low nibble) and k+16 (high) */
            v[0] = (q[0] & 0x0F0F0F0Fu) | ((q[1] & 0x0F0F0F0Fu) << 4);
            v[1] = (q[2] & 0x0F0F0F0Fu) | ((q[3] & 0x0F0F0F0Fu) << 4);
            v[2] = ((q[0] >> 4) & 0x0F0F0F0Fu) | (q[1] & 0xF0F0F0F0u);
            v[3] = ((q[2] >> 4) & 0x0F0F0F0Fu) | (q[3] & 0xF0F0F0F0u);
            for (int m = 0; m < 4; m++) memcpy(g->qs + 32 * m + 4 * r, &v[m], 4);
            for (int e = 0; e < 4; e++) {
                /* bits e, e+4, ..., e+28 of qh to bits 0..7 */
                uint32_t h = (qh >> e) & 0x11111111u;
                h = (h | h >> 3) & 0x03030303u;
                h = (h | h >> 6) & 0x000F000Fu;
                g->qh[4 * r + e] = (uint8_t)(h | h >> 12);
            }
        }
    }
}

/* per token, the sum of each Q8_0 activation block's 32 int8 values */
static void apr__q8_0_block_sums(const void *act, int64_t n, int32_t *sums) {
    const apr__block_q8_0 *y = (const apr__block_q8_0 *)act;
    for (int64_t i = 0; i < n / 32; i++) {
        int s = 0;
        for (int k = 0; k < 32; k++) s += y[i].qs[k];
        sums[i] = s;
    }
}

/* Reference: out[t*ld + r] for the 8 rows of n_groups groups (rows 8g..8g+7) and n_tok
   tokens; act rows act_stride apart, their block sums sums_stride ints apart. */
static void apr__gemm_q5_0x8_ref(int64_t n, const apr__block_q5_0x8 *w, int64_t n_groups, const uint8_t *act,
                                 size_t act_stride, const int32_t *sums, int64_t sums_stride, int n_tok, float *out,
                                 int64_t ld) {
    const int64_t nb = n / 32;
    for (int64_t g = 0; g < n_groups; g++) {
        for (int t = 0; t < n_tok; t++) {
            const apr__block_q8_0 *y = (const apr__block_q8_0 *)(act + (size_t)t * act_stride);
            const float *ys = apr__q8_0_act_scales(y, n);
            float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int64_t i = 0; i < nb; i++) {
                const apr__block_q5_0x8 *b = w + g * nb + i;
                for (int r = 0; r < 8; r++) {
                    int sumi = 0;
                    for (int k = 0; k < 32; k++) {
                        int j = k / 4, e = k % 4, m = j / 2;
                        int q = (b->qs[32 * m + 4 * r + e] >> (4 * (j % 2))) & 0xF;
                        q |= ((b->qh[4 * r + e] >> j) & 1) << 4;
                        sumi += q * y[i].qs[k];
                    }
                    sumi -= 16 * sums[(size_t)t * sums_stride + i];
                    s[r] += apr__fp16_to_fp32(b->d[r]) * ys[i] * (float)sumi;
                }
            }
            for (int r = 0; r < 8; r++) out[(size_t)t * ld + 8 * g + r] = s[r];
        }
    }
}

#if defined(APR__HAVE_X86_SIMD)
/* Software prefetch distance in bytes for the 8-row kernels (~8 KB, as APR__PF_BLOCKS). */
#define APR__PF_BYTES 8192

/* the 8 weight registers of one group block (bytes 0..31) */
#define APR__Q5X8_UNPACK(b, R)                                                                          \
    do {                                                                                                \
        const __m256i m4_ = _mm256_set1_epi8(0x0F), b4_ = _mm256_set1_epi8(0x10);                       \
        const __m256i h_ = _mm256_loadu_si256((const __m256i *)(b)->qh);                                \
        for (int m_ = 0; m_ < 4; m_++) {                                                                \
            const __m256i v_ = _mm256_loadu_si256((const __m256i *)((b)->qs + 32 * m_));                \
            R[2 * m_] = _mm256_and_si256(v_, m4_);                                                      \
            R[2 * m_ + 1] = _mm256_and_si256(_mm256_srli_epi16(v_, 4), m4_);                            \
        }                                                                                               \
        /* fifth bit j of each byte to bit 4 (16-bit shifts: the mask drops what crosses bytes) */     \
        R[0] = _mm256_or_si256(R[0], _mm256_and_si256(_mm256_slli_epi16(h_, 4), b4_));                  \
        R[1] = _mm256_or_si256(R[1], _mm256_and_si256(_mm256_slli_epi16(h_, 3), b4_));                  \
        R[2] = _mm256_or_si256(R[2], _mm256_and_si256(_mm256_slli_epi16(h_, 2), b4_));                  \
        R[3] = _mm256_or_si256(R[3], _mm256_and_si256(_mm256_slli_epi16(h_, 1), b4_));                  \
        R[4] = _mm256_or_si256(R[4], _mm256_and_si256(h_, b4_));                                        \
        R[5] = _mm256_or_si256(R[5], _mm256_and_si256(_mm256_srli_epi16(h_, 1), b4_));                  \
        R[6] = _mm256_or_si256(R[6], _mm256_and_si256(_mm256_srli_epi16(h_, 2), b4_));                  \
        R[7] = _mm256_or_si256(R[7], _mm256_and_si256(_mm256_srli_epi16(h_, 3), b4_));                  \
    } while (0)

static inline int32_t apr__load_i32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* AVX2: maddubs (unsigned weights x signed activations, pairs to int16), four registers'
   int16 sums added before one madd (31 * 127 * 8 < 32768: no saturation). */
APR__TARGET_AVX2 static APR__INLINE void apr__q5x8_tile_avx2(const int NT, int64_t n, const apr__block_q5_0x8 *w,
                                                              const uint8_t *act, size_t act_stride,
                                                              const int32_t *sums, int64_t sums_stride, float *out,
                                                              int64_t ld) {
    const int64_t nb = n / 32;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4];
    APR__UNROLL
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const apr__block_q5_0x8 *b = w + i;
        for (int l = 0; l < (int)sizeof *b; l += 64) _mm_prefetch((const char *)b + APR__PF_BYTES + l, _MM_HINT_T0);
        __m256i R[8];
        APR__Q5X8_UNPACK(b, R);
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        APR__UNROLL
        for (int t = 0; t < NT; t++) {
            const apr__block_q8_0 *y = (const apr__block_q8_0 *)(act + (size_t)t * act_stride) + i;
            __m256i s16a = _mm256_maddubs_epi16(R[0], _mm256_set1_epi32(apr__load_i32(y->qs)));
            s16a = _mm256_add_epi16(s16a, _mm256_maddubs_epi16(R[1], _mm256_set1_epi32(apr__load_i32(y->qs + 4))));
            s16a = _mm256_add_epi16(s16a, _mm256_maddubs_epi16(R[2], _mm256_set1_epi32(apr__load_i32(y->qs + 8))));
            s16a = _mm256_add_epi16(s16a, _mm256_maddubs_epi16(R[3], _mm256_set1_epi32(apr__load_i32(y->qs + 12))));
            __m256i s16b = _mm256_maddubs_epi16(R[4], _mm256_set1_epi32(apr__load_i32(y->qs + 16)));
            s16b = _mm256_add_epi16(s16b, _mm256_maddubs_epi16(R[5], _mm256_set1_epi32(apr__load_i32(y->qs + 20))));
            s16b = _mm256_add_epi16(s16b, _mm256_maddubs_epi16(R[6], _mm256_set1_epi32(apr__load_i32(y->qs + 24))));
            s16b = _mm256_add_epi16(s16b, _mm256_maddubs_epi16(R[7], _mm256_set1_epi32(apr__load_i32(y->qs + 28))));
            __m256i s = _mm256_add_epi32(_mm256_madd_epi16(s16a, ones), _mm256_madd_epi16(s16b, ones));
            s = _mm256_sub_epi32(s, _mm256_set1_epi32(16 * sums[(size_t)t * sums_stride + i]));
            const float da = apr__q8_0_act_scales(act + (size_t)t * act_stride, n)[i];
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(da)), _mm256_cvtepi32_ps(s), acc[t]);
        }
    }
    APR__UNROLL
    for (int t = 0; t < NT; t++) _mm256_storeu_ps(out + (size_t)t * ld, acc[t]);
}

/* AVX-512 VNNI (256-bit vpdpbusd, 32 registers): one instruction per weight register. */
APR__TARGET_AVX512VNNI static APR__INLINE void apr__q5x8_tile_vnni(const int NT, int64_t n,
                                                                   const apr__block_q5_0x8 *w, const uint8_t *act,
                                                                   size_t act_stride, const int32_t *sums,
                                                                   int64_t sums_stride, float *out, int64_t ld) {
    const int64_t nb = n / 32;
    __m256 acc[8];
    APR__UNROLL
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const apr__block_q5_0x8 *b = w + i;
        for (int l = 0; l < (int)sizeof *b; l += 64) _mm_prefetch((const char *)b + APR__PF_BYTES + l, _MM_HINT_T0);
        __m256i R[8];
        APR__Q5X8_UNPACK(b, R);
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        APR__UNROLL
        for (int t = 0; t < NT; t++) {
            const apr__block_q8_0 *y = (const apr__block_q8_0 *)(act + (size_t)t * act_stride) + i;
            __m256i s = _mm256_set1_epi32(-16 * sums[(size_t)t * sums_stride + i]);
            APR__UNROLL
            for (int j = 0; j < 8; j++) s = _mm256_dpbusd_epi32(s, R[j], _mm256_set1_epi32(apr__load_i32(y->qs + 4 * j)));
            const float da = apr__q8_0_act_scales(act + (size_t)t * act_stride, n)[i];
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(da)), _mm256_cvtepi32_ps(s), acc[t]);
        }
    }
    APR__UNROLL
    for (int t = 0; t < NT; t++) _mm256_storeu_ps(out + (size_t)t * ld, acc[t]);
}

APR__TARGET_AVX2 static void apr__q5x8_avx2(int64_t n, const apr__block_q5_0x8 *w, const uint8_t *act, size_t as,
                                            const int32_t *sums, int64_t ss, int nt, float *out, int64_t ld) {
    switch (nt) {
    case 4: apr__q5x8_tile_avx2(4, n, w, act, as, sums, ss, out, ld); break;
    case 3: apr__q5x8_tile_avx2(3, n, w, act, as, sums, ss, out, ld); break;
    case 2: apr__q5x8_tile_avx2(2, n, w, act, as, sums, ss, out, ld); break;
    default: apr__q5x8_tile_avx2(1, n, w, act, as, sums, ss, out, ld); break;
    }
}
APR__TARGET_AVX512VNNI static void apr__q5x8_vnni(int64_t n, const apr__block_q5_0x8 *w, const uint8_t *act,
                                                  size_t as, const int32_t *sums, int64_t ss, int nt, float *out,
                                                  int64_t ld) {
    switch (nt) {
    case 8: apr__q5x8_tile_vnni(8, n, w, act, as, sums, ss, out, ld); break;
    case 7: apr__q5x8_tile_vnni(7, n, w, act, as, sums, ss, out, ld); break;
    case 6: apr__q5x8_tile_vnni(6, n, w, act, as, sums, ss, out, ld); break;
    case 5: apr__q5x8_tile_vnni(5, n, w, act, as, sums, ss, out, ld); break;
    case 4: apr__q5x8_tile_vnni(4, n, w, act, as, sums, ss, out, ld); break;
    case 3: apr__q5x8_tile_vnni(3, n, w, act, as, sums, ss, out, ld); break;
    case 2: apr__q5x8_tile_vnni(2, n, w, act, as, sums, ss, out, ld); break;
    default: apr__q5x8_tile_vnni(1, n, w, act, as, sums, ss, out, ld); break;
    }
}
#endif

/* Kernel level: 0 reference, 1 AVX2, 2 AVX-512 VNNI. */
static int apr__q5x8_level(int simd) {
    if (simd <= 0) return 0;
    apr_cpu_features f = apr_cpu_detect();
    return simd >= 2 && f.avx512vnni ? 2 : 1;
}

/* tokens per tile at a level: register budget (16 ymm for AVX2, 32 with AVX-512) */
static APR__UNUSED int apr__q5x8_max_nt(int level) { return level >= 2 ? 8 : 4; }

/* The same contract as apr__gemm_q5_0x8_ref, with the level's kernel: weights are taken
   in L2-sized chunks of groups, each passed over by tiles of tokens. */
static void apr__gemm_q5_0x8(int level, int64_t n, const apr__block_q5_0x8 *w, int64_t n_groups, const uint8_t *act,
                             size_t act_stride, const int32_t *sums, int64_t sums_stride, int n_tok, float *out,
                             int64_t ld) {
#if defined(APR__HAVE_X86_SIMD)
    if (level >= 1) {
        const int64_t nb = n / 32, max_nt = apr__q5x8_max_nt(level);
        int64_t chunk = APR__MAX((int64_t)1, (int64_t)(256 * 1024) / (nb * (int64_t)sizeof(apr__block_q5_0x8)));
        for (int64_t g0 = 0; g0 < n_groups; g0 += chunk) {
            const int64_t g1 = APR__MIN(n_groups, g0 + chunk);
            for (int t0 = 0; t0 < n_tok; t0 += (int)max_nt) {
                const int nt = (int)APR__MIN(max_nt, (int64_t)(n_tok - t0));
                const uint8_t *at = act + (size_t)t0 * act_stride;
                const int32_t *st = sums + (size_t)t0 * sums_stride;
                for (int64_t g = g0; g < g1; g++) {
                    float *o = out + (size_t)t0 * ld + 8 * g;
                    if (level >= 2) apr__q5x8_vnni(n, w + g * nb, at, act_stride, st, sums_stride, nt, o, ld);
                    else apr__q5x8_avx2(n, w + g * nb, at, act_stride, st, sums_stride, nt, o, ld);
                }
            }
        }
        return;
    }
#else
    (void)level;
#endif
    apr__gemm_q5_0x8_ref(n, w, n_groups, act, act_stride, sums, sums_stride, n_tok, out, ld);
}

/* ---- repacked Q4_K: 8 rows interleaved ------------------------------------------------
   The same idea for Q4_K (most of the matrices of files whose widths are multiples of
   256, e.g. Qwen2.5-1.5B): per super-block of 256 weights a group block holds
     d[8], dmin[8]   the rows' fp16 scales
     sc[j][r]        6-bit scale of sub-block j (32 weights) of row r
     m[q][r][2]      6-bit mins of sub-blocks 2q and 2q+1 of row r (an int16 pair each, for
                     one madd against the pair of activation sums)
     qs[p][k][4r+e]  the file's byte 32p+4k+e of row r: low nibble = weight 4k+e of
                     sub-block 2p, high nibble = of sub-block 2p+1
   1184 bytes for 8 rows (the file: 1152). Integer sums per sub-block as in the Q4_K
   kernels; the mins use the Q8_K activation's bsums. */

typedef struct {
    uint16_t d[8], dmin[8];
    uint8_t sc[8][8];
    uint8_t m[4][8][2];
    uint8_t qs[4][8][32];
} apr__block_q4_Kx8;
typedef char apr__chk_q4_Kx8[sizeof(apr__block_q4_Kx8) == 1184 ? 1 : -1];

static APR__UNUSED void apr__repack_q4_Kx8(const uint8_t *src, size_t row_stride, int64_t n, apr__block_q4_Kx8 *dst) {
    for (int64_t i = 0; i < n / 256; i++) {
        apr__block_q4_Kx8 *g = dst + i;
        for (int r = 0; r < 8; r++) {
            const apr__block_q4_K *b = (const apr__block_q4_K *)(src + (size_t)r * row_stride) + i;
            uint8_t sc[8], mn[8];
            apr__k4_scales(b->scales, sc, mn);
            g->d[r] = b->d;
            g->dmin[r] = b->dmin;
            for (int j = 0; j < 8; j++) {
                g->sc[j][r] = sc[j];
                g->m[j / 2][r][j % 2] = mn[j];
            }
            for (int p = 0; p < 4; p++)
                for (int k = 0; k < 8; k++) memcpy(&g->qs[p][k][4 * r], b->qs + 32 * p + 4 * k, 4);
        }
    }
}

/* Reference: out[t*ld + 8g + r] for the rows of n_groups groups, n_tok Q8_K rows. */
static void apr__gemm_q4_Kx8_ref(int64_t n, const apr__block_q4_Kx8 *w, int64_t n_groups, const uint8_t *act,
                                 size_t act_stride, int n_tok, float *out, int64_t ld) {
    const int64_t nb = n / 256;
    for (int64_t g = 0; g < n_groups; g++) {
        for (int t = 0; t < n_tok; t++) {
            const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride);
            float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int64_t i = 0; i < nb; i++) {
                const apr__block_q4_Kx8 *b = w + g * nb + i;
                for (int r = 0; r < 8; r++) {
                    int sumi = 0, summ = 0;
                    for (int j = 0; j < 8; j++) {
                        int t0 = 0;
                        for (int l = 0; l < 32; l++) {
                            const uint8_t v = b->qs[j / 2][l / 4][4 * r + l % 4];
                            t0 += (j % 2 ? v >> 4 : v & 0xF) * y[i].qs[32 * j + l];
                        }
                        sumi += b->sc[j][r] * t0;
                        summ += b->m[j / 2][r][j % 2] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
                    }
                    s[r] += y[i].d * apr__fp16_to_fp32(b->d[r]) * (float)sumi -
                            y[i].d * apr__fp16_to_fp32(b->dmin[r]) * (float)summ;
                }
            }
            for (int r = 0; r < 8; r++) out[(size_t)t * ld + 8 * g + r] = s[r];
        }
    }
}

#if defined(APR__HAVE_X86_SIMD)
/* Software prefetch this many group blocks (~9.5 KB) ahead: one token reads each weight
   once from memory, and the hardware prefetchers alone left a third of one core's read
   bandwidth unused (65536 x 1536 Q4_K, one token: 2.0 -> 1.45 ms; 4 and 16 ahead: ~2.1). */
#define APR__PF_BLOCKS 8
/* VNNI != 0: vpdpbusd then one multiply by the scales; else maddubs summed as int16
   (15 * 127 * 2 * 8 < 32768) and one madd by the scales (an int16 pair per lane). */
#define APR__Q4KX8_TILE(NAME, TARGET, VNNI, SUB)                                                                     \
    TARGET static APR__INLINE void NAME(const int NT, int64_t n, const apr__block_q4_Kx8 *w, const uint8_t *act,     \
                                        size_t act_stride, float *out, int64_t ld) {                               \
        const int64_t nb = n / 256;                                                                                \
        const __m256i m4 = _mm256_set1_epi8(0x0F);                                                                 \
        __m256 acc[8];                                                                                             \
        APR__UNROLL                                                                                                \
        for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();                                                 \
        for (int64_t i = 0; i < nb; i++) {                                                                         \
            const apr__block_q4_Kx8 *b = w + i;                                                                    \
            for (int l = 0; l < (int)sizeof *b; l += 64) _mm_prefetch((const char *)(b + APR__PF_BLOCKS) + l, _MM_HINT_T0); \
            __m256i isum[8];                                                                                       \
            APR__UNROLL                                                                                            \
            for (int t = 0; t < NT; t++) isum[t] = _mm256_setzero_si256();                                         \
            for (int j = 0; j < 8; j++) {                                                                          \
                __m256i R[8];                                                                                      \
                APR__UNROLL                                                                                        \
                for (int k = 0; k < 8; k++) {                                                                      \
                    const __m256i v = _mm256_loadu_si256((const __m256i *)b->qs[j / 2][k]);                        \
                    R[k] = _mm256_and_si256(j % 2 ? _mm256_srli_epi16(v, 4) : v, m4);                              \
                }                                                                                                  \
                __m256i scv = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)b->sc[j]));                    \
                if (!VNNI) scv = _mm256_or_si256(scv, _mm256_slli_epi32(scv, 16));                                 \
                APR__UNROLL                                                                                        \
                for (int t = 0; t < NT; t++) {                                                                     \
                    const int8_t *a = ((const apr__block_q8_K *)(act + (size_t)t * act_stride) + i)->qs + 32 * j;  \
                    isum[t] = SUB(R, a, scv, isum[t]);                                                               \
                }                                                                                                  \
            }                                                                                                      \
            const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));                             \
            const __m256 dm8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->dmin));                         \
            APR__UNROLL                                                                                            \
            for (int t = 0; t < NT; t++) {                                                                         \
                const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride) + i;            \
                __m256i mi = _mm256_setzero_si256();                                                               \
                for (int q = 0; q < 4; q++) {                                                                      \
                    const int s0 = y->bsums[4 * q] + y->bsums[4 * q + 1];                                          \
                    const int s1 = y->bsums[4 * q + 2] + y->bsums[4 * q + 3];                                      \
                    const __m256i mv = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)b->m[q]));           \
                    const __m256i sv = _mm256_set1_epi32((int)(((uint32_t)(uint16_t)s1 << 16) | (uint16_t)s0));    \
                    mi = _mm256_add_epi32(mi, _mm256_madd_epi16(mv, sv));                                          \
                }                                                                                                  \
                const __m256 da = _mm256_set1_ps(y->d);                                                            \
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(d8, da), acc[t]);              \
                acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(mi), _mm256_mul_ps(dm8, da), acc[t]);                 \
            }                                                                                                      \
        }                                                                                                          \
        APR__UNROLL                                                                                                \
        for (int t = 0; t < NT; t++) _mm256_storeu_ps(out + (size_t)t * ld, acc[t]);                               \
    }

APR__TARGET_AVX2 static APR__INLINE __m256i apr__q4kx8_sub_avx2(const __m256i *R, const int8_t *a, __m256i scv, __m256i acc) {
    __m256i s16 = _mm256_maddubs_epi16(R[0], _mm256_set1_epi32(apr__load_i32(a)));
    APR__UNROLL
    for (int k = 1; k < 8; k++) s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(R[k], _mm256_set1_epi32(apr__load_i32(a + 4 * k))));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(s16, scv));
}

APR__TARGET_AVX512VNNI static APR__INLINE __m256i apr__q4kx8_sub_vnni(const __m256i *R, const int8_t *a, __m256i scv, __m256i acc) {
    __m256i s = _mm256_setzero_si256();
    APR__UNROLL
    for (int k = 0; k < 8; k++) s = _mm256_dpbusd_epi32(s, R[k], _mm256_set1_epi32(apr__load_i32(a + 4 * k)));
    return _mm256_add_epi32(acc, _mm256_mullo_epi32(s, scv));
}

APR__Q4KX8_TILE(apr__q4kx8_tile_avx2, APR__TARGET_AVX2, 0, apr__q4kx8_sub_avx2)
APR__Q4KX8_TILE(apr__q4kx8_tile_vnni, APR__TARGET_AVX512VNNI, 1, apr__q4kx8_sub_vnni)

/* 512-bit VNNI over two adjacent groups (16 rows, the same layout): a register holds the
   same 32-byte vector of group g (low half) and g+1 (high half), i.e. 4 weights of each of
   16 rows, so one vpdpbusd whose 4 activation bytes are broadcast from memory feeds 16
   outputs: per 32 weights x 16 rows and token 8 vpdpbusd, one vpmulld by the sub-block
   scales and one add, against 2 x 18 instructions for two 256-bit groups. The mins are
   4 vpdpwssd a super-block and token. Integer sums as the 8-row kernels. */
APR__TARGET_AVX512VNNI static APR__INLINE __m512i apr__load_2x256(const void *lo, const void *hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)lo)),
                              _mm256_loadu_si256((const __m256i *)hi), 1);
}
APR__TARGET_AVX512VNNI static APR__INLINE __m256i apr__load_2x128(const void *lo, const void *hi) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)lo)),
                                   _mm_loadu_si128((const __m128i *)hi), 1);
}

APR__TARGET_AVX512VNNI static APR__INLINE void apr__q4kx16_tile_vnni(const int NT, int64_t nbk, int64_t nb,
                                                                     const apr__block_q4_Kx8 *w, const uint8_t *act,
                                                                     size_t act_stride, float *out, int64_t ld,
                                                                     bool accumulate) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512 acc[8];
    APR__UNROLL
    for (int t = 0; t < NT; t++) acc[t] = accumulate ? _mm512_loadu_ps(out + (size_t)t * ld) : _mm512_setzero_ps();
    for (int64_t i = 0; i < nbk; i++) {
        const apr__block_q4_Kx8 *b0 = w + i, *b1 = w + nb + i;
        for (int l = 0; l < (int)sizeof *b0; l += 64) {
            _mm_prefetch((const char *)(b0 + APR__PF_BLOCKS) + l, _MM_HINT_T0);
            _mm_prefetch((const char *)(b1 + APR__PF_BLOCKS) + l, _MM_HINT_T0);
        }
        __m512i isum[8];
        APR__UNROLL
        for (int t = 0; t < NT; t++) isum[t] = _mm512_setzero_si512();
        for (int j = 0; j < 8; j++) {
            __m512i R[8];
            APR__UNROLL
            for (int k = 0; k < 8; k++) {
                const __m512i v = apr__load_2x256(b0->qs[j / 2][k], b1->qs[j / 2][k]);
                R[k] = _mm512_and_si512(j % 2 ? _mm512_srli_epi16(v, 4) : v, m4);
            }
            const __m512i scv = _mm512_cvtepu8_epi32(
                _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)b0->sc[j]), _mm_loadl_epi64((const __m128i *)b1->sc[j])));
            APR__UNROLL
            for (int t = 0; t < NT; t++) {
                const int8_t *a = ((const apr__block_q8_K *)(act + (size_t)t * act_stride) + i)->qs + 32 * j;
                __m512i s0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), R[0], _mm512_set1_epi32(apr__load_i32(a)));
                __m512i s1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), R[1], _mm512_set1_epi32(apr__load_i32(a + 4)));
                APR__UNROLL
                for (int k = 2; k < 8; k += 2) {
                    s0 = _mm512_dpbusd_epi32(s0, R[k], _mm512_set1_epi32(apr__load_i32(a + 4 * k)));
                    s1 = _mm512_dpbusd_epi32(s1, R[k + 1], _mm512_set1_epi32(apr__load_i32(a + 4 * k + 4)));
                }
                isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(_mm512_add_epi32(s0, s1), scv));
            }
        }
        const __m512 d16 = _mm512_cvtph_ps(apr__load_2x128(b0->d, b1->d));
        const __m512 dm16 = _mm512_cvtph_ps(apr__load_2x128(b0->dmin, b1->dmin));
        __m512i mv[4];
        APR__UNROLL
        for (int q = 0; q < 4; q++) mv[q] = _mm512_cvtepu8_epi16(apr__load_2x128(b0->m[q], b1->m[q]));
        APR__UNROLL
        for (int t = 0; t < NT; t++) {
            const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride) + i;
            __m512i mi = _mm512_setzero_si512();
            APR__UNROLL
            for (int q = 0; q < 4; q++) {
                const int s0 = y->bsums[4 * q] + y->bsums[4 * q + 1];
                const int s1 = y->bsums[4 * q + 2] + y->bsums[4 * q + 3];
                mi = _mm512_dpwssd_epi32(mi, mv[q], _mm512_set1_epi32((int)(((uint32_t)(uint16_t)s1 << 16) | (uint16_t)s0)));
            }
            const __m512 da = _mm512_set1_ps(y->d);
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(d16, da), acc[t]);
            acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(mi), _mm512_mul_ps(dm16, da), acc[t]);
        }
    }
    APR__UNROLL
    for (int t = 0; t < NT; t++) _mm512_storeu_ps(out + (size_t)t * ld, acc[t]);
}

APR__TARGET_AVX2 static void apr__q4kx8_avx2(int64_t n, const apr__block_q4_Kx8 *w, const uint8_t *act, size_t as,
                                             int nt, float *out, int64_t ld) {
    switch (nt) {
    case 4: apr__q4kx8_tile_avx2(4, n, w, act, as, out, ld); break;
    case 3: apr__q4kx8_tile_avx2(3, n, w, act, as, out, ld); break;
    case 2: apr__q4kx8_tile_avx2(2, n, w, act, as, out, ld); break;
    default: apr__q4kx8_tile_avx2(1, n, w, act, as, out, ld); break;
    }
}
APR__TARGET_AVX512VNNI static void apr__q4kx8_vnni(int64_t n, const apr__block_q4_Kx8 *w, const uint8_t *act,
                                                   size_t as, int nt, float *out, int64_t ld) {
    switch (nt) {
    case 8: apr__q4kx8_tile_vnni(8, n, w, act, as, out, ld); break;
    case 7: apr__q4kx8_tile_vnni(7, n, w, act, as, out, ld); break;
    case 6: apr__q4kx8_tile_vnni(6, n, w, act, as, out, ld); break;
    case 5: apr__q4kx8_tile_vnni(5, n, w, act, as, out, ld); break;
    case 4: apr__q4kx8_tile_vnni(4, n, w, act, as, out, ld); break;
    case 3: apr__q4kx8_tile_vnni(3, n, w, act, as, out, ld); break;
    case 2: apr__q4kx8_tile_vnni(2, n, w, act, as, out, ld); break;
    default: apr__q4kx8_tile_vnni(1, n, w, act, as, out, ld); break;
    }
}
APR__TARGET_AVX512VNNI static void apr__q4kx16_vnni(int64_t nbk, int64_t nb, const apr__block_q4_Kx8 *w, const uint8_t *act,
                                                    size_t as, int nt, float *out, int64_t ld, bool accu) {
    switch (nt) {
    case 8: apr__q4kx16_tile_vnni(8, nbk, nb, w, act, as, out, ld, accu); break;
    case 7: apr__q4kx16_tile_vnni(7, nbk, nb, w, act, as, out, ld, accu); break;
    case 6: apr__q4kx16_tile_vnni(6, nbk, nb, w, act, as, out, ld, accu); break;
    case 5: apr__q4kx16_tile_vnni(5, nbk, nb, w, act, as, out, ld, accu); break;
    case 4: apr__q4kx16_tile_vnni(4, nbk, nb, w, act, as, out, ld, accu); break;
    case 3: apr__q4kx16_tile_vnni(3, nbk, nb, w, act, as, out, ld, accu); break;
    case 2: apr__q4kx16_tile_vnni(2, nbk, nb, w, act, as, out, ld, accu); break;
    default: apr__q4kx16_tile_vnni(1, nbk, nb, w, act, as, out, ld, accu); break;
    }
}

/* Level 2 drivers: pairs of groups with the 512-bit kernels, blocked for the caches: the
   columns in blocks of at most 10 super-blocks (8 tokens' Q8_K activations of a block,
   23 KB, stay in L1d; 64 tokens' stay in L2 beside the weights), the pairs in chunks of
   about 256 KB of weights (in L2) that every tile of tokens passes over; the blocks after
   the first add to the outputs. Without the column blocks a 8960-wide Q6_K matrix ran at
   ~135 GMAC/s instead of ~200 (64 tokens' activations, 650 KB, evicted the weights). */
#define APR__KX16_DRIVER(NAME, BLK, KERNEL)                                                                     \
    APR__TARGET_AVX512VNNI static void NAME(int64_t n, const BLK *w, int64_t n_pairs, const uint8_t *act,      \
                                            size_t act_stride, int n_tok, float *out, int64_t ld) {            \
        const int64_t nb = n / 256, nkb = (nb + 9) / 10;                                                        \
        for (int64_t kb = 0; kb < nkb; kb++) {                                                                  \
            const int64_t i0 = nb * kb / nkb, i1 = nb * (kb + 1) / nkb;                                         \
            const int64_t chunk = APR__MAX((int64_t)1, (int64_t)(256 * 1024) / ((i1 - i0) * 2 * (int64_t)sizeof(BLK))); \
            for (int64_t p0 = 0; p0 < n_pairs; p0 += chunk) {                                                   \
                const int64_t p1 = APR__MIN(n_pairs, p0 + chunk);                                               \
                for (int t0 = 0; t0 < n_tok; t0 += 8) {                                                         \
                    const int nt = APR__MIN(8, n_tok - t0);                                                     \
                    const uint8_t *at = act + (size_t)t0 * act_stride + (size_t)i0 * sizeof(apr__block_q8_K);   \
                    for (int64_t p = p0; p < p1; p++)                                                           \
                        KERNEL(i1 - i0, nb, w + 2 * p * nb + i0, at, act_stride, nt, out + (size_t)t0 * ld + 16 * p, \
                               ld, kb > 0);                                                                     \
                }                                                                                               \
            }                                                                                                   \
        }                                                                                                       \
    }
APR__KX16_DRIVER(apr__gemm_q4kx16_vnni, apr__block_q4_Kx8, apr__q4kx16_vnni)

/* One token, 512-bit (VNNI). The 8-row tile leaves one core compute bound at ~44 GB/s for
   a single token (decode), so here a register is the contiguous 64 bytes qs[p][2m..2m+1]:
   4 weights of each of the 8 rows for k = 2m (low half) and k = 2m+1 (high half), and one
   vpermd places the activation's 4-byte groups 2m and 2m+1 in the two halves: per 32
   weights x 8 rows 4 loads, 4 vpdpbusd, 4 vpermd and one vpmulld (the 8-row tile: 8, 8, 8
   broadcasts, 1). The halves are added once per super-block. Integer sums as the tile. */
APR__TARGET_AVX512VNNI static APR__INLINE __m512i apr__half_idx(int m) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32(2 * m)), _mm256_set1_epi32(2 * m + 1), 1);
}

APR__TARGET_AVX512VNNI static void apr__q4kx8_one_vnni(int64_t n, const apr__block_q4_Kx8 *w, const uint8_t *act,
                                                       float *out) {
    const int64_t nb = n / 256;
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i P0 = apr__half_idx(0), P1 = apr__half_idx(1), P2 = apr__half_idx(2), P3 = apr__half_idx(3);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const apr__block_q4_Kx8 *b = w + i;
        for (int l = 0; l < (int)sizeof *b; l += 64) _mm_prefetch((const char *)(b + APR__PF_BLOCKS) + l, _MM_HINT_T0);
        const apr__block_q8_K *y = (const apr__block_q8_K *)act + i;
        __m512i isum = _mm512_setzero_si512();
        for (int j = 0; j < 8; j++) {
            const __m512i A = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(y->qs + 32 * j)));
            const uint8_t *q = b->qs[j / 2][0];
            __m512i v0 = _mm512_loadu_si512((const void *)q), v1 = _mm512_loadu_si512((const void *)(q + 64));
            __m512i v2 = _mm512_loadu_si512((const void *)(q + 128)), v3 = _mm512_loadu_si512((const void *)(q + 192));
            if (j % 2) {
                v0 = _mm512_srli_epi16(v0, 4); v1 = _mm512_srli_epi16(v1, 4);
                v2 = _mm512_srli_epi16(v2, 4); v3 = _mm512_srli_epi16(v3, 4);
            }
            __m512i s0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_and_si512(v0, m4), _mm512_permutexvar_epi32(P0, A));
            __m512i s1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_and_si512(v1, m4), _mm512_permutexvar_epi32(P1, A));
            s0 = _mm512_dpbusd_epi32(s0, _mm512_and_si512(v2, m4), _mm512_permutexvar_epi32(P2, A));
            s1 = _mm512_dpbusd_epi32(s1, _mm512_and_si512(v3, m4), _mm512_permutexvar_epi32(P3, A));
            int64_t sc8;
            memcpy(&sc8, b->sc[j], 8);
            const __m512i scv = _mm512_cvtepu8_epi32(_mm_set1_epi64x(sc8));
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(_mm512_add_epi32(s0, s1), scv));
        }
        const __m256i is8 = _mm256_add_epi32(_mm512_castsi512_si256(isum), _mm512_extracti64x4_epi64(isum, 1));
        __m256i mi = _mm256_setzero_si256();
        for (int q = 0; q < 4; q++) {
            const int s0 = y->bsums[4 * q] + y->bsums[4 * q + 1];
            const int s1 = y->bsums[4 * q + 2] + y->bsums[4 * q + 3];
            const __m256i mv = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)b->m[q]));
            mi = _mm256_add_epi32(mi, _mm256_madd_epi16(mv, _mm256_set1_epi32((int)(((uint32_t)(uint16_t)s1 << 16) | (uint16_t)s0))));
        }
        const __m256 da = _mm256_set1_ps(y->d);
        const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        const __m256 dm8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->dmin));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is8), _mm256_mul_ps(d8, da), acc);
        acc = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(mi), _mm256_mul_ps(dm8, da), acc);
    }
    _mm256_storeu_ps(out, acc);
}
#endif

/* Level as for Q5_0 (apr__q5x8_level): L2-sized chunks of groups, tiles of tokens. With
   512-bit VNNI and more than two tokens, pairs of groups go to the 16-row kernels and the
   odd group to the 8-row ones; one or two tokens keep the 8-row kernels, which stream from
   memory faster (a single sequential stream to prefetch). The same driver serves Q4_K and
   Q6_K groups. */
#if defined(APR__HAVE_X86_SIMD)
#define APR__KX8_SIMD_GEMM(NAME, BLK, PAIRS, ONE, VNNI, AVX2)                                                   \
    static void NAME(int level, int64_t n, const BLK *w, int64_t n_groups, const uint8_t *act,                  \
                     size_t act_stride, int n_tok, float *out, int64_t ld) {                                    \
        const int64_t nb = n / 256, max_nt = apr__q5x8_max_nt(level);                                           \
        if (level >= 2 && n_tok > 2) {                                                                          \
            PAIRS(n, w, n_groups / 2, act, act_stride, n_tok, out, ld);                                         \
            if (n_groups % 2 == 0) return;                                                                      \
            w += (n_groups - 1) * nb;                                                                           \
            out += 8 * (n_groups - 1);                                                                          \
            n_groups = 1;                                                                                       \
        }                                                                                                       \
        int64_t chunk = APR__MAX((int64_t)1, (int64_t)(256 * 1024) / (nb * (int64_t)sizeof(BLK)));             \
        for (int64_t g0 = 0; g0 < n_groups; g0 += chunk) {                                                      \
            const int64_t g1 = APR__MIN(n_groups, g0 + chunk);                                                  \
            for (int t0 = 0; t0 < n_tok; t0 += (int)max_nt) {                                                   \
                const int nt = (int)APR__MIN(max_nt, (int64_t)(n_tok - t0));                                    \
                const uint8_t *at = act + (size_t)t0 * act_stride;                                              \
                for (int64_t g = g0; g < g1; g++) {                                                             \
                    float *o = out + (size_t)t0 * ld + 8 * g;                                                   \
                    if (level >= 2 && nt == 1) ONE(n, w + g * nb, at, o);                                       \
                    else if (level >= 2) VNNI(n, w + g * nb, at, act_stride, nt, o, ld);                        \
                    else AVX2(n, w + g * nb, at, act_stride, nt, o, ld);                                        \
                }                                                                                               \
            }                                                                                                   \
        }                                                                                                       \
    }
APR__KX8_SIMD_GEMM(apr__gemm_q4_Kx8_simd, apr__block_q4_Kx8, apr__gemm_q4kx16_vnni, apr__q4kx8_one_vnni,
                   apr__q4kx8_vnni, apr__q4kx8_avx2)
#endif

static void apr__gemm_q4_Kx8(int level, int64_t n, const apr__block_q4_Kx8 *w, int64_t n_groups, const uint8_t *act,
                             size_t act_stride, int n_tok, float *out, int64_t ld) {
#if defined(APR__HAVE_X86_SIMD)
    if (level >= 1) {
        apr__gemm_q4_Kx8_simd(level, n, w, n_groups, act, act_stride, n_tok, out, ld);
        return;
    }
#endif
    (void)level;
    apr__gemm_q4_Kx8_ref(n, w, n_groups, act, act_stride, n_tok, out, ld);
}

/* ---- repacked Q6_K: 8 rows interleaved ------------------------------------------------
   Per super-block of 256 weights, 8 rows: weights kept unsigned (0..63, the file's q + 32
   offset: sum (q-32)a = sum q a - 32 sum a, with the Q8_K bsums per 16), as
     d[8]            the rows' fp16 scales
     sc[q][r][2]     int8 scales of the 16-weight groups 2q and 2q+1 of row r
     ql[p][k][4r+e]  low 4 bits of weight 4k+e of sub-block 2p (low nibble) and 2p+1 (high)
     qh[j][h][4r+e]  bits 2s, 2s+1: the top 2 bits of weight 4(4h+s)+e of sub-block j
   1680 bytes, the file's 8 x 210. */

typedef struct {
    uint16_t d[8];
    int8_t sc[8][8][2];
    uint8_t ql[4][8][32];
    uint8_t qh[8][2][32];
} apr__block_q6_Kx8;
typedef char apr__chk_q6_Kx8[sizeof(apr__block_q6_Kx8) == 1680 ? 1 : -1];

static APR__UNUSED void apr__repack_q6_Kx8(const uint8_t *src, size_t row_stride, int64_t n, apr__block_q6_Kx8 *dst) {
    for (int64_t i = 0; i < n / 256; i++) {
        apr__block_q6_Kx8 *g = dst + i;
        memset(g->ql, 0, sizeof g->ql);
        memset(g->qh, 0, sizeof g->qh);
        for (int r = 0; r < 8; r++) {
            const apr__block_q6_K *b = (const apr__block_q6_K *)(src + (size_t)r * row_stride) + i;
            uint8_t q[256];
            for (int h = 0; h < 2; h++) {
                const uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
                for (int l = 0; l < 32; l++) {
                    q[128 * h + l] = (uint8_t)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4));
                    q[128 * h + l + 32] = (uint8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4));
                    q[128 * h + l + 64] = (uint8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
                    q[128 * h + l + 96] = (uint8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
                }
            }
            g->d[r] = b->d;
            for (int s = 0; s < 16; s++) g->sc[s / 2][r][s % 2] = b->scales[s];
            for (int j = 0; j < 8; j++)
                for (int k = 0; k < 8; k++) {
                    /* 4 weights at a time: bytes 4r..4r+3 of their vectors */
                    uint32_t v, lo, hi;
                    memcpy(&v, q + 32 * j + 4 * k, 4);
                    memcpy(&lo, &g->ql[j / 2][k][4 * r], 4);
                    memcpy(&hi, &g->qh[j][k / 4][4 * r], 4);
                    lo |= (v & 0x0F0F0F0Fu) << (4 * (j % 2));
                    hi |= ((v >> 4) & 0x03030303u) << (2 * (k % 4));
                    memcpy(&g->ql[j / 2][k][4 * r], &lo, 4);
                    memcpy(&g->qh[j][k / 4][4 * r], &hi, 4);
                }
        }
    }
}

static void apr__gemm_q6_Kx8_ref(int64_t n, const apr__block_q6_Kx8 *w, int64_t n_groups, const uint8_t *act,
                                 size_t act_stride, int n_tok, float *out, int64_t ld) {
    const int64_t nb = n / 256;
    for (int64_t g = 0; g < n_groups; g++) {
        for (int t = 0; t < n_tok; t++) {
            const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride);
            float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int64_t i = 0; i < nb; i++) {
                const apr__block_q6_Kx8 *b = w + g * nb + i;
                for (int r = 0; r < 8; r++) {
                    int sumi = 0;
                    for (int grp = 0; grp < 16; grp++) {
                        int t0 = 0;
                        for (int l = 0; l < 16; l++) {
                            const int wi = 16 * grp + l, j = wi / 32, k = (wi % 32) / 4, e = wi % 4;
                            const int lo = (b->ql[j / 2][k][4 * r + e] >> (4 * (j % 2))) & 0xF;
                            const int hi = (b->qh[j][k / 4][4 * r + e] >> (2 * (k % 4))) & 3;
                            t0 += (lo | hi << 4) * y[i].qs[wi];
                        }
                        sumi += b->sc[grp / 2][r][grp % 2] * (t0 - 32 * y[i].bsums[grp]);
                    }
                    s[r] += y[i].d * apr__fp16_to_fp32(b->d[r]) * (float)sumi;
                }
            }
            for (int r = 0; r < 8; r++) out[(size_t)t * ld + 8 * g + r] = s[r];
        }
    }
}

#if defined(APR__HAVE_X86_SIMD)
/* One sub-block (32 weights, two scale groups) of 8 rows x one token. AVX2: two maddubs
   summed as int16 (63 * 127 * 2 * 2 < 32768), madd by the group's scale pair. */
APR__TARGET_AVX2 static APR__INLINE __m256i apr__q6kx8_sub_avx2(const __m256i *R, const int8_t *a, __m256i sc0,
                                                                 __m256i sc1, __m256i acc) {
    __m256i s;
    s = _mm256_add_epi16(_mm256_maddubs_epi16(R[0], _mm256_set1_epi32(apr__load_i32(a))),
                         _mm256_maddubs_epi16(R[1], _mm256_set1_epi32(apr__load_i32(a + 4))));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, sc0));
    s = _mm256_add_epi16(_mm256_maddubs_epi16(R[2], _mm256_set1_epi32(apr__load_i32(a + 8))),
                         _mm256_maddubs_epi16(R[3], _mm256_set1_epi32(apr__load_i32(a + 12))));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, sc0));
    s = _mm256_add_epi16(_mm256_maddubs_epi16(R[4], _mm256_set1_epi32(apr__load_i32(a + 16))),
                         _mm256_maddubs_epi16(R[5], _mm256_set1_epi32(apr__load_i32(a + 20))));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, sc1));
    s = _mm256_add_epi16(_mm256_maddubs_epi16(R[6], _mm256_set1_epi32(apr__load_i32(a + 24))),
                         _mm256_maddubs_epi16(R[7], _mm256_set1_epi32(apr__load_i32(a + 28))));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(s, sc1));
}

APR__TARGET_AVX512VNNI static APR__INLINE __m256i apr__q6kx8_sub_vnni(const __m256i *R, const int8_t *a, __m256i sc0,
                                                                       __m256i sc1, __m256i acc) {
    __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
    APR__UNROLL
    for (int k = 0; k < 4; k++) s0 = _mm256_dpbusd_epi32(s0, R[k], _mm256_set1_epi32(apr__load_i32(a + 4 * k)));
    APR__UNROLL
    for (int k = 4; k < 8; k++) s1 = _mm256_dpbusd_epi32(s1, R[k], _mm256_set1_epi32(apr__load_i32(a + 4 * k)));
    return _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_mullo_epi32(s0, sc0), _mm256_mullo_epi32(s1, sc1)));
}

/* scales of groups 2j, 2j+1 per lane: an int16 pair (AVX2 madd) or an int32 (VNNI mullo) */
#define APR__Q6KX8_TILE(NAME, TARGET, VNNI, SUB)                                                                     \
    TARGET static APR__INLINE void NAME(const int NT, int64_t n, const apr__block_q6_Kx8 *w, const uint8_t *act,     \
                                        size_t act_stride, float *out, int64_t ld) {                               \
        const int64_t nb = n / 256;                                                                                \
        const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);                                   \
        const __m256i lo16 = _mm256_set1_epi32(0xFFFF);                                                            \
        __m256 acc[8];                                                                                             \
        APR__UNROLL                                                                                                \
        for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();                                                 \
        for (int64_t i = 0; i < nb; i++) {                                                                         \
            const apr__block_q6_Kx8 *b = w + i;                                                                    \
            for (int l = 0; l < (int)sizeof *b; l += 64) _mm_prefetch((const char *)(b + APR__PF_BLOCKS) + l, _MM_HINT_T0); \
            __m256i isum[8];                                                                                       \
            APR__UNROLL                                                                                            \
            for (int t = 0; t < NT; t++) isum[t] = _mm256_setzero_si256();                                         \
            for (int j = 0; j < 8; j++) {                                                                          \
                __m256i R[8];                                                                                      \
                APR__UNROLL                                                                                        \
                for (int h = 0; h < 2; h++) {                                                                      \
                    const __m256i H = _mm256_loadu_si256((const __m256i *)b->qh[j][h]);                            \
                    const __m256i hb[4] = {_mm256_and_si256(_mm256_slli_epi16(H, 4), m30),                         \
                                           _mm256_and_si256(_mm256_slli_epi16(H, 2), m30),                         \
                                           _mm256_and_si256(H, m30),                                               \
                                           _mm256_and_si256(_mm256_srli_epi16(H, 2), m30)};                        \
                    APR__UNROLL                                                                                    \
                    for (int s = 0; s < 4; s++) {                                                                  \
                        const __m256i v = _mm256_loadu_si256((const __m256i *)b->ql[j / 2][4 * h + s]);            \
                        R[4 * h + s] = _mm256_or_si256(_mm256_and_si256(j % 2 ? _mm256_srli_epi16(v, 4) : v, m4), hb[s]); \
                    }                                                                                              \
                }                                                                                                  \
                const __m256i P = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->sc[j]));                \
                __m256i sc0, sc1;                                                                                  \
                if (VNNI) {                                                                                        \
                    sc0 = _mm256_srai_epi32(_mm256_slli_epi32(P, 16), 16);                                         \
                    sc1 = _mm256_srai_epi32(P, 16);                                                                \
                } else {                                                                                           \
                    sc0 = _mm256_or_si256(_mm256_and_si256(P, lo16), _mm256_slli_epi32(P, 16));                    \
                    sc1 = _mm256_or_si256(_mm256_srli_epi32(P, 16), _mm256_andnot_si256(lo16, P));                 \
                }                                                                                                  \
                APR__UNROLL                                                                                        \
                for (int t = 0; t < NT; t++) {                                                                     \
                    const int8_t *a = ((const apr__block_q8_K *)(act + (size_t)t * act_stride) + i)->qs + 32 * j;  \
                    isum[t] = SUB(R, a, sc0, sc1, isum[t]);                                                        \
                }                                                                                                  \
            }                                                                                                      \
            const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));                             \
            APR__UNROLL                                                                                            \
            for (int t = 0; t < NT; t++) {                                                                         \
                const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride) + i;            \
                __m256i mi = _mm256_setzero_si256();                                                               \
                for (int q = 0; q < 8; q++) {                                                                      \
                    const __m256i P = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->sc[q]));            \
                    int32_t pair;                                                                                  \
                    memcpy(&pair, y->bsums + 2 * q, 4);                                                            \
                    mi = _mm256_add_epi32(mi, _mm256_madd_epi16(P, _mm256_set1_epi32(pair)));                      \
                }                                                                                                  \
                const __m256i s = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(mi, 5));                             \
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(d8, _mm256_set1_ps(y->d)), acc[t]);  \
            }                                                                                                      \
        }                                                                                                          \
        APR__UNROLL                                                                                                \
        for (int t = 0; t < NT; t++) _mm256_storeu_ps(out + (size_t)t * ld, acc[t]);                               \
    }

APR__Q6KX8_TILE(apr__q6kx8_tile_avx2, APR__TARGET_AVX2, 0, apr__q6kx8_sub_avx2)
APR__Q6KX8_TILE(apr__q6kx8_tile_vnni, APR__TARGET_AVX512VNNI, 1, apr__q6kx8_sub_vnni)

/* 512-bit VNNI over two adjacent groups (16 rows), as apr__q4kx16_tile_vnni: each register
   the same vector of groups g and g+1, one vpdpbusd per 4 weights of 16 rows. */
APR__TARGET_AVX512VNNI static APR__INLINE void apr__q6kx16_tile_vnni(const int NT, int64_t nbk, int64_t nb,
                                                                     const apr__block_q6_Kx8 *w, const uint8_t *act,
                                                                     size_t act_stride, float *out, int64_t ld,
                                                                     bool accumulate) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    __m512 acc[8];
    APR__UNROLL
    for (int t = 0; t < NT; t++) acc[t] = accumulate ? _mm512_loadu_ps(out + (size_t)t * ld) : _mm512_setzero_ps();
    for (int64_t i = 0; i < nbk; i++) {
        const apr__block_q6_Kx8 *b0 = w + i, *b1 = w + nb + i;
        __m512i isum[8];
        APR__UNROLL
        for (int t = 0; t < NT; t++) isum[t] = _mm512_setzero_si512();
        for (int j = 0; j < 8; j++) {
            __m512i R[8];
            APR__UNROLL
            for (int h = 0; h < 2; h++) {
                const __m512i H = apr__load_2x256(b0->qh[j][h], b1->qh[j][h]);
                APR__UNROLL
                for (int s = 0; s < 4; s++) {
                    const __m512i hb = _mm512_and_si512(s == 0 ? _mm512_slli_epi16(H, 4)
                                                        : s == 1 ? _mm512_slli_epi16(H, 2)
                                                        : s == 2 ? H
                                                                 : _mm512_srli_epi16(H, 2), m30);
                    const __m512i v = apr__load_2x256(b0->ql[j / 2][4 * h + s], b1->ql[j / 2][4 * h + s]);
                    R[4 * h + s] = _mm512_or_si512(_mm512_and_si512(j % 2 ? _mm512_srli_epi16(v, 4) : v, m4), hb);
                }
            }
            /* dword r: the int16 scales of the row's groups 2j (low) and 2j+1 (high) */
            const __m512i P = _mm512_cvtepi8_epi16(apr__load_2x128(b0->sc[j], b1->sc[j]));
            const __m512i sc0 = _mm512_srai_epi32(_mm512_slli_epi32(P, 16), 16), sc1 = _mm512_srai_epi32(P, 16);
            APR__UNROLL
            for (int t = 0; t < NT; t++) {
                const int8_t *a = ((const apr__block_q8_K *)(act + (size_t)t * act_stride) + i)->qs + 32 * j;
                __m512i s0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), R[0], _mm512_set1_epi32(apr__load_i32(a)));
                __m512i s1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), R[4], _mm512_set1_epi32(apr__load_i32(a + 16)));
                APR__UNROLL
                for (int k = 1; k < 4; k++) {
                    s0 = _mm512_dpbusd_epi32(s0, R[k], _mm512_set1_epi32(apr__load_i32(a + 4 * k)));
                    s1 = _mm512_dpbusd_epi32(s1, R[k + 4], _mm512_set1_epi32(apr__load_i32(a + 16 + 4 * k)));
                }
                isum[t] = _mm512_add_epi32(isum[t], _mm512_add_epi32(_mm512_mullo_epi32(s0, sc0), _mm512_mullo_epi32(s1, sc1)));
            }
        }
        const __m512 d16 = _mm512_cvtph_ps(apr__load_2x128(b0->d, b1->d));
        APR__UNROLL
        for (int t = 0; t < NT; t++) {
            const apr__block_q8_K *y = (const apr__block_q8_K *)(act + (size_t)t * act_stride) + i;
            __m512i mi = _mm512_setzero_si512();
            for (int q = 0; q < 8; q++) {
                const __m512i P = _mm512_cvtepi8_epi16(apr__load_2x128(b0->sc[q], b1->sc[q]));
                mi = _mm512_dpwssd_epi32(mi, P, _mm512_set1_epi32(apr__load_i32(y->bsums + 2 * q)));
            }
            const __m512i s = _mm512_sub_epi32(isum[t], _mm512_slli_epi32(mi, 5));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(d16, _mm512_set1_ps(y->d)), acc[t]);
        }
    }
    APR__UNROLL
    for (int t = 0; t < NT; t++) _mm512_storeu_ps(out + (size_t)t * ld, acc[t]);
}

APR__TARGET_AVX2 static void apr__q6kx8_avx2(int64_t n, const apr__block_q6_Kx8 *w, const uint8_t *act, size_t as,
                                             int nt, float *out, int64_t ld) {
    switch (nt) {
    case 4: apr__q6kx8_tile_avx2(4, n, w, act, as, out, ld); break;
    case 3: apr__q6kx8_tile_avx2(3, n, w, act, as, out, ld); break;
    case 2: apr__q6kx8_tile_avx2(2, n, w, act, as, out, ld); break;
    default: apr__q6kx8_tile_avx2(1, n, w, act, as, out, ld); break;
    }
}
APR__TARGET_AVX512VNNI static void apr__q6kx8_vnni(int64_t n, const apr__block_q6_Kx8 *w, const uint8_t *act,
                                                   size_t as, int nt, float *out, int64_t ld) {
    switch (nt) {
    case 8: apr__q6kx8_tile_vnni(8, n, w, act, as, out, ld); break;
    case 7: apr__q6kx8_tile_vnni(7, n, w, act, as, out, ld); break;
    case 6: apr__q6kx8_tile_vnni(6, n, w, act, as, out, ld); break;
    case 5: apr__q6kx8_tile_vnni(5, n, w, act, as, out, ld); break;
    case 4: apr__q6kx8_tile_vnni(4, n, w, act, as, out, ld); break;
    case 3: apr__q6kx8_tile_vnni(3, n, w, act, as, out, ld); break;
    case 2: apr__q6kx8_tile_vnni(2, n, w, act, as, out, ld); break;
    default: apr__q6kx8_tile_vnni(1, n, w, act, as, out, ld); break;
    }
}
APR__TARGET_AVX512VNNI static void apr__q6kx16_vnni(int64_t nbk, int64_t nb, const apr__block_q6_Kx8 *w, const uint8_t *act,
                                                    size_t as, int nt, float *out, int64_t ld, bool accu) {
    switch (nt) {
    case 8: apr__q6kx16_tile_vnni(8, nbk, nb, w, act, as, out, ld, accu); break;
    case 7: apr__q6kx16_tile_vnni(7, nbk, nb, w, act, as, out, ld, accu); break;
    case 6: apr__q6kx16_tile_vnni(6, nbk, nb, w, act, as, out, ld, accu); break;
    case 5: apr__q6kx16_tile_vnni(5, nbk, nb, w, act, as, out, ld, accu); break;
    case 4: apr__q6kx16_tile_vnni(4, nbk, nb, w, act, as, out, ld, accu); break;
    case 3: apr__q6kx16_tile_vnni(3, nbk, nb, w, act, as, out, ld, accu); break;
    case 2: apr__q6kx16_tile_vnni(2, nbk, nb, w, act, as, out, ld, accu); break;
    default: apr__q6kx16_tile_vnni(1, nbk, nb, w, act, as, out, ld, accu); break;
    }
}
APR__KX16_DRIVER(apr__gemm_q6kx16_vnni, apr__block_q6_Kx8, apr__q6kx16_vnni)

/* One token, 512-bit (VNNI), as apr__q4kx8_one_vnni: a register is ql[p][2m..2m+1], the
   top bits of both halves come from one qh vector shifted per half (vpsllvw / vpsrlvw). */
APR__TARGET_AVX512VNNI static void apr__q6kx8_one_vnni(int64_t n, const apr__block_q6_Kx8 *w, const uint8_t *act,
                                                       float *out) {
    const int64_t nb = n / 256;
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    const __m512i P0 = apr__half_idx(0), P1 = apr__half_idx(1), P2 = apr__half_idx(2), P3 = apr__half_idx(3);
    /* weights 4k..4k+3 take bits 2s, 2s+1 of qh[j][k / 4] (s = k % 4) to bits 4, 5: the
       pair k = 4h, 4h+1 shifts left by 4 | 2, the pair 4h+2, 4h+3 right by 0 | 2 */
    const __m512i shl = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i shr = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const apr__block_q6_Kx8 *b = w + i;
        for (int l = 0; l < (int)sizeof *b; l += 64) _mm_prefetch((const char *)(b + APR__PF_BLOCKS) + l, _MM_HINT_T0);
        const apr__block_q8_K *y = (const apr__block_q8_K *)act + i;
        __m512i isum = _mm512_setzero_si512();
        for (int j = 0; j < 8; j++) {
            const __m512i A = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(y->qs + 32 * j)));
            __m512i s[2];
            for (int h = 0; h < 2; h++) {
                const __m512i H = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)b->qh[j][h]));
                __m512i va = _mm512_loadu_si512((const void *)b->ql[j / 2][4 * h]);
                __m512i vb = _mm512_loadu_si512((const void *)b->ql[j / 2][4 * h + 2]);
                if (j % 2) {
                    va = _mm512_srli_epi16(va, 4);
                    vb = _mm512_srli_epi16(vb, 4);
                }
                const __m512i Ra = _mm512_or_si512(_mm512_and_si512(va, m4), _mm512_and_si512(_mm512_sllv_epi16(H, shl), m30));
                const __m512i Rb = _mm512_or_si512(_mm512_and_si512(vb, m4), _mm512_and_si512(_mm512_srlv_epi16(H, shr), m30));
                s[h] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), Ra, _mm512_permutexvar_epi32(h ? P2 : P0, A));
                s[h] = _mm512_dpbusd_epi32(s[h], Rb, _mm512_permutexvar_epi32(h ? P3 : P1, A));
            }
            /* lane r and 8 + r: the scales of row r's groups 2j (s[0]) and 2j+1 (s[1]) */
            const __m256i Pq = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->sc[j]));
            const __m512i sc0 = _mm512_broadcast_i64x4(_mm256_srai_epi32(_mm256_slli_epi32(Pq, 16), 16));
            const __m512i sc1 = _mm512_broadcast_i64x4(_mm256_srai_epi32(Pq, 16));
            isum = _mm512_add_epi32(isum, _mm512_add_epi32(_mm512_mullo_epi32(s[0], sc0), _mm512_mullo_epi32(s[1], sc1)));
        }
        const __m256i is8 = _mm256_add_epi32(_mm512_castsi512_si256(isum), _mm512_extracti64x4_epi64(isum, 1));
        __m256i mi = _mm256_setzero_si256();
        for (int q = 0; q < 8; q++) {
            const __m256i Pq = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->sc[q]));
            mi = _mm256_add_epi32(mi, _mm256_madd_epi16(Pq, _mm256_set1_epi32(apr__load_i32(y->bsums + 2 * q))));
        }
        const __m256i sv = _mm256_sub_epi32(is8, _mm256_slli_epi32(mi, 5));
        const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sv), _mm256_mul_ps(d8, _mm256_set1_ps(y->d)), acc);
    }
    _mm256_storeu_ps(out, acc);
}
#endif

#if defined(APR__HAVE_X86_SIMD)
APR__KX8_SIMD_GEMM(apr__gemm_q6_Kx8_simd, apr__block_q6_Kx8, apr__gemm_q6kx16_vnni, apr__q6kx8_one_vnni,
                   apr__q6kx8_vnni, apr__q6kx8_avx2)
#endif

static void apr__gemm_q6_Kx8(int level, int64_t n, const apr__block_q6_Kx8 *w, int64_t n_groups, const uint8_t *act,
                             size_t act_stride, int n_tok, float *out, int64_t ld) {
#if defined(APR__HAVE_X86_SIMD)
    if (level >= 1) {
        apr__gemm_q6_Kx8_simd(level, n, w, n_groups, act, act_stride, n_tok, out, ld);
        return;
    }
#endif
    (void)level;
    apr__gemm_q6_Kx8_ref(n, w, n_groups, act, act_stride, n_tok, out, ld);
}

/* ---- matmul -------------------------------------------------------------------------- */

/* Up to three matrices that read the same input (Q/K/V, gate/up) run as one job: the
   input is quantized once per activation type and the threads split the rows of all of
   them together, so there is one pool dispatch instead of three. */
typedef struct apr__mm_part {
    const apr_tensor_view *w;
    const float *bias;
    float *y;
    int64_t y_stride;
    const void *act;
    size_t act_stride;
    const void *packed;              /* repacked rows (Q5_0 or Q4_K groups), or NULL */
    const int32_t *sums;             /* the activations' block sums (repacked Q5_0) */
    int64_t sums_stride;
} apr__mm_part;

typedef struct apr__mm_job {
    apr__mm_part part[3];
    int n_part;
    int n_tok;
    int64_t total_rows;
    int q5x8_level;
} apr__mm_job;

/* Rows of all the parts together, in n_chunks pieces of whole groups of 16 (the kernels
   pair rows; ith is a chunk, not a thread: see apr__pool_run_chunks). */
static void apr__mm_worker(void *arg, int ith, int nth) {
    apr__mm_job *j = (apr__mm_job *)arg;
    int64_t g0, g1, base = 0;
    apr__split_range(j->total_rows, 16, ith, nth, &g0, &g1);
    for (int k = 0; k < j->n_part; k++) {
        const apr__mm_part *pt = &j->part[k];
        const apr_tensor_view *w = pt->w;
        int64_t n_out = w->ne[1];
        int64_t r0 = APR__MAX(g0 - base, 0), r1 = APR__MIN(g1 - base, n_out);
        base += n_out;
        if (r1 <= r0) continue;
        size_t row_bytes = apr_type_row_bytes(w->type, w->ne[0]);
        int64_t a = r0, b = r1;
        if (pt->packed) {
            /* whole groups of 8 from the repacked copy; rows outside them from the file's */
            int64_t g0 = (r0 + 7) / 8, g1 = APR__MIN(r1, n_out / 8 * 8) / 8;
            if (g1 > g0) {
                if (w->type == APR_TYPE_Q5_0)
                    apr__gemm_q5_0x8(j->q5x8_level, w->ne[0], (const apr__block_q5_0x8 *)pt->packed + g0 * (w->ne[0] / 32),
                                     g1 - g0, (const uint8_t *)pt->act, pt->act_stride, pt->sums, pt->sums_stride,
                                     j->n_tok, pt->y + 8 * g0, pt->y_stride);
                else if (w->type == APR_TYPE_Q4_K)
                    apr__gemm_q4_Kx8(j->q5x8_level, w->ne[0], (const apr__block_q4_Kx8 *)pt->packed + g0 * (w->ne[0] / 256),
                                     g1 - g0, (const uint8_t *)pt->act, pt->act_stride, j->n_tok, pt->y + 8 * g0,
                                     pt->y_stride);
                else
                    apr__gemm_q6_Kx8(j->q5x8_level, w->ne[0], (const apr__block_q6_Kx8 *)pt->packed + g0 * (w->ne[0] / 256),
                                     g1 - g0, (const uint8_t *)pt->act, pt->act_stride, j->n_tok, pt->y + 8 * g0,
                                     pt->y_stride);
                if (r0 < 8 * g0)
                    apr__gemm_rows(w->type, w->ne[0], (const uint8_t *)w->data + (size_t)r0 * row_bytes, row_bytes,
                                   8 * g0 - r0, pt->act, pt->act_stride, j->n_tok, pt->y + r0, pt->y_stride);
                a = 8 * g1;
            }
        }
        if (b > a)
            apr__gemm_rows(w->type, w->ne[0], (const uint8_t *)w->data + (size_t)a * row_bytes, row_bytes, b - a,
                           pt->act, pt->act_stride, j->n_tok, pt->y + a, pt->y_stride);
        if (pt->bias)
            for (int t = 0; t < j->n_tok; t++)
                for (int64_t r = r0; r < r1; r++) pt->y[(size_t)t * pt->y_stride + r] += pt->bias[r];
    }
}

static const void *apr__cpu_packed_of(const apr__cpu_model *cm, const apr_tensor_view *w) {
    for (int i = 0; i < cm->n_packed; i++)
        if (cm->packed[i].w == w) return cm->packed[i].data;
    return NULL;
}

/* y_k[t][0..n_out) = W_k x[t] + b_k for t < n_tok and the n matrices given (n <= 3; they
   share the input length). */
static void apr__cpu_matmul_n(apr__cpu_ctx *c, int n, const apr_tensor_view *const *w, const float *x,
                              int64_t x_stride, int n_tok, float *const *y, const int64_t *y_stride,
                              const apr_tensor_view *const *bias) {
    apr__mm_job j;
    int acts[3] = {-1, -1, -1};
    bool sums_done[3] = {false, false, false};
    j.q5x8_level = apr__q5x8_level(c->simd);
    j.n_part = n;
    j.n_tok = n_tok;
    j.total_rows = 0;
    for (int k = 0; k < n; k++) {
        apr__mm_part *pt = &j.part[k];
        int act = apr__type_traits_of(w[k]->type)->act_type, slot = 0;
        while (acts[slot] >= 0 && acts[slot] != act) slot++;
        if (acts[slot] < 0) {
            acts[slot] = act;
            for (int t = 0; t < n_tok; t++)
                apr__quantize_act(act, x + (size_t)t * x_stride,
                                  (uint8_t *)c->actq[slot] + (size_t)t * apr__act_row_bytes(act, w[k]->ne[0]),
                                  w[k]->ne[0]);
        }
        pt->w = w[k];
        pt->bias = bias && bias[k] && bias[k]->data ? (const float *)bias[k]->data : NULL;
        pt->y = y[k];
        pt->y_stride = y_stride[k];
        pt->act = c->actq[slot];
        pt->act_stride = apr__act_row_bytes(act, w[k]->ne[0]);
        pt->packed = c->simd >= 1 ? apr__cpu_packed_of(c->cm, w[k]) : NULL;
        pt->sums = c->act_sums;
        pt->sums_stride = c->cm->packed_max_cols / 32;
        if (pt->packed && w[k]->type == APR_TYPE_Q5_0 && !sums_done[slot]) {
            /* the parts sharing an input share its sums too (one Q8_0 slot, one width) */
            for (int t = 0; t < n_tok; t++)
                apr__q8_0_block_sums((const uint8_t *)pt->act + (size_t)t * pt->act_stride, w[k]->ne[0],
                                     c->act_sums + (size_t)t * pt->sums_stride);
            sums_done[slot] = true;
        }
        j.total_rows += w[k]->ne[1];
    }
    /* several chunks a thread, so that a thread that falls behind (or is descheduled)
       leaves its remaining rows to the others */
    int64_t n_chunks = APR__MIN((j.total_rows + 31) / 32, (int64_t)8 * c->n_threads);
    apr__pool_run_chunks(c->pool, apr__mm_worker, &j, c->n_threads > 1 ? (int)n_chunks : 1);
}

static void apr__cpu_matmul(apr__cpu_ctx *c, const apr_tensor_view *w, const float *x, int64_t x_stride,
                            int n_tok, float *y, int64_t y_stride, const apr_tensor_view *bias) {
    apr__cpu_matmul_n(c, 1, &w, x, x_stride, n_tok, &y, &y_stride, &bias);
}

/* ---- KV cache rows ------------------------------------------------------------------- */

static size_t apr__kv_row_bytes(apr_kv_type t, int64_t n) {
    if (t == APR_KV_F32) return (size_t)n * 4;
    if (t == APR_KV_Q8_0) return (size_t)(n / 32) * 34;
    return (size_t)n * 2;
}

static void apr__kv_store(apr_kv_type t, uint8_t *dst, const float *src, int64_t n) {
    if (t == APR_KV_F32) {
        memcpy(dst, src, (size_t)n * 4);
    } else if (t == APR_KV_F16) {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = apr__fp32_to_fp16(src[i]);
            memcpy(dst + 2 * i, &h, 2);
        }
    } else {
        /* Q8_0 blocks: fp16 scale then 32 int8, as ggml's */
        for (int64_t b = 0; b < n / 32; b++) {
            const float *s = src + b * 32;
            uint8_t *d = dst + b * 34;
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = APR__MAX(amax, fabsf(s[i]));
            float scale = amax / 127.0f, inv = scale ? 1.0f / scale : 0.0f;
            uint16_t h = apr__fp32_to_fp16(scale);
            memcpy(d, &h, 2);
            for (int i = 0; i < 32; i++) d[2 + i] = (uint8_t)(int8_t)lroundf(s[i] * inv);
        }
    }
}

/* Elements [off, off+n) of a stored row, as floats. */
static void apr__kv_load(apr_kv_type t, const uint8_t *row, int64_t off, int64_t n, float *dst) {
    if (t == APR_KV_F32) {
        memcpy(dst, row + 4 * off, (size_t)n * 4);
    } else if (t == APR_KV_F16) {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, row + 2 * (off + i), 2);
            dst[i] = apr__fp16_to_fp32(h);
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            int64_t e = off + i;
            const uint8_t *blk = row + (e / 32) * 34;
            uint16_t h;
            memcpy(&h, blk, 2);
            dst[i] = apr__fp16_to_fp32(h) * (float)(int8_t)blk[2 + e % 32];
        }
    }
}

static uint8_t *apr__kv_row(apr__cpu_ctx *c, uint8_t *cache, int l, int32_t seq, int32_t pos) {
    size_t idx = ((size_t)l * (size_t)c->p.n_seq + (size_t)seq) * (size_t)c->p.n_ctx + (size_t)pos;
    return cache + idx * c->kv_row_bytes;
}

/* ---- attention ----------------------------------------------------------------------- */

typedef struct apr__att_job {
    apr__cpu_ctx *c;
    int layer;
    const apr_backend_batch *b;
} apr__att_job;

/* F16 cache rows to floats: F16C where present (exact either way). */
#if defined(APR__HAVE_X86_SIMD)
APR__TARGET_AVX2 static void apr__f16_to_f32_avx2(const uint8_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + 2 * i))));
    for (; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        dst[i] = apr__fp16_to_fp32(h);
    }
}
#endif

/* The two inner loops of attention: a dot product and y += a*x over one head. */
static float apr__att_dot_ref(const float *a, const float *b, int64_t n) {
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static void apr__att_axpy_ref(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

#if defined(APR__HAVE_X86_SIMD)
APR__TARGET_AVX2 static float apr__att_dot_avx2(const float *a, const float *b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc0 = _mm256_add_ps(acc0, acc1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc0), _mm256_extractf128_ps(acc0, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float s = _mm_cvtss_f32(h);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

APR__TARGET_AVX2 static void apr__att_axpy_avx2(float *y, float a, const float *x, int64_t n) {
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

/* 512-bit: a head of 128 is 8 registers, the dot in 4 chains (the AVX2 dot's 2 chains of 8
   dependent FMAs were its latency); the tails are masked. */
APR__TARGET_AVX512 static float apr__att_dot_avx512(const float *a, const float *b, int64_t n) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps(), acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
        acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), acc2);
        acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), acc3);
    }
    for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

APR__TARGET_AVX512 static void apr__att_axpy_avx512(float *y, float a, const float *x, int64_t n) {
    const __m512 va = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}
#endif

static float apr__att_dot(int simd, const float *a, const float *b, int64_t n) {
#if defined(APR__HAVE_X86_SIMD)
    if (simd >= 2) return apr__att_dot_avx512(a, b, n);
    if (simd >= 1) return apr__att_dot_avx2(a, b, n);
#else
    (void)simd;
#endif
    return apr__att_dot_ref(a, b, n);
}

static void apr__att_axpy(int simd, float *y, float a, const float *x, int64_t n) {
#if defined(APR__HAVE_X86_SIMD)
    if (simd >= 2) { apr__att_axpy_avx512(y, a, x, n); return; }
    if (simd >= 1) { apr__att_axpy_avx2(y, a, x, n); return; }
#else
    (void)simd;
#endif
    apr__att_axpy_ref(y, a, x, n);
}

/* Softmax numerators: sc[p] = exp(sc[p] - mx) for p < n, returning their sum (libm's expf
   per score was a third of the attention worker's own time in a 512-token prompt). */
static double apr__att_exp_ref(float *sc, int64_t n, float mx) {
    double sum = 0;
    for (int64_t p = 0; p < n; p++) {
        sc[p] = expf(sc[p] - mx);
        sum += sc[p];
    }
    return sum;
}

#if defined(APR__HAVE_X86_SIMD)
/* exp(x) within 3e-7 of expf (Cephes' polynomial; exact 2^n scaling); for the softmax
   here and SwiGLU. Below -87.5 it gives ~1e-38, not 0. */
APR__TARGET_AVX2 static inline __m256 apr__exp_avx2(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.5f)), _mm256_set1_ps(88.3762626647949f));
    const __m256 n = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
    x = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    /* 2^n: n in [-126, 128) after the clamp; 2^128 is split in two factors */
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i half = _mm256_srai_epi32(ni, 1);
    const __m256 p0 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, _mm256_set1_epi32(127)), 23));
    const __m256 p1 = _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, half), _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(_mm256_mul_ps(y, p0), p1);
}

APR__TARGET_AVX2 static double apr__att_exp_avx2(float *sc, int64_t n, float mx) {
    const __m256 vm = _mm256_set1_ps(mx);
    __m256 acc = _mm256_setzero_ps();
    int64_t p = 0;
    for (; p + 8 <= n; p += 8) {
        const __m256 e = apr__exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(sc + p), vm));
        _mm256_storeu_ps(sc + p, e);
        acc = _mm256_add_ps(acc, e);
    }
    float l[8];
    _mm256_storeu_ps(l, acc);
    double sum = 0;
    for (int k = 0; k < 8; k++) sum += l[k];
    return sum + apr__att_exp_ref(sc + p, n - p, mx);
}
#endif

static double apr__att_exp(int simd, float *sc, int64_t n, float mx) {
#if defined(APR__HAVE_X86_SIMD)
    if (simd >= 1) return apr__att_exp_avx2(sc, n, mx);
#else
    (void)simd;
#endif
    return apr__att_exp_ref(sc, n, mx);
}

static void apr__kv_load_fast(int simd, apr_kv_type t, const uint8_t *row, int64_t off, int64_t n, float *dst) {
#if defined(APR__HAVE_X86_SIMD)
    if (simd >= 1 && t == APR_KV_F16) {
        apr__f16_to_f32_avx2(row + 2 * off, dst, n);
        return;
    }
#else
    (void)simd;
#endif
    apr__kv_load(t, row, off, n, dst);
}

/* One (token, kv head) pair per work item: each cached K/V slice is loaded once for all
   the query heads that share it (GQA). */
static void apr__att_worker(void *arg, int ith, int nth) {
    apr__att_job *j = (apr__att_job *)arg;
    apr__cpu_ctx *c = j->c;
    const apr_hparams *hp = &c->cm->mv->hp;
    int64_t hd = hp->head_dim, qdim = (int64_t)hp->n_head * hd;
    int group = hp->n_head / hp->n_head_kv;
    float scale = 1.0f / sqrtf((float)hd);
    float *scores = c->thread_f32 + (size_t)ith * c->thread_f32_stride;
    float *kv = scores + (size_t)group * c->p.n_ctx;
    /* interleaved: later tokens of a prompt attend to more positions */
    int64_t total = (int64_t)j->b->n_tokens * hp->n_head_kv;
    for (int64_t i = ith; i < total; i += nth) {
        int t = (int)(i / hp->n_head_kv), kvh = (int)(i % hp->n_head_kv);
        int32_t seq = j->b->seq[t], n_kv = j->b->pos[t] + 1;
        int64_t off = (int64_t)kvh * hd;
        const float *q0 = c->q + (size_t)t * qdim + (size_t)kvh * group * hd;
        for (int32_t p = 0; p < n_kv; p++) {
            apr__kv_load_fast(c->simd, c->p.kv_type, apr__kv_row(c, c->k_cache, j->layer, seq, p), off, hd, kv);
            for (int g = 0; g < group; g++) {
                scores[(size_t)g * n_kv + p] = apr__att_dot(c->simd, q0 + (size_t)g * hd, kv, hd) * scale;
            }
        }
        for (int g = 0; g < group; g++) {
            float *sc = scores + (size_t)g * n_kv, mx = -INFINITY;
            for (int32_t p = 0; p < n_kv; p++) mx = APR__MAX(mx, sc[p]);
            const double sum = apr__att_exp(c->simd, sc, n_kv, mx);
            float inv = (float)(1.0 / sum);
            for (int32_t p = 0; p < n_kv; p++) sc[p] *= inv;
        }
        float *o0 = c->att + (size_t)t * qdim + (size_t)kvh * group * hd;
        for (int64_t d = 0; d < group * hd; d++) o0[d] = 0;
        for (int32_t p = 0; p < n_kv; p++) {
            apr__kv_load_fast(c->simd, c->p.kv_type, apr__kv_row(c, c->v_cache, j->layer, seq, p), off, hd, kv);
            for (int g = 0; g < group; g++)
                apr__att_axpy(c->simd, o0 + (size_t)g * hd, scores[(size_t)g * n_kv + p], kv, hd);
        }
    }
}

static void apr__cpu_attention(apr__cpu_ctx *c, int layer, const apr_backend_batch *b) {
    apr__att_job j;
    j.c = c;
    j.layer = layer;
    j.b = b;
    apr__pool_run(c->pool, apr__att_worker, &j, c->n_threads);
}

/* ---- rope ---------------------------------------------------------------------------- */

/* cos/sin of every rotated pair for each token: theta_i = pos * scale * base^(-2i/rope_dim) */
static void apr__rope_table(apr__cpu_ctx *c, const apr_backend_batch *b) {
    const apr_hparams *hp = &c->cm->mv->hp;
    int half = hp->rope_dim / 2;
    for (int t = 0; t < b->n_tokens; t++) {
        float *cs = c->rope_cs + (size_t)t * hp->rope_dim;
        double p = (double)b->pos[t] * hp->rope_freq_scale;
        const float *ff = (const float *)c->cm->mv->rope_freqs.data;
        for (int i = 0; i < half; i++) {
            double theta = p * pow((double)hp->rope_freq_base, -2.0 * i / hp->rope_dim);
            if (ff) theta /= ff[i];
            cs[2 * i] = (float)cos(theta);
            cs[2 * i + 1] = (float)sin(theta);
        }
    }
}

static void apr__rope_apply(const apr_hparams *hp, float *v, const float *cs) {
    int half = hp->rope_dim / 2;
    for (int i = 0; i < half; i++) {
        int a = hp->rope_kind == APR_ROPE_NEOX ? i : 2 * i;
        int bb = hp->rope_kind == APR_ROPE_NEOX ? i + half : 2 * i + 1;
        float x0 = v[a], x1 = v[bb], co = cs[2 * i], si = cs[2 * i + 1];
        v[a] = x0 * co - x1 * si;
        v[bb] = x0 * si + x1 * co;
    }
}

/* ---- forward ------------------------------------------------------------------------- */

static float apr__silu(float x) { return x / (1.0f + expf(-x)); }

/* g[i] = silu(g[i]) * u[i]: the reference, and AVX2 with a polynomial exp (Cephes' expf:
   within 2 ulp of expf) and an exact division, so the result stays within a few ulp. */
static void apr__swiglu_ref(float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) g[i] = apr__silu(g[i]) * u[i];
}

#if defined(APR__HAVE_X86_SIMD)
APR__TARGET_AVX2 static void apr__swiglu_avx2(float *g, const float *u, int64_t n) {
    int64_t i = 0;
    const __m256 one = _mm256_set1_ps(1.0f), neg = _mm256_set1_ps(-0.0f);
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 e = apr__exp_avx2(_mm256_xor_ps(x, neg));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
    }
    apr__swiglu_ref(g + i, u + i, n - i);
}
#endif

static void apr__swiglu(int simd, float *g, const float *u, int64_t n) {
#if defined(APR__HAVE_X86_SIMD)
    if (simd >= 1) { apr__swiglu_avx2(g, u, n); return; }
#else
    (void)simd;
#endif
    apr__swiglu_ref(g, u, n);
}

/* SwiGLU of a prompt (n_tokens x n_ff values, ~6% of a 2-thread prefill when the caller
   did it alone) split over the pool in pieces of whole 64-float lines. */
typedef struct apr__swiglu_job {
    float *g;
    const float *u;
    int64_t n;
    int simd;
} apr__swiglu_job;

static void apr__swiglu_worker(void *arg, int ith, int nth) {
    const apr__swiglu_job *j = (const apr__swiglu_job *)arg;
    int64_t i0, i1;
    apr__split_range(j->n, 64, ith, nth, &i0, &i1);
    if (i1 > i0) apr__swiglu(j->simd, j->g + i0, j->u + i0, i1 - i0);
}

static void apr__swiglu_pool(apr__cpu_ctx *c, float *g, const float *u, int64_t n) {
    apr__swiglu_job j;
    j.g = g;
    j.u = u;
    j.n = n;
    j.simd = c->simd;
    if (c->n_threads > 1 && n >= 65536) apr__pool_run_chunks(c->pool, apr__swiglu_worker, &j, 4 * c->n_threads);
    else apr__swiglu(c->simd, g, u, n);
}

/* Layers [l0, l1) over the hidden states x (n_tokens rows of n_embd), in place. */
static apr_result apr__cpu_run_layers(apr__cpu_ctx *c, int l0, int l1, float *x, const apr_backend_batch *b) {
    const apr_model_view *mv = c->cm->mv;
    const apr_hparams *hp = &mv->hp;
    int64_t E = hp->n_embd, hd = hp->head_dim, Q = (int64_t)hp->n_head * hd, KV = (int64_t)hp->n_head_kv * hd;
    int64_t F = hp->n_ff;
    int n = b->n_tokens;
    apr__rope_table(c, b);
    for (int l = l0; l < l1; l++) {
        const apr_layer_view *L = &mv->layers[l];
        for (int t = 0; t < n; t++)
            apr__rmsnorm(c->xn + (size_t)t * E, x + (size_t)t * E, (const float *)L->attn_norm.data, E, hp->norm_eps);
        {
            const apr_tensor_view *w[3] = {&L->wq, &L->wk, &L->wv}, *bs[3] = {&L->bq, &L->bk, &L->bv};
            float *y[3] = {c->q, c->k, c->v};
            int64_t ys[3] = {Q, KV, KV};
            apr__cpu_matmul_n(c, 3, w, c->xn, E, n, y, ys, bs);
        }
        for (int t = 0; t < n; t++) {
            float *qt = c->q + (size_t)t * Q, *kt = c->k + (size_t)t * KV;
            const float *cs = c->rope_cs + (size_t)t * hp->rope_dim;
            for (int h = 0; h < hp->n_head; h++) {
                if (L->q_norm.data) apr__rmsnorm(qt + h * hd, qt + h * hd, (const float *)L->q_norm.data, hd, hp->norm_eps);
                apr__rope_apply(hp, qt + h * hd, cs);
            }
            for (int h = 0; h < hp->n_head_kv; h++) {
                if (L->k_norm.data) apr__rmsnorm(kt + h * hd, kt + h * hd, (const float *)L->k_norm.data, hd, hp->norm_eps);
                apr__rope_apply(hp, kt + h * hd, cs);
            }
            apr__kv_store(c->p.kv_type, apr__kv_row(c, c->k_cache, l, b->seq[t], b->pos[t]), kt, KV);
            apr__kv_store(c->p.kv_type, apr__kv_row(c, c->v_cache, l, b->seq[t], b->pos[t]), c->v + (size_t)t * KV, KV);
        }
        apr__cpu_attention(c, l, b);
        apr__cpu_matmul(c, &L->wo, c->att, Q, n, c->xn, E, &L->bo);
        for (int64_t i = 0; i < (int64_t)n * E; i++) x[i] += c->xn[i];
        for (int t = 0; t < n; t++)
            apr__rmsnorm(c->xn + (size_t)t * E, x + (size_t)t * E, (const float *)L->ffn_norm.data, E, hp->norm_eps);
        {
            const apr_tensor_view *w[2] = {&L->ffn_gate, &L->ffn_up};
            float *y[2] = {c->gate, c->up};
            int64_t ys[2] = {F, F};
            apr__cpu_matmul_n(c, 2, w, c->xn, E, n, y, ys, NULL);
        }
        apr__swiglu_pool(c, c->gate, c->up, (int64_t)n * F);
        apr__cpu_matmul(c, &L->ffn_down, c->gate, F, n, c->xn, E, NULL);
        for (int64_t i = 0; i < (int64_t)n * E; i++) x[i] += c->xn[i];
    }
    return APR_SUCCESS;
}

static apr_result apr__cpu_forward(void *state, const apr_backend_batch *b, float *logits) {
    apr__cpu_ctx *c = (apr__cpu_ctx *)state;
    const apr_model_view *mv = c->cm->mv;
    const apr_hparams *hp = &mv->hp;
    int64_t E = hp->n_embd;
    if (b->n_tokens < 0 || b->n_tokens > c->p.n_batch || b->n_out < 0 || b->n_out > b->n_tokens)
        return APR_ERROR_INVALID_ARGUMENT;
    if (b->n_tokens == 0) return APR_SUCCESS;
    size_t row = apr_type_row_bytes(mv->tok_embd.type, E);
    for (int t = 0; t < b->n_tokens; t++) {
        int32_t tok = b->tokens[t];
        if (tok < 0 || tok >= hp->n_vocab || b->pos[t] < 0 || b->pos[t] >= c->p.n_ctx || b->seq[t] < 0 ||
            b->seq[t] >= c->p.n_seq)
            return APR_ERROR_INVALID_ARGUMENT;
        apr_dequantize_row(mv->tok_embd.type, (const uint8_t *)mv->tok_embd.data + (size_t)tok * row,
                           c->x + (size_t)t * E, E);
    }
    apr_result r = apr__cpu_run_layers(c, 0, hp->n_layer, c->x, b);
    if (r != APR_SUCCESS || b->n_out == 0) return r;
    for (int i = 0; i < b->n_out; i++) {
        int32_t t = b->out_rows[i];
        if (t < 0 || t >= b->n_tokens) return APR_ERROR_INVALID_ARGUMENT;
        apr__rmsnorm(c->out_h + (size_t)i * E, c->x + (size_t)t * E, (const float *)mv->output_norm.data, E,
                     hp->norm_eps);
    }
    apr__cpu_matmul(c, &mv->output, c->out_h, E, b->n_out, logits, hp->n_vocab, NULL);
    return APR_SUCCESS;
}

/* ---- model / context state ----------------------------------------------------------- */

static void apr__cpu_model_free(void *state) {
    apr__cpu_model *cm = (apr__cpu_model *)state;
    if (!cm) return;
    for (int i = 0; i < cm->n_packed; i++) APR_FREE(cm->packed[i].data);
    APR_FREE(cm->packed);
    APR_FREE(cm);
}

typedef struct apr__repack_job {
    const apr_tensor_view *w;
    uint8_t *dst;
    int64_t groups;
} apr__repack_job;

static APR__UNUSED void apr__repack_worker(void *arg, int ith, int nth) {
    const apr__repack_job *j = (const apr__repack_job *)arg;
    const apr_tensor_view *w = j->w;
    const size_t row_bytes = apr_type_row_bytes(w->type, w->ne[0]);
    int64_t g0, g1;
    apr__split_range(j->groups, 1, ith, nth, &g0, &g1);
    for (int64_t g = g0; g < g1; g++) {
        const uint8_t *src = (const uint8_t *)w->data + (size_t)(8 * g) * row_bytes;
        if (w->type == APR_TYPE_Q5_0)
            apr__repack_q5_0x8(src, row_bytes, w->ne[0], (apr__block_q5_0x8 *)j->dst + g * (w->ne[0] / 32));
        else if (w->type == APR_TYPE_Q4_K)
            apr__repack_q4_Kx8(src, row_bytes, w->ne[0], (apr__block_q4_Kx8 *)j->dst + g * (w->ne[0] / 256));
        else
            apr__repack_q6_Kx8(src, row_bytes, w->ne[0], (apr__block_q6_Kx8 *)j->dst + g * (w->ne[0] / 256));
    }
}

/* The file pages of rows that now come from a repacked copy are not read again: drop them
   from this process (1.5B: peak RSS 1.9 GB -> 1.1 GB). Only inside the model's own
   read-only private file mapping, where a later read (e.g. an embedding row of a tied
   output matrix) refills the page from the file; never in a caller's buffer
   (apr_model_load_memory), which MADV_DONTNEED could zero. */
static APR__UNUSED void apr__cpu_drop_file_pages(const apr__cpu_model *cm, const void *data, uint64_t bytes) {
#if !defined(_WIN32)
    const long page = sysconf(_SC_PAGESIZE);
    const uint8_t *p = (const uint8_t *)data;
    if (page <= 0 || !p || !cm->map_lo || p < cm->map_lo || bytes > (uint64_t)(cm->map_hi - p)) return;
    const uintptr_t a = ((uintptr_t)p + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;
    const uintptr_t b = ((uintptr_t)p + (uintptr_t)bytes) / (uintptr_t)page * (uintptr_t)page;
    if (b > a) (void)madvise((void *)a, (size_t)(b - a), MADV_DONTNEED);
#else
    (void)cm;
    (void)data;
    (void)bytes;
#endif
}

/* Load-time repacking for the SIMD kernels (x86): Q5_0, Q4_K and Q6_K matrices of 8 rows or more
   into 8-row groups (their bytes again in memory; the file's copy is no longer read).
   Not done when the kernels are capped to the scalar reference at load time. */
static bool apr__cpu_repack(apr__cpu_model *cm, int n_layers) {
#if defined(APR__HAVE_X86_SIMD)
    const apr_model_view *mv = cm->mv;
    const apr_hparams *hp = &mv->hp;
    if (apr__simd_level() < 1) return true;
    cm->packed = (apr__cpu_packed *)apr__calloc((size_t)hp->n_layer * 7 + 1, sizeof *cm->packed);
    if (!cm->packed) return false;
    /* repacking reads the whole file once: all cores (a pool of one if threads fail) */
    apr__pool *pool = apr__pool_create(apr_cpu_count());
    bool ok = true;
    /* the output matrix too when every layer runs here (else it runs on the GPU): it is a
       fifth of what a token reads in Qwen2.5-1.5B (Q6_K), and the 8-row groups stream
       about 1.8x faster than its rows through vec_dot (one token, 512-bit kernels) */
    for (int l = n_layers == hp->n_layer ? -1 : 0; l < n_layers && ok; l++) {
        const apr_tensor_view *ws[7] = {&mv->output};
        if (l >= 0) {
            const apr_layer_view *L = &mv->layers[l];
            ws[0] = &L->wq; ws[1] = &L->wk; ws[2] = &L->wv; ws[3] = &L->wo;
            ws[4] = &L->ffn_gate; ws[5] = &L->ffn_up; ws[6] = &L->ffn_down;
        }
        for (int i = 0; i < (l < 0 ? 1 : 7); i++) {
            const apr_tensor_view *w = ws[i];
            const bool q5 = w->type == APR_TYPE_Q5_0 && w->ne[0] % 32 == 0;
            const bool q4k = w->type == APR_TYPE_Q4_K && w->ne[0] % 256 == 0;
            const bool q6k = w->type == APR_TYPE_Q6_K && w->ne[0] % 256 == 0;
            if ((!q5 && !q4k && !q6k) || !w->data || w->ne[1] < 8) continue;
            const int64_t nb = w->ne[0] / (q5 ? 32 : 256), groups = w->ne[1] / 8;
            const size_t blk = q5    ? sizeof(apr__block_q5_0x8)
                               : q4k ? sizeof(apr__block_q4_Kx8)
                                     : sizeof(apr__block_q6_Kx8);
            uint64_t bytes;
            uint8_t *dst = NULL;
            if (!apr__mul_overflow_u64((uint64_t)(nb * groups), blk, &bytes) && bytes <= (uint64_t)SIZE_MAX)
                dst = (uint8_t *)APR_MALLOC((size_t)bytes);
            if (!dst) { ok = false; break; }
            apr__repack_job job;
            job.w = w;
            job.dst = dst;
            job.groups = groups;
            apr__pool_run_chunks(pool, apr__repack_worker, &job, (int)APR__MIN(groups, (int64_t)256));
            apr__cpu_drop_file_pages(cm, w->data, (uint64_t)(8 * groups) * apr_type_row_bytes(w->type, w->ne[0]));
            cm->packed[cm->n_packed].w = w;
            cm->packed[cm->n_packed].data = dst;
            cm->n_packed++;
            if (q5) cm->packed_max_cols = APR__MAX(cm->packed_max_cols, w->ne[0]);
        }
    }
    apr__pool_free(pool);
    return ok;
#else
    (void)cm;
    (void)n_layers;
    return true;
#endif
}

static apr_result apr__cpu_model_load(const apr_model_view *mv, const apr_backend_host *host, int32_t n_gpu_layers,
                                      void **state, char *err, size_t err_size) {
    apr__cpu_model *cm = (apr__cpu_model *)apr__calloc(1, sizeof *cm);
    if (!cm) {
        snprintf(err, err_size, "out of memory");
        return APR_ERROR_OUT_OF_MEMORY;
    }
    cm->mv = mv;
    if (host) {
        cm->log.fn = (apr_log_fn)host->log;
        cm->log.user = host->log_user;
        cm->log.level = APR_LOG_DEBUG;
    }
    const apr_hparams *hp = &mv->hp;
    cm->kv_layers = hp->n_layer;
    /* activation buffers hold the input of one matrix in its activation type: 4 bytes an
       element for float weights, about 1.1 for the quantized ones */
    cm->max_act_row = 0;
    for (int l = -1; l < hp->n_layer; l++) {
        const apr_tensor_view *ws[7];
        int n = 0;
        if (l < 0) {
            ws[n++] = &mv->output;
        } else {
            const apr_layer_view *L = &mv->layers[l];
            ws[n++] = &L->wq; ws[n++] = &L->wk; ws[n++] = &L->wv; ws[n++] = &L->wo;
            ws[n++] = &L->ffn_gate; ws[n++] = &L->ffn_up; ws[n++] = &L->ffn_down;
        }
        for (int i = 0; i < n; i++) {
            const apr__type_traits *tt = apr__type_traits_of(ws[i]->type);
            size_t b = tt ? apr__act_row_bytes(tt->act_type, ws[i]->ne[0]) : 0;
            cm->max_act_row = APR__MAX(cm->max_act_row, b);
        }
    }
    /* the weights lie in the model's own file mapping when the host is apr's model and
       that model mapped a file (not apr_model_load_memory's caller buffer) */
    if (host && host->cpu_user && &((const apr_model *)host->cpu_user)->view == mv) {
        const apr_gguf *g = ((const apr_model *)host->cpu_user)->gguf;
        if (g && g->map.data && g->map.size <= (uint64_t)SIZE_MAX) {
            cm->map_lo = (const uint8_t *)g->map.data;
            cm->map_hi = cm->map_lo + (size_t)g->map.size;
        }
    }
    /* under partial offload only the first n_layer - n_gpu_layers layers run here */
    if (!apr__cpu_repack(cm, hp->n_layer - APR__MAX(0, APR__MIN(n_gpu_layers, hp->n_layer)))) {
        apr__cpu_model_free(cm);
        snprintf(err, err_size, "out of memory for repacked weights");
        return APR_ERROR_OUT_OF_MEMORY;
    }
    *state = cm;
    return APR_SUCCESS;
}

static const char *apr__cpu_device_name(void *state) {
    (void)state;
    return "CPU";
}

static void apr__cpu_context_free(void *state) {
    apr__cpu_ctx *c = (apr__cpu_ctx *)state;
    if (!c) return;
    apr__pool_free(c->pool);
    APR_FREE(c->k_cache);
    APR_FREE(c->v_cache);
    APR_FREE(c->x);
    APR_FREE(c->thread_f32);
    APR_FREE(c->actq[0]);
    APR_FREE(c->actq[1]);
    APR_FREE(c->actq[2]);
    APR_FREE(c->act_sums);
    APR_FREE(c);
}

static float *apr__cpu_alloc_f32(uint64_t n, bool *ok) {
    if (n == 0) n = 1;
    if (n > (uint64_t)SIZE_MAX / sizeof(float)) { *ok = false; return NULL; }
    float *p = (float *)APR_MALLOC((size_t)n * sizeof(float));
    if (!p) *ok = false;
    return p;
}

static apr_result apr__cpu_context_create(void *model_state, const apr_backend_context_params *p, void **out,
                                          char *err, size_t err_size) {
    const apr__cpu_model *cm = (const apr__cpu_model *)model_state;
    const apr_hparams *hp = &cm->mv->hp;
    apr__cpu_ctx *c = (apr__cpu_ctx *)apr__calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, err_size, "out of memory");
        return APR_ERROR_OUT_OF_MEMORY;
    }
    c->cm = cm;
    c->p = *p;
    int64_t hd = hp->head_dim, KV = (int64_t)hp->n_head_kv * hd, Q = (int64_t)hp->n_head * hd;
    if (c->p.kv_type == APR_KV_Q8_0 && KV % 32 != 0) {
        apr__log(&cm->log, APR_LOG_WARN, "Q8_0 KV cache needs kv width %lld to be a multiple of 32: using F16",
                 (long long)KV);
        c->p.kv_type = APR_KV_F16;
    }
    if (c->p.kv_type != APR_KV_F16 && c->p.kv_type != APR_KV_F32 && c->p.kv_type != APR_KV_Q8_0) {
        snprintf(err, err_size, "unknown KV cache type %d", (int)c->p.kv_type);
        APR_FREE(c);
        return APR_ERROR_INVALID_ARGUMENT;
    }
    c->n_threads = p->n_threads > 0 ? p->n_threads : apr_cpu_count();
    c->simd = apr__simd_level();
    c->kv_row_bytes = apr__kv_row_bytes(c->p.kv_type, KV);
    uint64_t kv_bytes = 0, nb = (uint64_t)p->n_batch;
    bool ok = !apr__mul_overflow_u64((uint64_t)cm->kv_layers * (uint64_t)p->n_seq, (uint64_t)p->n_ctx, &kv_bytes) &&
              !apr__mul_overflow_u64(kv_bytes, c->kv_row_bytes, &kv_bytes) && kv_bytes < (uint64_t)SIZE_MAX;
    if (ok) {
        c->k_cache = (uint8_t *)APR_MALLOC((size_t)kv_bytes);
        c->v_cache = (uint8_t *)APR_MALLOC((size_t)kv_bytes);
        ok = c->k_cache && c->v_cache;
    }
    /* one block of activations: x, xn, q, k, v, att, gate, up, rope, out_h */
    uint64_t E = (uint64_t)hp->n_embd, F = (uint64_t)hp->n_ff;
    uint64_t per_tok = E + APR__MAX(E, (uint64_t)Q) + (uint64_t)Q + 2 * (uint64_t)KV + (uint64_t)Q + 2 * F +
                       (uint64_t)hp->rope_dim + E;
    if (ok) c->x = apr__cpu_alloc_f32(per_tok * nb, &ok);
    if (ok) {
        float *f = c->x + E * nb;
        c->xn = f; f += APR__MAX(E, (uint64_t)Q) * nb;
        c->q = f; f += (uint64_t)Q * nb;
        c->k = f; f += (uint64_t)KV * nb;
        c->v = f; f += (uint64_t)KV * nb;
        c->att = f; f += (uint64_t)Q * nb;
        c->gate = f; f += F * nb;
        c->up = f; f += F * nb;
        c->rope_cs = f; f += (uint64_t)hp->rope_dim * nb;
        c->out_h = f;
        c->thread_f32_stride = (size_t)((int64_t)(hp->n_head / hp->n_head_kv) * p->n_ctx + hd + 64);
        c->thread_f32 = apr__cpu_alloc_f32((uint64_t)c->thread_f32_stride * (uint64_t)c->n_threads, &ok);
    }
    if (ok) {
        uint64_t act_floats = ((uint64_t)cm->max_act_row + 3) / 4 * nb;
        for (int k = 0; k < 3 && ok; k++) c->actq[k] = apr__cpu_alloc_f32(act_floats, &ok);
    }
    if (ok && cm->packed_max_cols > 0)
        c->act_sums = (int32_t *)apr__cpu_alloc_f32((uint64_t)(cm->packed_max_cols / 32) * nb, &ok);
    if (ok) {
        c->pool = apr__pool_create(c->n_threads);
        ok = c->pool != NULL;
        if (ok) c->n_threads = c->pool->n_threads;
    }
    if (!ok) {
        apr__cpu_context_free(c);
        snprintf(err, err_size, "out of memory for a context of %d positions x %d sequences", p->n_ctx, p->n_seq);
        return APR_ERROR_OUT_OF_MEMORY;
    }
    *out = c;
    return APR_SUCCESS;
}

static void apr__cpu_seq_truncate(void *state, int32_t seq, int32_t n_keep) {
    /* positions are overwritten in place; the context tracks lengths */
    (void)state; (void)seq; (void)n_keep;
}

static int apr__cpu_launches_per_token(void *state) {
    (void)state;
    return 0;
}

static uint64_t apr__cpu_memory_used(void *state) {
    (void)state;
    return 0;
}

/* Partial offload: the CUDA plugin runs layers it did not take through this. */
static apr_result apr__cpu_host_layers(void *cpu_user, void *cpu_ctx, int32_t l0, int32_t l1, float *hidden,
                                       const apr_backend_batch *batch) {
    (void)cpu_user;
    apr__cpu_ctx *c = (apr__cpu_ctx *)cpu_ctx;
    if (!c || !hidden || !batch || l0 < 0 || l1 > c->cm->kv_layers || l0 > l1 ||
        batch->n_tokens < 0 || batch->n_tokens > c->p.n_batch)
        return APR_ERROR_INVALID_ARGUMENT;
    for (int32_t t = 0; t < batch->n_tokens; t++)
        if (batch->pos[t] < 0 || batch->pos[t] >= c->p.n_ctx || batch->seq[t] < 0 || batch->seq[t] >= c->p.n_seq)
            return APR_ERROR_INVALID_ARGUMENT;
    if (l0 == l1 || batch->n_tokens == 0) return APR_SUCCESS;
    return apr__cpu_run_layers(c, l0, l1, hidden, batch);
}

static const apr_backend_vtable apr__cpu_backend = {
    APR_BACKEND_ABI,
    "CPU",
    apr__cpu_model_load,
    apr__cpu_model_free,
    apr__cpu_device_name,
    apr__cpu_context_create,
    apr__cpu_context_free,
    apr__cpu_forward,
    NULL,
    apr__cpu_seq_truncate,
    apr__cpu_launches_per_token,
    apr__cpu_memory_used,
};

/* ====================================================================================
   CUDA loader: finds libapr_cuda (the plugin built from apr_cuda.cu), resolves its one
   entry point and checks the plugin ABI. apr never links CUDA: when anything here fails
   the model runs on the CPU and the log says why, once, at INFO level.
   ==================================================================================== */

#if defined(_WIN32)
#define APR__CUDA_LIB_NAME "apr_cuda.dll"
#elif defined(__APPLE__)
#define APR__CUDA_LIB_NAME "libapr_cuda.dylib"
#else
#define APR__CUDA_LIB_NAME "libapr_cuda.so"
#endif

/* Open one candidate and check it. Returns 1 on success, 0 if the file could not be
   opened (try the next place), -1 if it opened but is unusable (stop: a library that is
   found but broken should be reported, not silently skipped for another copy). */
static int apr__cuda_try(const char *path, const apr__logger *log, void **lib,
                         const apr_backend_vtable **vt, char *why, size_t why_size) {
    void *h = apr__dl_open(path);
    if (!h) {
        snprintf(why, why_size, "cannot open %s", path);
        return 0;
    }
    apr_backend_entry_fn entry = NULL;
    void *sym = apr__dl_sym(h, APR_CUDA_ENTRY_NAME);
    /* object pointer -> function pointer: the only portable spelling is a memcpy */
    memcpy(&entry, &sym, sizeof entry < sizeof sym ? sizeof entry : sizeof sym);
    if (!sym || !entry) {
        snprintf(why, why_size, "%s has no symbol %s", path, APR_CUDA_ENTRY_NAME);
        apr__dl_close(h);
        return -1;
    }
    const apr_backend_vtable *v = entry(APR_BACKEND_ABI);
    if (!v || v->abi_version != APR_BACKEND_ABI) {
        snprintf(why, why_size, "%s speaks plugin ABI %u, apr needs %u", path,
                 v ? (unsigned)v->abi_version : 0u, (unsigned)APR_BACKEND_ABI);
        apr__dl_close(h);
        return -1;
    }
    if (!v->model_load || !v->model_free || !v->context_create || !v->context_free ||
        !v->forward) {
        snprintf(why, why_size, "%s has an incomplete backend table", path);
        apr__dl_close(h);
        return -1;
    }
    (void)log;
    *lib = h;
    *vt = v;
    return 1;
}

/* Search order: explicit_path, $APR_CUDA_PATH, beside the executable, the system's
   library path. An explicit path or $APR_CUDA_PATH that fails ends the search (the user
   asked for that file). */
static bool apr__cuda_plugin_open(const char *explicit_path, const apr__logger *log,
                                  void **lib, const apr_backend_vtable **vt) {
    char why[1200];
    char path[1100];
    int r = 0;
    *lib = NULL;
    *vt = NULL;
    why[0] = 0;
    const char *env = getenv("APR_CUDA_PATH");
    if (explicit_path && *explicit_path) {
        r = apr__cuda_try(explicit_path, log, lib, vt, why, sizeof why);
        if (r == 0) r = -1;
    } else if (env && *env) {
        r = apr__cuda_try(env, log, lib, vt, why, sizeof why);
        if (r == 0) {
            snprintf(why, sizeof why, "cannot open APR_CUDA_PATH=%s", env);
            r = -1;
        }
    } else {
        char dir[1024];
        apr__exe_dir(dir, sizeof dir);
        if (dir[0]) {
            snprintf(path, sizeof path, "%s%s", dir, APR__CUDA_LIB_NAME);
            r = apr__cuda_try(path, log, lib, vt, why, sizeof why);
        }
        if (r == 0) {
            r = apr__cuda_try(APR__CUDA_LIB_NAME, log, lib, vt, why, sizeof why);
            if (r == 0) snprintf(why, sizeof why, "%s not found", APR__CUDA_LIB_NAME);
        }
    }
    if (r == 1) {
        apr__log(log, APR_LOG_DEBUG, "CUDA backend plugin loaded (%s)", (*vt)->name ? (*vt)->name : "?");
        return true;
    }
    apr__log(log, APR_LOG_INFO, "CUDA backend not available (%s): using the CPU", why);
    *lib = NULL;
    *vt = NULL;
    return false;
}

static void apr__cuda_plugin_close(void *lib) { apr__dl_close(lib); }

/* =====================================================================================
   Backend choice and context: the KV cache and positions of one or more sequences.
   The context validates the caller's batch (tokens, sequences, positions against
   n_ctx) before anything runs, so a rejected batch changes nothing; then it splits the
   batch into passes of at most n_batch tokens for the backend.
   ===================================================================================== */

static void apr__host_log(void *user, apr_log_level level, const char *message) {
    const apr__logger *lg = (const apr__logger *)user;
    if (lg && lg->fn && level <= lg->level) lg->fn(lg->user, level, message);
}

static apr_result apr__host_cpu_layers(void *cpu_user, void *plugin_ctx, int32_t l0, int32_t l1, float *hidden,
                                       const apr_backend_batch *batch);

static apr_result apr__model_attach_backend(apr_model *m, const apr_model_params *p, apr_error *err) {
    char msg[256];
    msg[0] = 0;
    m->host.log = apr__host_log;
    m->host.log_user = &m->log;
    m->host.cpu_user = m;
    m->host.cpu_layers = apr__host_cpu_layers;
    bool try_cuda = !p->cpu_only && p->n_gpu_layers != 0;
#if defined(APR__CUDA_LIB_NAME) /* the CUDA loader section is present */
    if (try_cuda) {
        void *lib = NULL;
        const apr_backend_vtable *vt = NULL;
        if (apr__cuda_plugin_open(p->cuda_path, &m->log, &lib, &vt)) {
            int32_t ngl = p->n_gpu_layers < 0 ? m->view.hp.n_layer : p->n_gpu_layers;
            apr_result r = APR_SUCCESS;
            if (ngl < m->view.hp.n_layer) {
                /* some layers stay on the CPU: the plugin calls back into the CPU backend */
                r = apr__cpu_backend.model_load(&m->view, &m->host, ngl, &m->cpu_state, msg, sizeof msg);
                /* the plugin takes the last ngl layers; the CPU caches only the first ones */
                if (r == APR_SUCCESS) ((apr__cpu_model *)m->cpu_state)->kv_layers = m->view.hp.n_layer - ngl;
            }
            if (r == APR_SUCCESS)
                r = vt->model_load(&m->view, &m->host, ngl, &m->backend_state, msg, sizeof msg);
            if (r == APR_SUCCESS) {
                m->backend = vt;
                m->cuda_lib = lib;
                return APR_SUCCESS;
            }
            apr__log(&m->log, APR_LOG_INFO, "CUDA backend could not load the model (%s): using the CPU", msg);
            if (m->cpu_state) apr__cpu_backend.model_free(m->cpu_state);
            m->cpu_state = NULL;
            apr__cuda_plugin_close(lib);
        }
    }
#else
    (void)try_cuda;
#endif
    apr_result r = apr__cpu_backend.model_load(&m->view, &m->host, 0, &m->backend_state, msg, sizeof msg);
    if (r != APR_SUCCESS) return apr__fail(err, r, "CPU backend: %s", msg);
    m->backend = &apr__cpu_backend;
    return APR_SUCCESS;
}

static void apr__model_detach_backend(apr_model *m) {
    if (m->backend && m->backend_state) m->backend->model_free(m->backend_state);
    m->backend_state = NULL;
    if (m->cpu_state) apr__cpu_backend.model_free(m->cpu_state);
    m->cpu_state = NULL;
#if defined(APR__CUDA_LIB_NAME) /* the CUDA loader section is present */
    if (m->cuda_lib) apr__cuda_plugin_close(m->cuda_lib);
#endif
    m->cuda_lib = NULL;
    m->backend = NULL;
}

/* ---- context ------------------------------------------------------------------------- */

struct apr_context {
    apr_model *model;
    const apr_backend_vtable *vt;
    void *state;
    void *cpu_state;             /* partial offload: the CPU backend's context for the
                                    layers that stay on the host */
    struct apr_context *next;    /* model->contexts */
    apr_backend_context_params bp;
    int32_t *seq_len;            /* tokens held per sequence */
    int32_t *tmp_len;            /* n_seq: validation scratch */
    int32_t *touched;            /* n_seq: sequence already seen in this batch */
    int32_t *b_pos, *b_seq, *b_out;  /* n_batch each: one backend pass */
    float *logits;
    int32_t n_logits;
    size_t logits_cap;           /* rows */
    char last_error[512];
};

APR__IMPL apr_context_params apr_context_default_params(void) {
    apr_context_params p;
    memset(&p, 0, sizeof p);
    p.kv_type = APR_KV_F16;
    return p;
}

/* Partial offload: the plugin passes its own context state; the model finds the CPU half
   of that context (a NULL plugin context is accepted when the model has one context). */
static apr_result apr__host_cpu_layers(void *cpu_user, void *plugin_ctx, int32_t l0, int32_t l1, float *hidden,
                                       const apr_backend_batch *batch) {
    apr_model *m = (apr_model *)cpu_user;
    if (!m) return APR_ERROR_INVALID_ARGUMENT;
    void *cpu = NULL;
    int n = 0;
    apr__mutex_lock(&m->ctx_mutex);
    for (apr_context *c = m->contexts; c; c = c->next) {
        n++;
        if (c->state == plugin_ctx) cpu = c->cpu_state;
    }
    if (!cpu && !plugin_ctx && n == 1) cpu = m->contexts->cpu_state;
    apr__mutex_unlock(&m->ctx_mutex);
    if (!cpu) return APR_ERROR_INVALID_ARGUMENT;
    return apr__cpu_host_layers(m->cpu_state, cpu, l0, l1, hidden, batch);
}

APR__IMPL void apr_context_free(apr_context *ctx) {
    if (!ctx) return;
    apr_model *m = ctx->model;
    apr__mutex_lock(&m->ctx_mutex);
    for (apr_context **pp = &m->contexts; *pp; pp = &(*pp)->next)
        if (*pp == ctx) { *pp = ctx->next; break; }
    apr__mutex_unlock(&m->ctx_mutex);
    if (ctx->state) ctx->vt->context_free(ctx->state);
    if (ctx->cpu_state) apr__cpu_backend.context_free(ctx->cpu_state);
    APR_FREE(ctx->seq_len);
    APR_FREE(ctx->logits);
    APR_FREE(ctx);
}

APR__IMPL apr_result apr_context_create(apr_model *model, const apr_context_params *params, apr_context **out,
                                        apr_error *err) {
    apr__error_clear(err);
    if (!out) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_context_create: out is NULL");
    *out = NULL;
    if (!model || !model->backend) return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_context_create: no model");
    apr_context_params p = params ? *params : apr_context_default_params();
    if (p.n_ctx < 0 || p.n_batch < 0 || p.n_seq < 0 || p.n_threads < 0 || p.n_seq > 4096)
        return apr__fail(err, APR_ERROR_INVALID_ARGUMENT, "apr_context_create: negative or huge parameter");
    apr_backend_context_params bp;
    memset(&bp, 0, sizeof bp);
    int32_t train = model->view.hp.n_ctx_train;
    bp.n_ctx = p.n_ctx ? p.n_ctx : (train > 0 && train < 4096 ? train : 4096);
    bp.n_seq = p.n_seq ? p.n_seq : 1;
    bp.n_batch = p.n_batch ? p.n_batch : 512;
    /* a pass never holds more tokens than the cache has room for */
    if ((int64_t)bp.n_batch > (int64_t)bp.n_ctx * bp.n_seq) bp.n_batch = (int32_t)APR__MIN((int64_t)bp.n_ctx * bp.n_seq, (int64_t)1 << 24);
    bp.n_threads = p.n_threads ? p.n_threads : model->n_threads;
    bp.kv_type = p.kv_type;
    apr_context *c = (apr_context *)apr__calloc(1, sizeof *c);
    if (!c) return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory");
    c->model = model;
    c->vt = model->backend;
    c->bp = bp;
    c->seq_len = (int32_t *)apr__calloc((size_t)3 * (size_t)bp.n_seq + (size_t)3 * (size_t)bp.n_batch, sizeof(int32_t));
    if (!c->seq_len) {
        APR_FREE(c);
        return apr__fail(err, APR_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    c->tmp_len = c->seq_len + bp.n_seq;
    c->touched = c->tmp_len + bp.n_seq;
    c->b_pos = c->touched + bp.n_seq;
    c->b_seq = c->b_pos + bp.n_batch;
    c->b_out = c->b_seq + bp.n_batch;
    char msg[256];
    msg[0] = 0;
    apr_result r = APR_SUCCESS;
    if (model->cpu_state) r = apr__cpu_backend.context_create(model->cpu_state, &bp, &c->cpu_state, msg, sizeof msg);
    if (r == APR_SUCCESS) r = c->vt->context_create(model->backend_state, &bp, &c->state, msg, sizeof msg);
    if (r != APR_SUCCESS) {
        c->state = NULL;
        apr_context_free(c);
        return apr__fail(err, r, "context: %s", msg);
    }
    apr__mutex_lock(&model->ctx_mutex);
    c->next = model->contexts;
    model->contexts = c;
    apr__mutex_unlock(&model->ctx_mutex);
    *out = c;
    return APR_SUCCESS;
}

APR__IMPL const apr_model *apr_context_model(const apr_context *ctx) { return ctx ? ctx->model : NULL; }
APR__IMPL int apr_context_n_ctx(const apr_context *ctx) { return ctx ? ctx->bp.n_ctx : 0; }
APR__IMPL int apr_context_n_seq(const apr_context *ctx) { return ctx ? ctx->bp.n_seq : 0; }
APR__IMPL const char *apr_context_last_error(const apr_context *ctx) { return ctx ? ctx->last_error : ""; }

static APR__PRINTF(3, 4) apr_result apr__ctx_fail(apr_context *c, apr_result code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->last_error, sizeof c->last_error, fmt, ap);
    va_end(ap);
    return code;
}

/* The whole of apr_decode / apr_eval / apr_decode_argmax: seq_all is used when the batch
   has no seq array; argmax_out (may be NULL) receives the argmax of each wanted row. */
static apr_result apr__decode(apr_context *c, const apr_batch *batch, int32_t seq_all, int32_t *argmax_out) {
    if (!c) return APR_ERROR_INVALID_ARGUMENT;
    c->last_error[0] = 0;
    if (!batch || batch->n_tokens < 0 || (batch->n_tokens > 0 && !batch->tokens))
        return apr__ctx_fail(c, APR_ERROR_INVALID_ARGUMENT, "apr_decode: bad batch");
    int32_t n = batch->n_tokens, n_vocab = c->model->view.hp.n_vocab, n_seq = c->bp.n_seq;
    c->n_logits = 0;
    if (n == 0) return APR_SUCCESS;
    /* validate everything before touching any state */
    memcpy(c->tmp_len, c->seq_len, (size_t)n_seq * sizeof(int32_t));
    memset(c->touched, 0, (size_t)n_seq * sizeof(int32_t));
    int32_t n_out = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t tok = batch->tokens[i];
        int32_t s = batch->seq ? batch->seq[i] : seq_all;
        if (tok < 0 || tok >= n_vocab)
            return apr__ctx_fail(c, APR_ERROR_INVALID_ARGUMENT, "token %d (batch index %d) is outside the vocabulary of %d",
                                 tok, i, n_vocab);
        if (s < 0 || s >= n_seq)
            return apr__ctx_fail(c, APR_ERROR_INVALID_ARGUMENT, "sequence %d (batch index %d) is outside [0, %d)", s, i, n_seq);
        int32_t p = batch->pos ? batch->pos[i] : c->tmp_len[s];
        if (p < 0 || p > c->tmp_len[s])
            return apr__ctx_fail(c, APR_ERROR_INVALID_ARGUMENT,
                                 "position %d (batch index %d) of sequence %d would leave a gap: it holds %d tokens",
                                 p, i, s, c->tmp_len[s]);
        if (p < c->tmp_len[s] && c->touched[s])
            return apr__ctx_fail(c, APR_ERROR_INVALID_ARGUMENT,
                                 "position %d (batch index %d) of sequence %d goes back inside the same batch", p, i, s);
        if (p >= c->bp.n_ctx)
            return apr__ctx_fail(c, APR_ERROR_CONTEXT_FULL, "context full: position %d of sequence %d, n_ctx %d", p, s,
                                 c->bp.n_ctx);
        c->tmp_len[s] = p + 1;
        c->touched[s] = 1;
        bool want = batch->want_logits ? batch->want_logits[i] != 0 : i == n - 1;
        if (want) n_out++;
    }
    if (!argmax_out || !c->vt->forward_argmax) {
        if ((size_t)n_out > c->logits_cap) {
            uint64_t bytes;
            if (apr__mul_overflow_u64((uint64_t)n_out, (uint64_t)n_vocab * sizeof(float), &bytes) || bytes > SIZE_MAX)
                return apr__ctx_fail(c, APR_ERROR_OUT_OF_MEMORY, "too many logits rows");
            float *l = (float *)APR_REALLOC(c->logits, (size_t)bytes);
            if (!l) return apr__ctx_fail(c, APR_ERROR_OUT_OF_MEMORY, "out of memory for %d logits rows", n_out);
            c->logits = l;
            c->logits_cap = (size_t)n_out;
        }
    }
    /* sequences that go back: drop what follows */
    memset(c->touched, 0, (size_t)n_seq * sizeof(int32_t));
    for (int32_t i = 0; i < n; i++) {
        int32_t s = batch->seq ? batch->seq[i] : seq_all;
        if (c->touched[s]) continue;
        c->touched[s] = 1;
        int32_t p = batch->pos ? batch->pos[i] : c->seq_len[s];
        if (p < c->seq_len[s]) {
            c->vt->seq_truncate(c->state, s, p);
            c->seq_len[s] = p;
        }
    }
    memcpy(c->tmp_len, c->seq_len, (size_t)n_seq * sizeof(int32_t));
    int32_t out_done = 0;
    apr_result r = APR_SUCCESS;
    for (int32_t start = 0; start < n && r == APR_SUCCESS; start += c->bp.n_batch) {
        int32_t m = APR__MIN(c->bp.n_batch, n - start), m_out = 0;
        for (int32_t j = 0; j < m; j++) {
            int32_t i = start + j;
            int32_t s = batch->seq ? batch->seq[i] : seq_all;
            c->b_seq[j] = s;
            c->b_pos[j] = batch->pos ? batch->pos[i] : c->tmp_len[s];
            c->tmp_len[s] = c->b_pos[j] + 1;
            bool want = batch->want_logits ? batch->want_logits[i] != 0 : i == n - 1;
            if (want) c->b_out[m_out++] = j;
        }
        apr_backend_batch bb;
        bb.n_tokens = m;
        bb.tokens = batch->tokens + start;
        bb.pos = c->b_pos;
        bb.seq = c->b_seq;
        bb.out_rows = c->b_out;
        bb.n_out = m_out;
        if (argmax_out && c->vt->forward_argmax) {
            r = c->vt->forward_argmax(c->state, &bb, argmax_out + out_done);
        } else {
            float *lg = c->logits + (size_t)out_done * (size_t)n_vocab;
            r = c->vt->forward(c->state, &bb, lg);
            if (r == APR_SUCCESS && argmax_out) {
                for (int32_t k = 0; k < m_out; k++) {
                    const float *row = lg + (size_t)k * (size_t)n_vocab;
                    int32_t best = 0;
                    for (int32_t v = 1; v < n_vocab; v++)
                        if (row[v] > row[best]) best = v;
                    argmax_out[out_done + k] = best;
                }
            }
        }
        if (r == APR_SUCCESS) {
            out_done += m_out;
            /* a pass that finished counts: its positions are in the cache */
            for (int32_t j = 0; j < m; j++)
                if (c->b_pos[j] + 1 > c->seq_len[c->b_seq[j]]) c->seq_len[c->b_seq[j]] = c->b_pos[j] + 1;
        }
    }
    if (r != APR_SUCCESS) {
        c->n_logits = 0;
        return apr__ctx_fail(c, r, "backend %s failed: %s", c->vt->name, apr_result_string(r));
    }
    c->n_logits = (argmax_out && c->vt->forward_argmax) ? 0 : out_done;
    return APR_SUCCESS;
}

APR__IMPL apr_result apr_decode(apr_context *ctx, const apr_batch *batch) { return apr__decode(ctx, batch, 0, NULL); }

APR__IMPL apr_result apr_decode_argmax(apr_context *ctx, const apr_batch *batch, int32_t *tokens_out) {
    if (!tokens_out) return apr__decode(ctx, batch, 0, NULL);
    return apr__decode(ctx, batch, 0, tokens_out);
}

APR__IMPL apr_result apr_eval(apr_context *ctx, const int32_t *tokens, int32_t n, int32_t seq) {
    apr_batch b;
    memset(&b, 0, sizeof b);
    b.n_tokens = n;
    b.tokens = tokens;
    return apr__decode(ctx, &b, seq, NULL);
}

APR__IMPL float *apr_get_logits(apr_context *ctx, int32_t i) {
    if (!ctx || ctx->n_logits == 0) return NULL;
    if (i < 0) i += ctx->n_logits;
    if (i < 0 || i >= ctx->n_logits) return NULL;
    return ctx->logits + (size_t)i * (size_t)ctx->model->view.hp.n_vocab;
}

APR__IMPL int32_t apr_seq_pos(const apr_context *ctx, int32_t seq) {
    if (!ctx || seq < 0 || seq >= ctx->bp.n_seq) return 0;
    return ctx->seq_len[seq];
}

APR__IMPL void apr_seq_truncate(apr_context *ctx, int32_t seq, int32_t n_keep) {
    if (!ctx || seq < 0 || seq >= ctx->bp.n_seq) return;
    if (n_keep < 0) n_keep = 0;
    if (n_keep >= ctx->seq_len[seq]) return;
    ctx->vt->seq_truncate(ctx->state, seq, n_keep);
    ctx->seq_len[seq] = n_keep;
}

APR__IMPL int apr_context_launches_per_token(const apr_context *ctx) {
    if (!ctx || !ctx->vt->launches_per_token) return 0;
    return ctx->vt->launches_per_token(ctx->state);
}

/* ====================================================================================
   Sampling
   The chain is llama.cpp's default order: penalties -> top-k -> top-p -> min-p ->
   temperature -> draw. top-p and min-p therefore see the untempered distribution, as in
   llama.cpp. Nothing sorts the 152k vocabulary: top-k is one pass with a k-heap, top-p a
   quickselect on probability mass (the nucleus is found, not sorted), so a flat
   distribution costs O(n) like a peaked one.
   The random numbers come from apr's own xoshiro256** so a seed gives the same tokens on
   every platform and C library.
   ==================================================================================== */

typedef struct apr__cand {
    float logit;
    int32_t id;
    float p;       /* unnormalised probability, exp(logit - max) (under the temperature) */
} apr__cand;

struct apr_sampler {
    apr_sampler_params p;
    int32_t n_vocab;
    uint64_t rng[4];
    /* penalty history: a ring of the last hist_cap accepted tokens and their counts */
    int32_t *hist;
    int32_t hist_cap, hist_len, hist_head;
    int32_t *counts;
    uint32_t *stamp;     /* dedups history tokens while penalising */
    uint32_t stamp_now;
    float *penalized;    /* penalised logit of each stamped token */
    apr__cand *cand;     /* n_vocab working candidates */
};

/* History length used for repeat_last_n = -1 when the sampler does not know n_ctx
   (apr_generate replaces -1 by the context size). */
#define APR__SAMPLER_MAX_HISTORY 32768

APR__IMPL apr_sampler_params apr_sampler_default_params(void) {
    apr_sampler_params p;
    memset(&p, 0, sizeof p);
    p.temperature = 0.8f;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    p.repeat_penalty = 1.0f;
    p.frequency_penalty = 0.0f;
    p.presence_penalty = 0.0f;
    p.repeat_last_n = 64;
    p.seed = 0xFFFFFFFFu;  /* llama.cpp's default seed value; apr uses every seed as is */
    return p;
}

/* ---- xoshiro256** seeded through splitmix64 ------------------------------------------ */

static uint64_t apr__splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static void apr__rng_seed(uint64_t s[4], uint64_t seed) {
    for (int i = 0; i < 4; i++) s[i] = apr__splitmix64(&seed);
}
static uint64_t apr__rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t apr__rng_next(uint64_t s[4]) {
    uint64_t r = apr__rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = apr__rotl64(s[3], 45);
    return r;
}
/* uniform in [0, 1) with 53 random bits */
static double apr__rng_uniform(uint64_t s[4]) {
    return (double)(apr__rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static bool apr__sampler_has_penalties(const apr_sampler *s) {
    return s->hist_cap > 0 &&
           (s->p.repeat_penalty != 1.0f || s->p.frequency_penalty != 0.0f ||
            s->p.presence_penalty != 0.0f);
}

APR__IMPL apr_result apr_sampler_create(const apr_sampler_params *params, int32_t n_vocab,
                                        apr_sampler **out) {
    if (!out) return APR_ERROR_INVALID_ARGUMENT;
    *out = NULL;
    if (n_vocab <= 0) return APR_ERROR_INVALID_ARGUMENT;
    apr_sampler *s = (apr_sampler *)apr__calloc(1, sizeof *s);
    if (!s) return APR_ERROR_OUT_OF_MEMORY;
    s->p = params ? *params : apr_sampler_default_params();
    if (s->p.repeat_penalty <= 0.0f || s->p.repeat_penalty != s->p.repeat_penalty)
        s->p.repeat_penalty = 1.0f;
    s->n_vocab = n_vocab;
    s->hist_cap = s->p.repeat_last_n > 0 ? s->p.repeat_last_n
                : s->p.repeat_last_n < 0 ? APR__SAMPLER_MAX_HISTORY : 0;
    s->cand = (apr__cand *)APR_MALLOC((size_t)n_vocab * sizeof(apr__cand));
    if (!s->cand) goto oom;
    if (apr__sampler_has_penalties(s)) {
        s->hist = (int32_t *)APR_MALLOC((size_t)s->hist_cap * sizeof(int32_t));
        s->counts = (int32_t *)apr__calloc((size_t)n_vocab, sizeof(int32_t));
        s->stamp = (uint32_t *)apr__calloc((size_t)n_vocab, sizeof(uint32_t));
        s->penalized = (float *)APR_MALLOC((size_t)n_vocab * sizeof(float));
        if (!s->hist || !s->counts || !s->stamp || !s->penalized) goto oom;
    } else {
        s->hist_cap = 0;  /* nothing looks at the history: do not keep it */
    }
    apr__rng_seed(s->rng, s->p.seed);
    *out = s;
    return APR_SUCCESS;
oom:
    apr_sampler_free(s);
    return APR_ERROR_OUT_OF_MEMORY;
}

APR__IMPL void apr_sampler_free(apr_sampler *s) {
    if (!s) return;
    APR_FREE(s->cand);
    APR_FREE(s->hist);
    APR_FREE(s->counts);
    APR_FREE(s->stamp);
    APR_FREE(s->penalized);
    APR_FREE(s);
}

APR__IMPL void apr_sampler_reset(apr_sampler *s) {
    if (!s) return;
    if (s->counts) memset(s->counts, 0, (size_t)s->n_vocab * sizeof(int32_t));
    s->hist_len = s->hist_head = 0;
    apr__rng_seed(s->rng, s->p.seed);
}

APR__IMPL void apr_sampler_accept(apr_sampler *s, int32_t token) {
    if (!s || s->hist_cap == 0 || token < 0 || token >= s->n_vocab) return;
    if (s->hist_len == s->hist_cap) {  /* forget the oldest */
        s->counts[s->hist[s->hist_head]]--;
        s->hist[s->hist_head] = token;
        s->hist_head = (s->hist_head + 1) % s->hist_cap;
    } else {
        s->hist[(s->hist_head + s->hist_len) % s->hist_cap] = token;
        s->hist_len++;
    }
    s->counts[token]++;
}

static float apr__sanitize_logit(float l) {
    if (l != l) return -FLT_MAX;           /* NaN: never chosen */
    if (l > FLT_MAX) return FLT_MAX;       /* keep exp(l - max) finite */
    if (l < -FLT_MAX) return -FLT_MAX;
    return l;
}

/* llama.cpp's penalties: each distinct token of the history is penalised once:
   repeat penalty divides a positive logit / multiplies a negative one, then
   frequency * count + presence is subtracted. The history tokens get a stamp and their
   penalised logit in penalized[]. */
static void apr__sampler_penalize(apr_sampler *s, const float *logits) {
    if (++s->stamp_now == 0) {  /* wrapped: old stamps could collide */
        memset(s->stamp, 0, (size_t)s->n_vocab * sizeof(uint32_t));
        s->stamp_now = 1;
    }
    for (int32_t i = 0; i < s->hist_len; i++) {
        int32_t t = s->hist[(s->hist_head + i) % s->hist_cap];
        if (s->stamp[t] == s->stamp_now) continue;
        s->stamp[t] = s->stamp_now;
        float l = apr__sanitize_logit(logits[t]);
        if (s->p.repeat_penalty != 1.0f)
            l = l <= 0.0f ? l * s->p.repeat_penalty : l / s->p.repeat_penalty;
        l -= (float)s->counts[t] * s->p.frequency_penalty +
             (s->counts[t] > 0 ? s->p.presence_penalty : 0.0f);
        s->penalized[t] = l;
    }
}

/* Total order: higher logit first, ties by lower id (so results never depend on the
   sort algorithm). */
static bool apr__cand_before(const apr__cand *a, const apr__cand *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}
static void apr__cand_swap(apr__cand *a, apr__cand *b) {
    apr__cand t = *a;
    *a = *b;
    *b = t;
}

/* top-p: the smallest set of candidates that comes first in apr__cand_before order and
   holds probability mass >= target (c[i].p filled) is moved to c[0..k); k is returned.
   A quickselect on mass: partition around a pivot, keep the side where the cut lies. */
static int64_t apr__cand_mass_select(apr__cand *c, int64_t m, double target) {
    int64_t lo = 0, hi = m;  /* c[0..lo) are in the set; the cut lies in [lo, hi) */
    double acc = 0.0;        /* mass of c[0..lo), always < target here */
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2, last = hi - 1;
        /* median of three as pivot, moved to the end */
        if (apr__cand_before(&c[mid], &c[lo])) apr__cand_swap(&c[mid], &c[lo]);
        if (apr__cand_before(&c[last], &c[lo])) apr__cand_swap(&c[last], &c[lo]);
        if (apr__cand_before(&c[mid], &c[last])) apr__cand_swap(&c[mid], &c[last]);
        const apr__cand pivot = c[last];
        int64_t i = lo;
        double mass = 0.0;
        for (int64_t j = lo; j < last; j++) {
            if (apr__cand_before(&c[j], &pivot)) {
                mass += c[j].p;
                apr__cand_swap(&c[i], &c[j]);
                i++;
            }
        }
        apr__cand_swap(&c[i], &c[last]);
        /* c[lo..i) come before the pivot (now at i), c[i+1..hi) after it */
        if (acc + mass >= target) {
            hi = i;
            continue;
        }
        acc += mass + pivot.p;
        if (acc >= target) return i + 1;
        lo = i + 1;
    }
    return hi > lo ? lo + 1 : APR__MAX(lo, (int64_t)1);
}

static int32_t apr__argmax(const float *x, int32_t n) {
    int32_t best = 0;
    float bv = -INFINITY;
    for (int32_t i = 0; i < n; i++) {
        if (x[i] > bv) {  /* NaN never wins */
            bv = x[i];
            best = i;
        }
    }
    return best;
}

/* top-k's scan: the index of the first block of 8 at or after i that holds a value
   > t (NaN never is), or the start of the last partial block. Most of a 152k vocabulary
   lies below the k-th best, so the heap sees few elements. */
static int32_t apr__skip_le_scalar(const float *x, int32_t i, int32_t n, float t) {
    for (; i + 8 <= n; i += 8) {
        int j = 0;
        while (j < 8 && !(x[i + j] > t)) j++;
        if (j < 8) break;
    }
    return i;
}
#if defined(APR__HAVE_X86_SIMD)
APR__TARGET_AVX2 static int32_t apr__skip_le_avx2(const float *x, int32_t i, int32_t n, float t) {
    const __m256 vt = _mm256_set1_ps(t);
    for (; i + 8 <= n; i += 8)
        if (_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), vt, _CMP_GT_OQ))) break;
    return i;
}
#endif
#if defined(APR__HAVE_NEON)
static int32_t apr__skip_le_neon(const float *x, int32_t i, int32_t n, float t) {
    const float32x4_t vt = vdupq_n_f32(t);
    for (; i + 8 <= n; i += 8) {
        uint32x4_t gt = vorrq_u32(vcgtq_f32(vld1q_f32(x + i), vt), vcgtq_f32(vld1q_f32(x + i + 4), vt));
        if (vmaxvq_u32(gt)) break;
    }
    return i;
}
#endif
static int32_t apr__skip_le(const float *x, int32_t i, int32_t n, float t) {
#if defined(APR__HAVE_X86_SIMD)
    if (apr__simd_level() >= 1) return apr__skip_le_avx2(x, i, n, t);
#elif defined(APR__HAVE_NEON)
    if (apr__simd_level() >= 2) return apr__skip_le_neon(x, i, n, t);
#endif
    return apr__skip_le_scalar(x, i, n, t);
}

APR__IMPL int32_t apr_sampler_sample(apr_sampler *s, const float *logits) {
    if (!s || !logits) return -1;
    const int32_t n = s->n_vocab;
    bool pen = apr__sampler_has_penalties(s) && s->hist_len > 0;
    bool greedy = !(s->p.temperature > 0.0f);
    if (greedy && !pen) return apr__argmax(logits, n);

    apr__cand *c = s->cand;
    if (pen) apr__sampler_penalize(s, logits);
#define APR__LOGIT(i) (pen && s->stamp[i] == s->stamp_now ? s->penalized[i] \
                                                          : apr__sanitize_logit(logits[i]))
    if (greedy) {
        int32_t best = 0;
        float bv = APR__LOGIT(0);
        for (int32_t i = 1; i < n; i++) {
            float v = APR__LOGIT(i);
            if (v > bv) {
                bv = v;
                best = i;
            }
        }
        return best;
    }
    int64_t m = n;
    if (s->p.top_k > 0 && s->p.top_k < n) {
        /* one pass with a min-heap of the k best: most logits cost one comparison */
        int32_t k = s->p.top_k;
        for (int32_t i = 0; i < n; i++) {
            /* once the heap is full, blocks whose values are all <= its worst cannot
               enter (a tie loses on the higher id); penalties may raise logits: no skip */
            if (!pen && i >= k && (i & 7) == 0) {
                i = apr__skip_le(logits, i, n, c[0].logit);
                if (i >= n) break;
            }
            apr__cand x;
            x.logit = APR__LOGIT(i);
            x.id = i;
            if (i < k) {  /* sift up */
                int32_t j = i;
                while (j > 0 && apr__cand_before(&c[(j - 1) / 2], &x)) {
                    c[j] = c[(j - 1) / 2];
                    j = (j - 1) / 2;
                }
                c[j] = x;
            } else if (apr__cand_before(&x, &c[0])) {  /* replace the worst, sift down */
                int32_t j = 0;
                for (;;) {
                    int32_t l = 2 * j + 1, w = j;
                    const apr__cand *wc = &x;
                    if (l < k && apr__cand_before(&c[l], wc) == false) { w = l; wc = &c[l]; }
                    if (l + 1 < k && apr__cand_before(&c[l + 1], wc) == false) { w = l + 1; wc = &c[l + 1]; }
                    if (w == j) break;
                    c[j] = c[w];
                    j = w;
                }
                c[j] = x;
            }
        }
        m = k;
    } else {
        for (int32_t i = 0; i < n; i++) {
            c[i].logit = APR__LOGIT(i);
            c[i].id = i;
        }
    }
#undef APR__LOGIT
    float maxl = -FLT_MAX;
    for (int64_t i = 0; i < m; i++) maxl = APR__MAX(maxl, c[i].logit);

    /* top-p and min-p each keep a prefix of the same order, so the result is the shorter
       prefix: min-p filters first, and top-p's cut (measured against the mass of all the
       candidates, as llama.cpp) is searched only among the survivors */
    double total = 0.0;
    if (s->p.top_p < 1.0f)
        for (int64_t i = 0; i < m; i++) {
            c[i].p = expf(c[i].logit - maxl);
            total += c[i].p;
        }
    if (s->p.min_p > 0.0f) {
        float thr = maxl + logf(s->p.min_p);
        int64_t k = 0;
        for (int64_t i = 0; i < m; i++)
            if (c[i].logit >= thr) c[k++] = c[i];
        m = k > 0 ? k : 1;  /* the maximum always passes; guard against rounding */
    }
    if (s->p.top_p < 1.0f) m = apr__cand_mass_select(c, m, (double)s->p.top_p * total);

    /* temperature, softmax, draw (in the candidates' order, which is deterministic) */
    float inv_t = 1.0f / s->p.temperature;
    total = 0.0;
    for (int64_t i = 0; i < m; i++) {
        c[i].p = expf((c[i].logit - maxl) * inv_t);
        total += c[i].p;
    }
    double r = apr__rng_uniform(s->rng) * total, cum = 0.0;
    for (int64_t i = 0; i < m; i++) {
        cum += c[i].p;
        if (r < cum) return c[i].id;
    }
    /* rounding left r at the sum: the last candidate with any mass */
    for (int64_t i = m - 1; i > 0; i--)
        if (c[i].p > 0.0f) return c[i].id;
    return c[0].id;
}

/* ====================================================================================
   Generation loop: prompt -> tokens -> decode -> sample -> text.
   A sampled token is decoded (appended to the sequence) only when generation goes on, so
   after apr_generate the sequence holds the prompt and every generated token but the
   one that ended generation (end-of-generation token, the token that completed a stop
   string or reached max_tokens, or the one a callback refused). A multi-turn caller
   with keep_history continues from there (apr_seq_pos says how many are held).
   Text is streamed in complete UTF-8 characters; a tail that could be the start of a
   stop string is held back until it is known not to be one, and a stop string itself
   is never emitted.
   ==================================================================================== */

APR__IMPL apr_generate_params apr_generate_default_params(void) {
    apr_generate_params p;
    memset(&p, 0, sizeof p);
    p.sampling = apr_sampler_default_params();
    p.max_tokens = -1;
    p.add_bos = true;
    p.parse_special = true;
    return p;
}

typedef struct apr__gen_text {
    const apr_generate_params *gp;
    char *buf;          /* text produced but not yet emitted */
    size_t len, cap;
    bool refused;       /* on_text returned false */
} apr__gen_text;

static bool apr__gen_emit(apr__gen_text *t, const char *s, size_t n) {
    if (n == 0 || t->refused) return !t->refused;
    if (t->gp->on_text && !t->gp->on_text(t->gp->user, s, n)) t->refused = true;
    return !t->refused;
}

/* Add text; emit what can no longer be part of a stop string. Returns true when a stop
   string has appeared (the text before it is emitted, the rest dropped). */
static bool apr__gen_push_text(apr__gen_text *t, const char *s, size_t n, bool *oom) {
    const apr_generate_params *gp = t->gp;
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2 + 64;
        char *nb = (char *)APR_REALLOC(t->buf, cap);
        if (!nb) {
            *oom = true;
            return false;
        }
        t->buf = nb;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = 0;
    if (gp->n_stop <= 0 || !gp->stop) {
        apr__gen_emit(t, t->buf, t->len);
        t->len = 0;
        return false;
    }
    /* earliest complete stop string */
    size_t first = (size_t)-1;
    for (int32_t j = 0; j < gp->n_stop; j++) {
        const char *st = gp->stop[j];
        size_t sl = st ? strlen(st) : 0;
        if (sl == 0 || sl > t->len) continue;
        for (size_t p = 0; p + sl <= t->len && p < first; p++) {
            if (memcmp(t->buf + p, st, sl) == 0) {
                first = p;
                break;
            }
        }
    }
    if (first != (size_t)-1) {
        apr__gen_emit(t, t->buf, first);
        t->len = 0;
        return true;
    }
    /* hold the longest tail that is a proper prefix of some stop string */
    size_t hold = 0;
    for (int32_t j = 0; j < gp->n_stop; j++) {
        const char *st = gp->stop[j];
        size_t sl = st ? strlen(st) : 0;
        for (size_t k = APR__MIN(sl ? sl - 1 : 0, t->len); k > hold; k--) {
            if (memcmp(t->buf + t->len - k, st, k) == 0) {
                hold = k;
                break;
            }
        }
    }
    size_t out = t->len - hold;
    apr__gen_emit(t, t->buf, out);
    memmove(t->buf, t->buf + out, hold);
    t->len = hold;
    return false;
}

static int64_t apr__gen_tokenize(const apr_vocab *vocab, const char *text, int flags,
                                 int32_t **out) {
    size_t len = strlen(text);
    int64_t cap = (int64_t)APR__MIN(len, (size_t)INT32_MAX) + 8;
    *out = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        int32_t *toks = (int32_t *)APR_MALLOC((size_t)cap * sizeof(int32_t));
        if (!toks) return APR_ERROR_OUT_OF_MEMORY;
        int64_t n = apr_tokenize(vocab, text, len, toks, cap, flags);
        if (n >= 0 && n <= cap) {
            *out = toks;
            return n;
        }
        APR_FREE(toks);
        if (n < 0) return n;
        cap = n;
    }
    return APR_ERROR_INVALID_ARGUMENT;
}

/* Greedy without penalties needs no logits on the host: the backend's argmax suffices. */
static apr_result apr__gen_decode_argmax(apr_context *ctx, const int32_t *toks, int32_t n,
                                         int32_t seq, int32_t *next) {
    int32_t one_seq = seq;
    int32_t *seqs = NULL;
    if (seq != 0 && n > 1) {
        seqs = (int32_t *)APR_MALLOC((size_t)n * sizeof(int32_t));
        if (!seqs) return APR_ERROR_OUT_OF_MEMORY;
        for (int32_t i = 0; i < n; i++) seqs[i] = seq;
    }
    apr_batch b;
    memset(&b, 0, sizeof b);
    b.n_tokens = n;
    b.tokens = toks;
    b.seq = seq == 0 ? NULL : (seqs ? seqs : &one_seq);
    apr_result rc = apr_decode_argmax(ctx, &b, next);
    APR_FREE(seqs);
    return rc;
}

APR__IMPL apr_result apr_generate(apr_context *ctx, const char *prompt,
                                  const apr_generate_params *params, apr_generate_stats *stats) {
    apr_generate_params gp = params ? *params : apr_generate_default_params();
    apr_generate_stats st;
    memset(&st, 0, sizeof st);
    if (stats) *stats = st;
    if (!ctx || !prompt) return APR_ERROR_INVALID_ARGUMENT;
    const apr_model *model = apr_context_model(ctx);
    const apr_vocab *vocab = model ? apr_model_vocab(model) : NULL;
    if (!vocab) return APR_ERROR_INVALID_ARGUMENT;
    if (gp.seq < 0 || gp.seq >= apr_context_n_seq(ctx)) return APR_ERROR_INVALID_ARGUMENT;
    const int32_t n_vocab = apr_model_n_vocab(model);
    const int n_ctx = apr_context_n_ctx(ctx);

    if (!gp.keep_history) apr_seq_truncate(ctx, gp.seq, 0);
    int32_t pos = apr_seq_pos(ctx, gp.seq);
    int flags = (gp.add_bos && pos == 0 ? APR_TOKENIZE_ADD_BOS : 0) |
                (gp.parse_special ? APR_TOKENIZE_PARSE_SPECIAL : 0);
    int32_t *toks = NULL;
    int64_t n_prompt = apr__gen_tokenize(vocab, prompt, flags, &toks);
    if (n_prompt < 0) return (apr_result)n_prompt;
    if (n_prompt == 0) {  /* nothing to evaluate, so no logits to sample from */
        APR_FREE(toks);
        return APR_ERROR_INVALID_ARGUMENT;
    }
    if ((int64_t)pos + n_prompt > n_ctx) {
        APR_FREE(toks);
        st.n_prompt_tokens = (int32_t)APR__MIN(n_prompt, (int64_t)INT32_MAX);
        st.stop_reason = APR_STOP_CONTEXT_FULL;
        if (stats) *stats = st;
        return APR_ERROR_CONTEXT_FULL;
    }

    apr_sampler_params sp = gp.sampling;
    if (sp.repeat_last_n < 0) sp.repeat_last_n = n_ctx;
    apr_sampler *smp = NULL;
    apr_result rc = apr_sampler_create(&sp, n_vocab, &smp);
    if (rc != APR_SUCCESS) {
        APR_FREE(toks);
        return rc;
    }
    /* as llama.cpp: the prompt counts as history for the penalties */
    for (int64_t i = 0; i < n_prompt; i++) apr_sampler_accept(smp, toks[i]);
    const bool use_argmax = !(sp.temperature > 0.0f) && !apr__sampler_has_penalties(smp);
    int32_t next = -1;

    uint64_t t0 = apr__time_ns();
    rc = use_argmax ? apr__gen_decode_argmax(ctx, toks, (int32_t)n_prompt, gp.seq, &next)
                    : apr_eval(ctx, toks, (int32_t)n_prompt, gp.seq);
    uint64_t t1 = apr__time_ns();
    st.n_prompt_tokens = (int32_t)n_prompt;
    st.prompt_seconds = (double)(t1 - t0) * 1e-9;
    APR_FREE(toks);
    if (rc != APR_SUCCESS) {
        apr_sampler_free(smp);
        if (rc == APR_ERROR_CONTEXT_FULL) st.stop_reason = APR_STOP_CONTEXT_FULL;
        if (stats) *stats = st;
        return rc;
    }
    pos += (int32_t)n_prompt;

    apr_detok_stream ds;
    apr_detok_stream_init(&ds, vocab, false);
    ds.at_start = false;  /* generated text continues the prompt: keep its spaces */
    apr__gen_text tx;
    memset(&tx, 0, sizeof tx);
    tx.gp = &gp;
    bool oom = false;
    char piece[256];
    apr_stop_reason reason = APR_STOP_NONE;

    for (;;) {
        if (gp.max_tokens >= 0 && st.n_generated_tokens >= gp.max_tokens) {
            reason = APR_STOP_LENGTH;
            break;
        }
        if (gp.cancel && *gp.cancel) {
            reason = APR_STOP_CANCELLED;
            break;
        }
        int32_t tok = next;
        if (!use_argmax) {
            const float *logits = apr_get_logits(ctx, -1);
            if (!logits) {
                rc = APR_ERROR_BACKEND;
                break;
            }
            tok = apr_sampler_sample(smp, logits);
            apr_sampler_accept(smp, tok);
        }
        if (tok < 0 || tok >= n_vocab) {
            rc = APR_ERROR_BACKEND;
            break;
        }
        if (apr_vocab_is_eog(vocab, tok)) {
            reason = APR_STOP_EOG;
            break;
        }
        st.n_generated_tokens++;
        if (gp.on_token && !gp.on_token(gp.user, tok)) {
            reason = APR_STOP_CANCELLED;
            break;
        }
        int32_t np = apr_detok_stream_push(&ds, tok, piece, (int32_t)sizeof piece);
        if (np > (int32_t)sizeof piece) np = (int32_t)sizeof piece;
        if (np > 0 && apr__gen_push_text(&tx, piece, (size_t)np, &oom)) {
            reason = APR_STOP_STRING;
            break;
        }
        if (oom) {
            rc = APR_ERROR_OUT_OF_MEMORY;
            break;
        }
        if (tx.refused) {
            reason = APR_STOP_CANCELLED;
            break;
        }
        if (gp.max_tokens >= 0 && st.n_generated_tokens >= gp.max_tokens) {
            reason = APR_STOP_LENGTH;  /* no need to decode the last token */
            break;
        }
        if (gp.cancel && *gp.cancel) {
            reason = APR_STOP_CANCELLED;
            break;
        }
        if (pos + 1 > n_ctx) {
            reason = APR_STOP_CONTEXT_FULL;
            break;
        }
        rc = use_argmax ? apr__gen_decode_argmax(ctx, &tok, 1, gp.seq, &next)
                        : apr_eval(ctx, &tok, 1, gp.seq);
        if (rc == APR_ERROR_CONTEXT_FULL) {
            rc = APR_SUCCESS;
            reason = APR_STOP_CONTEXT_FULL;
            break;
        }
        if (rc != APR_SUCCESS) break;
        pos++;
    }

    /* what is left is ordinary text: a partial character (as U+FFFD) and a held tail that
       turned out not to be a stop string */
    if (rc == APR_SUCCESS && reason != APR_STOP_STRING && !tx.refused) {
        int32_t np = apr_detok_stream_flush(&ds, piece, (int32_t)sizeof piece);
        if (np > (int32_t)sizeof piece) np = (int32_t)sizeof piece;
        if (np > 0 && apr__gen_push_text(&tx, piece, (size_t)np, &oom)) {
            if (reason != APR_STOP_CANCELLED) reason = APR_STOP_STRING;
        } else if (!oom) {
            apr__gen_emit(&tx, tx.buf, tx.len);
        }
        if (tx.refused) reason = APR_STOP_CANCELLED;
    }
    st.generate_seconds = (double)(apr__time_ns() - t1) * 1e-9;
    st.stop_reason = reason;
    APR_FREE(tx.buf);
    apr_sampler_free(smp);
    if (stats) *stats = st;
    return oom ? APR_ERROR_OUT_OF_MEMORY : rc;
}

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

#endif
#endif /* APR_IMPLEMENTATION */
