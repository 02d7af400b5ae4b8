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
