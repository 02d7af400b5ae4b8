/* tests/test.h - the tiny test harness every tests/test_*.c uses.
   Each test program counts checks, names every failing one on stderr, and ends with the
   line "N passed, N failed"; tests/run_tests.sh runs them all and sums the lines. */
#ifndef APR_TEST_H
#define APR_TEST_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int apr_test_passed, apr_test_failed;
static const char *apr_test_current = "";

/* CHECK(cond, printf-style message describing what was expected) */
#define CHECK(cond, ...)                                                              \
    do {                                                                              \
        if (cond) {                                                                   \
            apr_test_passed++;                                                        \
        } else {                                                                      \
            apr_test_failed++;                                                        \
            fprintf(stderr, "FAIL [%s] %s:%d: %s: ", apr_test_current, __FILE__,      \
                    __LINE__, #cond);                                                 \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
        }                                                                             \
    } while (0)

/* Start a named group of checks (the name appears in failure messages). */
#define TEST(name) (apr_test_current = (name), fprintf(stderr, "  %s\n", (name)))

/* Path of a file under ../shared (or $APR_SHARED) in a static buffer. */
static const char *test_shared(const char *rel) {
    static char buf[4][1024];
    static int which;
    const char *root = getenv("APR_SHARED");
    if (!root || !*root) root = "../shared";
    char *b = buf[which++ & 3];
    snprintf(b, sizeof buf[0], "%s/%s", root, rel);
    return b;
}

/* Read a whole file; NULL if missing. */
static void *test_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc(n > 0 ? (size_t)n + 1 : 1);
    if (p && n > 0 && fread(p, 1, (size_t)n, f) != (size_t)n) { free(p); p = NULL; }
    if (p) ((char *)p)[n > 0 ? n : 0] = 0;
    fclose(f);
    if (size) *size = n > 0 ? (size_t)n : 0;
    return p;
}

/* Deterministic random numbers for tests (xorshift64*). */
static unsigned long long test_rng_state = 0x9E3779B97F4A7C15ull;
static unsigned long long test_rand_u64(void) {
    test_rng_state ^= test_rng_state >> 12;
    test_rng_state ^= test_rng_state << 25;
    test_rng_state ^= test_rng_state >> 27;
    return test_rng_state * 2685821657736338717ull;
}
static float test_rand_uniform(void) { return (float)((test_rand_u64() >> 40) * (1.0 / 16777216.0)); }
/* Roughly normal, heavy enough tails for quantization tests. */
static float test_rand_normal(void) {
    float s = 0;
    for (int i = 0; i < 4; i++) s += test_rand_uniform();
    return (s - 2.0f) * 1.7320508f;
}

static int test_finish(void) {
    printf("%d passed, %d failed\n", apr_test_passed, apr_test_failed);
    return apr_test_failed ? 1 : 0;
}
#endif
