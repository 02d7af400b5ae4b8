/* CPU backend internals: the chunked thread pool (every chunk exactly once, late and
   sleeping workers, many jobs in a row) and the CPU backend's own kernels against their
   scalar references. */
#define APR_IMPLEMENTATION
#include "apr.h"
#include "test.h"

typedef struct {
    volatile int *count;   /* times each chunk ran */
    int n;
    int slow;              /* chunk 0 sleeps a little: others must go on meanwhile */
} chunk_job;

static void chunk_worker(void *arg, int ith, int nth) {
    chunk_job *j = (chunk_job *)arg;
    if (nth != j->n) return;
    if (j->slow && ith == 0) {
        uint64_t t0 = apr__time_ns();
        while (apr__time_ns() - t0 < 200000) apr__cpu_relax();
    }
    (void)APR__ATOMIC_ADD(&j->count[ith], 1);
}

int main(void) {
    const int quick = getenv("APR_TEST_QUICK") != NULL;

    TEST("pool: every chunk runs exactly once, 1-4 threads, 1..300 chunks, many jobs");
    for (int nt = 1; nt <= 4; nt++) {
        apr__pool *pool = apr__pool_create(nt);
        CHECK(pool != NULL, "pool of %d", nt);
        if (!pool) continue;
        static volatile int count[300];
        int wrong = 0, reps = quick ? 300 : 3000;
        for (int rep = 0; rep < reps; rep++) {
            chunk_job j;
            j.count = count;
            j.n = 1 + (int)(test_rand_u64() % 300);
            j.slow = rep % 97 == 0;
            for (int i = 0; i < j.n; i++) count[i] = 0;
            apr__pool_run_chunks(pool, chunk_worker, &j, j.n);
            for (int i = 0; i < j.n; i++) wrong += count[i] != 1;
        }
        CHECK(wrong == 0, "%d chunks not run exactly once with %d threads", wrong, nt);
        apr__pool_free(pool);
    }

    TEST("pool: jobs after the workers fell asleep, and apr__pool_run's one chunk per thread");
    {
        apr__pool *pool = apr__pool_create(3);
        CHECK(pool != NULL, "pool");
        if (pool) {
            static volatile int count[3];
            int wrong = 0;
            for (int rep = 0; rep < 3; rep++) {
                /* longer than the spin time: the workers sleep on the condition variable */
                uint64_t t0 = apr__time_ns();
                while (apr__time_ns() - t0 < 3 * (uint64_t)APR__POOL_SPIN_NS) apr__thread_yield();
                chunk_job j;
                j.count = count;
                j.n = pool->n_threads;
                j.slow = 1;
                for (int i = 0; i < 3; i++) count[i] = 0;
                apr__pool_run(pool, chunk_worker, &j, 0);
                for (int i = 0; i < j.n; i++) wrong += count[i] != 1;
            }
            CHECK(wrong == 0, "%d chunks wrong", wrong);
            CHECK(APR__ATOMIC_LOAD(&pool->n_sleeping) >= 0, "sleepers counted");
            apr__pool_free(pool);
        }
    }

    TEST("pool: NULL pool and one thread run the chunks in order on the caller");
    {
        static volatile int count[5];
        chunk_job j;
        j.count = count;
        j.n = 5;
        j.slow = 0;
        for (int i = 0; i < 5; i++) count[i] = 0;
        apr__pool_run_chunks(NULL, chunk_worker, &j, 5);
        int wrong = 0;
        for (int i = 0; i < 5; i++) wrong += count[i] != 1;
        CHECK(wrong == 0, "%d chunks wrong", wrong);
    }

    return test_finish();
}
