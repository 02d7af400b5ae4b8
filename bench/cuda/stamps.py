# bench/cuda/stamps.py OUT.cu [IN.cu] - a copy of apr_cuda.cu with %globaltimer stamps of one
# decode layer's five kernels: QKV (k_mvs_multi), attention (k_attn_dec_mma), wo (k_mvs_res),
# gate/up (k_mvs) and ffn_down (k_mvs_res), and four points inside the attention (kernel 5,
# below). Thread 0 of every block writes when the block entered, when its pdl_wait
# returned, when its activation was ready (k_mvs*) and when it left, into a device buffer
# passed in the kernel parameters. The layer is ST_LAYER (default: the middle one); the last
# token's stamps are written to $ST_OUT (default /tmp/stamps.txt)
# when the context is freed, one line per block: kernel block entry waited ready exit (ns
# from the earliest stamp, -1: not stamped). bench/cuda/stamps_report.py reads them. A
# measurement build, never committed as apr_cuda.cu: the stamps cost a few hundred ns per
# kernel. Build and use (bench/out/gpu-s17/run166.sh):
#   python3 bench/cuda/stamps.py /tmp/st.cu && nvcc -I. -O3 -std=c++17 --use_fast_math \
#     -Xcompiler -fPIC -cudart static -gencode arch=compute_90a,code=sm_90a -shared -o st.so /tmp/st.cu
#   ST_LAYER=13 ST_OUT=s.txt APR_CUDA_PATH=$PWD/st.so ./apr-bench -m M -ngl 99 -p 0 -n 128 -r 1
#   python3 bench/cuda/stamps_report.py s.txt
# The anchors below are lines of apr_cuda.cu (the layer's launches: their first words only):
# an assertion names the one that moved.
import re
import sys
s = open(sys.argv[2] if len(sys.argv) > 2 else 'apr_cuda.cu').read()


def rep(old, new, count=1):
    global s
    assert s.count(old) == count, (s.count(old), old)
    s = s.replace(old, new)


# the buffer pointer in both parameter structs
rep('''    int8_t *oq;  // int8 form: the output quantized for wo
    float *od;
    int *os;
};''', '''    int8_t *oq;  // int8 form: the output quantized for wo
    float *od;
    int *os;
    unsigned long long *st;
};''')
rep('''    KVPrefetch kv_pf;                                // k_mvs_multi: the KV cache to prefetch (attn_early)
''', '''    KVPrefetch kv_pf;                                // k_mvs_multi: the KV cache to prefetch (attn_early)
    unsigned long long *st;
''')
rep('''__device__ __forceinline__ void pdl_wait() {''', '''static unsigned long long *g_st_cur = nullptr, *g_st_buf = nullptr;
static int g_st_layer = -1;
enum { ST_SLOTS = 4 * 8192 };  // per kernel: 4 stamps for up to 8,192 blocks
__device__ __forceinline__ unsigned long long st_time() {
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}
#define ST_AT(st, k) \\
    if ((st) && threadIdx.x == 0) (st)[4 * (blockIdx.y * gridDim.x + blockIdx.x) + (k)] = st_time();
#define ST_EXIT(st) \\
    if (st) { \\
        __syncthreads(); \\
        ST_AT(st, 3) \\
    }
__device__ __forceinline__ void pdl_wait() {''')
# k_mvs*: waited and ready inside mvs_rows_of
rep('''    pdl_wait();
    // SPLIT: lane j of warp 0''', '''    pdl_wait();
    ST_AT(J.st, 1)
    // SPLIT: lane j of warp 0''')
rep('''    float a0 = 0.f, a1 = 0.f;
    // The epilogue's loads''', '''    ST_AT(J.st, 2)
    float a0 = 0.f, a1 = 0.f;
    // The epilogue's loads''')
# k_mvs: entry, exit
rep('''    if (threadIdx.x == 0) bmax = 0ull;
    __syncthreads();
    pdl_trigger();''', '''    ST_AT(J.st, 0)
    if (threadIdx.x == 0) bmax = 0ull;
    __syncthreads();
    pdl_trigger();''')
rep('''        if (threadIdx.x == 0) atomicMax(J.amax, bmax);
    }
}

// The residual matrices''', '''        if (threadIdx.x == 0) atomicMax(J.amax, bmax);
    }
    ST_EXIT(J.st)
}

// The residual matrices''')
# k_mvs_res
rep('''    (void)unused;
    pdl_trigger();
    unsigned long long best = 0ull;
    float ss_rows = 0.f;
    mvs_rows<T, false, MVS_RES, SPLIT>(J, sq, sd, ssum, ep, best, ss_rows);''', '''    (void)unused;
    ST_AT(J.st, 0)
    pdl_trigger();
    unsigned long long best = 0ull;
    float ss_rows = 0.f;
    mvs_rows<T, false, MVS_RES, SPLIT>(J, sq, sd, ssum, ep, best, ss_rows);
    ST_EXIT(J.st)''')
# k_mvs_multi
rep('''    (void)unused;
    // QKV before an early-launched attention''', '''    (void)unused;
    ST_AT(J.st, 0)
    // QKV before an early-launched attention''')
rep('''    if (J.trigger_late) pdl_trigger();
}''', '''    ST_EXIT(J.st)
    if (J.trigger_late) pdl_trigger();
}''')
# k_attn_dec_mma: the body becomes a device function, the kernel stamps around it
rep('''__global__ void __launch_bounds__(32 * ATT_MAXG) k_attn_dec_mma(AttnD p) {''',
    '''__device__ __forceinline__ void k_attn_dec_mma_body(AttnD p) {''')
rep('''    rope_sincos_lane(pos, p.rope_dim, p.invf, lane, rs, rc);
    for (int i = threadIdx.x; i < (16 - G) * LD; i += blockDim.x) sqh[G * LD + i] = sql[G * LD + i] = __float2half(0.f);
    pdl_wait();''', '''    rope_sincos_lane(pos, p.rope_dim, p.invf, lane, rs, rc);
    for (int i = threadIdx.x; i < (16 - G) * LD; i += blockDim.x) sqh[G * LD + i] = sql[G * LD + i] = __float2half(0.f);
    pdl_wait();
    ST_AT(p.st, 1)''')
# k_attn_dec_mma's inner points (kernel 5): the queries ready (0, before this token's K and
# V), the first tile landed for every warp (1), the tile loop done (2: where wo may launch),
# the outputs or partials written (3). A combining block's exit is kernel 1's exit. A stamp
# marks when thread 0 issued it: mma results still in flight are counted after it.
AT5 = 'p.st ? p.st + 4 * ST_SLOTS : nullptr'
rep('''    if (has_pos && warp == NW - 1) attn_token_kv(p, hk, cbase, pos, HD''',
    '''    ST_AT(%s, 0)
    if (has_pos && warp == NW - 1) attn_token_kv(p, hk, cbase, pos, HD''' % AT5)
rep('''        __syncthreads();    // everyone's (and skv, and the queries)
''', '''        __syncthreads();    // everyone's (and skv, and the queries)
        if (t == 0) ST_AT(%s, 1)
''' % AT5)
rep('''    cp_wait<0>();  // (only empty groups are left)
''', '''    cp_wait<0>();  // (only empty groups are left)
    ST_AT(%s, 2)
''' % AT5)
rep('''    if (n_act == 1) return;
    // the last of the active splits''', '''    if (p.st) {
        __syncthreads();
        ST_AT(%s, 3)
    }
    if (n_act == 1) return;
    // the last of the active splits''' % AT5)
rep('''    if (threadIdx.x == 0) p.counter[hk] = 0;
}
''', '''    if (threadIdx.x == 0) p.counter[hk] = 0;
}
template <int HD, int CW>
__global__ void __launch_bounds__(32 * ATT_MAXG) k_attn_dec_mma(AttnD p) {
    ST_AT(p.st, 0)
    k_attn_dec_mma_body<HD, CW>(p);
    ST_EXIT(p.st)
}
''')
# host: the buffer, the stamped layer's pointers
rep('''static MVS mvs1(GCtx *C, const DW &w, float *y, const float *bias, int mode, const float *x, int ss_n) {''',
    '''static MVS mvs1(GCtx *C, const DW &w, float *y, const float *bias, int mode, const float *x, int ss_n) {''')
rep('''    J.amax = C->amax;
''', '''    J.amax = C->amax;
    J.st = g_st_cur;
''')
rep('''        const int64_t lofs = (int64_t)(l - M->l0) * C->layer_stride;
        if (C->mvs_all) {''', '''        const int64_t lofs = (int64_t)(l - M->l0) * C->layer_stride;
        unsigned long long *st_l = l == g_st_layer ? g_st_buf : nullptr;
        g_st_cur = st_l;
        if (C->mvs_all) {''')
# the launches of the stamped layer: attention, wo, gate/up (whatever follows wo), ffn_down
# (matched by their first words, so that changed arguments do not break the script)
rep('''        launch_attn_dec(C, ap);
        ss_n = launch_residual(C, g.wo,''', '''        ap.st = st_l ? st_l + 1 * ST_SLOTS : nullptr;
        launch_attn_dec(C, ap);
        ap.st = nullptr;
        g_st_cur = st_l ? st_l + 2 * ST_SLOTS : nullptr;
        ss_n = launch_residual(C, g.wo,''')
s, n = re.subn(r'(\n        ss_n = launch_residual\(C, g\.wo, [^\n]*\);)',
              r'\1\n        g_st_cur = st_l ? st_l + 3 * ST_SLOTS : nullptr;', s)
assert n == 1, n
s, n = re.subn(r'(\n        ss_n = launch_residual\(C, g\.down, [^\n]*\);)',
              r'\n        g_st_cur = st_l ? st_l + 4 * ST_SLOTS : nullptr;\1\n        g_st_cur = nullptr;', s)
assert n == 1, n
rep('''#undef CT
    M->mem += C->mem;''', '''#undef CT
    if (!g_st_buf) {
        g_st_layer = M->l0 + (getenv("ST_LAYER") ? atoi(getenv("ST_LAYER")) : (M->hp.n_layer - M->l0) / 2);
        cudaMalloc((void **)&g_st_buf, sizeof(unsigned long long) * 6 * ST_SLOTS);
        cudaMemset(g_st_buf, 0, sizeof(unsigned long long) * 6 * ST_SLOTS);
    }
    M->mem += C->mem;''')
rep('''    if (C->st) cudaStreamSynchronize(C->st);
    for (int i = 0; i < 2; i++)''', '''    if (C->st) cudaStreamSynchronize(C->st);
    if (g_st_buf) {
        std::vector<unsigned long long> B((size_t)6 * ST_SLOTS);
        cudaMemcpy(B.data(), g_st_buf, B.size() * sizeof B[0], cudaMemcpyDeviceToHost);
        FILE *f = fopen(getenv("ST_OUT") ? getenv("ST_OUT") : "/tmp/stamps.txt", "w");
        unsigned long long t0 = ~0ull;
        for (unsigned long long v : B) if (v && v < t0) t0 = v;
        for (int k = 0; f && k < 6; k++)
            for (int b = 0; b < ST_SLOTS / 4; b++) {
                const unsigned long long *e = &B[(size_t)k * ST_SLOTS + 4 * b];
                if (!e[0]) continue;
                fprintf(f, "%d %d", k, b);
                for (int i = 0; i < 4; i++) fprintf(f, " %lld", e[i] ? (long long)(e[i] - t0) : -1ll);
                fprintf(f, "\\n");
            }
        if (f) fclose(f);
    }
    for (int i = 0; i < 2; i++)''')
open(sys.argv[1], 'w').write(s)
