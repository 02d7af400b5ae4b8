/* Platform layer: half-float conversions against the hardware, the thread pool, ranges. */
#define APR_IMPLEMENTATION
#include "apr.h"
#include "test.h"

#if defined(APR__HAVE_X86_SIMD) && (defined(__GNUC__) || defined(__clang__))
APR__TARGET_AVX2 static uint16_t hw_f32_to_f16(float f) {
    return (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(f), 0), 0);
}
APR__TARGET_AVX2 static float hw_f16_to_f32(uint16_t h) {
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}
#endif

typedef struct { int64_t *sums; int64_t n; } sum_job;
static void sum_worker(void *arg, int ith, int nth) {
    sum_job *j = (sum_job *)arg;
    int64_t b, e, s = 0;
    apr__split_range(j->n, 1, ith, nth, &b, &e);
    for (int64_t i = b; i < e; i++) s += i;
    j->sums[ith] = s;
}

int main(void) {
    TEST("fp16 round trip of every half value");
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = apr__fp16_to_fp32((uint16_t)h);
        uint16_t back = apr__fp32_to_fp16(f);
        bool nan = ((h & 0x7c00) == 0x7c00) && (h & 0x3ff);
        if (!nan && back != h) bad++;
    }
    CHECK(bad == 0, "%d half values do not round-trip", bad);

#if defined(APR__HAVE_X86_SIMD) && (defined(__GNUC__) || defined(__clang__))
    if (apr_cpu_detect().f16c) {
        TEST("fp16 conversions equal F16C on random floats");
        int bad_to = 0, bad_from = 0;
        for (int i = 0; i < 200000; i++) {
            uint32_t u = (uint32_t)test_rand_u64();
            float f = apr__bits_to_f32(u);
            if (f != f) continue;
            if (apr__fp32_to_fp16(f) != hw_f32_to_f16(f)) bad_to++;
            uint16_t h = (uint16_t)u;
            float a = apr__fp16_to_fp32(h), b = hw_f16_to_f32(h);
            if (a == a && memcmp(&a, &b, 4) != 0) bad_from++;
        }
        CHECK(bad_to == 0, "%d floats convert differently from F16C", bad_to);
        CHECK(bad_from == 0, "%d halves convert differently from F16C", bad_from);
    }
#endif

    TEST("bf16");
    CHECK(apr__bf16_to_fp32(apr__fp32_to_bf16(1.0f)) == 1.0f, "1.0 round trip");
    CHECK(apr__fp32_to_bf16(1.00390625f) == 0x3f80, "ties round to even (down)");
    CHECK(apr__fp32_to_bf16(1.01171875f) == 0x3f82, "ties round to even (up)");

    TEST("thread pool sums a range on 1, 2 and 3 threads, many times");
    for (int nt = 1; nt <= 3; nt++) {
        apr__pool *pool = apr__pool_create(nt);
        CHECK(pool != NULL, "pool of %d", nt);
        if (!pool) continue;
        int64_t sums[8];
        int wrong = 0;
        for (int rep = 0; rep < 300; rep++) {
            sum_job j = {sums, 1000 + rep};
            memset(sums, 0, sizeof sums);
            apr__pool_run(pool, sum_worker, &j, 0);
            int64_t s = 0;
            for (int i = 0; i < pool->n_threads; i++) s += sums[i];
            if (s != j.n * (j.n - 1) / 2) wrong++;
        }
        CHECK(wrong == 0, "%d wrong sums with %d threads", wrong, nt);
        apr__pool_free(pool);
    }

    TEST("split_range covers the range exactly, aligned");
    for (int nth = 1; nth <= 7; nth++) {
        int64_t prev_end = 0;
        int ok = 1;
        for (int i = 0; i < nth; i++) {
            int64_t b, e;
            apr__split_range(1000, 32, i, nth, &b, &e);
            if (b != prev_end || (b % 32) != 0 || e < b) ok = 0;
            prev_end = e;
        }
        CHECK(ok && prev_end == 1000, "split into %d parts", nth);
    }

    TEST("results have names");
    CHECK(strcmp(apr_result_string(APR_ERROR_INVALID_FILE), "invalid GGUF file") == 0, "name");
    CHECK(strcmp(apr_version(), APR_VERSION_STRING) == 0, "version");
    return test_finish();
}
