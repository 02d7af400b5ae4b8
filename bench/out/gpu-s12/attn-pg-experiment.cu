template <int TILE, int HD, int PG>
__global__ void __launch_bounds__(32 * ATT_MAXG) k_attn_dec(AttnD p) {
    constexpr int NSC = TILE / 32, ST = att_stages(TILE);
    static_assert(ST >= PG, "a round of PG tiles fits in the stages");
    constexpr int DPL = HD ? HD / 32 : 8;  // a lane's dimensions (at most)
    extern __shared__ float sm[];
    __shared__ int is_last;
    const int hk = blockIdx.x, s = blockIdx.y;
    const int G = p.nh / p.nkv, hd = HD ? HD : p.hd, hd8 = hd / 8, dpl = hd / 32, kst = hd + 8;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    // warp = grp * G + hw: query head hw of this kv head, in position group grp (PG > 1:
    // the groups take alternate tiles, merged at the end)
    const int grp = PG > 1 ? warp / G : 0, hw = warp - grp * G;
    const int h = hk * G + hw;
    float *sq = sm;                                       // G * hd
    float *skv = sq + G * hd;                             // 2 * hd (this token's k and v)
    float *sw = skv + 2 * hd + warp * ATT_SPW;            // this warp's ATT_SPW weights
    __half *stage = (__half *)(skv + 2 * hd + G * PG * ATT_SPW);  // ST * TILE * (kst + hd)
    if (p.trigger) pdl_trigger();  // wo's blocks may start and pull their rows into L2 meanwhile
    const int pos = p.pos[0];
    const int n_kv = pos + 1;
    // splits of at least min_chunk positions (one split: no combine), at most S (<= ATT_SMAX)
    const int chunk = max(p.min_chunk, (n_kv + p.S - 1) / p.S);
    const int n_act = (n_kv + chunk - 1) / chunk;
    const int start = s * chunk, end = min(n_kv, start + chunk);
    if (start >= end) return;  // an idle split: takes no part in the combine
    const int n_tiles = (end - start + TILE - 1) / TILE;
    const int64_t cbase = (int64_t)p.seq[0] * p.seq_stride + (int64_t)hk * p.head_stride;
    const __half *kc = p.kc + cbase, *vc = p.vc + cbase;
    auto Ks = [&](int t) { return stage + (size_t)(t % ST) * TILE * (kst + hd); };
    auto Vs = [&](int t) { return Ks(t) + TILE * kst; };
    // tile t's loads as one cp.async group (an empty group past the last tile keeps the
    // count of groups in flight the same for every wait)
    auto tile_load = [&](int t) {
        if (t < n_tiles) {
            const int k0 = start + t * TILE, n = min(TILE, end - k0) * hd8;
            __half *ks = Ks(t), *vs = Vs(t);
            for (int idx = threadIdx.x; idx < n; idx += blockDim.x) {
                const int j = idx / hd8, c = idx - j * hd8;
                if (k0 + j == pos) continue;
                cp_async16(ks + j * kst + 8 * c, kc + (int64_t)(k0 + j) * hd + 8 * c, true);
                cp_async16(vs + j * hd + 8 * c, vc + (int64_t)(k0 + j) * hd + 8 * c, true);
            }
        }
        cp_commit();
    };
#pragma unroll
    for (int t = 0; t < ST; t++) tile_load(t);
    // the rope's sines and cosines need only the position: one dependent load (the
    // frequencies) less after the query arrives
    float rs[ATT_RPL], rc[ATT_RPL];
    rope_sincos_lane(pos, p.rope_dim, p.invf, lane, rs, rc);
    // Everything above reads only the cache of earlier tokens and the position (written
    // before the graph's first kernel); the query and this token's K and V are the QKV
    // matvec's output. Launched with PDL (APR_CUDA_ATTN_PDL=1; not the default, see
    // context_create), the block gets here while that matvec still runs.
    pdl_wait();
    // q of this warp's head: norm, rope, scale (by the first position group)
    if (grp == 0) {
        for (int d = lane; d < hd; d += 32) sq[hw * hd + d] = p.qkv[(int64_t)h * hd + d];
        __syncwarp();
        if (p.qn) head_norm(sq + hw * hd, p.qn, hd, p.eps, lane);
        rope_vec(sq + hw * hd, p.rope_dim, p.neox, rs, rc, lane);
        for (int d = lane; d < hd; d += 32) sq[hw * hd + d] *= p.scale;
    }
    // the split holding pos writes this token's K and V (to the cache, and to skv)
    const bool has_pos = start <= pos && pos < end;
    if (has_pos && warp == 0) {
        const float *kin = p.qkv + (int64_t)p.nh * hd + (int64_t)hk * hd;
        const float *vin = kin + (int64_t)p.nkv * hd;
        for (int d = lane; d < hd; d += 32) { skv[d] = kin[d]; skv[hd + d] = vin[d]; }
        __syncwarp();
        if (p.kn) head_norm(skv, p.kn, hd, p.eps, lane);
        rope_vec(skv, p.rope_dim, p.neox, rs, rc, lane);
        for (int d = lane; d < hd; d += 32) {
            p.kc[cbase + (int64_t)pos * hd + d] = __float2half(skv[d]);
            p.vc[cbase + (int64_t)pos * hd + d] = __float2half(skv[hd + d]);
        }
    }
    float m = -INFINITY, l = 0.f;
    float acc[DPL];
#pragma unroll
    for (int i = 0; i < DPL; i++) acc[i] = 0.f;
    const float4 *q4 = (const float4 *)(sq + hw * hd);
    // rounds of PG tiles, tile t0 + grp for this warp's group
    for (int t0 = 0; t0 < n_tiles; t0 += PG) {
        cp_wait<ST - PG>();  // this thread's pieces of the round's tiles have landed
        __syncthreads();     // everyone's (and skv, and the query)
        const int tp = (pos - start) / TILE;  // the tile holding pos (if has_pos)
        if (has_pos && tp >= t0 && tp < t0 + PG) {
            // this token's K and V, rounded to f16 as written to the cache
            const int j = pos - start - tp * TILE;
            __half *ks = Ks(tp), *vs = Vs(tp);
            for (int d = threadIdx.x; d < hd; d += blockDim.x) {
                ks[j * kst + d] = __float2half(skv[d]);
                vs[j * hd + d] = __float2half(skv[hd + d]);
            }
            __syncthreads();
        }
        const int t = t0 + grp;
        if (t < n_tiles) {
            const int k0 = start + t * TILE, nk = min(TILE, end - k0);
            const __half *ks = Ks(t), *vs = Vs(t);
            // lane scores positions k0 + lane + 32 i (rows past nk read the last valid one
            // and are masked: every row read was written)
            float a[NSC][4];
            const uint4 *kr[NSC];
#pragma unroll
            for (int i = 0; i < NSC; i++) {
                kr[i] = (const uint4 *)(ks + min(lane + 32 * i, nk - 1) * kst);
#pragma unroll
                for (int c = 0; c < 4; c++) a[i][c] = 0.f;
            }
#pragma unroll 4
            for (int d8 = 0; d8 < hd8; d8++) {
                const float4 qa = q4[2 * d8], qb = q4[2 * d8 + 1];
#pragma unroll
                for (int i = 0; i < NSC; i++) {
                    const uint4 u = kr[i][d8];
                    const float2 k0f = __half22float2(*(const __half2 *)&u.x), k1f = __half22float2(*(const __half2 *)&u.y);
                    const float2 k2f = __half22float2(*(const __half2 *)&u.z), k3f = __half22float2(*(const __half2 *)&u.w);
                    a[i][0] = fmaf(qa.x, k0f.x, a[i][0]);
                    a[i][1] = fmaf(qa.y, k0f.y, a[i][1]);
                    a[i][2] = fmaf(qa.z, k1f.x, a[i][2]);
                    a[i][3] = fmaf(qa.w, k1f.y, a[i][3]);
                    a[i][0] = fmaf(qb.x, k2f.x, a[i][0]);
                    a[i][1] = fmaf(qb.y, k2f.y, a[i][1]);
                    a[i][2] = fmaf(qb.z, k3f.x, a[i][2]);
                    a[i][3] = fmaf(qb.w, k3f.y, a[i][3]);
                }
            }
            float sc[NSC];
#pragma unroll
            for (int i = 0; i < NSC; i++) sc[i] = lane + 32 * i < nk ? (a[i][0] + a[i][1]) + (a[i][2] + a[i][3]) : -INFINITY;
            float mt = sc[0];
#pragma unroll
            for (int i = 1; i < NSC; i++) mt = fmaxf(mt, sc[i]);
            const float mn = fmaxf(m, warp_max(mt));
            const float corr = m == -INFINITY ? 0.f : __expf(m - mn);
            float psum = 0.f;
#pragma unroll
            for (int i = 0; i < NSC; i++) {
                const float pr = lane + 32 * i < nk ? __expf(sc[i] - mn) : 0.f;
                sw[lane + 32 * i] = pr;
                psum += pr;
            }
            l = l * corr + warp_sum(psum);
#pragma unroll
            for (int i = 0; i < DPL; i++) acc[i] *= corr;
            __syncwarp();
            // weighted values: four positions' weights per 16-byte load, the rest one by one
            const __half *vl = vs + lane * dpl;
            auto vrow = [&](int j, float w) {
                float f[DPL];
                att_vals<HD / 32>(vl + j * hd, f, dpl);
#pragma unroll
                for (int i = 0; i < DPL; i++) acc[i] = fmaf(w, f[i], acc[i]);
            };
            int j = 0;
            for (; j + 4 <= nk; j += 4) {
                const float4 w4 = *(const float4 *)(sw + j);
                vrow(j, w4.x);
                vrow(j + 1, w4.y);
                vrow(j + 2, w4.z);
                vrow(j + 3, w4.w);
            }
            for (; j < nk; j++) vrow(j, sw[j]);
            m = mn;
        }
        __syncthreads();  // every warp is done with the round's stages (and sw)
#pragma unroll
        for (int g = 0; g < PG; g++) tile_load(t0 + ST + g);  // into the stages just freed
    }
    if (PG > 1 && n_tiles > 1) {
        // the other groups' (m, l, acc) through the stages (no cp.async is pending: the
        // loads past the last tile are empty groups), merged by group 0 in group order
        float *gx = (float *)stage + (size_t)(warp - G) * (hd + 2);
        if (grp > 0) {
#pragma unroll
            for (int i = 0; i < DPL; i++)
                if (i < dpl) gx[lane * dpl + i] = acc[i];
            if (lane == 0) gx[hd] = m, gx[hd + 1] = l;
        }
        __syncthreads();
        if (grp == 0) {
            for (int g = 1; g < PG && g * TILE < n_tiles * TILE; g++) {
                const float *ox = (const float *)stage + (size_t)(warp + (g - 1) * G) * (hd + 2);
                const float om = ox[hd], ol = ox[hd + 1];
                const float mn = fmaxf(m, om);
                const float c0 = m == -INFINITY ? 0.f : __expf(m - mn), c1 = om == -INFINITY ? 0.f : __expf(om - mn);
                l = l * c0 + ol * c1;
#pragma unroll
                for (int i = 0; i < DPL; i++)
                    if (i < dpl) acc[i] = acc[i] * c0 + ox[lane * dpl + i] * c1;
                m = mn;
            }
        }
    }
    float inv = 1.f;
    if (n_act == 1) {
        // one split holds everything (short contexts): no combine; wo may launch now
        pdl_trigger();
        inv = l > 0.f ? 1.f / l : 0.f;
    } else {
        const int64_t pi = (int64_t)h * p.S + s;
        if (grp == 0) {
#pragma unroll
            for (int i = 0; i < DPL; i++)
                if (i < dpl) p.po[pi * hd + lane * dpl + i] = acc[i];
            if (lane == 0) {
                p.pml[2 * pi] = m;
                p.pml[2 * pi + 1] = l;
            }
        }
        // the last of the active splits of this kv head combines
        __threadfence();
        __syncthreads();
        if (threadIdx.x == 0) is_last = atomicAdd(p.counter + hk, 1) == n_act - 1;
        __syncthreads();
        if (!is_last) return;
        // every other block has ended: wo's blocks may launch during the combine
        pdl_trigger();
        __threadfence();
        if (grp == 0) inv = attn_combine_head(p, (int64_t)h * p.S, n_act, hd, sw, sq + hw * hd, lane);
        __syncwarp();
        if (threadIdx.x == 0) p.counter[hk] = 0;
    }
    if (grp > 0) return;
    if (n_act == 1) {
        __syncwarp();
#pragma unroll
        for (int i = 0; i < DPL; i++)
            if (i < dpl) sq[hw * hd + lane * dpl + i] = acc[i];
        __syncwarp();
    }
    attn_out_head(p, h, sq + hw * hd, inv, hd, lane);
}

template <int TILE, int PG> static bool attn_dec_allow_smem(int smax) {
    return cudaFuncSetAttribute(k_attn_dec<TILE, 128, PG>, cudaFuncAttributeMaxDynamicSharedMemorySize, smax) == cudaSuccess &&
           cudaFuncSetAttribute(k_attn_dec<TILE, 64, PG>, cudaFuncAttributeMaxDynamicSharedMemorySize, smax) == cudaSuccess &&
           cudaFuncSetAttribute(k_attn_dec<TILE, 0, PG>, cudaFuncAttributeMaxDynamicSharedMemorySize, smax) == cudaSuccess;
}
