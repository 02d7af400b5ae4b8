// bench/cuda/mkprobe.cu - can a persistent decode kernel stream a 7B layer's weights at the
// DRAM's rate? A feasibility probe for issue 7's 2x on the H100 (bench/NOTES.md, session 27),
// not part of apr: it runs the four matvecs of Qwen2.5-7B's layers (QKV, wo, gate/up +
// SwiGLU, ffn_down; every matrix Q4_K, no attention, no rope) for L layers in ONE kernel.
//
// Each block (one per SM) has a copying warp that streams its share of every matrix, layer
// after layer, with TMA bulk copies (cp.async.bulk) into a ring of shared-memory stages, and
// never waits for anything but a free stage (and, MAXFLIGHT, for its oldest copies to land).
// NC consumer warps quantize each matrix's input (int8 per 16 values, apr's quant16 scheme),
// take the stages in turn and write their rows' outputs. A matrix's input is ready when every
// block has counted its rows of the matrix before it (one counter per layer and matrix,
// release / acquire at the GPU's scope). So while the consumers wait at a boundary, the
// copies run ahead by up to the ring's depth.
//
// Modes (each timed): 0 the kernel; 1 no copies (the consumers' own rate, on stale stages);
// 2 no dot products (the copies and boundaries alone); 3 neither dot products nor boundaries
// (the ring alone); 4 no boundaries (ring and dot products); 5 and 6 no dot products, the
// boundaries' counters alone or their input staging alone. Also: a reference (one kernel a
// matrix, one warp a row, the same arithmetic) whose x and h the kernel's must match bit for
// bit ("check ... ok"), a plain read of the same bytes (the bound), and %globaltimer stamps
// of one layer in modes 0, 2 and 6.
//
// What it found on an H100 (runs 244-249): the ring alone streams 2.99 TB/s (97% of a plain
// read) once rows are dealt to the blocks in turn (2.75 with a run of rows a block); with
// the boundaries a layer takes 92.5 us against 43.8, because each boundary stalls the
// consumers 4-9 us (the counter's release ~2 us, the wait for the last block, the input's
// staging) and the ring's 193 KB a SM hides little of it. bench/NOTES.md, session 27.
//   nvcc -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -o /tmp/mkprobe bench/cuda/mkprobe.cu
//   /tmp/mkprobe [layers=28] [reps=10]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <vector>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#define PROBE_NAME "mkprobe"
#include "probe_common.cuh"

// Build switches (-D); the defaults are the best form of session 27 (run 249)
#ifndef NC
#define NC 16  // consumer warps
#endif
#ifndef SLOTS
#define SLOTS 1  // stages per consumer warp (a stage has one consumer: see below)
#endif
#define DEPTH (NC * SLOTS)
#ifndef MAXFLIGHT
#define MAXFLIGHT 4  // copies in flight at most (the rest of the ring holds landed stages)
#endif
#define NTHREADS ((NC + 1) * 32)
#ifndef FAST_STAGE
#define FAST_STAGE 0  // 1: stage_input with all of a thread's loads in flight at once
#endif
#ifndef FENCE
#define FENCE 0  // 0: no __threadfence before the counter's red.release (the barrier and the release order the writes)
#endif
#define STAGE_BYTES (6 * 2016)   // 6 rows of 3,584 columns, 3 gate/up pairs, or 1 ffn_down row

enum { P_QKV, P_WO, P_FFN, P_DOWN, NPH };

struct Net {
    const uint8_t *w[NPH];  // layer 0's matrix; layer l's at + l * lstride
    size_t lstride[NPH];
    int rows[NPH];      // rows (P_FFN: gate/up pairs, stored as one row of twice the bytes)
    int rowbytes[NPH];
    int rps[NPH];       // rows a stage
    int K[NPH];         // input length
    float *x, *qkv, *h;
    const float *nw;    // RMSNorm weight (E)
    unsigned *cnt;      // [L][NPH]: blocks done with that matrix
    unsigned long long *stamps;  // or null: [block][L][NPH][6] %globaltimer (see k_mega)
    int L, mode;
};

// The mbarrier and bulk-copy wrappers are apr_cuda.cu's (k_ring_res), copied so that the probe
// builds alone, as bwprobe.cu does.
__device__ __forceinline__ uint32_t smem_addr(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }
__device__ __forceinline__ void mbar_init(uint64_t *b, int count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_addr(b)), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_expect_tx(uint64_t *b, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_addr(b)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint64_t *b) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_addr(b)) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint64_t *b, uint32_t parity) {
    uint32_t done;
    do {
        asm volatile(
            "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n selp.u32 %0, 1, 0, p;\n}\n"
            : "=r"(done)
            : "r"(smem_addr(b)), "r"(parity)
            : "memory");
    } while (!done);
}
__device__ __forceinline__ void bulk_copy(void *dst, const void *src, uint32_t bytes, uint64_t *b) {
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(
                     smem_addr(dst)),
                 "l"(src), "r"(bytes), "r"(smem_addr(b))
                 : "memory");
}
__device__ __forceinline__ unsigned ld_acquire(const unsigned *p) {
    unsigned v;
    asm volatile("ld.acquire.gpu.global.u32 %0, [%1];\n" : "=r"(v) : "l"(p) : "memory");
    return v;
}
__device__ __forceinline__ void red_release_add(unsigned *p, unsigned v) {
    asm volatile("red.release.gpu.global.add.u32 [%0], %1;\n" ::"l"(p), "r"(v) : "memory");
}
// the consumer warps only (named barrier 1; the copying warp never joins it)
__device__ __forceinline__ void consumers_sync() { asm volatile("bar.sync 1, %0;\n" ::"n"(NC * 32) : "memory"); }

__device__ __forceinline__ unsigned long long gtime() {
    unsigned long long t;
    asm volatile("mov.u64 %0, %globaltimer;" : "=l"(t));
    return t;
}
// stamp j of (layer l, matrix p) of this block: 0 the consumers start on the matrix, 1 its
// input's counter reached, 2 its input staged, 3 its last stage consumed; 4 and 5 the copying
// lane issues the matrix's first and last copy
__device__ __forceinline__ void stamp(const Net &N, int l, int p, int j) {
    if (N.stamps) N.stamps[(((size_t)blockIdx.x * N.L + l) * NPH + p) * 6 + j] = gtime();
}

// Stage i of block b's share of matrix p: rows [r, r + n). INTERLEAVE=0: the block takes a
// run of consecutive rows; 1: chunks of rps rows dealt to the blocks in turn (chunk c to block
// c % G), so that at any time the blocks read neighbouring rows, as apr's k_mvs grids do.
#ifndef INTERLEAVE
#define INTERLEAVE 1
#endif
// INTERLEAVE=0: block b's run of rows [r0, r1) of R
__host__ __device__ __forceinline__ void block_run(int R, int b, int G, int &r0, int &r1) {
    r0 = (int)((long long)R * b / G);
    r1 = (int)((long long)R * (b + 1) / G);
}
__host__ __device__ __forceinline__ int stages_of(const Net &N, int p, int b, int G) {
    const int R = N.rows[p], rps = N.rps[p];
    if (INTERLEAVE) {
        const int nch = (R + rps - 1) / rps;
        return b < nch ? (nch - b + G - 1) / G : 0;
    }
    int r0, r1;
    block_run(R, b, G, r0, r1);
    return (r1 - r0 + rps - 1) / rps;
}
__host__ __device__ __forceinline__ void stage_rows(const Net &N, int p, int b, int G, int i, int &r, int &n) {
    const int R = N.rows[p], rps = N.rps[p];
    if (INTERLEAVE) {
        r = (i * G + b) * rps;
        n = min(rps, R - r);
    } else {
        int r0, r1;
        block_run(R, b, G, r0, r1);
        r = r0 + i * rps;
        n = min(rps, r1 - r);
    }
}

// Unit c (0..7: 16 bytes of quants, 32 weights) of Q4_K block blk against the quantized
// input's groups of 16 of its superblock sb: aq/ad/as
__device__ __forceinline__ float unit_dot(const uint8_t *blk, int c, int sb, const int4 *aq, const float *ad,
                                          const int *as) {
    const __half2 dm = *(const __half2 *)blk;
    const uint32_t s0 = *(const uint32_t *)(blk + 4), s1 = *(const uint32_t *)(blk + 8),
                   s2 = *(const uint32_t *)(blk + 12);
    const int4 q = *(const int4 *)(blk + 16 + 16 * c);
    const int j = c >> 1, hh = c & 1;
    const int glo = 16 * sb + 4 * j + hh, ghi = glo + 2;  // values 64j + 16hh (low nibbles), + 32 (high)
    const int4 alo = aq[glo], ahi = aq[ghi];
    int slo = 0, shi = 0;
    slo = __dp4a(q.x & 0x0F0F0F0F, alo.x, slo);
    slo = __dp4a(q.y & 0x0F0F0F0F, alo.y, slo);
    slo = __dp4a(q.z & 0x0F0F0F0F, alo.z, slo);
    slo = __dp4a(q.w & 0x0F0F0F0F, alo.w, slo);
    shi = __dp4a((q.x >> 4) & 0x0F0F0F0F, ahi.x, shi);
    shi = __dp4a((q.y >> 4) & 0x0F0F0F0F, ahi.y, shi);
    shi = __dp4a((q.z >> 4) & 0x0F0F0F0F, ahi.z, shi);
    shi = __dp4a((q.w >> 4) & 0x0F0F0F0F, ahi.w, shi);
    int sclo, mlo, schi, mhi;
    scale_min(s0, s1, s2, 2 * j, sclo, mlo);
    scale_min(s0, s1, s2, 2 * j + 1, schi, mhi);
    const float2 f = __half22float2(dm);
    const float dlo = ad[glo], dhi = ad[ghi];
    return f.x * (sclo * dlo * slo + schi * dhi * shi) - f.y * (mlo * dlo * as[glo] + mhi * dhi * as[ghi]);
}

// One row of nsb superblocks (P_FFN: 2 * SB, gate then up) by one warp: lane takes the units
// lane, lane + 32, ...; returns the row's sum (and for P_FFN the up part in up)
__device__ __forceinline__ float row_dot(const uint8_t *row, int nsb, int SB, bool pair, const int4 *aq,
                                         const float *ad, const int *as, float &up) {
    const int lane = threadIdx.x & 31;
    float a0 = 0.f, a1 = 0.f;
    const int units = nsb * 8;
    for (int base = 0; base < units; base += 128) {
        float v[4];
#pragma unroll
        for (int q = 0; q < 4; q++) {  // four units in flight a lane
            const int u = base + lane + 32 * q, b = u >> 3, c = u & 7;
            const int sb = pair && b >= SB ? b - SB : b;
            v[q] = u < units ? unit_dot(row + (size_t)b * QBLK, c, sb, aq, ad, as) : 0.f;
        }
#pragma unroll
        for (int q = 0; q < 4; q++) {
            const int b = (base + lane + 32 * q) >> 3;
            if (pair && b >= SB) a1 += v[q];
            else a0 += v[q];
        }
    }
    up = pair ? warp_sum(a1) : 0.f;
    return warp_sum(a0);
}

// The input of matrix p of a layer: RMSNorm(x) * nw for QKV and gate/up, the attention's
// stand-in (qkv[0, E)) for wo, h for ffn_down. Quantized by the NC*32 consumer threads.
#define MAXG 3  // groups of 16 a consumer thread stages at most (18,944 / 16 / 512 threads, rounded up)
__device__ void stage_input(const Net &N, int p, int4 *aq, float *ad, int *as, float *red) {
    const int t = threadIdx.x, nt = NC * 32, K = N.K[p], ng = K / 16;
    const float *src = p == P_WO ? N.qkv : p == P_DOWN ? N.h : N.x;
    const bool norm = p == P_QKV || p == P_FFN;
    if (FAST_STAGE && ng <= MAXG * nt) {
        // every load of the thread in flight before any is used; the groups stay in registers
        // through the RMSNorm's reduction (one trip to L2, not two)
        float v[MAXG][16];
        float ss = 0.f;
#pragma unroll
        for (int i = 0; i < MAXG; i++)
            if (t + i * nt < ng) load16(src + 16 * (t + i * nt), v[i]);
        if (norm) {
#pragma unroll
            for (int i = 0; i < MAXG; i++)
                if (t + i * nt < ng)
#pragma unroll
                    for (int e = 0; e < 16; e++) ss += v[i][e] * v[i][e];
            ss = warp_sum(ss);
            if ((t & 31) == 0) red[t >> 5] = ss;
            consumers_sync();
            float tot = 0.f;
            for (int i = 0; i < NC; i++) tot += red[i];
            const float sc = rsqrtf(tot / K + 1e-6f);
#pragma unroll
            for (int i = 0; i < MAXG; i++)
                if (t + i * nt < ng)
#pragma unroll
                    for (int e = 0; e < 16; e++) v[i][e] = v[i][e] * sc * N.nw[16 * (t + i * nt) + e];
        }
#pragma unroll
        for (int i = 0; i < MAXG; i++) {
            const int g = t + i * nt;
            if (g < ng) quant16(v[i], aq[g], ad[g], as[g]);
        }
        return;
    }
    float sc = 1.f;
    if (norm) {
        float ss = 0.f;
        for (int g = t; g < ng; g += nt) {
            float v[16];
            load16(src + 16 * g, v);
#pragma unroll
            for (int i = 0; i < 16; i++) ss += v[i] * v[i];
        }
        ss = warp_sum(ss);
        if ((t & 31) == 0) red[t >> 5] = ss;
        consumers_sync();
        float tot = 0.f;
        for (int i = 0; i < NC; i++) tot += red[i];
        sc = rsqrtf(tot / K + 1e-6f);
    }
    for (int g = t; g < ng; g += nt) {
        float v[16];
        load16(src + 16 * g, v);
        if (norm) {
#pragma unroll
            for (int i = 0; i < 16; i++) v[i] = v[i] * sc * N.nw[16 * g + i];
        }
        quant16(v, aq[g], ad[g], as[g]);
    }
}

// Row outputs of matrix p: QKV writes qkv, wo and ffn_down add to x, gate/up writes h
__device__ __forceinline__ void row_out(const Net &N, int p, int r, float s, float up) {
    if (p == P_QKV) N.qkv[r] = s;
    else if (p == P_FFN) N.h[r] = silu(s) * up;
    else N.x[r] += s;
}

__global__ void __launch_bounds__(NTHREADS, 1) k_mega(Net N) {
    extern __shared__ __align__(128) uint8_t smem[];
    __shared__ uint64_t full[DEPTH], empty[DEPTH];
    __shared__ float red[NC];
    const int G = gridDim.x, b = blockIdx.x, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int Kmax = N.K[P_DOWN];
    uint8_t *stages = smem;
    int4 *aq = (int4 *)(smem + (size_t)DEPTH * STAGE_BYTES);
    float *ad = (float *)(aq + Kmax / 16);
    int *as = (int *)(ad + Kmax / 16);
    if (threadIdx.x == 0) {
        for (int s = 0; s < DEPTH; s++) mbar_init(&full[s], 1), mbar_init(&empty[s], 1);
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
    }
    __syncthreads();
    if (warp == NC) {  // the copying warp: lane 0 issues every copy, in the consumers' order
        if (lane != 0) return;
        int k = 0;
        for (int l = 0; l < N.L; l++)
            for (int p = 0; p < NPH; p++) {
                const int ns = stages_of(N, p, b, G);
                for (int i = 0; i < ns; i++, k++) {
                    int r, n;
                    stage_rows(N, p, b, G, i, r, n);
                    const int slot = k % DEPTH, use = k / DEPTH;
                    if (i == 0) stamp(N, l, p, 4);
                    if (i == ns - 1) stamp(N, l, p, 5);
                    if (use > 0) mbar_wait(&empty[slot], (use - 1) & 1);
                    // at most MAXFLIGHT copies in flight: stage k - MAXFLIGHT must have landed.
                    // (Its slot is not refilled before stage k - MAXFLIGHT + DEPTH, so its
                    // barrier's phase is that stage's or the one before.)
                    if (MAXFLIGHT < DEPTH && k >= MAXFLIGHT && N.mode != 1) {
                        const int k2 = k - MAXFLIGHT;
                        mbar_wait(&full[k2 % DEPTH], (k2 / DEPTH) & 1);
                    }
                    if (N.mode == 1) {
                        mbar_arrive(&full[slot]);
                    } else {
                        const uint32_t bytes = (uint32_t)n * N.rowbytes[p];
                        mbar_expect_tx(&full[slot], bytes);
                        bulk_copy(stages + (size_t)slot * STAGE_BYTES,
                                  N.w[p] + l * N.lstride[p] + (size_t)r * N.rowbytes[p], bytes, &full[slot]);
                    }
                }
            }
        return;
    }
    // consumers. Stage k is taken by warp k % NC; DEPTH is a multiple of NC, so each slot has
    // one consumer, which waits for the slot's phases in order.
    int k = 0;
    for (int l = 0; l < N.L; l++)
        for (int p = 0; p < NPH; p++) {
            // the input: the matrix before must be done by every block
            const int prev = l * NPH + p - 1;
            const bool first = l == 0 && p == 0;
            const bool wait = N.mode < 3 || N.mode == 5, stage = N.mode < 3 || N.mode == 6 || first;
            if (threadIdx.x == 0) stamp(N, l, p, 0);
            if (wait || stage) {
                if (wait && threadIdx.x == 0 && prev >= 0)
                    while (ld_acquire(N.cnt + prev) < (unsigned)G) __nanosleep(32);
                if (threadIdx.x == 0) stamp(N, l, p, 1);
                consumers_sync();
                if (stage) stage_input(N, p, aq, ad, as, red);
                consumers_sync();
            }
            if (threadIdx.x == 0) stamp(N, l, p, 2);
            const int ns = stages_of(N, p, b, G);
            const int K = N.K[p], SB = K / 256;
            const bool pair = p == P_FFN;
            const int nsb = pair ? 2 * SB : SB;
            for (int i = 0; i < ns; i++, k++) {
                if (k % NC != warp) continue;
                int r, n;
                stage_rows(N, p, b, G, i, r, n);
                const int slot = k % DEPTH, use = k / DEPTH;
                mbar_wait(&full[slot], use & 1);
                const uint8_t *st = stages + (size_t)slot * STAGE_BYTES;
                for (int i = 0; i < n; i++) {
                    float up = 0.f, s = 0.f;
                    if (N.mode != 2 && N.mode != 3 && N.mode < 5) s = row_dot(st + (size_t)i * N.rowbytes[p], nsb, SB, pair, aq, ad, as, up);
                    if (lane == 0) row_out(N, p, r + i, s, up);
                }
                __syncwarp();
                if (lane == 0) mbar_arrive(&empty[slot]);
            }
            if (N.mode == 3 || N.mode == 4 || N.mode == 6) {
                if (threadIdx.x == 0) stamp(N, l, p, 3);
                continue;
            }
            consumers_sync();  // every row of this block written
            if (threadIdx.x == 0) stamp(N, l, p, 3);
            if (threadIdx.x == 0) {
                if (FENCE) __threadfence();
                red_release_add(N.cnt + l * NPH + p, 1u);
            }
        }
}

// ---- the reference: one kernel a matrix, one warp a row, the same arithmetic ----------------
__global__ void k_ref_input(Net N, int p, int4 *aq, float *ad, int *as) {
    // one block of NC*32 threads: stage_input's code (it syncs the consumers' named barrier)
    __shared__ float red[NC];
    stage_input(N, p, aq, ad, as, red);
}
__global__ void k_ref_mv(Net N, int l, int p, const int4 *aq, const float *ad, const int *as) {
    const int r = blockIdx.x * (blockDim.x / 32) + (threadIdx.x >> 5);
    if (r >= N.rows[p]) return;
    const int K = N.K[p], SB = K / 256;
    const bool pair = p == P_FFN;
    float up;
    const float s = row_dot(N.w[p] + l * N.lstride[p] + (size_t)r * N.rowbytes[p], pair ? 2 * SB : SB, SB, pair,
                            aq, ad, as, up);
    if ((threadIdx.x & 31) == 0) row_out(N, p, r, s, up);
}

// ---- set-up --------------------------------------------------------------------------------
int main(int argc, char **argv) {
    const int L = argc > 1 ? atoi(argv[1]) : 28, reps = argc > 2 ? atoi(argv[2]) : 10;
    if (L < 1 || L > 64 || reps < 1) { fprintf(stderr, "usage: mkprobe [layers 1..64] [reps]\n"); return 2; }
    const int E = 3584, QKVD = 4608, F = 18944;
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    const int G = prop.multiProcessorCount;
    Net N;
    memset(&N, 0, sizeof N);
    const int rows[NPH] = {QKVD, E, F, E}, K[NPH] = {E, E, E, F};
    size_t total = 0;
    uint8_t *wbuf[NPH];
    for (int p = 0; p < NPH; p++) {
        N.rows[p] = rows[p];
        N.K[p] = K[p];
        N.rowbytes[p] = K[p] / 256 * QBLK * (p == P_FFN ? 2 : 1);
        N.rps[p] = std::min(STAGE_BYTES / N.rowbytes[p], 6);
        N.lstride[p] = (size_t)rows[p] * N.rowbytes[p];
        CK(cudaMalloc(&wbuf[p], N.lstride[p] * L));
        k_fill_q4k<<<1024, 256>>>(wbuf[p], N.lstride[p] * L / QBLK, 1234 + p);
        N.w[p] = wbuf[p];
        total += N.lstride[p] * L;
    }
    float *x0, *nw;
    CK(cudaMalloc(&x0, sizeof(float) * E));
    CK(cudaMalloc(&N.x, sizeof(float) * E));
    CK(cudaMalloc(&N.qkv, sizeof(float) * QKVD));
    CK(cudaMalloc(&N.h, sizeof(float) * F));
    CK(cudaMalloc(&nw, sizeof(float) * E));
    CK(cudaMalloc(&N.cnt, sizeof(unsigned) * L * NPH));
    k_fill_f32<<<16, 256>>>(x0, E, 99, -1.f, 1.f);
    k_fill_f32<<<16, 256>>>(nw, E, 98, 0.5f, 1.5f);
    N.nw = nw;
    N.L = L;
    CK(cudaDeviceSynchronize());
    const size_t smem = (size_t)DEPTH * STAGE_BYTES + (size_t)F / 16 * (16 + 4 + 4);
    CK(cudaFuncSetAttribute(k_mega, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    printf("%s, %d SMs; %d layers of 7B's QKV, wo, gate/up, ffn_down in Q4_K: %.1f MB a layer, %.2f GB\n",
           prop.name, G, L, total / 1e6 / L, total / 1e9);
    printf("k_mega: %d consumer warps + 1 copying, %d stages of %d bytes (%zu bytes of shared memory), at most %d "
           "in flight; rows a stage %d/%d/%d/%d, %s; fence %d, fast staging %d\n",
           NC, DEPTH, STAGE_BYTES, smem, MAXFLIGHT, N.rps[0], N.rps[1], N.rps[2], N.rps[3],
           INTERLEAVE ? "chunks dealt to the blocks in turn" : "a run of rows a block", FENCE, FAST_STAGE);

    // the reference, then the kernel, from the same x; their x, qkv and h compared
    int4 *aq;
    float *ad;
    int *as;
    CK(cudaMalloc(&aq, F));
    CK(cudaMalloc(&ad, sizeof(float) * F / 16));
    CK(cudaMalloc(&as, sizeof(int) * F / 16));
    const int Lc = std::min(L, 2);
    auto run_ref = [&](int layers) {
        CK(cudaMemcpy(N.x, x0, sizeof(float) * E, cudaMemcpyDeviceToDevice));
        for (int l = 0; l < layers; l++)
            for (int p = 0; p < NPH; p++) {
                k_ref_input<<<1, NC * 32>>>(N, p, aq, ad, as);
                k_ref_mv<<<(N.rows[p] + 7) / 8, 256>>>(N, l, p, aq, ad, as);
            }
        CK(cudaDeviceSynchronize());
    };
    auto run_mega = [&](int layers, int mode) {
        Net M = N;
        M.L = layers;
        M.mode = mode;
        CK(cudaMemcpyAsync(M.x, x0, sizeof(float) * E, cudaMemcpyDeviceToDevice));
        CK(cudaMemsetAsync(M.cnt, 0, sizeof(unsigned) * L * NPH));
        k_mega<<<G, NTHREADS, smem>>>(M);
    };
    std::vector<float> rx(E), rh(F), mx(E), mh(F);
    run_ref(Lc);
    CK(cudaMemcpy(rx.data(), N.x, sizeof(float) * E, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(rh.data(), N.h, sizeof(float) * F, cudaMemcpyDeviceToHost));
    run_mega(Lc, 0);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(mx.data(), N.x, sizeof(float) * E, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(mh.data(), N.h, sizeof(float) * F, cudaMemcpyDeviceToHost));
    double ex = 0, mxa = 0, eh = 0, mha = 0;
    for (int i = 0; i < E; i++) ex = std::max(ex, (double)fabsf(rx[i] - mx[i])), mxa = std::max(mxa, (double)fabsf(rx[i]));
    for (int i = 0; i < F; i++) eh = std::max(eh, (double)fabsf(rh[i] - mh[i])), mha = std::max(mha, (double)fabsf(rh[i]));
    const double rel = std::max(ex / mxa, eh / mha);
    printf("check (%d layers): x max |ref - mega| / max |ref| = %.2e (max |x| %.3g), h %.2e (max |h| %.3g): %s\n", Lc,
           ex / mxa, mxa, eh / mha, mha, rel < 1e-3 && mxa > 0 && mha > 0 ? "ok" : "MISMATCH");  // NaN: MISMATCH

    cudaEvent_t a, bev;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&bev));
    // the bound: a plain streaming read of the same bytes (every layer's matrices, one buffer each)
    int *sink;
    CK(cudaMalloc(&sink, sizeof(int)));
    float best_read = 1e30f;
    for (int r = 0; r < reps; r++) {
        CK(cudaEventRecord(a));
        for (int p = 0; p < NPH; p++)
            k_read<<<4 * G, 256>>>((const int4 *)wbuf[p], N.lstride[p] * L / 16, sink);
        CK(cudaEventRecord(bev));
        CK(cudaEventSynchronize(bev));
        best_read = std::min(best_read, elapsed(a, bev));
    }
    printf("plain read of the same bytes: %.1f us a layer, %.0f GB/s\n", best_read * 1e3 / L,
           total / (best_read * 1e-3) / 1e9);
    const char *names[7] = {"k_mega", "no copies (consumers alone)", "no dot products (copies + boundaries)",
                            "no dot products, no boundaries (the ring)", "no boundaries (ring + dot products)",
                            "no dot products, counters, no staging", "no dot products, staging, no counters"};
    for (int mode = 0; mode < 7; mode++) {
        run_mega(L, mode);  // warm-up
        CK(cudaGetLastError());
        std::vector<float> t;
        for (int r = 0; r < reps; r++) {
            CK(cudaMemsetAsync(N.cnt, 0, sizeof(unsigned) * L * NPH));
            CK(cudaEventRecord(a));
            Net M = N;
            M.mode = mode;
            k_mega<<<G, NTHREADS, smem>>>(M);
            CK(cudaEventRecord(bev));
            CK(cudaEventSynchronize(bev));
            t.push_back(elapsed(a, bev));
        }
        CK(cudaGetLastError());
        std::sort(t.begin(), t.end());
        const float med = t[t.size() / 2];
        printf("%-42s %.1f us a layer (median of %d; min %.1f), %.0f GB/s\n", names[mode], med * 1e3 / L, reps,
               t[0] * 1e3 / L, total / (med * 1e-3) / 1e9);
    }
    // stamps of modes 0, 2 and 6: medians over the blocks of one layer in the middle
    {
        const size_t ns = (size_t)G * L * NPH * 6;
        CK(cudaMalloc(&N.stamps, ns * 8));
        std::vector<unsigned long long> hs(ns);
        const int lm = L / 2;
        const char *pn[NPH] = {"QKV", "wo", "gate/up", "ffn_down"};
        const int modes[3] = {0, 2, 6};
        for (int mi = 0; mi < 3; mi++) {
            CK(cudaMemset(N.stamps, 0, ns * 8));
            run_mega(L, modes[mi]);
            CK(cudaDeviceSynchronize());
            CK(cudaMemcpy(hs.data(), N.stamps, ns * 8, cudaMemcpyDeviceToHost));
            auto at = [&](int b, int l, int p, int j) { return hs[(((size_t)b * L + l) * NPH + p) * 6 + j]; };
            unsigned long long t0 = ~0ull;  // the layer's first stamp
            for (int b = 0; b < G; b++) t0 = std::min(t0, at(b, lm, 0, 0));
            printf("stamps, mode %d (%s), layer %d, us (median over blocks; [min, max] for the ends):\n", modes[mi],
                   names[modes[mi]], lm);
            printf("  %-9s %8s %8s %8s %8s %14s %10s %10s\n", "matrix", "start", "counter", "staged", "done",
                   "done [min,max]", "1st copy", "last copy");
            for (int p = 0; p < NPH; p++) {
                std::vector<double> v[6];
                for (int b = 0; b < G; b++)
                    for (int j = 0; j < 6; j++) v[j].push_back(((double)at(b, lm, p, j) - (double)t0) * 1e-3);
                for (int j = 0; j < 6; j++) std::sort(v[j].begin(), v[j].end());
                printf("  %-9s %8.2f %8.2f %8.2f %8.2f %6.2f,%6.2f %10.2f %10.2f\n", pn[p], v[0][G / 2], v[1][G / 2],
                       v[2][G / 2], v[3][G / 2], v[3][0], v[3][G - 1], v[4][G / 2], v[5][G / 2]);
            }
            if (lm + 1 < L) {  // the next layer's start
                std::vector<double> v;
                for (int b = 0; b < G; b++) v.push_back(((double)at(b, lm + 1, 0, 0) - (double)t0) * 1e-3);
                std::sort(v.begin(), v.end());
                printf("  next layer starts at %.2f\n", v[G / 2]);
            }
        }
        CK(cudaFree(N.stamps));
        N.stamps = nullptr;
    }
    // the reference's own time (one launch a matrix, one warp a row): for scale only
    {
        CK(cudaEventRecord(a));
        run_ref(L);
        CK(cudaEventRecord(bev));
        CK(cudaEventSynchronize(bev));
        printf("reference kernels (2 launches a matrix): %.1f us a layer\n", elapsed(a, bev) * 1e3 / L);
    }
    return 0;
}
