# make OUT.cu: apr_cuda.cu with globaltimer stamps of one layer's QKV, attention, wo (buffer passed in params)
import sys
s=open(sys.argv[2] if len(sys.argv)>2 else 'apr_cuda.cu').read()
def rep(old,new):
    global s
    assert s.count(old)==1, old
    s=s.replace(old,new)
rep('''struct AttnD {
    const float *qkv;''','''struct AttnD {
    unsigned long long *st;
    const float *qkv;''')
rep('''    unsigned long long *amax;
};

#define MVS_U 2''','''    unsigned long long *amax;
    unsigned long long *st;
};

#define MVS_U 2''')
rep('__device__ void rope_vec(', '''static unsigned long long *g_st_cur = nullptr, *g_st_buf = nullptr;
static int g_st_layer = -1;
__device__ __forceinline__ unsigned long long gtime() { unsigned long long t; asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)); return t; }
__device__ __forceinline__ unsigned smid() { unsigned r; asm volatile("mov.u32 %0, %%smid;" : "=r"(r)); return r; }
__device__ void rope_vec(''')
rep('''    if (p.trigger) pdl_trigger();  // wo's blocks may start''','''    unsigned long long *const STA = p.st ? p.st + 8 * (blockIdx.y * gridDim.x + blockIdx.x) : nullptr;
    if (STA && threadIdx.x == 0) { STA[0] = gtime(); STA[1] = STA[2] = STA[3] = STA[4] = STA[5] = STA[6] = 0; STA[7] = smid(); }
    if (p.trigger) pdl_trigger();  // wo's blocks may start''')
rep('''    // rounds of PG tiles, tile t0 + grp for this warp's group''','''    if (STA && threadIdx.x == 0) STA[2] = gtime();''')
rep('''        __syncthreads();     // everyone's (and skv, and the query)''','''        __syncthreads();     // everyone's (and skv, and the query)
        if (STA && threadIdx.x == 0 && t0 == 0) STA[3] = gtime();''')
rep('''    for (int t = 0; t < ST; t++) tile_load(t);''','''    for (int t = 0; t < ST; t++) tile_load(t);
    if (STA && threadIdx.x == 0) STA[1] = gtime();''')
rep('''    float inv = 1.f;
    if (n_act == 1) {''','''    if (STA && threadIdx.x == 0) STA[4] = gtime();
    float inv = 1.f;
    if (n_act == 1) {''')
rep('''        if (!is_last) return;''','''        if (STA && threadIdx.x == 0) STA[5] = gtime();
        if (!is_last) return;
        if (STA && threadIdx.x == 0) STA[7] |= 1u << 16;''')
rep('''    attn_out_head(p, h, sq + hw * hd, inv, hd, lane);
}''','''    attn_out_head(p, h, sq + hw * hd, inv, hd, lane);
    if (STA) { asm volatile("bar.sync 1, %0;" :: "r"(32 * G)); if (threadIdx.x == 0) STA[6] = gtime(); }
}''')
rep('''    (void)unused;
    pdl_trigger();
    unsigned long long best = 0ull;
    float ss_rows = 0.f;
    mvs_rows<T, false, MVS_RES, SPLIT>(J, sq, sd, ssum, ep, best, ss_rows);''','''    (void)unused;
    if (J.st && threadIdx.x == 0) J.st[2 * blockIdx.x] = gtime();
    pdl_trigger();
    unsigned long long best = 0ull;
    float ss_rows = 0.f;
    mvs_rows<T, false, MVS_RES, SPLIT>(J, sq, sd, ssum, ep, best, ss_rows);
    if (J.st) { __syncthreads(); if (threadIdx.x == 0) J.st[2 * blockIdx.x + 1] = gtime(); }''')
rep('''    if (TA == TB || type == TA) mvs_rows<TA, false, MVS_MULTI, SPLIT>(J, sq, sd, ssum, ep, best, ss_rows);
    else mvs_rows<TB, false, MVS_MULTI, SPLIT>(J, sq, sd, ssum, ep, best, ss_rows);''','''    if (J.st && threadIdx.x == 0) J.st[2 * blockIdx.x] = gtime();
    if (TA == TB || type == TA) mvs_rows<TA, false, MVS_MULTI, SPLIT>(J, sq, sd, ssum, ep, best, ss_rows);
    else mvs_rows<TB, false, MVS_MULTI, SPLIT>(J, sq, sd, ssum, ep, best, ss_rows);
    if (J.st) { __syncthreads(); if (threadIdx.x == 0) J.st[2 * blockIdx.x + 1] = gtime(); }''')
# host: buffer, per-layer pointers
rep('''static MVS mvs1(GCtx *C, const DW &w, float *y, const float *bias, int mode, const float *x, int ss_n) {''','''static MVS mvs1(GCtx *C, const DW &w, float *y, const float *bias, int mode, const float *x, int ss_n) {''')
rep('''    J.amax = C->amax;
    return J;''','''    J.amax = C->amax;
    J.st = g_st_cur;
    return J;''')
rep('''            for (int i = 0; i < 3;) {
                MVS J = mvs1(C, *w[order[i]], y[order[i]], b[order[i]], MV_STORE, C->xw, ss_n);''','''            g_st_cur = l == g_st_layer ? g_st_buf + 6144 : nullptr;
            for (int i = 0; i < 3;) {
                MVS J = mvs1(C, *w[order[i]], y[order[i]], b[order[i]], MV_STORE, C->xw, ss_n);''')
rep('''        // Attention is launched without PDL: its blocks, launched early and waiting beside the
        // QKV matvec, cost 17% at 4096 positions (bench/NOTES.md).
        launch_attn_dec(C, ap);
        ss_n = launch_residual(C, g.wo, g.bo, C->attn_out, g.ffn_norm);''','''        ap.st = l == g_st_layer ? g_st_buf : nullptr;
        launch_attn_dec(C, ap);
        g_st_cur = l == g_st_layer ? g_st_buf + 8192 : nullptr;
        ss_n = launch_residual(C, g.wo, g.bo, C->attn_out, g.ffn_norm);
        g_st_cur = nullptr;''')
rep('''#undef CT
    M->mem += C->mem;''','''#undef CT
    g_st_layer = M->l0 + (getenv("ST_LAYER") ? atoi(getenv("ST_LAYER")) : nl_gpu / 2);
    cudaMalloc((void **)&g_st_buf, 8 * 10240); cudaMemset(g_st_buf, 0, 8 * 10240);
    M->mem += C->mem;''')
rep('''    if (C->st) cudaStreamSynchronize(C->st);
    for (int i = 0; i < 2; i++)''','''    if (C->st) cudaStreamSynchronize(C->st);
    if (g_st_buf) {
        static unsigned long long B[10240];
        cudaMemcpy(B, g_st_buf, sizeof B, cudaMemcpyDeviceToHost);
        unsigned long long (*a)[8] = (unsigned long long (*)[8])B, (*q)[2] = (unsigned long long (*)[2])(B + 6144), (*w)[2] = (unsigned long long (*)[2])(B + 8192);
        unsigned long long T0 = ~0ull;
        for (int i = 0; i < 1024; i++) if (q[i][0]) T0 = std::min(T0, q[i][0]);
        auto mm = [&](const char *nm, const unsigned long long *base, int stride, int n, int k) {
            std::vector<long long> v;
            for (int i = 0; i < n; i++) if (base[i * stride + k]) v.push_back((long long)(base[i * stride + k] - T0));
            std::sort(v.begin(), v.end());
            if (v.size()) fprintf(stderr, "ST %-14s n=%4zu min %7lld p10 %7lld med %7lld p90 %7lld max %7lld ns\\n", nm, v.size(), v[0], v[v.size()/10], v[v.size()/2], v[v.size()*9/10], v.back());
        };
        if (T0 != ~0ull) {
            mm("qkv entry", B + 6144, 2, 1024, 0); mm("qkv exit", B + 6144, 2, 1024, 1);
            mm("att entry", B, 8, 768, 0); mm("att issued", B, 8, 768, 1); mm("att prep", B, 8, 768, 2); mm("att ready0", B, 8, 768, 3); mm("att tiles", B, 8, 768, 4); mm("att atomic", B, 8, 768, 5); mm("att end", B, 8, 768, 6);
            mm("wo entry", B + 8192, 2, 1024, 0); mm("wo exit", B + 8192, 2, 1024, 1);
            for (int i = 0; i < 768; i++) if (a[i][7] >> 16) fprintf(stderr, "ST last block %d sm %llu: entry %lld issued %lld prep %lld ready0 %lld tiles %lld atomic %lld end %lld\\n", i, a[i][7] & 0xffff,
                (long long)(a[i][0]-T0), (long long)(a[i][1]-T0), (long long)(a[i][2]-T0), (long long)(a[i][3]-T0), (long long)(a[i][4]-T0), (long long)(a[i][5]-T0), (long long)(a[i][6]-T0));
            std::vector<long long> iss, pre, rdy, til, atm;
            for (int i = 0; i < 768; i++) if (a[i][0] && a[i][4]) { iss.push_back(a[i][1]-a[i][0]); pre.push_back(a[i][2]-a[i][1]); rdy.push_back(a[i][3]-a[i][2]); til.push_back(a[i][4]-a[i][3]); if (a[i][5]) atm.push_back(a[i][5]-a[i][4]); }
            auto md = [](const char *nm, std::vector<long long> v) { if (!v.size()) return; std::sort(v.begin(), v.end()); fprintf(stderr, "ST dur %-10s min %6lld med %6lld max %6lld ns\\n", nm, v[0], v[v.size()/2], v.back()); };
            md("issue", iss); md("prep", pre); md("wait data", rdy); md("compute", til); md("fence+atom", atm);
            (void)w;
        }
    }
    for (int i = 0; i < 2; i++)''')
open(sys.argv[1],'w').write(s)
