// bench/cuda/ffnprobe.cu - would one kernel for the whole FFN (gate/up, SwiGLU, ffn_down)
// shorten a 7B layer on the H100? A probe for issue 7's 2x (bench/NOTES.md, session 28), not
// part of apr. Every matrix is Q4_K at Qwen2.5-7B's sizes (3,584 x 18,944): 114.6 MB a layer.
//
// Today apr runs gate/up and ffn_down as two kernels, and the boundary between them costs a
// whole ffn_down input (18,944 values) staged and quantized by every block after gate/up's
// last block has left (sessions 17-26). Here the intermediate dimension is split between the
// blocks instead of the rows: block b owns groups of 16 intermediate values, computes their
// gate/up rows, quantizes its own SwiGLU outputs (int8 per 16: apr's scheme, local to each
// group, so the same values as a whole-vector quantization) and multiplies them by its
// columns of ffn_down, for every output row. Its partial sums go to a buffer; for each range
// of NT output rows, the last block to write its part (a counter per range) adds the parts in
// block order (deterministic) into the residual.
//
// CL=2 (default): clusters of two blocks. Each computes half of the cluster's gate/up rows,
// stores its quantized outputs into both blocks' shared memory (distributed shared memory),
// and after the cluster's barrier each block takes half of the output rows against the
// cluster's columns: twice the columns a row, half the partial sums. CL=1: no cluster.
//
// Forms timed (a chain of L layers, each kernel launched with PDL, median of reps chains):
//   fused      the kernel above;
//   fused-nr   the same without the partial sums' reduction (wrong x: what the reduction costs);
//   split      the same two phases as two kernels (gate/up writes h quantized to global memory,
//              ffn_down's blocks read their columns' groups after pdl_wait): what fusing buys
//              with the same arithmetic;
//   read       a plain read of the same bytes (the bound).
//   fused-gb / fused-at: the partial sums added after a grid-wide barrier, each block a slice
//              of rows / by atomicAdd into x (order not fixed);
//   gateup, down-nr, down: the split form's kernels alone.
// check: x after 2 layers against a reference (one kernel a matrix, one warp a row, the same
// arithmetic; h bit-identical, x up to the order of the partial sums). Stamps (%globaltimer)
// of one fused layer.
//
// What it found on an H100 (runs 252-253; figures of the -DPR=1 build): fused 67.7 us a layer with atomicAdd (68.3 with no
// reduction) against 44.1 + 27.9 for the same phases as two kernels: fusing saves ~3.7 us. But
// the column-split ffn_down (a thread a row, ~200 bytes of it in 16-byte pieces) streams only
// 1.4-1.9 TB/s, against ~2.75 for apr's row split, and a fixed-order reduction costs 3.4 us
// (grid barrier) or 25 (the last producer of each range). bench/NOTES.md, session 28.
//   nvcc -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -o /tmp/ffnprobe bench/cuda/ffnprobe.cu
//   /tmp/ffnprobe [layers=28] [reps=10]
#include <cooperative_groups.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#define PROBE_NAME "ffnprobe"
#include "probe_common.cuh"
namespace cg = cooperative_groups;

#ifndef NW
#define NW 8  // warps a block
#endif
#ifndef CL
#define CL 2  // blocks a cluster (1 or 2)
#endif
#ifndef PR
#define PR 2  // gate/up rows a warp loads at once
#endif
#ifndef PAD_KB
#define PAD_KB 0  // dynamic shared memory a block (KB): > 114 keeps a second block off the SM
#endif
#define NT (NW * 32)

constexpr int E = 3584, F = 18944, SBE = E / 256, NGE = E / 16, NGF = F / 16;
constexpr int GUROW = 2 * SBE * QBLK;  // a gate/up row pair: the gate row, then the up row
constexpr int DNROW = F / 256 * QBLK;  // an ffn_down row
constexpr int UPL = (2 * SBE * 8 + 31) / 32;  // 16-byte units a lane of a gate/up row pair
constexpr int NR = E / NT;                     // ranges of output rows (a counter each)
static_assert((E / CL) % NT == 0, "a block's output rows are whole ranges");
#define MAXGRP (CL == 1 ? 12 : 20)      // a cluster's groups of 16 at most (132 SMs: 9 or 18)
constexpr int MAXJ = MAXGRP / 4 + 2;   // its 64-value blocks (two 16-byte units a row) at most
constexpr int MAXSB = MAXGRP / 16 + 2;  // its Q4_K blocks a row at most

struct Net {
    const uint8_t *gu, *dn;  // layer 0's gate/up row pairs (F) and ffn_down rows (E); layer l at + l * stride
    size_t gu_stride, dn_stride;
    float *x;           // the residual (E)
    const float *nw;    // the RMSNorm weight (E)
    float *part;        // [producers][E] partial sums of ffn_down
    unsigned *cnt;      // [L][NR]: producers done with a range of output rows
    int4 *hq;           // split form: h quantized (NGF groups), their scales and sums
    float *hd;
    int *hs;
    int *smid;          // or null: the SM of each block
    unsigned long long *stamps;  // or null: [L][blocks][8] %globaltimer (k_ffn: see stamp)
    int layer, mode;    // the partial sums: 0 the last producer of a range adds them; 1 not
                        // added (wrong x); 2 a grid-wide barrier, then each block adds a slice
                        // of rows; 3 atomicAdd into x (order not fixed)
};

__device__ __forceinline__ void pdl_wait() { asm volatile("griddepcontrol.wait;\n" ::: "memory"); }
__device__ __forceinline__ void pdl_trigger() { asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory"); }
__device__ __forceinline__ unsigned ld_acquire(const unsigned *p) {
    unsigned v;
    asm volatile("ld.acquire.gpu.global.u32 %0, [%1];\n" : "=r"(v) : "l"(p) : "memory");
    return v;
}
// stamp j of this block in this layer: 0 entry, 1 pdl_wait returned, 2 x staged, 3 gate/up
// done, 4 the cluster's h in place, 5 the last round's parts written, 6 exit
__device__ __forceinline__ void stamp(const Net &N, int j) {
    if (N.stamps && threadIdx.x == 0) {
        unsigned long long t;
        asm volatile("mov.u64 %0, %globaltimer;" : "=l"(t));
        N.stamps[((size_t)N.layer * gridDim.x + blockIdx.x) * 8 + j] = t;
    }
}

// Group of 16 (an int8 group of the activation, aq/ad/as) against the low (hi = 0) or high
// nibbles of 16 quant bytes q of sub-block j: d * sc * dg * dot - dmin * m * dg * sum
__device__ __forceinline__ float group_dot(int4 q, bool hi, uint4 h, int j, int4 a, float dg, int sg) {
    const int sh = hi ? 4 : 0;
    int s = 0;
    s = __dp4a((q.x >> sh) & 0x0F0F0F0F, a.x, s);
    s = __dp4a((q.y >> sh) & 0x0F0F0F0F, a.y, s);
    s = __dp4a((q.z >> sh) & 0x0F0F0F0F, a.z, s);
    s = __dp4a((q.w >> sh) & 0x0F0F0F0F, a.w, s);
    int sc, m;
    scale_min(h.y, h.z, h.w, j, sc, m);
    const float2 f = __half22float2(*(const __half2 *)&h.x);
    return f.x * (sc * dg * s) - f.y * (m * dg * sg);
}

// A 16-byte unit (c = 0..7) of a Q4_K block: its quant bytes and the block's 16-byte head
// (d, dmin, scales). Unit c holds groups 4 (c / 2) + c % 2 (low nibbles, sub-block c / 2 * 2)
// and that + 2 (high nibbles, the next sub-block).
struct Unit {
    int4 q;
    uint4 h;
};
__device__ __forceinline__ void unit_load(Unit &u, const uint8_t *blk, int c) {
    u.h = __ldg((const uint4 *)blk);
    u.q = __ldg((const int4 *)(blk + 16 + 16 * c));
}
__device__ __forceinline__ float unit_dot(const Unit &u, int c, int sb, const int4 *aq, const float *ad,
                                          const int *as) {
    const int j = c >> 1, hh = c & 1, glo = 16 * sb + 4 * j + hh, ghi = glo + 2;
    return group_dot(u.q, false, u.h, 2 * j, aq[glo], ad[glo], as[glo]) +
           group_dot(u.q, true, u.h, 2 * j + 1, aq[ghi], ad[ghi], as[ghi]);
}

// RMSNorm(x) * nw quantized into aq/ad/as by the block's NT threads
__device__ void stage_x(const Net &N, int4 *aq, float *ad, int *as, float *red) {
    const int t = threadIdx.x;
    float ss = 0.f;
    for (int g = t; g < NGE; g += NT) {
        float v[16];
        load16(N.x + 16 * g, v);
#pragma unroll
        for (int i = 0; i < 16; i++) ss += v[i] * v[i];
    }
    ss = warp_sum(ss);
    if ((t & 31) == 0) red[t >> 5] = ss;
    __syncthreads();
    float tot = 0.f;
    for (int i = 0; i < NW; i++) tot += red[i];
    const float sc = rsqrtf(tot / E + 1e-6f);
    for (int g = t; g < NGE; g += NT) {
        float v[16];
        load16(N.x + 16 * g, v);
#pragma unroll
        for (int i = 0; i < 16; i++) v[i] = v[i] * sc * N.nw[16 * g + i];
        quant16(v, aq[g], ad[g], as[g]);
    }
}

// Phase 1: gate/up row pairs [r0, r0 + n) (intermediate rows) into hf[0, n) as silu(g) * u.
// Warp w takes rows w, w + NW, ... PR at a time; lane l units l, l + 32, ... of a row pair (the
// reference's order). The first rows' loads go out before pdl_wait (the weights do not depend
// on the kernel before); then x is staged.
__device__ void phase_gateup(const Net &N, int r0, int n, int4 *aq, float *ad, int *as, float *red, float *hf) {
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const uint8_t *gu = N.gu + N.layer * N.gu_stride;
    Unit U[PR][UPL];
    auto load = [&](int base) {
#pragma unroll
        for (int p = 0; p < PR; p++) {
            const int r = base + p * NW;
#pragma unroll
            for (int k = 0; k < UPL; k++) {
                const int u = lane + 32 * k;
                if (r < n && u < 2 * SBE * 8) unit_load(U[p][k], gu + (size_t)(r0 + r) * GUROW + (u >> 3) * QBLK, u & 7);
            }
        }
    };
    load(warp);
    pdl_wait();
    stamp(N, 1);
    stage_x(N, aq, ad, as, red);
    __syncthreads();
    stamp(N, 2);
    for (int base = warp; base < n; base += PR * NW) {
        if (base != warp) load(base);
#pragma unroll
        for (int p = 0; p < PR; p++) {
            const int r = base + p * NW;
            if (r >= n) break;
            float a0 = 0.f, a1 = 0.f;
#pragma unroll
            for (int k = 0; k < UPL; k++) {
                const int u = lane + 32 * k, b = u >> 3;
                if (u < 2 * SBE * 8) {
                    const float v = unit_dot(U[p][k], u & 7, b >= SBE ? b - SBE : b, aq, ad, as);
                    if (b >= SBE) a1 += v;
                    else a0 += v;
                }
            }
            const float g = warp_sum(a0), up = warp_sum(a1);
            if (lane == 0) hf[r] = silu(g) * up;
        }
    }
}

// Phase 2: output rows [rA, rA + nrows) in rounds of NT (a row a thread) against the groups
// [gA, gB) of h (quantized, local index g - gA in hq/hd/hs: shared memory), partial sums to
// part[pi][r]. After each round, the range's counter; its NP-th producer adds the parts into
// x in producer order. split: hq is staged from global memory after the first round's loads
// and pdl_wait.
__device__ void phase_down(const Net &N, int gA, int gB, int rA, int nrows, int pi, int NP, int4 *hq, float *hd,
                           int *hs, bool split, int *flag) {
    const uint8_t *dn = N.dn + N.layer * N.dn_stride;
    const int JA = gA >> 2, nJ = ((gB - 1) >> 2) - JA + 1, SA = gA >> 4, nS = ((gB - 1) >> 4) - SA + 1;
    const int rounds = nrows / NT;
    int4 Q[MAXJ][2];
    uint4 H[MAXSB];
    auto load = [&](int k) {
        const uint8_t *row = dn + (size_t)(rA + k * NT + threadIdx.x) * DNROW;
#pragma unroll
        for (int s = 0; s < MAXSB; s++)
            if (s < nS) H[s] = __ldg((const uint4 *)(row + (SA + s) * QBLK));
#pragma unroll
        for (int t = 0; t < MAXJ; t++)
            if (t < nJ) {
                const int J = JA + t;
                const uint8_t *b = row + (J >> 2) * QBLK + 16 + 32 * (J & 3);
                Q[t][0] = __ldg((const int4 *)b);
                Q[t][1] = __ldg((const int4 *)(b + 16));
            }
    };
    load(0);
    if (split) {
        pdl_wait();
        for (int g = gA + (int)threadIdx.x; g < gB; g += NT) {
            hq[g - gA] = __ldcg(N.hq + g);
            hd[g - gA] = __ldcg(N.hd + g);
            hs[g - gA] = __ldcg(N.hs + g);
        }
        __syncthreads();
    }
    for (int k = 0; k < rounds; k++) {
        float acc = 0.f;
#pragma unroll
        for (int t = 0; t < MAXJ; t++) {
            if (t >= nJ) break;
            const int J = JA + t, j = J & 3;
            const int si = (J >> 2) - SA;  // (selects: an indexed register array would go to local memory)
            uint4 h = H[0];
#pragma unroll
            for (int s = 1; s < MAXSB; s++)
                if (si == s) h = H[s];
#pragma unroll
            for (int hh = 0; hh < 2; hh++) {
                const int glo = 4 * J + hh, ghi = glo + 2;  // (unit 2 j + hh of the block)
                if (glo >= gA && glo < gB)
                    acc += group_dot(Q[t][hh], false, h, 2 * j, hq[glo - gA], hd[glo - gA], hs[glo - gA]);
                if (ghi >= gA && ghi < gB)
                    acc += group_dot(Q[t][hh], true, h, 2 * j + 1, hq[ghi - gA], hd[ghi - gA], hs[ghi - gA]);
            }
        }
        const int r0 = rA + k * NT;
        if (N.mode == 3) atomicAdd(N.x + r0 + threadIdx.x, acc);
        else N.part[(size_t)pi * E + r0 + threadIdx.x] = acc;
        if (k + 1 < rounds) load(k + 1);
        if (N.mode != 0) continue;
        __syncthreads();  // the round's parts written
        if (threadIdx.x == 0) {
            __threadfence();
            const unsigned old = atomicAdd(N.cnt + N.layer * NR + r0 / NT, 1u);
            *flag = old == (unsigned)NP - 1;
        }
        __syncthreads();
        if (*flag) {  // the last producer of this range: x += the parts, in producer order
            __threadfence();
            const int r = r0 + threadIdx.x;
            float s = 0.f;
            for (int c = 0; c < NP; c += 8) {
                float v[8];
#pragma unroll
                for (int i = 0; i < 8; i++) v[i] = c + i < NP ? __ldcg(N.part + (size_t)(c + i) * E + r) : 0.f;
#pragma unroll
                for (int i = 0; i < 8; i++) s += v[i];
            }
            N.x[r] += s;
        }
    }
    stamp(N, 5);
    if (N.mode != 2) return;
    // mode 2: every block's parts written (all blocks are resident: one an SM), then block b
    // adds rows [b E / G, (b + 1) E / G), eight threads a row, in a fixed order
    __syncthreads();
    unsigned *done = N.cnt + (size_t)gridDim.x * NR + N.layer;  // (past the range counters: L NR <= G NR)
    if (threadIdx.x == 0) {
        __threadfence();
        atomicAdd(done, 1u);
        while (ld_acquire(done) < gridDim.x) __nanosleep(32);
    }
    __syncthreads();
    const int b = blockIdx.x, G = gridDim.x, q0 = b * E / G, q1 = (b + 1) * E / G, t = threadIdx.x;
    if ((t >> 5) < ((8 * (q1 - q0) + 31) >> 5)) {  // whole warps (the shuffles)
        const int r = q0 + (t >> 3), sub = t & 7;
        float v = 0.f;
        if (r < q1)
            for (int c = sub; c < NP; c += 8) v += __ldcg(N.part + (size_t)c * E + r);
        v += __shfl_xor_sync(0xffffffffu, v, 1);
        v += __shfl_xor_sync(0xffffffffu, v, 2);
        v += __shfl_xor_sync(0xffffffffu, v, 4);
        if (sub == 0 && r < q1) N.x[r] += v;
    }
}

// The intermediate groups of cluster (or block) i of n: [i NGF / n, (i + 1) NGF / n)
__device__ __forceinline__ int grp(int i, int n) { return (int)((long)i * NGF / n); }

// the fused kernel: one block of a cluster of CL
__global__ void __launch_bounds__(NT, 1) k_ffn(Net N) {
    __shared__ int4 aq[NGE], hq[MAXGRP];
    __shared__ float ad[NGE], hd[MAXGRP], red[NW], hf[MAXGRP * 16 / CL + 16];
    __shared__ int as[NGE], hs[MAXGRP], flag;
    if (N.smid && threadIdx.x == 0) {
        int s;
        asm volatile("mov.u32 %0, %smid;" : "=r"(s));
        N.smid[blockIdx.x] = s;
    }
    stamp(N, 0);
    pdl_trigger();
    const int ci = blockIdx.x / CL, q = blockIdx.x % CL, ncl = gridDim.x / CL;
    const int gA = grp(ci, ncl), gB = grp(ci + 1, ncl), n = gB - gA;
    const int m0 = gA + q * n / CL, m1 = gA + (q + 1) * n / CL;  // this block's groups in phase 1
    phase_gateup(N, 16 * m0, 16 * (m1 - m0), aq, ad, as, red, hf);
    __syncthreads();
    stamp(N, 3);
    // its groups quantized into every block of the cluster
    for (int g = threadIdx.x; g < m1 - m0; g += NT) {
        float v[16];
#pragma unroll
        for (int i = 0; i < 16; i++) v[i] = hf[16 * g + i];
        int4 qq;
        float d;
        int s;
        quant16(v, qq, d, s);
        const int lg = m0 - gA + g;
        if (CL == 1) {
            hq[lg] = qq, hd[lg] = d, hs[lg] = s;
        } else {
            cg::cluster_group cluster = cg::this_cluster();
            for (int rr = 0; rr < CL; rr++) {
                cluster.map_shared_rank(hq, rr)[lg] = qq;
                cluster.map_shared_rank(hd, rr)[lg] = d;
                cluster.map_shared_rank(hs, rr)[lg] = s;
            }
        }
    }
    if (CL == 1) __syncthreads();
    else cg::this_cluster().sync();
    stamp(N, 4);
    phase_down(N, gA, gB, q * (E / CL), E / CL, ci, ncl, hq, hd, hs, false, &flag);
    stamp(N, 6);
}

// the split form: gate/up alone (block b of G: groups grp(b, G)), h quantized to global memory
__global__ void __launch_bounds__(NT, 1) k_gateup(Net N) {
    __shared__ int4 aq[NGE];
    __shared__ float ad[NGE], red[NW], hf[MAXGRP * 16];
    __shared__ int as[NGE];
    pdl_trigger();
    const int m0 = grp(blockIdx.x, gridDim.x), m1 = grp(blockIdx.x + 1, gridDim.x);
    phase_gateup(N, 16 * m0, 16 * (m1 - m0), aq, ad, as, red, hf);
    __syncthreads();
    for (int g = threadIdx.x; g < m1 - m0; g += NT) {
        float v[16];
#pragma unroll
        for (int i = 0; i < 16; i++) v[i] = hf[16 * g + i];
        quant16(v, N.hq[m0 + g], N.hd[m0 + g], N.hs[m0 + g]);
    }
}
// ... and ffn_down alone, with the fused kernel's blocks, columns and rows
__global__ void __launch_bounds__(NT, 1) k_down(Net N) {
    __shared__ int4 hq[MAXGRP];
    __shared__ float hd[MAXGRP];
    __shared__ int hs[MAXGRP], flag;
    pdl_trigger();
    const int ci = blockIdx.x / CL, q = blockIdx.x % CL, ncl = gridDim.x / CL;
    phase_down(N, grp(ci, ncl), grp(ci + 1, ncl), q * (E / CL), E / CL, ci, ncl, hq, hd, hs, true, &flag);
}

// ---- the reference: one kernel a matrix, one warp a row ------------------------------------
__global__ void k_ref_x(Net N, int4 *aq, float *ad, int *as) {  // one block of NT threads
    __shared__ float red[NW];
    stage_x(N, aq, ad, as, red);
}
__global__ void k_ref_gateup(Net N, const int4 *aq, const float *ad, const int *as, float *h) {
    const int r = blockIdx.x * (blockDim.x / 32) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (r >= F) return;
    const uint8_t *row = N.gu + N.layer * N.gu_stride + (size_t)r * GUROW;
    float a0 = 0.f, a1 = 0.f;
    for (int k = 0; k < UPL; k++) {
        const int u = lane + 32 * k, b = u >> 3;
        if (u >= 2 * SBE * 8) break;
        Unit U;
        unit_load(U, row + b * QBLK, u & 7);
        const float v = unit_dot(U, u & 7, b >= SBE ? b - SBE : b, aq, ad, as);
        if (b >= SBE) a1 += v;
        else a0 += v;
    }
    const float g = warp_sum(a0), up = warp_sum(a1);
    if (lane == 0) h[r] = silu(g) * up;
}
__global__ void k_ref_hq(const float *h, int4 *hq, float *hd, int *hs) {
    const int g = blockIdx.x * blockDim.x + threadIdx.x;
    if (g >= NGF) return;
    float v[16];
    for (int i = 0; i < 16; i++) v[i] = h[16 * g + i];
    quant16(v, hq[g], hd[g], hs[g]);
}
__global__ void k_ref_down(Net N, const int4 *hq, const float *hd, const int *hs) {
    const int r = blockIdx.x * (blockDim.x / 32) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (r >= E) return;
    const uint8_t *row = N.dn + N.layer * N.dn_stride + (size_t)r * DNROW;
    float a = 0.f;
    for (int u = lane; u < F / 256 * 8; u += 32) {
        Unit U;
        unit_load(U, row + (u >> 3) * QBLK, u & 7);
        a += unit_dot(U, u & 7, u >> 3, hq, hd, hs);
    }
    a = warp_sum(a);
    if (lane == 0) N.x[r] += a;
}

// ---- set-up ----------------------------------------------------------------------------------
static void launch(void (*k)(Net), int grid, int cl, size_t smem, const Net &N) {
    cudaLaunchConfig_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.gridDim = dim3(grid);
    cfg.blockDim = dim3(NT);
    cfg.dynamicSmemBytes = smem;
    cudaLaunchAttribute at[2];
    int na = 0;
    at[na].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[na].val.programmaticStreamSerializationAllowed = 1;
    na++;
    if (cl > 1) {
        at[na].id = cudaLaunchAttributeClusterDimension;
        at[na].val.clusterDim.x = cl;
        at[na].val.clusterDim.y = 1;
        at[na].val.clusterDim.z = 1;
        na++;
    }
    cfg.attrs = at;
    cfg.numAttrs = na;
    CK(cudaLaunchKernelEx(&cfg, k, N));
}

int main(int argc, char **argv) {
    const int L = argc > 1 ? atoi(argv[1]) : 28, reps = argc > 2 ? atoi(argv[2]) : 10;
    if (L < 2 || L > 64 || reps < 1) {
        fprintf(stderr, "usage: ffnprobe [layers 2..64] [reps]\n");
        return 2;
    }
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    const int G = prop.multiProcessorCount / CL * CL;
    if ((NGF + G / CL - 1) / (G / CL) > MAXGRP) {
        fprintf(stderr, "ffnprobe: too many groups a cluster for MAXGRP\n");
        return 1;
    }
    Net N;
    memset(&N, 0, sizeof N);
    N.gu_stride = (size_t)F * GUROW;
    N.dn_stride = (size_t)E * DNROW;
    uint8_t *gu, *dn;
    CK(cudaMalloc(&gu, N.gu_stride * L));
    CK(cudaMalloc(&dn, N.dn_stride * L));
    k_fill_q4k<<<1024, 256>>>(gu, N.gu_stride * L / QBLK, 1234);
    k_fill_q4k<<<1024, 256>>>(dn, N.dn_stride * L / QBLK, 4321);
    N.gu = gu;
    N.dn = dn;
    float *x0, *nw, *h;
    CK(cudaMalloc(&x0, sizeof(float) * E));
    CK(cudaMalloc(&N.x, sizeof(float) * E));
    CK(cudaMalloc(&nw, sizeof(float) * E));
    CK(cudaMalloc(&h, sizeof(float) * F));
    CK(cudaMalloc(&N.part, sizeof(float) * E * G));
    CK(cudaMalloc(&N.cnt, sizeof(unsigned) * (G * NR + L)));  // (G >= L)
    CK(cudaMalloc(&N.hq, sizeof(int4) * NGF));
    CK(cudaMalloc(&N.hd, sizeof(float) * NGF));
    CK(cudaMalloc(&N.hs, sizeof(int) * NGF));
    CK(cudaMalloc(&N.smid, sizeof(int) * G));
    k_fill_f32<<<16, 256>>>(x0, E, 99, -1.f, 1.f);
    k_fill_f32<<<16, 256>>>(nw, E, 98, 0.5f, 1.5f);
    N.nw = nw;
    CK(cudaDeviceSynchronize());
    const double bytes = (double)(N.gu_stride + N.dn_stride) * L;
    const size_t smem = (size_t)PAD_KB * 1024;
    if (smem) {
        CK(cudaFuncSetAttribute(k_ffn, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        CK(cudaFuncSetAttribute(k_gateup, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        CK(cudaFuncSetAttribute(k_down, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    }
    cudaFuncAttributes fa;
    CK(cudaFuncGetAttributes(&fa, k_ffn));
    printf("%s, %d SMs, %d blocks (clusters of %d), %d warps a block, %d rows a warp at once, %d KB padding; "
           "k_ffn %d registers, %d B local; %d layers of 7B's FFN in Q4_K: %.1f MB a layer\n",
           prop.name, prop.multiProcessorCount, G, CL, NW, PR, PAD_KB, fa.numRegs, (int)fa.localSizeBytes, L,
           bytes / L / 1e6);
    CK(cudaFuncGetAttributes(&fa, k_gateup));
    printf("k_gateup %d registers, %d B local; ", fa.numRegs, (int)fa.localSizeBytes);
    CK(cudaFuncGetAttributes(&fa, k_down));
    printf("k_down %d registers, %d B local\n", fa.numRegs, (int)fa.localSizeBytes);

    auto chain = [&](int layers, int form, int mode) {  // form 0 fused, 1 split
        CK(cudaMemcpyAsync(N.x, x0, sizeof(float) * E, cudaMemcpyDeviceToDevice));
        CK(cudaMemsetAsync(N.cnt, 0, sizeof(unsigned) * (G * NR + L)));
        for (int l = 0; l < layers; l++) {
            Net M = N;
            M.layer = l;
            M.mode = mode;
            if (l > 0) M.smid = nullptr;
            if (form == 0) {
                launch(k_ffn, G, CL, smem, M);
            } else {
                if (form != 3) launch(k_gateup, G, 1, smem, M);
                if (form != 2) launch(k_down, G, 1, smem, M);
            }
        }
    };
    // the check: 2 layers against the reference
    int4 *rq;
    float *rd;
    int *rs;
    CK(cudaMalloc(&rq, sizeof(int4) * NGF));
    CK(cudaMalloc(&rd, sizeof(float) * NGF));
    CK(cudaMalloc(&rs, sizeof(int) * NGF));
    std::vector<float> ref(E), got(E);
    CK(cudaMemcpy(N.x, x0, sizeof(float) * E, cudaMemcpyDeviceToDevice));
    for (int l = 0; l < 2; l++) {
        Net M = N;
        M.layer = l;
        k_ref_x<<<1, NT>>>(M, rq, rd, rs);
        k_ref_gateup<<<F / 8, 256>>>(M, rq, rd, rs, h);
        k_ref_hq<<<(NGF + 255) / 256, 256>>>(h, rq, rd, rs);
        k_ref_down<<<E / 8, 256>>>(M, rq, rd, rs);
    }
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(ref.data(), N.x, sizeof(float) * E, cudaMemcpyDeviceToHost));
    double m = 0, moved = 0;  // max |ref|, and how far the reference's FFN moved x (a check that can fail)
    {
        std::vector<float> x0h(E);
        CK(cudaMemcpy(x0h.data(), x0, sizeof(float) * E, cudaMemcpyDeviceToHost));
        for (int i = 0; i < E; i++) {
            m = std::max(m, (double)fabsf(ref[i]));
            moved = std::max(moved, (double)fabsf(ref[i] - x0h[i]));
        }
    }
    const char *names[8] = {"fused", "split", "fused-nr", "fused-gb", "fused-at", "gateup", "down-nr", "down"};
    const int forms[8][2] = {{0, 0}, {1, 0}, {0, 1}, {0, 2}, {0, 3}, {2, 1}, {3, 1}, {3, 0}};  // (form, mode)
    for (int f = 0; f < 5; f++) {
        if (f == 2) continue;
        const int form = forms[f][0];
        chain(2, form, forms[f][1]);
        CK(cudaGetLastError());
        CK(cudaDeviceSynchronize());
        CK(cudaMemcpy(got.data(), N.x, sizeof(float) * E, cudaMemcpyDeviceToHost));
        double e = 0;
        for (int i = 0; i < E; i++) e = std::max(e, (double)fabsf(ref[i] - got[i]));
        printf("check %-8s (2 layers): max |ref - x| / max |ref| = %.2e (max |ref| %.3g, the FFN moved x by up to %.3g): %s\n",
               names[f], e / m, m, moved, e / m < 1e-3 && moved > 1e-3 * m ? "ok" : "MISMATCH");
    }
    {
        std::vector<int> sm(G);
        CK(cudaMemcpy(sm.data(), N.smid, sizeof(int) * G, cudaMemcpyDeviceToHost));
        std::sort(sm.begin(), sm.end());
        printf("k_ffn's blocks on %d distinct SMs\n", (int)(std::unique(sm.begin(), sm.end()) - sm.begin()));
    }
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    int *sink;
    CK(cudaMalloc(&sink, sizeof(int)));
    float best = 1e30f;
    for (int r = 0; r < reps; r++) {
        CK(cudaEventRecord(a));
        k_read<<<4 * prop.multiProcessorCount, 256>>>((const int4 *)gu, N.gu_stride * L / 16, sink);
        k_read<<<4 * prop.multiProcessorCount, 256>>>((const int4 *)dn, N.dn_stride * L / 16, sink);
        CK(cudaEventRecord(b));
        CK(cudaEventSynchronize(b));
        best = std::min(best, elapsed(a, b));
    }
    printf("%-9s %6.1f us a layer (best of %d), %5.0f GB/s\n", "read", best * 1e3 / L, reps, bytes / (best * 1e-3) / 1e9);
    for (int f = 0; f < 8; f++) {
        chain(L, forms[f][0], forms[f][1]);  // warm-up
        std::vector<float> t;
        for (int r = 0; r < reps; r++) {
            CK(cudaEventRecord(a));
            chain(L, forms[f][0], forms[f][1]);
            CK(cudaEventRecord(b));
            CK(cudaEventSynchronize(b));
            t.push_back(elapsed(a, b));
        }
        CK(cudaGetLastError());
        std::sort(t.begin(), t.end());
        const float med = t[t.size() / 2];
        printf("%-9s %6.1f us a layer (median of %d; min %.1f), %5.0f GB/s\n", names[f], med * 1e3 / L, reps,
               t[0] * 1e3 / L, bytes / (med * 1e-3) / 1e9);
    }
    // stamps of the fused kernel (modes 0, 1, 2): medians over the blocks of the middle layer, us
    // from its first block's entry; the ends' [min, max]
    {
        const size_t ns = (size_t)L * G * 8;
        CK(cudaMalloc(&N.stamps, ns * 8));
        std::vector<unsigned long long> hs(ns);
        const int lm = L / 2;
        for (int mode = 0; mode < 3; mode++) {
            CK(cudaMemset(N.stamps, 0, ns * 8));
            chain(L, 0, mode);
            CK(cudaDeviceSynchronize());
            CK(cudaMemcpy(hs.data(), N.stamps, ns * 8, cudaMemcpyDeviceToHost));
            auto at = [&](int l, int b, int j) { return hs[((size_t)l * G + b) * 8 + j]; };
            unsigned long long t0 = ~0ull;
            for (int b = 0; b < G; b++) t0 = std::min(t0, at(lm, b, 0));
            printf("stamps, fused mode %d, layer %d (median [min, max] over blocks, us):", mode, lm);
            const char *sn[7] = {"entry", "waited", "x staged", "gate/up done", "h in place", "parts done", "exit"};
            for (int j = 0; j < 7; j++) {
                std::vector<double> v;
                for (int b = 0; b < G; b++) v.push_back(((double)at(lm, b, j) - (double)t0) * 1e-3);
                std::sort(v.begin(), v.end());
                printf("%s %s %.1f [%.1f, %.1f]", j ? "," : "", sn[j], v[G / 2], v[0], v[G - 1]);
            }
            std::vector<double> v;
            for (int b = 0; b < G; b++) v.push_back(((double)at(lm + 1, b, 0) - (double)t0) * 1e-3);
            std::sort(v.begin(), v.end());
            printf("; next layer's entry %.1f\n", v[G / 2]);
        }
    }
    return 0;
}
