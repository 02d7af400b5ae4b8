// apr_cuda.cu - the CUDA backend of apr, built as the plugin libapr_cuda.so (make cuda).
//
// apr.h loads this library with dlopen and talks to it only through the backend plugin
// ABI at the end of apr.h: the plugin receives a description of the whole model and runs
// whole forward passes. That lets it keep every activation on the GPU, fuse the small
// operations, capture a decode step as one CUDA graph and take the argmax on the GPU, so a
// generated token costs one graph launch and one 8-byte read back.
//
// Layout of this file (data-flow order):
//   quant layouts ..... weights are uploaded in their quantized form, repacked "structure
//                       of arrays" per tensor (every field of every block contiguous) so
//                       that all loads are aligned 16-byte loads whatever the block size
//   device dequant .... 16 elements at a time, used by the embedding and the prompt GEMM
//   matvec ............ batches of 2..8 tokens (several sequences): int8 activations per
//                       32 (like ggml's q8_1), dp4a against the packed weights
//   gemm .............. prompts (> 8 tokens): each matrix group (Q+K+V, gate+up) is
//                       dequantized to an f16 scratch, then one tensor-core GEMM whose
//                       tile shape covers the SMs; gate+up ends in SwiGLU. On Hopper
//                       (sm_90a build) wgmma with a 128-byte-swizzled cp.async pipeline
//                       (k_wgemm), elsewhere wmma (k_hgemm, also the tests' reference);
//                       k_wgemm can also read Q4_K/Q6_K itself (APR_CUDA_WG_FUSED=1,
//                       slower so far)
//   norm / rope ....... RMSNorm + quantize, rope + KV write (f16 cache)
//   attention ......... prompts: FlashAttention-2 on mma.sync; otherwise split-K flash
//                       decoding with an exact combine, one token's G query heads
//                       scored together on mma.sync (head sizes 64 and 128)
//   decode (1 token) .. one CUDA graph, 2 + 5 x n_layer launches, every kernel with
//                       programmatic dependent launch; f32 activations between the
//                       kernels, quantized to int8 per 16 by the consumer, per block
//                       into shared memory, in the persistent k_mvs (every matrix;
//                       k_mvw, per lane, is the tests' reference). The int8 form (the
//                       producer quantizes once, k_mvw8) is kept for the types k_mvs
//                       lacks (Q2_K, Q3_K, IQ4...). RMSNorm is folded into the matvecs
//                       (bench/NOTES.md has the measurements)
//   host side ......... upload, contexts, forward, graph capture, the vtable
#include "apr.h"

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

// ------------------------------------------------------------------------------------
// Quant layouts (host and device agree on field order)
// ------------------------------------------------------------------------------------

struct QField { int off, size; };
struct QLayout { int block_elems, block_bytes, nfields; QField f[4]; };

// Fields are listed in the order the device code numbers them (f[0] is always the bulk of
// the quantized values). Offsets are those of ggml's block structs.
static bool q_layout(int type, QLayout *L) {
    QLayout l;
    memset(&l, 0, sizeof l);
    switch (type) {
    case APR_TYPE_F32: l = {1, 4, 1, {{0, 4}}}; break;
    case APR_TYPE_F16: l = {1, 2, 1, {{0, 2}}}; break;
    case APR_TYPE_BF16: l = {1, 2, 1, {{0, 2}}}; break;
    case APR_TYPE_Q4_0: l = {32, 18, 2, {{2, 16}, {0, 2}}}; break;
    case APR_TYPE_Q4_1: l = {32, 20, 2, {{4, 16}, {0, 4}}}; break;
    case APR_TYPE_Q5_0: l = {32, 22, 3, {{6, 16}, {2, 4}, {0, 2}}}; break;
    case APR_TYPE_Q5_1: l = {32, 24, 3, {{8, 16}, {4, 4}, {0, 4}}}; break;
    case APR_TYPE_Q8_0: l = {32, 34, 2, {{2, 32}, {0, 2}}}; break;
    case APR_TYPE_Q2_K: l = {256, 84, 3, {{16, 64}, {0, 16}, {80, 4}}}; break;
    case APR_TYPE_Q3_K: l = {256, 110, 4, {{32, 64}, {0, 32}, {96, 12}, {108, 2}}}; break;
    case APR_TYPE_Q4_K: l = {256, 144, 3, {{16, 128}, {4, 12}, {0, 4}}}; break;
    case APR_TYPE_Q5_K: l = {256, 176, 4, {{48, 128}, {16, 32}, {4, 12}, {0, 4}}}; break;
    case APR_TYPE_Q6_K: l = {256, 210, 4, {{0, 128}, {128, 64}, {192, 16}, {208, 2}}}; break;
    case APR_TYPE_IQ4_NL: l = {32, 18, 2, {{2, 16}, {0, 2}}}; break;
    case APR_TYPE_IQ4_XS: l = {256, 136, 4, {{8, 128}, {4, 4}, {2, 2}, {0, 2}}}; break;
    default: return false;
    }
    *L = l;
    return true;
}

__host__ __device__ inline bool type_is_float(int t) {
    return t == APR_TYPE_F32 || t == APR_TYPE_F16 || t == APR_TYPE_BF16;
}

// A weight matrix on the device: rows x cols, each field an array over all blocks
// (block b of row r is block r*nb + b).
struct DW {
    int type;
    int rows, cols, nb;
    const uint8_t *f[4];
    int fbytes[4];  // bytes of field i per block (0: no such field)
};

// ------------------------------------------------------------------------------------
// Device helpers
// ------------------------------------------------------------------------------------

#define WARP 32

__constant__ int8_t c_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                   1,    13,   25,  38,  53,  69,  89,  113};

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
// Programmatic dependent launch (sm_90): a decode kernel lets the next one start at once
// (pdl_trigger) and waits for its predecessor's results (pdl_wait) only after the work
// that needs none of them, such as pulling its weights into L2. Without the launch
// attribute both are no-ops.
__device__ __forceinline__ void pdl_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;\n" ::);
#endif
}
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

// Prefetch rows [r0, r1) of W into L2, every field, spread over the block's threads.
__device__ __forceinline__ void prefetch_rows_l2(const DW &W, int r0, int r1) {
    if (r1 > W.rows) r1 = W.rows;
    if (r0 >= r1) return;
#pragma unroll
    for (int f = 0; f < 4; f++) {
        if (!W.fbytes[f]) continue;
        const int64_t per_row = (int64_t)W.nb * W.fbytes[f];
        const uint8_t *base = W.f[f] + (int64_t)r0 * per_row;
        const int64_t bytes = (int64_t)(r1 - r0) * per_row;
        for (int64_t o = (int64_t)threadIdx.x * 128; o < bytes; o += (int64_t)blockDim.x * 128)
            asm volatile("prefetch.global.L2 [%0];\n" ::"l"(base + o));
    }
}

// A layer's KV cache of one sequence, positions [0, pos[0]), to be pulled into L2 (the QKV
// matvec does it for the decode attention that follows it: attn_early). k == nullptr: none.
struct KVPrefetch {
    const __half *k, *v;  // the layer's caches
    const int *pos, *seq;
    int64_t seq_stride, head_stride;
    int nkv, hd;
};
// One 128-byte line per thread of the grid at a time (a kv head's positions are contiguous;
// the last line may reach into position pos, still inside the cache). The cache of earlier
// tokens was written by earlier graphs and pos before the graph, so this needs no pdl_wait
// (and a prefetch is only a hint).
__device__ __forceinline__ void prefetch_kv_l2(const KVPrefetch &f) {
    const int64_t per_head = ((int64_t)f.pos[0] * f.hd * (int64_t)sizeof(__half) + 127) / 128;  // lines
    const int64_t total = 2 * f.nkv * per_head, base = (int64_t)f.seq[0] * f.seq_stride;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t kv = i / per_head, line = i - kv * per_head;  // kv: (head, K or V)
        const __half *c = (kv & 1 ? f.v : f.k) + base + (kv >> 1) * f.head_stride + line * (128 / sizeof(__half));
        asm volatile("prefetch.global.L2 [%0];\n" ::"l"(c));
    }
}

__device__ __forceinline__ float h2f(const uint8_t *p) { return __half2float(*(const __half *)p); }
__device__ __forceinline__ float bf2f(uint16_t v) { return __uint_as_float(((uint32_t)v) << 16); }
__device__ __forceinline__ float half_bits(uint32_t h) { return __half2float(__ushort_as_half((unsigned short)h)); }
// An integer 0..255 (byte i of w) as an exact float without a conversion instruction: the
// byte becomes the low mantissa bits of 2^23 (one PRMT), then 2^23 is subtracted.
__device__ __forceinline__ float byte_to_float(uint32_t w, int i) {
    return __uint_as_float(__byte_perm(w, 0x4B000000u, 0x7540u | (unsigned)i)) - 8388608.f;
}
__device__ __forceinline__ void st_half8(uint8_t *dst, const float *v) {
    __align__(16) __half2 h[4];
#pragma unroll
    for (int i = 0; i < 4; i++) h[i] = __floats2half2_rn(v[2 * i], v[2 * i + 1]);
    *(int4 *)dst = *(int4 *)h;
}
// Eight Q4_K values of the bytes q: their low nibbles or (high) their high ones, each
// d * nibble - mm, as k_deq_f16 computes them.
__device__ __forceinline__ void q4k_values8(uint2 q, bool high, float d, float mm, float *v) {
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const uint32_t x = h ? q.y : q.x;
        const uint32_t w = (high ? x >> 4 : x) & 0x0F0F0F0Fu;
#pragma unroll
        for (int j = 0; j < 4; j++) v[4 * h + j] = d * byte_to_float(w, j) - mm;
    }
}
// Eight Q6_K values of quarter 0..3 of a 128-value half: 6 bits each, the low (quarters 0
// and 1) or high nibbles of ql and 2 bits of qh, times dd after subtracting 32.
__device__ __forceinline__ void q6k_values8(uint2 ql, uint2 qh, int quarter, float dd, float *v) {
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const uint32_t lw = h ? ql.y : ql.x, hw = h ? qh.y : qh.x;
        const uint32_t six = (quarter < 2 ? lw & 0x0F0F0F0Fu : (lw >> 4) & 0x0F0F0F0Fu) |
                             (((hw >> (2 * quarter)) & 0x03030303u) << 4);
#pragma unroll
        for (int j = 0; j < 4; j++) v[4 * h + j] = dd * (byte_to_float(six, j) - 32.f);
    }
}

// Scale and min j (0..7) of a Q4_K / Q5_K block. The upload unpacks ggml's 12 bytes of
// 6-bit values into 16 bytes (scale, min) x 8, so this is two byte loads.
__device__ __forceinline__ void scale_min_k4(int j, const uint8_t *q, int &d, int &m) {
    d = q[2 * j];
    m = q[2 * j + 1];
}
// Signed 6-bit scale i (0..15) of a Q3_K block.
__device__ __forceinline__ int scale_q3k(int i, const uint8_t *s) {
    int lo = i < 8 ? (s[i] & 15) : (s[i - 8] >> 4);
    int hi = (s[8 + (i & 3)] >> (2 * (i >> 2))) & 3;
    return (lo | (hi << 4)) - 32;
}

// ------------------------------------------------------------------------------------
// Dequantize 16 consecutive elements of row r starting at column k (k % 16 == 0 for the
// quantized types; float types check the row end).
// ------------------------------------------------------------------------------------

__device__ void deq16(const DW &W, int r, int k, float *y) {
    const int64_t rowel = (int64_t)r * W.cols;
    switch (W.type) {
    case APR_TYPE_F32: {
        const float *p = (const float *)W.f[0] + rowel;
        for (int i = 0; i < 16; i++) y[i] = k + i < W.cols ? p[k + i] : 0.f;
        return;
    }
    case APR_TYPE_F16: {
        const __half *p = (const __half *)W.f[0] + rowel;
        for (int i = 0; i < 16; i++) y[i] = k + i < W.cols ? __half2float(p[k + i]) : 0.f;
        return;
    }
    case APR_TYPE_BF16: {
        const uint16_t *p = (const uint16_t *)W.f[0] + rowel;
        for (int i = 0; i < 16; i++) y[i] = k + i < W.cols ? bf2f(p[k + i]) : 0.f;
        return;
    }
    default: break;
    }
    if (W.type == APR_TYPE_Q4_0 || W.type == APR_TYPE_Q4_1 || W.type == APR_TYPE_Q5_0 ||
        W.type == APR_TYPE_Q5_1 || W.type == APR_TYPE_Q8_0 || W.type == APR_TYPE_IQ4_NL) {
        const int64_t g = (int64_t)r * W.nb + k / 32;
        const int o = k % 32;
        switch (W.type) {
        case APR_TYPE_Q4_0: {
            const uint8_t *qs = W.f[0] + 16 * g;
            float d = h2f(W.f[1] + 2 * g);
            for (int i = 0; i < 16; i++) y[i] = d * ((o ? qs[i] >> 4 : qs[i] & 15) - 8);
            return;
        }
        case APR_TYPE_IQ4_NL: {
            const uint8_t *qs = W.f[0] + 16 * g;
            float d = h2f(W.f[1] + 2 * g);
            for (int i = 0; i < 16; i++) y[i] = d * c_iq4nl[o ? qs[i] >> 4 : qs[i] & 15];
            return;
        }
        case APR_TYPE_Q4_1: {
            const uint8_t *qs = W.f[0] + 16 * g;
            float d = h2f(W.f[1] + 4 * g), m = h2f(W.f[1] + 4 * g + 2);
            for (int i = 0; i < 16; i++) y[i] = d * (o ? qs[i] >> 4 : qs[i] & 15) + m;
            return;
        }
        case APR_TYPE_Q5_0:
        case APR_TYPE_Q5_1: {
            const uint8_t *qs = W.f[0] + 16 * g;
            uint32_t qh = *(const uint32_t *)(W.f[1] + 4 * g);
            float d, m;
            if (W.type == APR_TYPE_Q5_0) {
                d = h2f(W.f[2] + 2 * g);
                m = -16.f * d;
            } else {
                d = h2f(W.f[2] + 4 * g);
                m = h2f(W.f[2] + 4 * g + 2);
            }
            for (int i = 0; i < 16; i++) {
                int q = (o ? qs[i] >> 4 : qs[i] & 15) | (((qh >> (i + o)) & 1) << 4);
                y[i] = d * q + m;
            }
            return;
        }
        case APR_TYPE_Q8_0: {
            const int8_t *qs = (const int8_t *)W.f[0] + 32 * g + o;
            float d = h2f(W.f[1] + 2 * g);
            for (int i = 0; i < 16; i++) y[i] = d * qs[i];
            return;
        }
        }
        return;
    }
    // 256-element super-blocks
    const int64_t g = (int64_t)r * W.nb + k / 256;
    const int o = k % 256;
    switch (W.type) {
    case APR_TYPE_Q4_K:
    case APR_TYPE_Q5_K: {
        const bool five = W.type == APR_TYPE_Q5_K;
        const uint8_t *qs = W.f[0] + 128 * g;
        const uint8_t *sc = W.f[five ? 2 : 1] + 16 * g;
        const uint8_t *dm = W.f[five ? 3 : 2] + 4 * g;
        int c = o / 64, sub = (o % 64) / 32, l0 = o % 32;
        int s, m;
        scale_min_k4(2 * c + sub, sc, s, m);
        float d = h2f(dm) * s, mm = h2f(dm + 2) * m;
        const uint8_t *q = qs + 32 * c + l0;
        const uint8_t *qh = five ? W.f[1] + 32 * g + l0 : nullptr;
        for (int i = 0; i < 16; i++) {
            int v = sub ? q[i] >> 4 : q[i] & 15;
            if (five) v |= ((qh[i] >> (2 * c + sub)) & 1) << 4;
            y[i] = d * v - mm;
        }
        return;
    }
    case APR_TYPE_Q6_K: {
        int n = o / 128, quarter = (o % 128) / 32, l0 = o % 32;
        const uint8_t *ql = W.f[0] + 128 * g + 64 * n + (quarter & 1) * 32 + l0;
        const uint8_t *qh = W.f[1] + 64 * g + 32 * n + l0;
        const int8_t *sc = (const int8_t *)(W.f[2] + 16 * g);
        float d = h2f(W.f[3] + 2 * g) * sc[8 * n + l0 / 16 + 2 * quarter];
        for (int i = 0; i < 16; i++) {
            int lo = quarter < 2 ? ql[i] & 15 : ql[i] >> 4;
            int hi = (qh[i] >> (2 * quarter)) & 3;
            y[i] = d * ((lo | (hi << 4)) - 32);
        }
        return;
    }
    case APR_TYPE_Q2_K:
    case APR_TYPE_Q3_K: {
        int n = o / 128, j = (o % 128) / 32, lh = (o % 32) / 16;
        const uint8_t *q = W.f[0] + 64 * g + 32 * n + 16 * lh;
        if (W.type == APR_TYPE_Q2_K) {
            const uint8_t *sc = W.f[1] + 16 * g;
            const uint8_t *dm = W.f[2] + 4 * g;
            int s = sc[8 * n + 2 * j + lh];
            float d = h2f(dm) * (s & 15), m = h2f(dm + 2) * (s >> 4);
            for (int i = 0; i < 16; i++) y[i] = d * ((q[i] >> (2 * j)) & 3) - m;
        } else {
            const uint8_t *hm = W.f[1] + 32 * g + 16 * lh;
            float d = h2f(W.f[3] + 2 * g) * scale_q3k(8 * n + 2 * j + lh, W.f[2] + 12 * g);
            for (int i = 0; i < 16; i++) {
                int v = ((q[i] >> (2 * j)) & 3) - (((hm[i] >> (4 * n + j)) & 1) ? 0 : 4);
                y[i] = d * v;
            }
        }
        return;
    }
    case APR_TYPE_IQ4_XS: {
        int ib = o / 32, hi = (o % 32) / 16;
        const uint8_t *qs = W.f[0] + 128 * g + 16 * ib;
        uint8_t sl = W.f[1][4 * g + ib / 2];
        uint16_t sh = *(const uint16_t *)(W.f[2] + 2 * g);
        int ls = ((sl >> (4 * (ib % 2))) & 15) | (((sh >> (2 * ib)) & 3) << 4);
        float d = h2f(W.f[3] + 2 * g) * (ls - 32);
        for (int i = 0; i < 16; i++) y[i] = d * c_iq4nl[hi ? qs[i] >> 4 : qs[i] & 15];
        return;
    }
    }
    for (int i = 0; i < 16; i++) y[i] = 0.f;
}

// ------------------------------------------------------------------------------------
// Activations for the matvec: f32 (for float weights) and int8 per 32 with a scale and
// per-16 sums of the int8 values (for the min/offset terms of the quantized types).
// Token t's vector starts at t*K (x, q), t*K/32 (d), t*K/16 (s).
// ------------------------------------------------------------------------------------

struct Act {
    const float *x;
    const int8_t *q;
    const float *d;
    const int *s;
    int K;
};

__device__ __forceinline__ int dp4(int a, int b, int c) { return __dp4a(a, b, c); }
// a's bytes unsigned (0..255), b's signed
__device__ __forceinline__ int dp4us(uint32_t a, int b, int c) {
    int d;
    asm("dp4a.u32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
}

// Spread 4 bits (bit i -> bit 8*i + shift) for the Q5 high bits.
__device__ __forceinline__ int spread4(uint32_t h, int shift) {
    return (int)((((h & 1u)) | ((h & 2u) << 7) | ((h & 4u) << 14) | ((h & 8u) << 21)) << shift);
}

// One lane's contribution to row r for NT tokens over "unit" u (a type-specific slice of
// the row: whole 32-blocks, or 64-element quarters of a 256 super-block).
template <int NT>
__device__ __forceinline__ void unit_dot(const DW &W, int r, int u, const Act &A, float *acc) {
    const int K = A.K;
    switch (W.type) {
    case APR_TYPE_Q4_0:
    case APR_TYPE_Q4_1:
    case APR_TYPE_Q5_0:
    case APR_TYPE_Q5_1:
    case APR_TYPE_IQ4_NL: {
        const int64_t g = (int64_t)r * W.nb + u;
        int4 qv = *(const int4 *)(W.f[0] + 16 * g);
        int ql[4] = {qv.x, qv.y, qv.z, qv.w};
        int lo[4], hi[4];
        float d, m = 0.f;
        int off = 0;
        if (W.type == APR_TYPE_IQ4_NL) {
            for (int i = 0; i < 4; i++) {
                int a = 0, b = 0;
                for (int j = 0; j < 4; j++) {
                    int byte = (ql[i] >> (8 * j)) & 0xFF;
                    a |= ((int)(uint8_t)c_iq4nl[byte & 15]) << (8 * j);
                    b |= ((int)(uint8_t)c_iq4nl[byte >> 4]) << (8 * j);
                }
                lo[i] = a;
                hi[i] = b;
            }
            d = h2f(W.f[1] + 2 * g);
        } else {
            for (int i = 0; i < 4; i++) {
                lo[i] = ql[i] & 0x0F0F0F0F;
                hi[i] = (ql[i] >> 4) & 0x0F0F0F0F;
            }
            if (W.type == APR_TYPE_Q5_0 || W.type == APR_TYPE_Q5_1) {
                uint32_t qh = *(const uint32_t *)(W.f[1] + 4 * g);
                for (int i = 0; i < 4; i++) {
                    lo[i] |= spread4((qh >> (4 * i)) & 15, 4);
                    hi[i] |= spread4((qh >> (16 + 4 * i)) & 15, 4);
                }
            }
            if (W.type == APR_TYPE_Q4_0) { d = h2f(W.f[1] + 2 * g); off = 8; }
            else if (W.type == APR_TYPE_Q5_0) { d = h2f(W.f[2] + 2 * g); off = 16; }
            else if (W.type == APR_TYPE_Q4_1) { d = h2f(W.f[1] + 4 * g); m = h2f(W.f[1] + 4 * g + 2); }
            else { d = h2f(W.f[2] + 4 * g); m = h2f(W.f[2] + 4 * g + 2); }
        }
#pragma unroll
        for (int t = 0; t < NT; t++) {
            const int e = u * 32;
            const int4 *aq = (const int4 *)(A.q + (int64_t)t * K + e);
            int4 a0 = aq[0], a1 = aq[1];
            int s = 0;
            s = dp4(lo[0], a0.x, s); s = dp4(lo[1], a0.y, s);
            s = dp4(lo[2], a0.z, s); s = dp4(lo[3], a0.w, s);
            s = dp4(hi[0], a1.x, s); s = dp4(hi[1], a1.y, s);
            s = dp4(hi[2], a1.z, s); s = dp4(hi[3], a1.w, s);
            const int64_t bi = (int64_t)t * (K / 32) + u;
            float da = A.d[bi];
            int sa = A.s[2 * bi] + A.s[2 * bi + 1];
            acc[t] += d * da * (float)(s - off * sa) + m * da * (float)sa;
        }
        return;
    }
    case APR_TYPE_Q8_0: {
        const int64_t g = (int64_t)r * W.nb + u;
        const int4 *qp = (const int4 *)(W.f[0] + 32 * g);
        int4 w0 = qp[0], w1 = qp[1];
        float d = h2f(W.f[1] + 2 * g);
#pragma unroll
        for (int t = 0; t < NT; t++) {
            const int4 *aq = (const int4 *)(A.q + (int64_t)t * K + u * 32);
            int4 a0 = aq[0], a1 = aq[1];
            int s = 0;
            s = dp4(w0.x, a0.x, s); s = dp4(w0.y, a0.y, s);
            s = dp4(w0.z, a0.z, s); s = dp4(w0.w, a0.w, s);
            s = dp4(w1.x, a1.x, s); s = dp4(w1.y, a1.y, s);
            s = dp4(w1.z, a1.z, s); s = dp4(w1.w, a1.w, s);
            acc[t] += d * A.d[(int64_t)t * (K / 32) + u] * (float)s;
        }
        return;
    }
    case APR_TYPE_Q4_K:
    case APR_TYPE_Q5_K: {
        const bool five = W.type == APR_TYPE_Q5_K;
        const int b = u >> 2, c = u & 3;
        const int64_t g = (int64_t)r * W.nb + b;
        const int4 *qp = (const int4 *)(W.f[0] + 128 * g + 32 * c);
        int4 q0 = qp[0], q1 = qp[1];
        int qq[8] = {q0.x, q0.y, q0.z, q0.w, q1.x, q1.y, q1.z, q1.w};
        int lo[8], hi[8];
#pragma unroll
        for (int i = 0; i < 8; i++) {
            lo[i] = qq[i] & 0x0F0F0F0F;
            hi[i] = (qq[i] >> 4) & 0x0F0F0F0F;
        }
        if (five) {
            const int4 *hp = (const int4 *)(W.f[1] + 32 * g);
            int4 h0 = hp[0], h1 = hp[1];
            int hh[8] = {h0.x, h0.y, h0.z, h0.w, h1.x, h1.y, h1.z, h1.w};
#pragma unroll
            for (int i = 0; i < 8; i++) {
                lo[i] |= ((hh[i] >> (2 * c)) & 0x01010101) << 4;
                hi[i] |= ((hh[i] >> (2 * c + 1)) & 0x01010101) << 4;
            }
        }
        const uint8_t *sc = W.f[five ? 2 : 1] + 16 * g;
        const uint8_t *dm = W.f[five ? 3 : 2] + 4 * g;
        int s0, m0, s1, m1;
        scale_min_k4(2 * c, sc, s0, m0);
        scale_min_k4(2 * c + 1, sc, s1, m1);
        const float d = h2f(dm), dmin = h2f(dm + 2);
#pragma unroll
        for (int t = 0; t < NT; t++) {
            const int e = b * 256 + 64 * c;
            const int4 *aq = (const int4 *)(A.q + (int64_t)t * K + e);
            int4 a0 = aq[0], a1 = aq[1], a2 = aq[2], a3 = aq[3];
            int x = 0, y = 0;
            x = dp4(lo[0], a0.x, x); x = dp4(lo[1], a0.y, x); x = dp4(lo[2], a0.z, x); x = dp4(lo[3], a0.w, x);
            x = dp4(lo[4], a1.x, x); x = dp4(lo[5], a1.y, x); x = dp4(lo[6], a1.z, x); x = dp4(lo[7], a1.w, x);
            y = dp4(hi[0], a2.x, y); y = dp4(hi[1], a2.y, y); y = dp4(hi[2], a2.z, y); y = dp4(hi[3], a2.w, y);
            y = dp4(hi[4], a3.x, y); y = dp4(hi[5], a3.y, y); y = dp4(hi[6], a3.z, y); y = dp4(hi[7], a3.w, y);
            const int64_t bi = (int64_t)t * (K / 32) + e / 32;
            const float da0 = A.d[bi], da1 = A.d[bi + 1];
            const int *sp = A.s + 2 * bi;
            acc[t] += d * (da0 * s0 * (float)x + da1 * s1 * (float)y) -
                      dmin * (da0 * m0 * (float)(sp[0] + sp[1]) + da1 * m1 * (float)(sp[2] + sp[3]));
        }
        return;
    }
    case APR_TYPE_Q6_K: {
        const int b = u >> 2, n = (u >> 1) & 1, lh = u & 1;
        const int64_t g = (int64_t)r * W.nb + b;
        int4 la = *(const int4 *)(W.f[0] + 128 * g + 64 * n + 16 * lh);
        int4 lb = *(const int4 *)(W.f[0] + 128 * g + 64 * n + 32 + 16 * lh);
        int4 hv = *(const int4 *)(W.f[1] + 64 * g + 32 * n + 16 * lh);
        int A4[4] = {la.x, la.y, la.z, la.w}, B4[4] = {lb.x, lb.y, lb.z, lb.w};
        int H4[4] = {hv.x, hv.y, hv.z, hv.w};
        int v[4][4];
#pragma unroll
        for (int i = 0; i < 4; i++) {
            v[0][i] = (A4[i] & 0x0F0F0F0F) | ((H4[i] & 0x03030303) << 4);
            v[1][i] = (B4[i] & 0x0F0F0F0F) | (((H4[i] >> 2) & 0x03030303) << 4);
            v[2][i] = ((A4[i] >> 4) & 0x0F0F0F0F) | (((H4[i] >> 4) & 0x03030303) << 4);
            v[3][i] = ((B4[i] >> 4) & 0x0F0F0F0F) | (((H4[i] >> 6) & 0x03030303) << 4);
        }
        const int8_t *sc = (const int8_t *)(W.f[2] + 16 * g) + 8 * n + lh;
        const float d = h2f(W.f[3] + 2 * g);
#pragma unroll
        for (int t = 0; t < NT; t++) {
            float sum = 0.f;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int e = b * 256 + 128 * n + 32 * j + 16 * lh;
                int4 a = *(const int4 *)(A.q + (int64_t)t * K + e);
                int x = 0;
                x = dp4(v[j][0], a.x, x); x = dp4(v[j][1], a.y, x);
                x = dp4(v[j][2], a.z, x); x = dp4(v[j][3], a.w, x);
                const int64_t bi = (int64_t)t * (K / 32) + e / 32;
                int sa = A.s[2 * bi + lh];
                sum += A.d[bi] * (float)sc[2 * j] * (float)(x - 32 * sa);
            }
            acc[t] += d * sum;
        }
        return;
    }
    case APR_TYPE_Q2_K:
    case APR_TYPE_Q3_K: {
        const bool three = W.type == APR_TYPE_Q3_K;
        const int b = u >> 2, n = (u >> 1) & 1, lh = u & 1;
        const int64_t g = (int64_t)r * W.nb + b;
        int4 qv = *(const int4 *)(W.f[0] + 64 * g + 32 * n + 16 * lh);
        int Q4[4] = {qv.x, qv.y, qv.z, qv.w};
        int H4[4] = {0, 0, 0, 0};
        if (three) {
            int4 hv = *(const int4 *)(W.f[1] + 32 * g + 16 * lh);
            H4[0] = hv.x; H4[1] = hv.y; H4[2] = hv.z; H4[3] = hv.w;
        }
        float dsc[4], dmn[4];
        if (three) {
            const float d = h2f(W.f[3] + 2 * g);
            const uint8_t *s = W.f[2] + 12 * g;
#pragma unroll
            for (int j = 0; j < 4; j++) { dsc[j] = d * scale_q3k(8 * n + 2 * j + lh, s); dmn[j] = 0.f; }
        } else {
            const uint8_t *s = W.f[1] + 16 * g;
            const float d = h2f(W.f[2] + 4 * g), dmin = h2f(W.f[2] + 4 * g + 2);
#pragma unroll
            for (int j = 0; j < 4; j++) {
                int sv = s[8 * n + 2 * j + lh];
                dsc[j] = d * (sv & 15);
                dmn[j] = dmin * (sv >> 4);
            }
        }
        int v[4][4];
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int i = 0; i < 4; i++) {
                v[j][i] = (Q4[i] >> (2 * j)) & 0x03030303;
                if (three) v[j][i] |= ((H4[i] >> (4 * n + j)) & 0x01010101) << 2;
            }
        const int off = three ? 4 : 0;
#pragma unroll
        for (int t = 0; t < NT; t++) {
            float sum = 0.f;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int e = b * 256 + 128 * n + 32 * j + 16 * lh;
                int4 a = *(const int4 *)(A.q + (int64_t)t * K + e);
                int x = 0;
                x = dp4(v[j][0], a.x, x); x = dp4(v[j][1], a.y, x);
                x = dp4(v[j][2], a.z, x); x = dp4(v[j][3], a.w, x);
                const int64_t bi = (int64_t)t * (K / 32) + e / 32;
                int sa = A.s[2 * bi + lh];
                sum += A.d[bi] * (dsc[j] * (float)(x - off * sa) - dmn[j] * (float)sa);
            }
            acc[t] += sum;
        }
        return;
    }
    case APR_TYPE_IQ4_XS: {
        const int b = u >> 3, ib = u & 7;
        const int64_t g = (int64_t)r * W.nb + b;
        int4 qv = *(const int4 *)(W.f[0] + 128 * g + 16 * ib);
        int ql[4] = {qv.x, qv.y, qv.z, qv.w};
        int lo[4], hi[4];
        for (int i = 0; i < 4; i++) {
            int a = 0, c = 0;
            for (int j = 0; j < 4; j++) {
                int byte = (ql[i] >> (8 * j)) & 0xFF;
                a |= ((int)(uint8_t)c_iq4nl[byte & 15]) << (8 * j);
                c |= ((int)(uint8_t)c_iq4nl[byte >> 4]) << (8 * j);
            }
            lo[i] = a;
            hi[i] = c;
        }
        uint8_t sl = W.f[1][4 * g + ib / 2];
        uint16_t sh = *(const uint16_t *)(W.f[2] + 2 * g);
        int ls = ((sl >> (4 * (ib % 2))) & 15) | (((sh >> (2 * ib)) & 3) << 4);
        const float d = h2f(W.f[3] + 2 * g) * (ls - 32);
#pragma unroll
        for (int t = 0; t < NT; t++) {
            const int e = b * 256 + 32 * ib;
            const int4 *aq = (const int4 *)(A.q + (int64_t)t * K + e);
            int4 a0 = aq[0], a1 = aq[1];
            int s = 0;
            s = dp4(lo[0], a0.x, s); s = dp4(lo[1], a0.y, s);
            s = dp4(lo[2], a0.z, s); s = dp4(lo[3], a0.w, s);
            s = dp4(hi[0], a1.x, s); s = dp4(hi[1], a1.y, s);
            s = dp4(hi[2], a1.z, s); s = dp4(hi[3], a1.w, s);
            acc[t] += d * A.d[(int64_t)t * (K / 32) + e / 32] * (float)s;
        }
        return;
    }
    }
}

__host__ __device__ inline int units_per_row(int type, int cols) {
    switch (type) {
    case APR_TYPE_Q4_K: case APR_TYPE_Q5_K: case APR_TYPE_Q6_K:
    case APR_TYPE_Q2_K: case APR_TYPE_Q3_K: return cols / 256 * 4;
    case APR_TYPE_IQ4_XS: return cols / 256 * 8;
    default: return cols / 32;
    }
}

// Whole-row dot product of one warp, NT tokens; the sums end up in every lane.
template <int NT>
__device__ __forceinline__ void row_dot(const DW &W, int r, const Act &A, float *acc) {
    const int lane = threadIdx.x & 31;
#pragma unroll
    for (int t = 0; t < NT; t++) acc[t] = 0.f;
    if (type_is_float(W.type)) {
        const int K = W.cols;
        const int64_t base = (int64_t)r * K;
        if (W.type == APR_TYPE_F16 && (K & 7) == 0) {
            const __half *p = (const __half *)W.f[0] + base;
            for (int k = lane * 8; k < K; k += 256) {
                int4 raw = *(const int4 *)(p + k);
                const __half2 *h = (const __half2 *)&raw;
                float2 w[4];
#pragma unroll
                for (int i = 0; i < 4; i++) w[i] = __half22float2(h[i]);
#pragma unroll
                for (int t = 0; t < NT; t++) {
                    const float4 *x = (const float4 *)(A.x + (int64_t)t * K + k);
                    float4 x0 = x[0], x1 = x[1];
                    acc[t] += w[0].x * x0.x + w[0].y * x0.y + w[1].x * x0.z + w[1].y * x0.w +
                              w[2].x * x1.x + w[2].y * x1.y + w[3].x * x1.z + w[3].y * x1.w;
                }
            }
        } else if (W.type == APR_TYPE_F32 && (K & 3) == 0) {
            const float *p = (const float *)W.f[0] + base;
            for (int k = lane * 4; k < K; k += 128) {
                float4 w = *(const float4 *)(p + k);
#pragma unroll
                for (int t = 0; t < NT; t++) {
                    float4 x = *(const float4 *)(A.x + (int64_t)t * K + k);
                    acc[t] += w.x * x.x + w.y * x.y + w.z * x.z + w.w * x.w;
                }
            }
        } else {
            for (int k = lane; k < K; k += 32) {
                float w;
                if (W.type == APR_TYPE_F32) w = ((const float *)W.f[0])[base + k];
                else if (W.type == APR_TYPE_F16) w = __half2float(((const __half *)W.f[0])[base + k]);
                else w = bf2f(((const uint16_t *)W.f[0])[base + k]);
#pragma unroll
                for (int t = 0; t < NT; t++) acc[t] += w * A.x[(int64_t)t * K + k];
            }
        }
    } else {
        const int nu = units_per_row(W.type, W.cols);
        for (int u = lane; u < nu; u += 32) unit_dot<NT>(W, r, u, A, acc);
    }
#pragma unroll
    for (int t = 0; t < NT; t++) acc[t] = warp_sum(acc[t]);
}

// ------------------------------------------------------------------------------------
// Matrix-vector kernel (decode, 1..8 tokens): one warp per output row, up to three
// matrices of one launch (Q, K and V share their input), fused epilogues.
// ------------------------------------------------------------------------------------

enum { MV_STORE = 0, MV_ADD = 1, MV_SWIGLU = 2, MV_ARGMAX = 3 };

struct MVJob {
    DW w[3];
    float *y[3];
    const float *bias[3];
    int ystride[3];
    int row_end[3];   // cumulative: matrix m owns rows [row_end[m-1], row_end[m])
    int nmat;
    int mode;
    unsigned long long *amax;  // MV_ARGMAX: one packed (value, index) per token
};

#define MV_WARPS 4

__device__ __forceinline__ unsigned long long pack_argmax(float v, int idx) {
    uint32_t u = __float_as_uint(v);
    uint32_t key = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    // ties go to the lowest index, as a CPU loop taking the first maximum does
    return ((unsigned long long)key << 32) | (unsigned long long)(0xFFFFFFFFu - (uint32_t)idx);
}

template <int NT>
__global__ void __launch_bounds__(MV_WARPS * 32) k_matvec(MVJob J, Act A) {
    pdl_wait();  // launched with PDL: see launch_kernel
    const int row = blockIdx.x * MV_WARPS + (threadIdx.x >> 5);
    if (row >= J.row_end[J.nmat - 1]) return;
    int m = 0;
    while (row >= J.row_end[m]) m++;
    const int r = row - (m ? J.row_end[m - 1] : 0);
    float acc[NT];
    row_dot<NT>(J.w[m], r, A, acc);
    if (J.mode == MV_SWIGLU) {
        float up[NT];
        row_dot<NT>(J.w[1], r, A, up);
#pragma unroll
        for (int t = 0; t < NT; t++) acc[t] = acc[t] / (1.f + __expf(-acc[t])) * up[t];
    }
    if ((threadIdx.x & 31) != 0) return;
    const float b = J.bias[m] ? J.bias[m][r] : 0.f;
#pragma unroll
    for (int t = 0; t < NT; t++) {
        float *y = J.y[m] + (int64_t)t * J.ystride[m] + r;
        if (J.mode == MV_ADD) *y += acc[t] + b;
        else *y = acc[t] + b;
        if (J.mode == MV_ARGMAX) atomicMax(J.amax + t, pack_argmax(acc[t] + b, r));
    }
}

// ------------------------------------------------------------------------------------
// Prefill GEMM: Y[t][r] = sum_k X[t][k] W[r][k] with W dequantized tile by tile into
// shared memory as f16 and multiplied on the tensor cores (wmma 16x16x16, f32 accumulate).
// Block tile 64 rows x 64 tokens x 32 k, 4 warps of 32x32.
// ------------------------------------------------------------------------------------

struct MMJob {
    DW w[3];
    float *y[3];
    const float *bias[3];
    int ystride[3];
    int tile_end[3];  // cumulative 64-row tiles
    int nmat;
    int mode;         // MV_STORE or MV_ADD
};

#define GM_BM 64
#define GM_BN 64
#define GM_BK 32
#define GM_LD (GM_BK + 8)

__global__ void __launch_bounds__(128) k_gemm(MMJob J, const __half *X, int K, int ldx, int ntok) {
    pdl_wait();  // launched with PDL: see launch_kernel
    using namespace nvcuda;
    __shared__ __align__(32) __half Ws[GM_BM * GM_LD];
    __shared__ __align__(32) __half Xs[GM_BN * GM_LD];
    __shared__ __align__(32) float Cs[GM_BN * (GM_BM + 4)];
    int tile = blockIdx.x, m = 0;
    while (tile >= J.tile_end[m]) m++;
    const DW &W = J.w[m];
    const int row0 = (tile - (m ? J.tile_end[m - 1] : 0)) * GM_BM;
    const int tok0 = blockIdx.y * GM_BN;
    const int tid = threadIdx.x, warp = tid >> 5;
    const int wm = warp >> 1, wn = warp & 1;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> c[2][2];
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 2; j++) wmma::fill_fragment(c[i][j], 0.f);
    const int lr = tid >> 1, half = tid & 1;
    const bool kvec = (K & 7) == 0 && (ldx & 7) == 0;
    for (int k0 = 0; k0 < K; k0 += GM_BK) {
        {
            float v[16];
            const int r = row0 + lr, k = k0 + 16 * half;
            if (r < W.rows && k < K) deq16(W, r, k, v);
            else for (int i = 0; i < 16; i++) v[i] = 0.f;
            __half2 *dst = (__half2 *)(Ws + lr * GM_LD + 16 * half);
#pragma unroll
            for (int i = 0; i < 8; i++) dst[i] = __floats2half2_rn(v[2 * i], v[2 * i + 1]);
        }
        {
            const int t = tok0 + lr, k = k0 + 16 * half;
            __half *dst = Xs + lr * GM_LD + 16 * half;
            if (t < ntok && kvec && k + 16 <= K) {
                const int4 *src = (const int4 *)(X + (int64_t)t * ldx + k);
                ((int4 *)dst)[0] = src[0];
                ((int4 *)dst)[1] = src[1];
            } else {
                for (int i = 0; i < 16; i++)
                    dst[i] = (t < ntok && k + i < K) ? X[(int64_t)t * ldx + k + i] : __float2half(0.f);
            }
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < GM_BK; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a[2];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> b[2];
#pragma unroll
            for (int i = 0; i < 2; i++) wmma::load_matrix_sync(a[i], Ws + (wm * 32 + i * 16) * GM_LD + kk, GM_LD);
#pragma unroll
            for (int j = 0; j < 2; j++) wmma::load_matrix_sync(b[j], Xs + (wn * 32 + j * 16) * GM_LD + kk, GM_LD);
#pragma unroll
            for (int i = 0; i < 2; i++)
#pragma unroll
                for (int j = 0; j < 2; j++) wmma::mma_sync(c[i][j], a[i], b[j], c[i][j]);
        }
        __syncthreads();
    }
    // C is rows x tokens; store it token-major so the epilogue writes rows contiguously
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 2; j++)
            wmma::store_matrix_sync(Cs + (wn * 32 + j * 16) * (GM_BM + 4) + wm * 32 + i * 16, c[i][j],
                                    GM_BM + 4, wmma::mem_col_major);
    __syncthreads();
    for (int idx = tid; idx < GM_BM * GM_BN; idx += 128) {
        const int lrow = idx % GM_BM, lt = idx / GM_BM;
        const int r = row0 + lrow, t = tok0 + lt;
        if (r >= W.rows || t >= ntok) continue;
        float v = Cs[lt * (GM_BM + 4) + lrow] + (J.bias[m] ? J.bias[m][r] : 0.f);
        float *y = J.y[m] + (int64_t)t * J.ystride[m] + r;
        if (J.mode == MV_ADD) *y += v;
        else *y = v;
    }
}

// ------------------------------------------------------------------------------------
// Prefill GEMM, second form: the weight matrix is first dequantized to f16 into a scratch
// buffer (one memory-bound pass), then a pipelined tensor-core GEMM runs on f16 inputs:
// tiles 128 (weight rows) x 128 (tokens) x 32, 8 warps of 64x32, three cp.async stages.
// ------------------------------------------------------------------------------------

// Row r of W goes to row r * row_mul + row_add of out (row_mul 2 interleaves gate and up);
// dup 2 writes each row twice, side by side (rows of 2 * cols: a GEMM of depth 2K over a
// prompt's hi and lo activation parts, launch_hgemm).
__global__ void k_deq_f16(DW W, __half *out, int row_mul, int row_add, int dup) {
    pdl_wait();  // launched with PDL: see launch_kernel
    const int64_t units = (int64_t)W.rows * (W.cols / 16);
    const int per_row = W.cols / 16;
    for (int64_t u = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; u < units; u += (int64_t)gridDim.x * blockDim.x) {
        const int r = (int)(u / per_row), k = (int)(u - (int64_t)r * per_row) * 16;
        float v[16];
        deq16(W, r, k, v);
        __align__(16) __half2 h[8];
#pragma unroll
        for (int i = 0; i < 8; i++) h[i] = __floats2half2_rn(v[2 * i], v[2 * i + 1]);
        int4 *dst = (int4 *)(out + ((int64_t)r * row_mul + row_add) * W.cols * dup + k);
        dst[0] = ((int4 *)h)[0];
        dst[1] = ((int4 *)h)[1];
        if (dup == 2) {
            dst = (int4 *)((__half *)dst + W.cols);
            dst[0] = ((int4 *)h)[0];
            dst[1] = ((int4 *)h)[1];
        }
    }
}

// Q4_K and Q6_K, the types of Q4_K_M files, faster: 8 values per thread and one 16-byte
// store, consecutive threads writing consecutive 16 bytes of a row (blockIdx.y walks the
// rows, so no division per unit), integers to floats without conversion instructions.
// The same numbers as k_deq_f16, bit for bit (tests/test_cuda). 7B pp512: 38.5 -> 32.9 us
// per matrix, 21.0k -> 22.3k tok/s; a variant that only writes zeros took 21.1 us, the
// bound of this store pattern (bench/NOTES.md, session 8).
template <int T>
__global__ void __launch_bounds__(256) k_deq_kq_f16(DW W, __half *out, int row_mul, int row_add) {
    pdl_wait();  // launched with PDL: see launch_kernel
    const int pieces = W.cols / 8;
    for (int r = blockIdx.y; r < W.rows; r += gridDim.y) {
        const int64_t blk0 = (int64_t)r * W.nb;
        uint8_t *orow = (uint8_t *)(out + ((int64_t)r * row_mul + row_add) * W.cols);
        for (int p = blockIdx.x * blockDim.x + threadIdx.x; p < pieces; p += gridDim.x * blockDim.x) {
            const int k = p * 8, o = k % 256;
            const int64_t b = blk0 + k / 256;
            float v[8];
            if constexpr (T == APR_TYPE_Q4_K) {
                const int c64 = o / 64, sub = (o % 64) / 32, l0 = o % 32;
                const uint2 q = __ldg((const uint2 *)(W.f[0] + 128 * b + 32 * c64 + l0));
                const uint32_t sm = __ldg((const unsigned short *)(W.f[1] + 16 * b + 2 * (2 * c64 + sub)));
                const uint32_t dm = __ldg((const uint32_t *)(W.f[2] + 4 * b));
                const float d = half_bits(dm & 0xFFFF) * byte_to_float(sm, 0);
                const float mm = half_bits(dm >> 16) * byte_to_float(sm, 1);
                q4k_values8(q, sub, d, mm, v);
            } else {
                static_assert(T == APR_TYPE_Q6_K, "Q4_K or Q6_K");
                const int n = o / 128, quarter = (o % 128) / 32, l0 = o % 32;
                const uint2 ql = __ldg((const uint2 *)(W.f[0] + 128 * b + 64 * n + (quarter & 1) * 32 + l0));
                const uint2 qh = __ldg((const uint2 *)(W.f[1] + 64 * b + 32 * n + l0));
                const float dd = h2f(W.f[3] + 2 * b) *
                                 (float)((const int8_t *)W.f[2])[16 * b + 8 * n + l0 / 16 + 2 * quarter];
                q6k_values8(ql, qh, quarter, dd, v);
            }
            st_half8(orow + 2 * k, v);
        }
    }
}

// Tiles BM (weight rows) x BN (tokens) x 32, 8 warps in 2 x 4, each (BM/2) x (BN/4), three
// cp.async stages. The tile shape is chosen per matrix so the grid covers the SMs.
#define HG_BK 32
#define HG_LD (HG_BK + 8)
#define HG_ST 3
enum { HG_STORE = MV_STORE, HG_ADD = MV_ADD, HG_SWIGLU_H = 4, HG_SWIGLU_HILO = 5 };

__host__ __device__ constexpr size_t hg_smem(int bm, int bn) {
    return (size_t)HG_ST * (bm + bn) * HG_LD * 2 > (size_t)bn * (bm + 4) * 4 ? (size_t)HG_ST * (bm + bn) * HG_LD * 2
                                                                             : (size_t)bn * (bm + 4) * 4;
}

__device__ __forceinline__ void cp_async16(void *smem, const void *gmem, bool valid) {
    const unsigned sa = (unsigned)__cvta_generic_to_shared(smem);
    const int n = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(sa), "l"(gmem), "r"(n));
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }
__device__ __forceinline__ void cp_async4(float *smem, const float *gmem) {
    const unsigned sa = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(sa), "l"(gmem));
}

// x = hi + lo as two f16 numbers: hi its f16 rounding, lo that of the rest (~22 bits of x:
// the hi + lo activations of F16/BF16 prompt GEMMs, launch_mm; split_h2 is the pair form).
__device__ __forceinline__ void split_h(float x, __half &hi, __half &lo) {
    hi = __float2half_rn(x);
    lo = __float2half_rn(x - __half2float(hi));
}

// The GEMMs' epilogue: the block's tile of results, staged in shared memory as Cs[token]
// [row] (row stride BM + 4), goes out as y (+)= v + bias, or for HG_SWIGLU_H as
// silu(gate) * up in f16 (rows 2i and 2i+1 are gate and up of row i); HG_SWIGLU_HILO adds
// its lo part (v - f16(v), launch_mm's hi + lo form) M / 2 halves after the hi part. All threads.
template <int BM, int BN>
__device__ __forceinline__ void hg_epilogue(const float *Cs, int m0, int n0, int M, int N, float *Y, int ystride,
                                            const float *bias, int mode, __half *H, int ldh) {
    const int tid = threadIdx.x, nt = blockDim.x;
    if (mode == HG_SWIGLU_H || mode == HG_SWIGLU_HILO) {
        for (int idx = tid; idx < BM / 2 * BN; idx += nt) {
            const int li = idx % (BM / 2), lt = idx / (BM / 2);
            const int i = m0 / 2 + li, t = n0 + lt;
            if (2 * i >= M || t >= N) continue;
            const float gv = Cs[lt * (BM + 4) + 2 * li], uv = Cs[lt * (BM + 4) + 2 * li + 1];
            __half hi, lo;
            split_h(gv / (1.f + __expf(-gv)) * uv, hi, lo);
            H[(int64_t)t * ldh + i] = hi;
            if (mode == HG_SWIGLU_HILO) H[(int64_t)t * ldh + M / 2 + i] = lo;
        }
        return;
    }
    for (int idx = tid; idx < BM * BN; idx += nt) {
        const int lr = idx % BM, lt = idx / BM;
        const int r = m0 + lr, t = n0 + lt;
        if (r >= M || t >= N) continue;
        const float v = Cs[lt * (BM + 4) + lr] + (bias ? bias[r] : 0.f);
        float *y = Y + (int64_t)t * ystride + r;
        if (mode == MV_ADD) *y += v;
        else *y = v;
    }
}

// Y[t][r] (+)= sum_k A[r][k] X[t][k] (+ bias[r]); A: M x K f16, X: N x K f16, K % 32 == 0.
// HG_SWIGLU_H: rows 2i and 2i+1 of A are gate and up of row i; writes silu(gate) * up as
// f16 to H[t][i] (ldh per token), the next GEMM's input.
template <int BM, int BN>
__global__ void __launch_bounds__(256) k_hgemm(const __half *A, const __half *X, int M, int N, int K, float *Y,
                                               int ystride, const float *bias, int mode, __half *H, int ldh) {
    pdl_wait();  // launched with PDL: see launch_kernel
    using namespace nvcuda;
    constexpr int FI = BM / 32, FJ = BN / 64;          // 16x16 fragments per warp
    extern __shared__ __align__(128) uint8_t hsm[];
    __half *As = (__half *)hsm;                        // [ST][BM][LD]
    __half *Bs = As + HG_ST * BM * HG_LD;              // [ST][BN][LD]
    float *Cs = (float *)hsm;                          // epilogue: [BN][BM + 4]
    const int tid = threadIdx.x, warp = tid >> 5;
    const int wm = warp >> 2, wn = warp & 3;
    const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
    const int KT = K / HG_BK;
    auto load = [&](int stage, int kt) {
        const int k0 = kt * HG_BK;
#pragma unroll
        for (int i = 0; i < BM * 4 / 256; i++) {       // 16-byte pieces: 4 per row
            const int idx = tid + 256 * i, row = idx >> 2, c = (idx & 3) * 8, gm = m0 + row;
            cp_async16(As + (stage * BM + row) * HG_LD + c, A + (int64_t)(gm < M ? gm : 0) * K + k0 + c, gm < M);
        }
#pragma unroll
        for (int i = 0; i < BN * 4 / 256; i++) {
            const int idx = tid + 256 * i, row = idx >> 2, c = (idx & 3) * 8, gn = n0 + row;
            cp_async16(Bs + (stage * BN + row) * HG_LD + c, X + (int64_t)(gn < N ? gn : 0) * K + k0 + c, gn < N);
        }
    };
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[FI][FJ];
#pragma unroll
    for (int i = 0; i < FI; i++)
#pragma unroll
        for (int j = 0; j < FJ; j++) wmma::fill_fragment(acc[i][j], 0.f);
#pragma unroll
    for (int s = 0; s < HG_ST - 1; s++) {
        if (s < KT) load(s, s);
        cp_commit();
    }
    for (int kt = 0; kt < KT; kt++) {
        cp_wait<HG_ST - 2>();
        __syncthreads();
        if (kt + HG_ST - 1 < KT) load((kt + HG_ST - 1) % HG_ST, kt + HG_ST - 1);
        cp_commit();
        const int st = kt % HG_ST;
#pragma unroll
        for (int kk = 0; kk < HG_BK; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a[FI];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> b[FJ];
#pragma unroll
            for (int i = 0; i < FI; i++)
                wmma::load_matrix_sync(a[i], As + (st * BM + wm * (BM / 2) + i * 16) * HG_LD + kk, HG_LD);
#pragma unroll
            for (int j = 0; j < FJ; j++)
                wmma::load_matrix_sync(b[j], Bs + (st * BN + wn * (BN / 4) + j * 16) * HG_LD + kk, HG_LD);
#pragma unroll
            for (int i = 0; i < FI; i++)
#pragma unroll
                for (int j = 0; j < FJ; j++) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
        }
    }
    cp_wait<0>();
    __syncthreads();
#pragma unroll
    for (int i = 0; i < FI; i++)
#pragma unroll
        for (int j = 0; j < FJ; j++)
            wmma::store_matrix_sync(Cs + (wn * (BN / 4) + j * 16) * (BM + 4) + wm * (BM / 2) + i * 16, acc[i][j],
                                    BM + 4, wmma::mem_col_major);
    __syncthreads();
    hg_epilogue<BM, BN>(Cs, m0, n0, M, N, Y, ystride, bias, mode, H, ldh);
}

// ------------------------------------------------------------------------------------
// Prefill GEMM, third form, for Hopper (sm_90a): the same inputs, modes and epilogue as
// k_hgemm, on wgmma. Tiles BM (weight rows, 64 per warpgroup) x BN (tokens) x 64; each
// warpgroup issues wgmma m64nBNk16 with both operands read from shared memory, stored
// K-major with the 128-byte swizzle (row r's 16-byte piece c at r * 128 + (c ^ r % 8) * 16,
// so the 8 rows that one read of the tensor cores meets sit in 8 different bank groups).
// All threads fill the WG_ST stages with cp.async; one wgmma group stays in flight while
// the next tile is issued. Blocks walk the token tiles of one weight tile side by side
// (blockIdx.x), so each weight tile comes from HBM once and from L2 for the others.
// Only an sm_90a build has the body; the host asks k_wgmma_probe before using it.
// ------------------------------------------------------------------------------------

#define WG_BK 64

__host__ __device__ constexpr int wg_stages(int bm, int bn) { return bm == 128 ? (bn >= 192 ? 4 : 6) : 4; }
__host__ __device__ constexpr size_t wg_smem(int bm, int bn) {
    // the pipeline's stages, then room to align them to 1024 bytes (the swizzle's period);
    // the epilogue's Cs (bn x (bm + 4) floats) fits inside the stages
    return (size_t)wg_stages(bm, bn) * (bm + bn) * 128 + 1024;
}

__global__ void k_wgmma_probe(int *has) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    *has = 1;
#else
    *has = 0;
#endif
}

// Shared-memory matrix descriptor: K-major, 128-byte swizzle, 8-row groups 1024 bytes
// apart (stride byte offset); the leading byte offset is unused in this layout (1).
// Adding 2 steps the start address 32 bytes along K, one k16 slice.
__device__ __forceinline__ uint64_t wg_desc(uint32_t saddr) {
    return (uint64_t)((saddr & 0x3FFFF) >> 4) | (uint64_t)1 << 16 | (uint64_t)(1024 >> 4) << 32 | (uint64_t)1 << 62;
}
__device__ __forceinline__ uint32_t wg_swizzle(int row, int piece) { return row * 128 + ((piece ^ (row & 7)) << 4); }

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
// One wgmma m64nNk16 (f16 in, f32 accumulators, both operands from shared memory) per N:
// inline asm takes no arrays, so every accumulator is its own operand, hence the lists.
__device__ __forceinline__ void wgmma_f16_n64(float (&d)[32], uint64_t da, uint64_t db) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {"
                 "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"
                 "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
                 "}, %32, %33, p, 1, 1, 0, 0;\n}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),
                   "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]),
                   "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]),
                   "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]),
                   "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
                 : "l"(da), "l"(db), "r"(1));
}
__device__ __forceinline__ void wgmma_f16_n128(float (&d)[64], uint64_t da, uint64_t db) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {"
                 "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"
                 "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31,"
                 "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47,"
                 "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
                 "}, %64, %65, p, 1, 1, 0, 0;\n}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),
                   "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]),
                   "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]),
                   "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]),
                   "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]),
                   "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]),
                   "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]),
                   "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
                   "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]),
                   "+f"(d[63])
                 : "l"(da), "l"(db), "r"(1));
}
__device__ __forceinline__ void wgmma_f16_n192(float (&d)[96], uint64_t da, uint64_t db) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %98, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n192k16.f32.f16.f16 {"
                 "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"
                 "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31,"
                 "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47,"
                 "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63,"
                 "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79,"
                 "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95"
                 "}, %96, %97, p, 1, 1, 0, 0;\n}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),
                   "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]),
                   "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]),
                   "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]),
                   "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]),
                   "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]),
                   "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]),
                   "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
                   "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]),
                   "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]),
                   "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]),
                   "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]),
                   "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]),
                   "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95])
                 : "l"(da), "l"(db), "r"(1));
}
__device__ __forceinline__ void wgmma_f16_n256(float (&d)[128], uint64_t da, uint64_t db) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16 {"
                 "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"
                 "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31,"
                 "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47,"
                 "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63,"
                 "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79,"
                 "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95,"
                 "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111,"
                 "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
                 "}, %128, %129, p, 1, 1, 0, 0;\n}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),
                   "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]),
                   "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]),
                   "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]),
                   "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]),
                   "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]),
                   "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]),
                   "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
                   "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]),
                   "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]),
                   "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]),
                   "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]),
                   "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]),
                   "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]),
                   "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]),
                   "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
                   "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]),
                   "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]),
                   "+f"(d[126]), "+f"(d[127])
                 : "l"(da), "l"(db), "r"(1));
}
template <int BN> __device__ __forceinline__ void wgmma_f16(float (&d)[BN / 2], uint64_t da, uint64_t db) {
    if constexpr (BN == 64) wgmma_f16_n64(d, da, db);
    else if constexpr (BN == 128) wgmma_f16_n128(d, da, db);
    else if constexpr (BN == 192) wgmma_f16_n192(d, da, db);
    else wgmma_f16_n256(d, da, db);
}
// The accumulators must not be moved by the compiler across wgmma issue and wait.
template <int R> __device__ __forceinline__ void wg_fence_regs(float (&d)[R]) {
#pragma unroll
    for (int i = 0; i < R; i++) asm volatile("" : "+f"(d[i])::"memory");
}
#endif

// The fused form reads the weights in their quantized form (Q4_K or Q6_K) and writes the
// f16 tile into shared memory itself: no f16 copy of the matrix in memory (at 7B and 32B
// that pass was 29-31% of pp512). Up to three matrices of one type, stacked (QKV: rows
// [0, row_end[0]) from w[0], ...) or interleaved row by row (gate and up: row 2i + j is row
// i of w[j]).
struct WSrc {
    DW w[3];
    int row_end[3];
    int interleave;
};

// Row r of the stacked or interleaved matrices: the base of each field and the row's
// first block (its index in blocks of the matrix). Selects, not an indexed parameter
// array, which would go through local memory.
struct QRow {
    const uint8_t *f0, *f1, *f2, *f3;
    int64_t blk;
};
__device__ __forceinline__ QRow wsrc_row(const WSrc &S, int r) {
    int m, lr;
    if (S.interleave) {
        m = r & 1;
        lr = r >> 1;
    } else {
        m = r < S.row_end[0] ? 0 : (r < S.row_end[1] ? 1 : 2);
        lr = r - (m == 0 ? 0 : (m == 1 ? S.row_end[0] : S.row_end[1]));
    }
    QRow q;
    q.f0 = m == 0 ? S.w[0].f[0] : (m == 1 ? S.w[1].f[0] : S.w[2].f[0]);
    q.f1 = m == 0 ? S.w[0].f[1] : (m == 1 ? S.w[1].f[1] : S.w[2].f[1]);
    q.f2 = m == 0 ? S.w[0].f[2] : (m == 1 ? S.w[1].f[2] : S.w[2].f[2]);
    q.f3 = m == 0 ? S.w[0].f[3] : (m == 1 ? S.w[1].f[3] : S.w[2].f[3]);
    q.blk = (int64_t)lr * S.w[0].nb;
    return q;
}

// What one thread loads of a weight tile (BM rows x 64 values) and how it writes them: four
// threads per row, thread c4 takes values 8 c4..8 c4+7 and 32+8 c4..32+8 c4+7 of the 64
// (the low and the high nibbles of the same Q4_K bytes), R rows BM*4/NT apart. init finds
// the rows once; load fills a Data (the kernel keeps two, loaded ahead), store writes it.
// The values are computed as k_deq_f16 computes them (f32, then rounded to f16), so both
// forms feed the tensor cores the same numbers.
template <int T, int R> struct WTile;

template <int R> struct WTile<APR_TYPE_Q4_K, R> {
    struct Data {
        uint2 q[R];
        uint32_t sc[R], dm[R];
    };
    const uint8_t *qs_row[R], *sc_row[R], *dm_row[R];  // row i's first block, per field
    bool valid[R];
    __device__ __forceinline__ void init(const WSrc &S, int m0, int M, int row0, int step, int c4) {
#pragma unroll
        for (int i = 0; i < R; i++) {
            const int r = m0 + row0 + i * step;
            valid[i] = r < M;
            const QRow w = wsrc_row(S, valid[i] ? r : 0);
            qs_row[i] = w.f0 + 128 * w.blk + 8 * c4;
            sc_row[i] = w.f1 + 16 * w.blk;
            dm_row[i] = w.f2 + 4 * w.blk;
        }
    }
    __device__ __forceinline__ void load(Data &x, int k0) const {
        const int g = k0 / 256, c64 = (k0 % 256) / 64;
#pragma unroll
        for (int i = 0; i < R; i++) {
            x.q[i] = __ldg((const uint2 *)(qs_row[i] + 128 * g + 32 * c64));
            x.sc[i] = __ldg((const uint32_t *)(sc_row[i] + 16 * g + 4 * c64));
            x.dm[i] = __ldg((const uint32_t *)(dm_row[i] + 4 * g));
        }
    }
    __device__ __forceinline__ void store(const Data &x, uint8_t *as, int row0, int step, int c4) const {
#pragma unroll
        for (int i = 0; i < R; i++) {
            const int row = row0 + i * step;
            float lo[8], hi[8];
            const float d = half_bits(x.dm[i] & 0xFFFF), dmin = half_bits(x.dm[i] >> 16);
            q4k_values8(x.q[i], false, d * byte_to_float(x.sc[i], 0), dmin * byte_to_float(x.sc[i], 1), lo);
            q4k_values8(x.q[i], true, d * byte_to_float(x.sc[i], 2), dmin * byte_to_float(x.sc[i], 3), hi);
#pragma unroll
            for (int j = 0; j < 8; j++) {
                lo[j] = valid[i] ? lo[j] : 0.f;
                hi[j] = valid[i] ? hi[j] : 0.f;
            }
            st_half8(as + wg_swizzle(row, c4), lo);
            st_half8(as + wg_swizzle(row, c4 + 4), hi);
        }
    }
};

template <int R> struct WTile<APR_TYPE_Q6_K, R> {
    struct Data {
        uint2 ql0[R], ql1[R], qh[R];
        uint32_t sc[R], d[R];
        int q0;  // the tile's first quarter of its 128 values (0 or 2)
    };
    const uint8_t *ql_row[R], *qh_row[R], *sc_row[R], *d_row[R];
    bool valid[R];
    __device__ __forceinline__ void init(const WSrc &S, int m0, int M, int row0, int step, int c4) {
#pragma unroll
        for (int i = 0; i < R; i++) {
            const int r = m0 + row0 + i * step;
            valid[i] = r < M;
            const QRow w = wsrc_row(S, valid[i] ? r : 0);
            ql_row[i] = w.f0 + 128 * w.blk + 8 * c4;
            qh_row[i] = w.f1 + 64 * w.blk + 8 * c4;
            sc_row[i] = w.f2 + 16 * w.blk;
            d_row[i] = w.f3 + 2 * w.blk;
        }
    }
    __device__ __forceinline__ void load(Data &x, int k0) const {
        const int g = k0 / 256, o = k0 % 256, n = o / 128;
        x.q0 = (o % 128) / 32;
#pragma unroll
        for (int i = 0; i < R; i++) {
            const uint8_t *ql = ql_row[i] + 128 * g + 64 * n;
            x.ql0[i] = __ldg((const uint2 *)ql);
            x.ql1[i] = __ldg((const uint2 *)(ql + 32));
            x.qh[i] = __ldg((const uint2 *)(qh_row[i] + 64 * g + 32 * n));
            x.sc[i] = __ldg((const uint32_t *)(sc_row[i] + 16 * g + 8 * n + 2 * x.q0));
            x.d[i] = __ldg((const unsigned short *)(d_row[i] + 2 * g));
        }
    }
    __device__ __forceinline__ void store(const Data &x, uint8_t *as, int row0, int step, int c4) const {
#pragma unroll
        for (int i = 0; i < R; i++) {
            const int row = row0 + i * step;
#pragma unroll
            for (int p = 0; p < 2; p++) {  // quarters q0 and q0 + 1
                const float dd = half_bits(x.d[i]) * (float)(int8_t)((x.sc[i] >> (8 * (c4 / 2 + 2 * p))) & 0xFF);
                float v[8];
                q6k_values8(p ? x.ql1[i] : x.ql0[i], x.qh[i], x.q0 + p, dd, v);
#pragma unroll
                for (int j = 0; j < 8; j++) v[j] = valid[i] ? v[j] : 0.f;
                st_half8(as + wg_swizzle(row, c4 + 4 * p), v);
            }
        }
    }
};

// T = 0: A is the f16 scratch (k_deq_f16's output); T = APR_TYPE_Q4_K / Q6_K: the fused
// form, A unused and the weights read through S.
template <int BM, int BN, int T>
__global__ void __launch_bounds__(BM * 2, 1) k_wgemm(const __half *A, WSrc S, const __half *X, int M, int N, int K,
                                                     float *Y, int ystride, const float *bias, int mode, __half *H,
                                                     int ldh) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    pdl_wait();  // launched with PDL: see launch_kernel
    constexpr int NT = BM * 2, ST = wg_stages(BM, BN), A_BYTES = BM * 128, STAGE = (BM + BN) * 128;
    static_assert(BN * (BM + 4) * 4 <= ST * STAGE, "the epilogue's Cs must fit in the stages");
    extern __shared__ __align__(128) uint8_t wsm[];
    const uint32_t raw = (uint32_t)__cvta_generic_to_shared(wsm);
    uint8_t *sm = wsm + ((1024 - (raw & 1023)) & 1023);
    const uint32_t sbase = (uint32_t)__cvta_generic_to_shared(sm);
    const int tid = threadIdx.x, wg = tid >> 7;
    const int n0 = blockIdx.x * BN, m0 = blockIdx.y * BM;
    const int KT = K / WG_BK;
    // the activations (and for T = 0 the f16 weights): cp.async, 16-byte pieces, 8 per row
    auto load_async = [&](int stage, int kt) {
        const int k0 = kt * WG_BK;
        uint8_t *as = sm + stage * STAGE, *bs = as + A_BYTES;
        if constexpr (T == 0) {
#pragma unroll
            for (int i = 0; i < BM * 8 / NT; i++) {
                const int idx = tid + NT * i, row = idx >> 3, c = idx & 7, gm = m0 + row;
                cp_async16(as + wg_swizzle(row, c), A + (int64_t)(gm < M ? gm : 0) * K + k0 + c * 8, gm < M);
            }
        }
#pragma unroll
        for (int i = 0; i < BN * 8 / NT; i++) {
            const int idx = tid + NT * i, row = idx >> 3, c = idx & 7, gn = n0 + row;
            cp_async16(bs + wg_swizzle(row, c), X + (int64_t)(gn < N ? gn : 0) * K + k0 + c * 8, gn < N);
        }
    };
    // The fused form's weights go through registers: each thread loads its part of a tile
    // two iterations before it writes it to shared memory (two sets, wd[0] for even tiles,
    // wd[1] for odd). One iteration of lead measured the same (7B pp512 13.4k): the form
    // is limited by the rate at which 8 warps issue the dequantization beside the wgmma
    // (ncu, bench/NOTES.md, session 8).
    constexpr int WR = BM * 4 / NT, WSTEP = NT / 4;
    using Tile = WTile<T == 0 ? APR_TYPE_Q4_K : T, WR>;
    Tile wt;
    typename Tile::Data wd[2];
    const int c4 = tid & 3, wrow0 = tid >> 2;
    if constexpr (T != 0) wt.init(S, m0, M, wrow0, WSTEP, c4);
    float acc[BN / 2];
#pragma unroll
    for (int i = 0; i < BN / 2; i++) acc[i] = 0.f;
    // Tile kt goes to stage kt % ST. Loads run ST - 2 tiles ahead: the stage they refill
    // held tile kt - 2, whose wgmma group every warpgroup has waited for (wait_group 1
    // below) before the barrier of iteration kt.
    static_assert(ST % 2 == 0, "tile kt + ST - 2 must be in the set of tile kt's parity");
#pragma unroll
    for (int s = 0; s < ST - 2; s++) {
        if (s < KT) {
            load_async(s, s);
            if constexpr (T != 0) {
                wt.load(wd[0], s * WG_BK);
                wt.store(wd[0], sm + s * STAGE, wrow0, WSTEP, c4);
            }
        }
        cp_commit();
    }
    if constexpr (T != 0) {
        if (ST - 2 < KT) wt.load(wd[0], (ST - 2) * WG_BK);
        if (ST - 1 < KT) wt.load(wd[1], (ST - 1) * WG_BK);
    }
    constexpr int U = T == 0 ? 1 : 2;  // unrolled by two for the fused form: wd[h] needs a fixed h
#pragma unroll 1
    for (int kt2 = 0; kt2 < KT; kt2 += U) {
#pragma unroll
        for (int h = 0; h < U; h++) {
            const int kt = kt2 + h;
            if (kt >= KT) break;
            cp_wait<ST - 3>();
            // this thread's shared-memory writes (cp.async or st.shared) -> the tensor cores
            asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
            __syncthreads();
            // tile kt + ST - 2 (of kt's parity): its cp.async pieces first, so they are in
            // flight while the tensor cores start (issued after the wgmma, 1.5B pp512 read
            // ~2% lower, in a build with other changes: bench/out/gpu-s8 runs 81 and 82)
            const int nt = kt + ST - 2;
            if (nt < KT) load_async(nt % ST, nt);
            cp_commit();
            const uint32_t a_addr = sbase + (kt % ST) * STAGE + wg * 64 * 128;
            const uint32_t b_addr = sbase + (kt % ST) * STAGE + A_BYTES;
            const uint64_t da = wg_desc(a_addr), db = wg_desc(b_addr);
            wg_fence_regs(acc);
            asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
            for (int k = 0; k < WG_BK / 16; k++) wgmma_f16<BN>(acc, da + 2 * k, db + 2 * k);
            asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
            if constexpr (T != 0) {
                if (nt < KT) wt.store(wd[h], sm + (nt % ST) * STAGE, wrow0, WSTEP, c4);
                if (nt + 2 < KT) wt.load(wd[h], (nt + 2) * WG_BK);
            }
            wg_fence_regs(acc);
            asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
        }
    }
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
    wg_fence_regs(acc);
    cp_wait<0>();
    __syncthreads();
    // accumulator layout of m64nN: warp w of the warpgroup holds rows 16w..16w+15; register
    // j is row lane/4 (+8 when bit 1 of j is set), column 8 (j/4) + 2 (lane%4) + j%2
    float *Cs = (float *)sm;
    const int warp = (tid >> 5) & 3, lane = tid & 31;
#pragma unroll
    for (int j = 0; j < BN / 2; j++) {
        const int row = wg * 64 + warp * 16 + (lane >> 2) + 8 * ((j >> 1) & 1);
        const int col = 8 * (j >> 2) + 2 * (lane & 3) + (j & 1);
        Cs[col * (BM + 4) + row] = acc[j];
    }
    __syncthreads();
    hg_epilogue<BM, BN>(Cs, m0, n0, M, N, Y, ystride, bias, mode, H, ldh);
#endif
}

// k_wgemm's instances ask for more than 48 KB of dynamic shared memory (wg_smem).
template <int T> static bool wgemm_allow_smem_t() {
    return cudaFuncSetAttribute(k_wgemm<128, 256, T>, cudaFuncAttributeMaxDynamicSharedMemorySize, wg_smem(128, 256)) ==
               cudaSuccess &&
           cudaFuncSetAttribute(k_wgemm<128, 192, T>, cudaFuncAttributeMaxDynamicSharedMemorySize, wg_smem(128, 192)) ==
               cudaSuccess &&
           cudaFuncSetAttribute(k_wgemm<128, 128, T>, cudaFuncAttributeMaxDynamicSharedMemorySize, wg_smem(128, 128)) ==
               cudaSuccess &&
           cudaFuncSetAttribute(k_wgemm<64, 128, T>, cudaFuncAttributeMaxDynamicSharedMemorySize, wg_smem(64, 128)) ==
               cudaSuccess &&
           cudaFuncSetAttribute(k_wgemm<64, 64, T>, cudaFuncAttributeMaxDynamicSharedMemorySize, wg_smem(64, 64)) ==
               cudaSuccess;
}
static bool wgemm_allow_smem() {
    return wgemm_allow_smem_t<0>() && wgemm_allow_smem_t<APR_TYPE_Q4_K>() && wgemm_allow_smem_t<APR_TYPE_Q6_K>();
}

// ------------------------------------------------------------------------------------
// Activation producers: RMSNorm (optional) + f32 copy + int8-per-32 quantization + f16.
// One block per token; the row is first staged in shared memory.
// ------------------------------------------------------------------------------------

struct ActOut {
    float *x;
    int8_t *q;
    float *d;
    int *s;
    __half *h;
    int want_q, want_h;
};

__device__ float block_sum(float v, float *red) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) red[warp] = v;
    __syncthreads();
    float s = 0.f;
    for (int i = 0; i < nw; i++) s += red[i];
    return s;
}

// Writes token t's activation from the staged row sx (all threads of the block).
__device__ void emit_act(const float *sx, int K, int t, const ActOut &o) {
    for (int k = threadIdx.x; k < K; k += blockDim.x) {
        o.x[(int64_t)t * K + k] = sx[k];
        if (o.want_h) o.h[(int64_t)t * K + k] = __float2half(sx[k]);
    }
    if (!o.want_q) return;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int gi = warp; gi < K / 32; gi += nw) {
        float v = sx[gi * 32 + lane];
        float amax = warp_max(fabsf(v));
        float d = amax / 127.f;
        int q = d > 0.f ? __float2int_rn(v / d) : 0;
        o.q[(int64_t)t * K + gi * 32 + lane] = (int8_t)q;
        int s = q;
#pragma unroll
        for (int off = 8; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
        if (lane == 0) {
            o.d[(int64_t)t * (K / 32) + gi] = d;
            o.s[(int64_t)t * (K / 16) + 2 * gi] = s;
        }
        if (lane == 16) o.s[(int64_t)t * (K / 16) + 2 * gi + 1] = s;
    }
}

__global__ void k_norm_act(const float *in, int ld_in, const int *rowmap, const float *w, float eps,
                           int K, ActOut o) {
    pdl_wait();  // launched with PDL: see launch_kernel
    extern __shared__ float sm[];
    __shared__ float red[32];
    const int t = blockIdx.x;
    const int src = rowmap ? rowmap[t] : t;
    const float *x = in + (int64_t)src * ld_in;
    float ss = 0.f;
    for (int k = threadIdx.x; k < K; k += blockDim.x) {
        float v = x[k];
        sm[k] = v;
        ss += v * v;
    }
    if (w) {
        float tot = block_sum(ss, red);
        float sc = rsqrtf(tot / K + eps);
        for (int k = threadIdx.x; k < K; k += blockDim.x) sm[k] = sm[k] * sc * w[k];
    }
    __syncthreads();
    emit_act(sm, K, t, o);
}

// SwiGLU for the prefill path (the GEMM wrote gate and up separately).
__global__ void k_swiglu_act(const float *gate, const float *up, int K, ActOut o) {
    pdl_wait();  // launched with PDL: see launch_kernel
    extern __shared__ float sm[];
    const int t = blockIdx.x;
    for (int k = threadIdx.x; k < K; k += blockDim.x) {
        float g = gate[(int64_t)t * K + k];
        sm[k] = g / (1.f + __expf(-g)) * up[(int64_t)t * K + k];
    }
    __syncthreads();
    emit_act(sm, K, t, o);
}

// Token embedding rows -> hidden; also clears the argmax cells of this step.
__global__ void k_embed(DW E, const int *tokens, float *hidden, int ntok, unsigned long long *amax) {
    pdl_wait();  // launched with PDL: see launch_kernel
    const int t = blockIdx.x;
    if (threadIdx.x == 0 && amax) amax[t] = 0ull;
    int tok = tokens[t];
    if (tok < 0 || tok >= E.rows) tok = 0;  // validated on the host; never read out of bounds
    for (int k = threadIdx.x * 16; k < E.cols; k += blockDim.x * 16) {
        float v[16];
        deq16(E, tok, k, v);
        for (int i = 0; i < 16 && k + i < E.cols; i++) hidden[(int64_t)t * E.cols + k + i] = v[i];
    }
}

// ------------------------------------------------------------------------------------
// Rope (+ Qwen3's per-head q/k RMSNorm) and the KV-cache write. One block per
// (token, head) over Q, K and V heads. The cache is f16, [seq][kv_head][pos][head_dim].
// ------------------------------------------------------------------------------------

// Angle pos * inv_freq reduced to [-pi, pi] in double, then the fast float sincos (its
// error is ~1e-6 there; at large positions the reduction is what keeps it exact).
__device__ __forceinline__ void rope_sincos(int pos, double invf, float &s, float &c) {
    const double th = (double)pos * invf;
    const double r = th - 6.283185307179586 * rint(th * 0.15915494309189535);
    __sincosf((float)r, &s, &c);
}

struct RopeP {
    float *qkv;
    int ld;
    int nh, nkv, hd, rope_dim, neox;
    float base, fscale, eps;
    const float *qn, *kn;
    __half *kc, *vc;
    int64_t seq_stride, head_stride;
    const int *pos, *seq;
    const double *invf;
};

__global__ void k_rope_kv(RopeP p) {
    pdl_wait();  // launched with PDL: see launch_kernel
    __shared__ float sv[256];
    __shared__ float red[32];
    const int t = blockIdx.x, hi = blockIdx.y;
    const int kind = hi < p.nh ? 0 : (hi < p.nh + p.nkv ? 1 : 2);
    float *v = p.qkv + (int64_t)t * p.ld + (int64_t)hi * p.hd;
    for (int d = threadIdx.x; d < p.hd; d += blockDim.x) sv[d] = v[d];
    const int pos = p.pos[t];
    if (kind < 2) {
        const float *nw = kind == 0 ? p.qn : p.kn;
        if (nw) {
            float ss = 0.f;
            for (int d = threadIdx.x; d < p.hd; d += blockDim.x) ss += sv[d] * sv[d];
            float sc = rsqrtf(block_sum(ss, red) / p.hd + p.eps);
            for (int d = threadIdx.x; d < p.hd; d += blockDim.x) sv[d] = sv[d] * sc * nw[d];
        }
        __syncthreads();
        const int half = p.rope_dim / 2;
        for (int i = threadIdx.x; i < half; i += blockDim.x) {
            const int i0 = p.neox ? i : 2 * i, i1 = p.neox ? i + half : 2 * i + 1;
            // angles in double: --use_fast_math would make sinf/cosf inaccurate at large
            // positions
            float s, c;
            rope_sincos(pos, p.invf[i], s, c);
            float x0 = sv[i0], x1 = sv[i1];
            sv[i0] = (float)(x0 * c - x1 * s);
            sv[i1] = (float)(x0 * s + x1 * c);
        }
        __syncthreads();
    }
    if (kind == 0) {
        for (int d = threadIdx.x; d < p.hd; d += blockDim.x) v[d] = sv[d];
    } else {
        const int h = hi - p.nh - (kind == 2 ? p.nkv : 0);
        __half *c = (kind == 1 ? p.kc : p.vc) + (int64_t)p.seq[t] * p.seq_stride +
                    (int64_t)h * p.head_stride + (int64_t)pos * p.hd;
        for (int d = threadIdx.x; d < p.hd; d += blockDim.x) c[d] = __float2half(sv[d]);
    }
}

// ------------------------------------------------------------------------------------
// Attention: flash decoding. Block (kv head, split, token): the G query heads sharing a
// KV head are the block's G warps; each split covers an equal share of positions
// 0..pos (read from device memory, so a captured graph works at every position). Partial
// (unnormalised output, max, sum) go to a scratch buffer; the combine is exact.
// ------------------------------------------------------------------------------------

struct AttnP {
    const float *q;
    int ld;
    const __half *kc, *vc;
    int64_t seq_stride, head_stride;
    int nh, nkv, hd, S;
    float scale;
    const int *pos, *seq;
    float *po, *pml;
};

__global__ void k_attn(AttnP p) {
    pdl_wait();  // launched with PDL: see launch_kernel
    extern __shared__ float sm[];
    const int hk = blockIdx.x, s = blockIdx.y, t = blockIdx.z;
    const int G = p.nh / p.nkv, hd = p.hd, hd2 = hd / 2, ks = hd2 + 1;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int h = hk * G + warp;
    float *sq = sm;                                   // G * hd
    __half2 *Ks = (__half2 *)(sm + G * hd);           // 32 * ks
    __half2 *Vs = Ks + 32 * ks;                       // 32 * hd2
    const int n_kv = p.pos[t] + 1;
    const int chunk = (n_kv + p.S - 1) / p.S;
    const int start = s * chunk, end = min(n_kv, start + chunk);
    for (int d = lane; d < hd; d += 32) sq[warp * hd + d] = p.q[(int64_t)t * p.ld + (int64_t)h * hd + d] * p.scale;
    const int64_t cbase = (int64_t)p.seq[t] * p.seq_stride + (int64_t)hk * p.head_stride;
    const __half2 *kc = (const __half2 *)(p.kc + cbase);
    const __half2 *vc = (const __half2 *)(p.vc + cbase);
    float m = -INFINITY, l = 0.f;
    float2 acc[4];
#pragma unroll
    for (int i = 0; i < 4; i++) acc[i] = make_float2(0.f, 0.f);
    for (int k0 = start; k0 < end; k0 += 32) {
        const int nk = min(32, end - k0);
        __syncthreads();
        for (int idx = threadIdx.x; idx < nk * hd2; idx += blockDim.x) {
            const int j = idx / hd2, d2 = idx - j * hd2;
            Ks[j * ks + d2] = kc[(int64_t)(k0 + j) * hd2 + d2];
            Vs[j * hd2 + d2] = vc[(int64_t)(k0 + j) * hd2 + d2];
        }
        __syncthreads();
        float sc = -INFINITY;
        if (lane < nk) {
            float a = 0.f;
            const float2 *q2 = (const float2 *)(sq + warp * hd);
            for (int d2 = 0; d2 < hd2; d2++) {
                float2 kv = __half22float2(Ks[lane * ks + d2]);
                float2 qv = q2[d2];
                a += qv.x * kv.x + qv.y * kv.y;
            }
            sc = a;
        }
        const float mt = warp_max(sc);
        const float mn = fmaxf(m, mt);
        const float corr = m == -INFINITY ? 0.f : __expf(m - mn);
        const float pj = lane < nk ? __expf(sc - mn) : 0.f;
        l = l * corr + warp_sum(pj);
#pragma unroll
        for (int i = 0; i < 4; i++) { acc[i].x *= corr; acc[i].y *= corr; }
        for (int j = 0; j < nk; j++) {
            const float w = __shfl_sync(0xffffffffu, pj, j);
#pragma unroll
            for (int i = 0; i < 4; i++) {
                const int d2 = lane + 32 * i;
                if (d2 < hd2) {
                    float2 vv = __half22float2(Vs[j * hd2 + d2]);
                    acc[i].x += w * vv.x;
                    acc[i].y += w * vv.y;
                }
            }
        }
        m = mn;
    }
    const int64_t pi = ((int64_t)t * p.nh + h) * p.S + s;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int d2 = lane + 32 * i;
        if (d2 < hd2) ((float2 *)(p.po + pi * hd))[d2] = acc[i];
    }
    if (lane == 0) {
        p.pml[2 * pi] = m;
        p.pml[2 * pi + 1] = l;
    }
}

// Combine the splits of head h of token t; when head_dim is a multiple of 32 the block
// also quantizes its slice for wo (quant groups never cross heads), else a separate
// k_norm_act pass does. Block: max(32, hd) threads.
__global__ void k_attn_combine(const float *po, const float *pml, int nh, int hd, int S, ActOut o) {
    pdl_wait();  // launched with PDL: see launch_kernel
    __shared__ float w[128];
    __shared__ float sx[256];
    __shared__ float Ls;
    const int t = blockIdx.x, h = blockIdx.y, K = nh * hd;
    const int64_t b = ((int64_t)t * nh + h) * S;
    if (threadIdx.x < 32) {
        float M = -INFINITY;
        for (int s = threadIdx.x; s < S; s += 32) M = fmaxf(M, pml[2 * (b + s)]);
        M = warp_max(M);
        float L = 0.f;
        for (int s = threadIdx.x; s < S; s += 32) {
            const float ms = pml[2 * (b + s)];
            const float ws = ms == -INFINITY ? 0.f : __expf(ms - M);
            w[s] = ws;
            L += ws * pml[2 * (b + s) + 1];
        }
        L = warp_sum(L);
        if (threadIdx.x == 0) Ls = L;
    }
    __syncthreads();
    const float inv = Ls > 0.f ? 1.f / Ls : 0.f;
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
        float acc = 0.f;
        for (int s = 0; s < S; s++) acc += w[s] * po[(b + s) * hd + d];
        acc *= inv;
        sx[d] = acc;
        o.x[(int64_t)t * K + h * hd + d] = acc;
        if (o.want_h) o.h[(int64_t)t * K + h * hd + d] = __float2half(acc);
    }
    __syncthreads();
    if (!o.want_q || (hd & 31)) return;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int gi = warp; gi < hd / 32; gi += nw) {
        const float v = sx[gi * 32 + lane];
        const float d = warp_max(fabsf(v)) / 127.f;
        const int q = d > 0.f ? __float2int_rn(v / d) : 0;
        const int64_t g = ((int64_t)t * K + h * hd) / 32 + gi;
        o.q[g * 32 + lane] = (int8_t)q;
        int s = q;
#pragma unroll
        for (int off = 8; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
        if (lane == 0) { o.d[g] = d; o.s[2 * g] = s; }
        if (lane == 16) o.s[2 * g + 1] = s;
    }
}

// ------------------------------------------------------------------------------------
// Prompt attention on tensor cores (FlashAttention-2 form), for a batch that is one
// sequence at consecutive positions p0..p0+n-1 (a prompt). Block (64 query tokens,
// head h), 4 warps of 16 query rows. Per 64-key tile: S = Q K^T with mma.sync m16n8k16
// (f16 in, f32 accumulate), online softmax in registers (base 2, the scale folded into
// Q), O += P V with P taken straight from the S accumulators. Writes the same
// (unnormalised output, max, sum) partials as k_attn with S = 1, so k_attn_combine
// normalises and quantizes for wo as before. head_dim: a multiple of 16, at most 128.
// ------------------------------------------------------------------------------------

#define FA_BQ 64
#define FA_BK 64

__device__ __forceinline__ void mma_16816(float *c, const uint32_t *a, uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Four 8x8 f16 matrices from shared memory into mma fragments (lane t gives the address of
// row t % 8 of matrix t / 8), as stored or transposed.
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const __half *p) {
    const unsigned sa = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(sa));
}
__device__ __forceinline__ void ldsm_x4_trans(uint32_t (&r)[4], const __half *p) {
    const unsigned sa = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(sa));
}
// Over the four lanes that hold one row of an mma accumulator (lanes 4g..4g+3).
__device__ __forceinline__ float quad_max(float x) {
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
    return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}
__device__ __forceinline__ float quad_sum(float x) {
    x += __shfl_xor_sync(0xffffffffu, x, 1);
    return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

__device__ __forceinline__ uint32_t pack_h2(float lo, float hi) {
    __half2 h = __floats2half2_rn(lo, hi);
    return *(uint32_t *)&h;
}

static size_t fa_smem(int hd) { return (size_t)(FA_BQ + 2 * FA_BK) * (hd + 8) * sizeof(__half); }

template <int HD>
__global__ void __launch_bounds__(128) k_attn_fa(AttnP p, int n) {
    pdl_wait();  // launched with PDL: see launch_kernel
    constexpr int LD = HD + 8;  // halves; rows stay 16-byte aligned and fragment loads miss bank conflicts
    extern __shared__ __align__(16) uint8_t fsm[];
    __half *Qs = (__half *)fsm, *Ks = Qs + FA_BQ * LD, *Vs = Ks + FA_BK * LD;
    const int q0 = blockIdx.x * FA_BQ, h = blockIdx.y, hk = h / (p.nh / p.nkv);
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, c = lane & 3;
    const int p0 = p.pos[0];
    const float qscale = p.scale * 1.4426950408889634f;  // exp2 domain
    for (int idx = tid; idx < FA_BQ * HD / 2; idx += 128) {
        const int r = idx / (HD / 2), d2 = idx - r * (HD / 2);
        float2 v = make_float2(0.f, 0.f);
        if (q0 + r < n) v = *(const float2 *)(p.q + (int64_t)(q0 + r) * p.ld + (int64_t)h * HD + 2 * d2);
        *(__half2 *)(Qs + r * LD + 2 * d2) = __floats2half2_rn(v.x * qscale, v.y * qscale);
    }
    __syncthreads();
    uint32_t qa[HD / 16][4];
    {
        const __half *q = Qs + (warp * 16) * LD;
#pragma unroll
        for (int kk = 0; kk < HD / 16; kk++) {
            qa[kk][0] = *(const uint32_t *)(q + g * LD + kk * 16 + 2 * c);
            qa[kk][1] = *(const uint32_t *)(q + (g + 8) * LD + kk * 16 + 2 * c);
            qa[kk][2] = *(const uint32_t *)(q + g * LD + kk * 16 + 8 + 2 * c);
            qa[kk][3] = *(const uint32_t *)(q + (g + 8) * LD + kk * 16 + 8 + 2 * c);
        }
    }
    const int64_t cbase = (int64_t)p.seq[0] * p.seq_stride + (int64_t)hk * p.head_stride;
    const __half *kc = p.kc + cbase, *vc = p.vc + cbase;
    const int qpos0 = p0 + q0 + warp * 16 + g, qpos1 = qpos0 + 8;  // positions of this thread's two rows
    const int kmax = p0 + min(n, q0 + FA_BQ) - 1;                  // last key any row of the block sees
    float o[HD / 8][4];
#pragma unroll
    for (int i = 0; i < HD / 8; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;
    for (int k0 = 0; k0 <= kmax; k0 += FA_BK) {
        __syncthreads();
        for (int idx = tid; idx < FA_BK * HD / 8; idx += 128) {
            const int j = idx / (HD / 8), c8 = idx - j * (HD / 8);
            int4 kv = make_int4(0, 0, 0, 0), vv = kv;
            if (k0 + j <= kmax) {
                kv = *(const int4 *)(kc + (int64_t)(k0 + j) * HD + 8 * c8);
                vv = *(const int4 *)(vc + (int64_t)(k0 + j) * HD + 8 * c8);
            }
            *(int4 *)(Ks + j * LD + 8 * c8) = kv;
            *(int4 *)(Vs + j * LD + 8 * c8) = vv;
        }
        __syncthreads();
        float s[FA_BK / 8][4];
#pragma unroll
        for (int nt = 0; nt < FA_BK / 8; nt++) {
            s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
            const __half *kr = Ks + (nt * 8 + g) * LD + 2 * c;
#pragma unroll
            for (int kk = 0; kk < HD / 16; kk++)
                mma_16816(s[nt], qa[kk], *(const uint32_t *)(kr + kk * 16), *(const uint32_t *)(kr + kk * 16 + 8));
        }
        if (k0 + FA_BK - 1 > qpos0 - g) {  // the causal edge crosses this tile for some row of the warp
#pragma unroll
            for (int nt = 0; nt < FA_BK / 8; nt++) {
                const int key = k0 + nt * 8 + 2 * c;
                if (key > qpos0) s[nt][0] = -INFINITY;
                if (key + 1 > qpos0) s[nt][1] = -INFINITY;
                if (key > qpos1) s[nt][2] = -INFINITY;
                if (key + 1 > qpos1) s[nt][3] = -INFINITY;
            }
        }
        float mx0 = m0, mx1 = m1;
#pragma unroll
        for (int nt = 0; nt < FA_BK / 8; nt++) {
            mx0 = fmaxf(mx0, fmaxf(s[nt][0], s[nt][1]));
            mx1 = fmaxf(mx1, fmaxf(s[nt][2], s[nt][3]));
        }
        mx0 = quad_max(mx0);
        mx1 = quad_max(mx1);
        // key 0 is visible to every row, so mx is finite from the first tile on
        const float corr0 = exp2f(m0 - mx0), corr1 = exp2f(m1 - mx1);
        m0 = mx0;
        m1 = mx1;
        l0 *= corr0;
        l1 *= corr1;
#pragma unroll
        for (int i = 0; i < HD / 8; i++) {
            o[i][0] *= corr0; o[i][1] *= corr0;
            o[i][2] *= corr1; o[i][3] *= corr1;
        }
#pragma unroll
        for (int nt = 0; nt < FA_BK / 8; nt++) {
            s[nt][0] = exp2f(s[nt][0] - m0);
            s[nt][1] = exp2f(s[nt][1] - m0);
            s[nt][2] = exp2f(s[nt][2] - m1);
            s[nt][3] = exp2f(s[nt][3] - m1);
            l0 += s[nt][0] + s[nt][1];
            l1 += s[nt][2] + s[nt][3];
        }
        // O += P V: the S accumulators of key tiles 2kk, 2kk+1 are the A fragment of keys
        // 16kk..16kk+15; V fragments come transposed out of row-major V by ldmatrix.trans
#pragma unroll
        for (int kk = 0; kk < FA_BK / 16; kk++) {
            uint32_t a[4] = {pack_h2(s[2 * kk][0], s[2 * kk][1]), pack_h2(s[2 * kk][2], s[2 * kk][3]),
                             pack_h2(s[2 * kk + 1][0], s[2 * kk + 1][1]), pack_h2(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
            for (int nt = 0; nt < HD / 8; nt += 2) {
                // lanes 0-15: keys 16kk + (lane & 15) at columns nt*8; lanes 16-31: columns nt*8 + 8
                uint32_t b[4];
                ldsm_x4_trans(b, Vs + (kk * 16 + (lane & 15)) * LD + nt * 8 + (lane >> 4) * 8);
                mma_16816(o[nt], a, b[0], b[1]);
                if (nt + 1 < HD / 8) mma_16816(o[nt + 1], a, b[2], b[3]);
            }
        }
    }
    l0 = quad_sum(l0);
    l1 = quad_sum(l1);
    const float ln2 = 0.6931471805599453f;  // partial max back in natural units of scale * q.k
#pragma unroll
    for (int half = 0; half < 2; half++) {
        const int t = q0 + warp * 16 + g + 8 * half;
        if (t >= n) continue;
        const int64_t pi = (int64_t)t * p.nh + h;
#pragma unroll
        for (int nt = 0; nt < HD / 8; nt++)
            *(float2 *)(p.po + pi * HD + nt * 8 + 2 * c) = make_float2(o[nt][2 * half], o[nt][2 * half + 1]);
        if (c == 0) {
            p.pml[2 * pi] = (half ? m1 : m0) * ln2;
            p.pml[2 * pi + 1] = half ? l1 : l0;
        }
    }
}

// ------------------------------------------------------------------------------------
// Decode fast path (one token): the matvec stages its input itself (RMSNorm of the f32
// vector + int8 quantization, or a copy of an int8 vector) into shared memory, so no
// norm/quantize kernels run between the matrices. Blocks are persistent over groups of
// rows; a warp computes two dot products at once (two rows, or gate and up of one row)
// with lanes reading consecutive 16-byte chunks of the quant array, so each warp load is
// 512 contiguous bytes and two independent streams are in flight.
// ------------------------------------------------------------------------------------

__host__ __device__ inline int chunks_per_row(int type, int cols) {
    switch (type) {
    case APR_TYPE_Q4_K: case APR_TYPE_Q5_K: case APR_TYPE_Q6_K: case APR_TYPE_IQ4_XS: return cols / 256 * 8;
    case APR_TYPE_Q2_K: case APR_TYPE_Q3_K: return cols / 256 * 4;
    case APR_TYPE_Q8_0: return cols / 16;
    default: return cols / 32;
    }
}

// Quantize 32 values (one per lane) into an int8 group with scale and per-16 sums.
__device__ __forceinline__ void quant32(float v, int8_t *q, float *d, int *s, int gi) {
    const int lane = threadIdx.x & 31;
    const float dd = warp_max(fabsf(v)) / 127.f;
    const int qi = dd > 0.f ? __float2int_rn(v / dd) : 0;
    q[gi * 32 + lane] = (int8_t)qi;
    int sum = qi;
#pragma unroll
    for (int off = 8; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    if (lane == 0) { d[gi] = dd; s[2 * gi] = sum; }
    if (lane == 16) s[2 * gi + 1] = sum;
}

// ------------------------------------------------------------------------------------
// Decode matvec (one token). A warp owns two rows (or gate and up of two rows for
// SwiGLU) and a slice of their 16-byte chunks; lanes take consecutive chunks, so a warp
// load is 512 contiguous bytes. The input is an f32 vector: each lane quantizes the 16
// or 32 values its chunk meets to int8 itself (one scale per 16 values) and uses dp4a, so
// no kernel has to quantize for the next one and no block waits for another. RMSNorm:
// the producer of the residual stream writes x * w (the next norm's weight) and a sum of
// x^2 per block; the consumer scales its dot products by rsqrt(mean + eps).
// With programmatic dependent launch a block pulls its rows into L2 and loads its first
// chunks before waiting for the kernel before it (pdl_wait), since weights depend on
// nothing that kernel writes.
// ------------------------------------------------------------------------------------

#define MVQ_THREADS 256
#ifndef MVQ_U
#define MVQ_U 2  // chunks per lane and row in one round of loads (SwiGLU: 1, four rows)
#endif
#ifndef MVQ_MINB
#define MVQ_MINB 3  // blocks per SM: 85 registers (a few spill) beat 2 blocks of 123 (tg128 +19%)
#endif

struct MVQ {
    DW w[3];
    float *y[3];
    const float *bias[3];
    int block_end[3];  // cumulative blocks per matrix
    int nmat, mode;
    int ks;            // warps sharing one row pair (each takes a slice of the chunks)
    int prefetch;      // launched early (PDL): prefetch the block's rows to L2 before waiting
    const float *x;    // input vector (for a normalized input: x * norm weight)
    const float *ss_in;  // RMSNorm of the input: sum of ss_in[0..ss_n) is sum x^2
    int ss_n;
    float eps;
    float *xw_out;     // residual producer (MV_ADD): y * norm_w for the next matrix ...
    const float *norm_w;
    float *ss_out;     // ... and per block the sum of y^2 over its rows
    unsigned long long *amax;
};

struct RawC { int4 q, h; uint32_t a, b; };

template <int T>
__device__ __forceinline__ void raw_load(RawC &R, const DW &W, int r, int j) {
    const int64_t rb = (int64_t)r * W.nb;
    if (T == APR_TYPE_Q4_K || T == APR_TYPE_Q5_K) {
        const int b = j >> 3, c = (j >> 1) & 3, hf = j & 1;
        const int64_t g = rb + b;
        R.q = __ldg((const int4 *)(W.f[0] + 128 * g + 32 * c + 16 * hf));
        if (T == APR_TYPE_Q5_K) R.h = __ldg((const int4 *)(W.f[1] + 32 * g + 16 * hf));
        R.a = __ldg((const uint32_t *)(W.f[T == APR_TYPE_Q5_K ? 2 : 1] + 16 * g + 4 * c));
        R.b = __ldg((const uint32_t *)(W.f[T == APR_TYPE_Q5_K ? 3 : 2] + 4 * g));
    } else if (T == APR_TYPE_Q6_K) {
        const int b = j >> 3, n = (j >> 2) & 1, ab = (j >> 1) & 1, lh = j & 1;
        const int64_t g = rb + b;
        R.q = __ldg((const int4 *)(W.f[0] + 128 * g + 64 * n + 32 * ab + 16 * lh));
        R.h = __ldg((const int4 *)(W.f[1] + 64 * g + 32 * n + 16 * lh));
        const uint8_t *sc = W.f[2] + 16 * g + 8 * n + lh + 2 * ab;
        R.a = (uint32_t)__ldg(sc) | ((uint32_t)__ldg(sc + 4) << 8);
        R.b = __ldg((const uint16_t *)(W.f[3] + 2 * g));
    } else if (T == APR_TYPE_Q8_0) {
        const int64_t g = rb + (j >> 1);
        R.q = __ldg((const int4 *)(W.f[0] + 32 * g + 16 * (j & 1)));
        R.b = __ldg((const uint16_t *)(W.f[1] + 2 * g));
    } else if (T == APR_TYPE_Q5_0 || T == APR_TYPE_Q4_0) {
        const int64_t g = rb + j;
        R.q = __ldg((const int4 *)(W.f[0] + 16 * g));
        if (T == APR_TYPE_Q5_0) {
            R.a = __ldg((const uint32_t *)(W.f[1] + 4 * g));
            R.b = __ldg((const uint16_t *)(W.f[2] + 2 * g));
        } else {
            R.b = __ldg((const uint16_t *)(W.f[1] + 2 * g));
        }
    }
}

// One lane's activation for one chunk: its one or two 16-value pieces as int8, each with
// its scale and the sum of its int8 values (for the offset and min terms).
struct LA { int4 q0, q1; float d0, d1; int s0, s1; };

__device__ __forceinline__ void load16(const float *x, float (&v)[16]) {
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const float4 t = __ldg((const float4 *)x + i);
        v[4 * i] = t.x; v[4 * i + 1] = t.y; v[4 * i + 2] = t.z; v[4 * i + 3] = t.w;
    }
}

// The scale of 16 values, amax / 127, and the factor that quantizes them (0 for zeros).
__device__ __forceinline__ void quant16_scale(const float (&v)[16], float &d, float &id) {
    float amax = 0.f;
#pragma unroll
    for (int i = 0; i < 16; i++) amax = fmaxf(amax, fabsf(v[i]));
    d = amax / 127.f;
    id = amax > 0.f ? 127.f / amax : 0.f;
}

// 16 values to int8 with one scale (amax / 127, round to nearest even) and their sum: the
// reference, as k_mvw (the tests' reference matvec) quantizes each lane's activation.
__device__ __forceinline__ void quant16v_ref(const float (&v)[16], int4 &q, float &d, int &s) {
    float id;
    quant16_scale(v, d, id);
    int w[4], sum = 0;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int b[4];
#pragma unroll
        for (int k = 0; k < 4; k++) {
            b[k] = __float2int_rn(v[4 * i + k] * id);
            sum += b[k];
        }
        w[i] = (b[0] & 0xFF) | ((b[1] & 0xFF) << 8) | ((b[2] & 0xFF) << 16) | ((uint32_t)b[3] << 24);
    }
    q = make_int4(w[0], w[1], w[2], w[3]);
    s = sum;
}

// The same int8 values, scale and sum as quant16v_ref, bit for bit for finite input, in
// fewer issue slots (k_mvs's per-block quantization: 7B's ffn_down quantizes 18,944 values
// in each of its 224 blocks, whose arithmetic measured ~2.6% of a token on an H100; this
// form: 7B +0.5%, 0.5B and 1.5B +0.5..3%, bench/NOTES.md, session 18). The conversion to
// integer (F2I: a quarter-rate instruction) becomes an add of 1.5 * 2^23: for |x| < 2^22
// the sum's low mantissa bits hold round-to-nearest-even(x), so its low byte is x's int8
// two's complement. The product is rounded first (__fmul_rn,
// not fused into the add), as F2I's input was. Bytes are packed by byte permutes and
// summed by dp4a. (NaN or infinity in the input: garbage here, other garbage there.)
__device__ __forceinline__ void quant16v(const float (&v)[16], int4 &q, float &d, int &s) {
    float id;
    quant16_scale(v, d, id);
    const float round_magic = 12582912.f;  // 1.5 * 2^23
    int w[4], sum = 0;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        uint32_t b[4];
#pragma unroll
        for (int k = 0; k < 4; k++) b[k] = __float_as_uint(__fadd_rn(__fmul_rn(v[4 * i + k], id), round_magic));
        w[i] = (int)__byte_perm(__byte_perm(b[0], b[1], 0x0040), __byte_perm(b[2], b[3], 0x0040), 0x5410);
        sum = __dp4a(w[i], 0x01010101, sum);
    }
    q = make_int4(w[0], w[1], w[2], w[3]);
    s = sum;
}

// 16 values from x, quantized by quant16v (REF: by quant16v_ref)
template <bool REF = false>
__device__ __forceinline__ void quant16(const float *x, int4 &q, float &d, int &s) {
    float v[16];
    load16(x, v);
    if (REF) quant16v_ref(v, q, d, s);
    else quant16v(v, q, d, s);
}

// The values chunk j of a row of type T meets: [e0, e0 + 16) and, but for Q8_0, [e1, e1 + 16).
template <int T>
__device__ __forceinline__ void act_offsets(int j, int &e0, int &e1) {
    e1 = -1;
    if (T == APR_TYPE_Q4_K || T == APR_TYPE_Q5_K) {
        e0 = 256 * (j >> 3) + 64 * ((j >> 1) & 3) + 16 * (j & 1);
        e1 = e0 + 32;
    } else if (T == APR_TYPE_Q6_K) {
        e0 = 256 * (j >> 3) + 128 * ((j >> 2) & 1) + 32 * ((j >> 1) & 1) + 16 * (j & 1);
        e1 = e0 + 64;
    } else if (T == APR_TYPE_Q8_0) {
        e0 = 16 * j;
    } else {  // Q5_0, Q4_0: low nibbles are values 0..15 of the block, high ones 16..31
        e0 = 32 * j;
        e1 = e0 + 16;
    }
}

template <int T>
__device__ __forceinline__ void act_load(const float *x, int j, LA &a) {
    int e0, e1;
    act_offsets<T>(j, e0, e1);
    quant16<true>(x + e0, a.q0, a.d0, a.s0);
    if (T != APR_TYPE_Q8_0) quant16<true>(x + e1, a.q1, a.d1, a.s1);
}

template <int T>
__device__ __forceinline__ float raw_dot(const RawC &R, int j, const LA &A) {
    const int q[4] = {R.q.x, R.q.y, R.q.z, R.q.w};
    const int A0[4] = {A.q0.x, A.q0.y, A.q0.z, A.q0.w}, A1[4] = {A.q1.x, A.q1.y, A.q1.z, A.q1.w};
    if (T == APR_TYPE_Q4_K || T == APR_TYPE_Q5_K) {
        const int c = (j >> 1) & 3;
        const int h[4] = {R.h.x, R.h.y, R.h.z, R.h.w};
        int x = 0, y = 0;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int lo = q[i] & 0x0F0F0F0F, hi = (q[i] >> 4) & 0x0F0F0F0F;
            if (T == APR_TYPE_Q5_K) {
                lo |= ((h[i] >> (2 * c)) & 0x01010101) << 4;
                hi |= ((h[i] >> (2 * c + 1)) & 0x01010101) << 4;
            }
            x = dp4(lo, A0[i], x);
            y = dp4(hi, A1[i], y);
        }
        const float d = half_bits(R.b), dmin = half_bits(R.b >> 16);
        return d * (A.d0 * (float)(R.a & 0xFF) * (float)x + A.d1 * (float)((R.a >> 16) & 0xFF) * (float)y) -
               dmin * (A.d0 * (float)((R.a >> 8) & 0xFF) * (float)A.s0 + A.d1 * (float)(R.a >> 24) * (float)A.s1);
    } else if (T == APR_TYPE_Q6_K) {
        const int ab = (j >> 1) & 1;
        const int h[4] = {R.h.x, R.h.y, R.h.z, R.h.w};
        int x = 0, y = 0;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            x = dp4((q[i] & 0x0F0F0F0F) | (((h[i] >> (2 * ab)) & 0x03030303) << 4), A0[i], x);
            y = dp4(((q[i] >> 4) & 0x0F0F0F0F) | (((h[i] >> (2 * ab + 4)) & 0x03030303) << 4), A1[i], y);
        }
        const float sc0 = (float)(int8_t)(R.a & 0xFF), sc1 = (float)(int8_t)((R.a >> 8) & 0xFF);
        return half_bits(R.b) * (A.d0 * sc0 * (float)(x - 32 * A.s0) + A.d1 * sc1 * (float)(y - 32 * A.s1));
    } else if (T == APR_TYPE_Q8_0) {
        int x = 0;
#pragma unroll
        for (int i = 0; i < 4; i++) x = dp4(q[i], A0[i], x);
        return half_bits(R.b) * A.d0 * (float)x;
    } else {  // Q5_0, Q4_0
        int xl = 0, xh = 0;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int lo = q[i] & 0x0F0F0F0F, hi = (q[i] >> 4) & 0x0F0F0F0F;
            if (T == APR_TYPE_Q5_0) {
                lo |= spread4((R.a >> (4 * i)) & 15, 4);
                hi |= spread4((R.a >> (16 + 4 * i)) & 15, 4);
            }
            xl = dp4(lo, A0[i], xl);
            xh = dp4(hi, A1[i], xh);
        }
        const int off = T == APR_TYPE_Q5_0 ? 16 : 8;
        return half_bits(R.b) * (A.d0 * (float)(xl - off * A.s0) + A.d1 * (float)(xh - off * A.s1));
    }
}

// The dot products of one warp: rows r and r+1 of W0 (SwiGLU: also of W1, the up matrix)
// over chunks [j0, j1). The first round of loads goes out before pdl_wait.
template <int T, bool SWIGLU, typename F>
__device__ __forceinline__ void mv_warp(const DW &W0, const DW &W1, int r, bool two, int j0, int j1,
                                        const float *x, float *o, F &after_wait) {
    constexpr int NS = SWIGLU ? 4 : 2, U = SWIGLU ? 1 : MVQ_U;
    const int lane = threadIdx.x & 31;
    float acc[NS];
    RawC raw[NS][U];
#pragma unroll
    for (int s = 0; s < NS; s++) acc[s] = 0.f;
    auto issue = [&](int base) {
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int j = base + lane + 32 * u;
            if (j >= j1) continue;
#pragma unroll
            for (int s = 0; s < NS; s++) {
                const bool second_row = SWIGLU ? s >= 2 : s == 1;
                if (second_row && !two) continue;
                raw_load<T>(raw[s][u], SWIGLU && (s & 1) ? W1 : W0, r + (second_row ? 1 : 0), j);
            }
        }
    };
    issue(j0);
    pdl_wait();
    after_wait();
    for (int base = j0; base < j1; base += 32 * U) {
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int j = base + lane + 32 * u;
            if (j >= j1) continue;
            LA a;
            act_load<T>(x, j, a);
#pragma unroll
            for (int s = 0; s < NS; s++) {
                const bool second_row = SWIGLU ? s >= 2 : s == 1;
                if (!second_row || two) acc[s] += raw_dot<T>(raw[s][u], j, a);
            }
        }
        if (base + 32 * U < j1) issue(base + 32 * U);
    }
#pragma unroll
    for (int s = 0; s < NS; s++) o[s] = warp_sum(acc[s]);
}

template <bool SWIGLU, typename F>
__device__ __forceinline__ void mv_dispatch(const DW &W0, const DW &W1, int r, bool two, int j0, int j1,
                                            const float *x, float *o, F &after_wait) {
    switch (W0.type) {
    case APR_TYPE_Q4_K: mv_warp<APR_TYPE_Q4_K, SWIGLU>(W0, W1, r, two, j0, j1, x, o, after_wait); break;
    case APR_TYPE_Q5_K: mv_warp<APR_TYPE_Q5_K, SWIGLU>(W0, W1, r, two, j0, j1, x, o, after_wait); break;
    case APR_TYPE_Q6_K: mv_warp<APR_TYPE_Q6_K, SWIGLU>(W0, W1, r, two, j0, j1, x, o, after_wait); break;
    case APR_TYPE_Q8_0: mv_warp<APR_TYPE_Q8_0, SWIGLU>(W0, W1, r, two, j0, j1, x, o, after_wait); break;
    case APR_TYPE_Q5_0: mv_warp<APR_TYPE_Q5_0, SWIGLU>(W0, W1, r, two, j0, j1, x, o, after_wait); break;
    default: mv_warp<APR_TYPE_Q4_0, SWIGLU>(W0, W1, r, two, j0, j1, x, o, after_wait); break;
    }
}

#define LSUM_N 8
// Sum of ss_in[0..n) seen from one warp: each lane adds its values, LSUM_N loads in flight
// at a time (a plain loop waits for each load before the next: one L2 round trip per value).
// In two halves: the first round's loads (lane_sum_issue), so that a caller can let their
// round trip overlap its next loads, and the sum (lane_sum_finish).
struct LaneSum { float b[LSUM_N]; };
__device__ __forceinline__ void lane_sum_issue(const float *v, int n, LaneSum &s) {
    const int lane = threadIdx.x & 31;
#pragma unroll
    for (int k = 0; k < LSUM_N; k++) s.b[k] = lane + 32 * k < n ? __ldg(v + lane + 32 * k) : 0.f;
}
__device__ __forceinline__ float lane_sum_finish(const float *v, int n, const LaneSum &s) {
    const int lane = threadIdx.x & 31;
    float t = 0.f;
#pragma unroll
    for (int k = 0; k < LSUM_N; k++) t += s.b[k];
    for (int i0 = lane + LSUM_N * 32; i0 < n; i0 += LSUM_N * 32) {
        float b[LSUM_N];
#pragma unroll
        for (int k = 0; k < LSUM_N; k++) b[k] = i0 + 32 * k < n ? __ldg(v + i0 + 32 * k) : 0.f;
#pragma unroll
        for (int k = 0; k < LSUM_N; k++) t += b[k];
    }
    return t;
}
__device__ __forceinline__ float lane_sum_ldg(const float *v, int n) {
    LaneSum s;
    lane_sum_issue(v, n, s);
    return lane_sum_finish(v, n, s);
}

__host__ __device__ inline bool mv_fast_type(int t) {
    return t == APR_TYPE_Q4_K || t == APR_TYPE_Q5_K || t == APR_TYPE_Q6_K || t == APR_TYPE_Q8_0 ||
           t == APR_TYPE_Q5_0 || t == APR_TYPE_Q4_0;
}

__global__ void __launch_bounds__(MVQ_THREADS, MVQ_MINB) k_mvw(MVQ J) {
    __shared__ float part[MVQ_THREADS / 32][4];
    __shared__ float ssb[MVQ_THREADS / 32];
    __shared__ unsigned long long bmax;
    // which matrix: selects instead of an indexed parameter array (that would go to local memory)
    const int m = blockIdx.x < J.block_end[0] ? 0 : (blockIdx.x < J.block_end[1] ? 1 : 2);
    const DW &W = m == 0 ? J.w[0] : (m == 1 ? J.w[1] : J.w[2]);
    float *Y = m == 0 ? J.y[0] : (m == 1 ? J.y[1] : J.y[2]);
    const float *bias = m == 0 ? J.bias[0] : (m == 1 ? J.bias[1] : J.bias[2]);
    const int bofs = blockIdx.x - (m == 0 ? 0 : (m == 1 ? J.block_end[0] : J.block_end[1]));
    const bool swiglu = J.mode == MV_SWIGLU;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int ks = J.ks, slice = warp % ks, rpb = (MVQ_THREADS / 32 / ks) * 2;
    const int r = bofs * rpb + 2 * (warp / ks);
    const bool two = r + 1 < W.rows;
    if (threadIdx.x == 0) bmax = 0ull;
    pdl_trigger();
    if (J.prefetch) {
        prefetch_rows_l2(W, bofs * rpb, bofs * rpb + rpb);
        if (swiglu) prefetch_rows_l2(J.w[1], bofs * rpb, bofs * rpb + rpb);
    }
    // The sums of squares of the input's norm go out together with the activation (each
    // load in its own round trip after the dot products cost ~1 us per kernel).
    float ss_part = 0.f;
    auto after_wait = [&]() {
        if (J.ss_in) ss_part = lane_sum_ldg(J.ss_in, J.ss_n);
    };
    float o[4] = {0.f, 0.f, 0.f, 0.f};
    if (r < W.rows) {
        const int nc = chunks_per_row(W.type, W.cols), cs = (nc + ks - 1) / ks;
        const int j0 = slice * cs, j1 = min(nc, j0 + cs);
        if (swiglu) mv_dispatch<true>(W, J.w[1], r, two, j0, j1, J.x, o, after_wait);
        else mv_dispatch<false>(W, W, r, two, j0, j1, J.x, o, after_wait);
    } else {
        pdl_wait();
        after_wait();
    }
    if (lane == 0) { part[warp][0] = o[0]; part[warp][1] = o[1]; part[warp][2] = o[2]; part[warp][3] = o[3]; }
    const float nscale = J.ss_in ? rsqrtf(warp_sum(ss_part) / (float)W.cols + J.eps) : 1.f;
    // the epilogue's loads in one round trip, before the barrier (in the loop below, the
    // stores between them would keep the compiler from batching them)
    const bool writer = slice == 0 && lane == 0 && r < W.rows;
    float bias_v[2] = {0.f, 0.f}, normw_v[2] = {0.f, 0.f}, yold[2] = {0.f, 0.f};
    if (writer && !swiglu) {
#pragma unroll
        for (int k = 0; k < 2; k++) {
            if (r + k >= W.rows) break;
            if (bias) bias_v[k] = __ldg(bias + r + k);
            if (J.mode == MV_ADD) {
                yold[k] = Y[r + k];
                if (J.xw_out) normw_v[k] = __ldg(J.norm_w + r + k);
            }
        }
    }
    __syncthreads();
    float ss = 0.f;
    if (slice == 0 && lane == 0 && r < W.rows) {
        for (int i = 1; i < ks; i++) {
            o[0] += part[warp + i][0]; o[1] += part[warp + i][1];
            o[2] += part[warp + i][2]; o[3] += part[warp + i][3];
        }
        if (swiglu) {
            const float g0 = o[0] * nscale, u0 = o[1] * nscale, g1 = o[2] * nscale, u1 = o[3] * nscale;
            Y[r] = g0 / (1.f + __expf(-g0)) * u0;
            if (two) Y[r + 1] = g1 / (1.f + __expf(-g1)) * u1;
        } else {
            for (int k = 0; k < 2 && r + k < W.rows; k++) {
                const int rr = r + k;
                const float v = o[k] * nscale + bias_v[k];
                if (J.mode == MV_ADD) {
                    const float nv = yold[k] + v;
                    Y[rr] = nv;
                    if (J.xw_out) {
                        J.xw_out[rr] = nv * normw_v[k];
                        ss += nv * nv;
                    }
                } else {
                    Y[rr] = v;
                }
                if (J.mode == MV_ARGMAX) atomicMax(&bmax, pack_argmax(v, rr));
            }
        }
    }
    if (J.ss_out) {
        // per-block sum of squares of the new residual rows, summed in a fixed order
        if (lane == 0) ssb[warp] = ss;
        __syncthreads();
        if (threadIdx.x == 0) {
            float t = 0.f;
            for (int w = 0; w < MVQ_THREADS / 32; w++) t += ssb[w];
            J.ss_out[bofs] = t;
        }
    }
    if (J.mode == MV_ARGMAX) {
        __syncthreads();
        if (threadIdx.x == 0) atomicMax(J.amax, bmax);
    }
}

// Token embedding for one token: the residual stream, x * (layer 0's attention norm
// weight) for the first matrix and sum x^2 (one block: ss_n = 1).
__global__ void __launch_bounds__(MVQ_THREADS) k_embed_norm(DW E, const int *tokens, float *hidden, const float *nw,
                                                            float *xw, unsigned long long *amax, float *ss_out) {
    __shared__ float red[32];
    pdl_trigger();
    pdl_wait();
    if (threadIdx.x == 0 && amax) *amax = 0ull;
    int tok = tokens[0];
    if (tok < 0 || tok >= E.rows) tok = 0;
    const int K = E.cols;
    float ss = 0.f;
    for (int k = threadIdx.x * 16; k < K; k += MVQ_THREADS * 16) {
        float v[16];
        deq16(E, tok, k, v);
        if (k + 16 <= K) {
            // the norm weights in one round trip before the stores: loaded one by one between
            // them (the compiler cannot move a load past a store that may alias it), each
            // waited for its own, 11.4 us for this one-block kernel on 7B (ncu)
            float w[16];
            load16(nw + k, w);
#pragma unroll
            for (int i = 0; i < 16; i += 4) {
                *(float4 *)(hidden + k + i) = make_float4(v[i], v[i + 1], v[i + 2], v[i + 3]);
                *(float4 *)(xw + k + i) = make_float4(v[i] * w[i], v[i + 1] * w[i + 1], v[i + 2] * w[i + 2],
                                                      v[i + 3] * w[i + 3]);
            }
#pragma unroll
            for (int i = 0; i < 16; i++) ss += v[i] * v[i];
        } else {
            for (int i = 0; i < 16 && k + i < K; i++) {
                hidden[k + i] = v[i];
                xw[k + i] = v[i] * nw[k + i];
                ss += v[i] * v[i];
            }
        }
    }
    ss = block_sum(ss, red);
    if (threadIdx.x == 0) ss_out[0] = ss;
}

// Can a fast decode form run this matrix? (quantized, rows of whole 32-value groups; the
// f32-input form also needs mv_fast_type)
static bool mvf_ok(const DW &w) { return !type_is_float(w.type) && w.cols % 32 == 0; }

// Decode attention with rope, the KV write and the combine fused in (one token, n == 1).
// Block (kv head, split). Every split ropes its own copy of the G query heads; the split
// that holds position pos writes K and V of the token; the last block to finish combines.
struct AttnD {
    const float *qkv;
    const float *qn, *kn;
    __half *kc, *vc;
    int64_t seq_stride, head_stride;
    int nh, nkv, hd, rope_dim, neox, S;
    int min_chunk;    // positions per split, at least
    float base, fscale, eps, scale;
    const int *pos, *seq;
    float *po, *pml, *out;
    int *counter;
    const double *invf;
    int trigger;      // let the next kernel (wo) launch early: pdl_trigger at the start
    int trigger_end;  // ... or once the last block of each kv head is left (its combine)
    int trigger_splits;  // ... or once its input is ready, where it has this many splits or more (0: never)
    int8_t *oq;  // int8 form: the output quantized for wo
    float *od;
    int *os;
};

// Rope of one head by one warp, from the sines and cosines of this lane's pairs
// (lane + 32 k, k < ATT_RPL): worked out at the kernel's start, before the query is ready.
#define ATT_RPL 4  // rope pairs per lane at most (rope_dim <= head_dim <= 256, checked at model load)
__device__ void rope_sincos_lane(int pos, int rope_dim, const double *invf, int lane, float *rs, float *rc) {
#pragma unroll
    for (int k = 0; k < ATT_RPL; k++) {
        const int i = lane + 32 * k;
        rs[k] = 0.f, rc[k] = 1.f;
        if (i < rope_dim / 2) rope_sincos(pos, invf[i], rs[k], rc[k]);
    }
}
__device__ void rope_vec(float *v, int rope_dim, int neox, const float *rs, const float *rc, int lane) {
    const int half = rope_dim / 2;
#pragma unroll
    for (int k = 0; k < ATT_RPL; k++) {
        const int i = lane + 32 * k;
        if (i >= half) break;
        const int i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
        const float x0 = v[i0], x1 = v[i1];
        v[i0] = (float)(x0 * rc[k] - x1 * rs[k]);
        v[i1] = (float)(x0 * rs[k] + x1 * rc[k]);
    }
    __syncwarp();
}

__device__ void head_norm(float *v, const float *w, int hd, float eps, int lane) {
    float ss = 0.f;
    for (int d = lane; d < hd; d += 32) ss += v[d] * v[d];
    ss = warp_sum(ss);
    const float sc = rsqrtf(ss / hd + eps);
    __syncwarp();
    for (int d = lane; d < hd; d += 32) v[d] *= sc * w[d];
    __syncwarp();
}

// Each block streams its split of the cache through shared memory in tiles of TILE
// positions (K and V as stored, f16), att_stages(TILE) tiles in flight (cp.async): at 4,096
// positions a split is one or two tiles, so its whole range is requested at once, before
// the query is even prepared. The current token's K and V (written by the split that holds
// pos) are not loaded but patched in from skv. A lane scores positions lane + 32 i of a
// tile against its warp's query (four partial sums over the head dimension), then adds
// the weighted values of its HD / 32 contiguous dimensions. HD = 64 or 128 fixes the head
// dimension at compile time (the loops over a lane's dimensions then carry no predicated
// work); HD = 0 reads it from p.hd (any multiple of 32 up to 256).
#define ATT_SMAX 128  // splits of one kv head at most (the combine's weights: four per lane)
#define ATT_SPW 128   // floats per warp: the tile's probabilities, then the split weights
#define ATT_MAXG 16   // query heads per kv head at most (512 threads: <= 128 registers)
static_assert(ATT_SPW >= ATT_SMAX && ATT_SMAX <= 128, "combine weights: four per lane");
__host__ __device__ constexpr int att_stages(int tile) { return tile == 64 ? 2 : 3; }
static size_t attn_dec_smem(int G, int hd, int tile) {
    // G queries, this token's k and v, the per-warp weights, then the stages: K rows padded
    // by 16 bytes (conflict-free 16-byte loads across a quarter warp), V rows
    return sizeof(float) * ((size_t)G * hd + 2 * hd + (size_t)G * ATT_SPW) +
           sizeof(__half) * (size_t)att_stages(tile) * tile * (2 * hd + 8);
}
// dimensions [lane * n, lane * n + n) of row v, as floats (n = HD / 32)
template <int N>
__device__ __forceinline__ void att_vals(const __half *v, float *f, int n) {
    if (N == 2) {
        const float2 a = __half22float2(*(const __half2 *)v);
        f[0] = a.x, f[1] = a.y;
    } else if (N == 4) {
        const uint2 u = *(const uint2 *)v;
        const float2 a = __half22float2(*(const __half2 *)&u.x), b = __half22float2(*(const __half2 *)&u.y);
        f[0] = a.x, f[1] = a.y, f[2] = b.x, f[3] = b.y;
    } else {
#pragma unroll
        for (int i = 0; i < 8; i++) f[i] = i < n ? __half2float(v[i]) : 0.f;
    }
}
// The split-K combine of one query head, by one warp: the n_act partials (unnormalised
// output, max, sum) at rows b.. of p.po / p.pml, weighted by exp(max - overall max), summed
// into dst[0, hd). Returns 1 / (the weighted sum of the sums). sw: ATT_SMAX floats of
// this warp's shared memory (the split weights).
__device__ float attn_combine_head(const AttnD &p, int64_t b, int n_act, int hd, float *sw, float *dst, int lane) {
    // The partials are read 16 bytes per lane (lane = split group tg, column c of 4
    // floats), ATT_NB splits of each lane in flight at once (a loop over splits per column
    // waited for each load). The first batch goes out with the split maxima and sums,
    // before the weights are known. Against 8 per lane after the weights: no change
    // measured at 64 splits (bench/NOTES.md, session 9).
    const int c4n = hd / 4;
    const bool cols4 = c4n <= 32 && 32 % c4n == 0;
    const int R = cols4 ? 32 / c4n : 1, tg = lane / c4n, c = lane - tg * c4n;
    constexpr int ATT_NB = 16;
    float4 v[ATT_NB];
    auto batch_load = [&](int t0) {
#pragma unroll
        for (int k = 0; k < ATT_NB; k++) {
            const int t = t0 + tg + k * R;
            v[k] = t < n_act ? __ldcg((const float4 *)(p.po + (b + t) * hd) + c) : make_float4(0.f, 0.f, 0.f, 0.f);
        }
    };
    // split weights: lane t holds splits t + 32 k (S <= ATT_SMAX); then sw[t] for all
    float mk[ATT_SMAX / 32], lk[ATT_SMAX / 32];
#pragma unroll
    for (int k = 0; k < ATT_SMAX / 32; k++) {
        const int t = lane + 32 * k;
        mk[k] = t < n_act ? __ldcg(p.pml + 2 * (b + t)) : -INFINITY;
        lk[k] = t < n_act ? __ldcg(p.pml + 2 * (b + t) + 1) : 0.f;
    }
    if (cols4) batch_load(0);
    float M = mk[0];
#pragma unroll
    for (int k = 1; k < ATT_SMAX / 32; k++) M = fmaxf(M, mk[k]);
    M = warp_max(M);
    float L = 0.f;
#pragma unroll
    for (int k = 0; k < ATT_SMAX / 32; k++) {
        const float w = mk[k] == -INFINITY ? 0.f : __expf(mk[k] - M);
        if (lane + 32 * k < n_act) sw[lane + 32 * k] = w;
        L += w * lk[k];
    }
    L = warp_sum(L);
    const float inv = L > 0.f ? 1.f / L : 0.f;
    __syncwarp();
    if (cols4) {
        float4 a4 = make_float4(0.f, 0.f, 0.f, 0.f);
        for (int t0 = 0; t0 < n_act; t0 += ATT_NB * R) {
            if (t0 > 0) batch_load(t0);
#pragma unroll
            for (int k = 0; k < ATT_NB; k++) {
                const int t = t0 + tg + k * R;
                const float wt = t < n_act ? sw[t] : 0.f;
                a4.x += wt * v[k].x; a4.y += wt * v[k].y; a4.z += wt * v[k].z; a4.w += wt * v[k].w;
            }
        }
        for (int off = c4n; off < 32; off <<= 1) {
            a4.x += __shfl_xor_sync(0xffffffffu, a4.x, off);
            a4.y += __shfl_xor_sync(0xffffffffu, a4.y, off);
            a4.z += __shfl_xor_sync(0xffffffffu, a4.z, off);
            a4.w += __shfl_xor_sync(0xffffffffu, a4.w, off);
        }
        __syncwarp();
        if (tg == 0) *(float4 *)(dst + 4 * c) = a4;
    } else {
        __syncwarp();
        for (int d = lane; d < hd; d += 32) {
            float a = 0.f;
            for (int t = 0; t < n_act; t++) a += sw[t] * __ldcg(p.po + (b + t) * hd + d);
            dst[d] = a;
        }
    }
    __syncwarp();
    return inv;
}

// One query head's output, by one warp: src[0, hd) * inv, and its int8 form for wo.
__device__ void attn_out_head(const AttnD &p, int h, const float *src, float inv, int hd, int lane) {
    for (int d = lane; d < hd; d += 32) {
        const float v = src[d] * inv;
        p.out[(int64_t)h * hd + d] = v;
        // head_dim % 32 == 0 on this path: quant groups of wo's input stay inside a head
        if (p.oq) quant32(v, p.oq, p.od, p.os, (h * hd + d - lane) / 32);
    }
}

// The positions of split s (both decode attention kernels): splits of at least min_chunk
// positions (one split: no combine), at most S (<= ATT_SMAX); n_act of them hold positions.
struct AttnSplit {
    int pos, n_act, start, end;
};
__device__ AttnSplit attn_split(const AttnD &p, int s) {
    AttnSplit r;
    r.pos = p.pos[0];
    const int n_kv = r.pos + 1;
    const int chunk = max(p.min_chunk, (n_kv + p.S - 1) / p.S);
    r.n_act = (n_kv + chunk - 1) / chunk;
    r.start = s * chunk;
    r.end = min(n_kv, r.start + chunk);
    return r;
}

// This token's K and V of kv head hk, by one warp: norm, rope, into skv (2 * hd floats)
// and the f16 cache at pos.
__device__ void attn_token_kv(const AttnD &p, int hk, int64_t cbase, int pos, int hd, float *skv, const float *rs,
                              const float *rc, int lane) {
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

// After a block has stored its partials: whether it is the last of the n_act active splits
// of kv head hk to do so (then it combines; every other block has ended). is_last: the
// block's shared flag.
__device__ bool attn_last_split(const AttnD &p, int hk, int n_act, int &is_last) {
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) is_last = atomicAdd(p.counter + hk, 1) == n_act - 1;
    __syncthreads();
    return is_last;
}

template <int TILE, int HD>
__global__ void __launch_bounds__(32 * ATT_MAXG) k_attn_dec(AttnD p) {
    constexpr int NSC = TILE / 32, ST = att_stages(TILE);
    constexpr int DPL = HD ? HD / 32 : 8;  // a lane's dimensions (at most)
    extern __shared__ float sm[];
    __shared__ int is_last;
    const int hk = blockIdx.x, s = blockIdx.y;
    const int G = p.nh / p.nkv, hd = HD ? HD : p.hd, hd8 = hd / 8, dpl = hd / 32, kst = hd + 8;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int h = hk * G + warp;
    float *sq = sm;                                       // G * hd
    float *skv = sq + G * hd;                             // 2 * hd (this token's k and v)
    float *sw = skv + 2 * hd + warp * ATT_SPW;            // this warp's ATT_SPW weights
    __half *stage = (__half *)(skv + 2 * hd + G * ATT_SPW);  // ST * TILE * (kst + hd)
    if (p.trigger) pdl_trigger();  // wo's blocks may start and pull their rows into L2 meanwhile
    const AttnSplit sp = attn_split(p, s);
    const int pos = sp.pos, n_act = sp.n_act, start = sp.start, end = sp.end;
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
    // matvec's output. Launched with PDL (attn_pdl, see context_create), the block gets
    // here while that matvec still runs.
    pdl_wait();
    if (p.trigger_splits && n_act >= p.trigger_splits) pdl_trigger();  // see attn_trigger_splits
    // q of this warp's head: norm, rope, scale
    for (int d = lane; d < hd; d += 32) sq[warp * hd + d] = p.qkv[(int64_t)h * hd + d];
    __syncwarp();
    if (p.qn) head_norm(sq + warp * hd, p.qn, hd, p.eps, lane);
    rope_vec(sq + warp * hd, p.rope_dim, p.neox, rs, rc, lane);
    for (int d = lane; d < hd; d += 32) sq[warp * hd + d] *= p.scale;
    // the split holding pos writes this token's K and V (to the cache, and to skv)
    const bool has_pos = start <= pos && pos < end;
    if (has_pos && warp == 0) attn_token_kv(p, hk, cbase, pos, hd, skv, rs, rc, lane);
    float m = -INFINITY, l = 0.f;
    float acc[DPL];
#pragma unroll
    for (int i = 0; i < DPL; i++) acc[i] = 0.f;
    const float4 *q4 = (const float4 *)(sq + warp * hd);
    for (int t = 0; t < n_tiles; t++) {
        const int k0 = start + t * TILE, nk = min(TILE, end - k0);
        __half *ks = Ks(t), *vs = Vs(t);
        cp_wait<ST - 1>();  // this thread's pieces of tile t have landed
        __syncthreads();    // everyone's (and skv, and the query)
        if (has_pos && k0 <= pos && pos < k0 + TILE) {
            // this token's K and V, rounded to f16 as written to the cache
            const int j = pos - k0;
            for (int d = threadIdx.x; d < hd; d += blockDim.x) {
                ks[j * kst + d] = __float2half(skv[d]);
                vs[j * hd + d] = __float2half(skv[hd + d]);
            }
            __syncthreads();
        }
        // lane scores positions k0 + lane + 32 i (rows past nk read the last valid one and
        // are masked: every row read was written)
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
        __syncthreads();    // every warp is done with tile t's stage (and sw)
        tile_load(t + ST);  // into the stage just freed
    }
    float inv = 1.f;
    if (n_act == 1) {
        // one split holds everything (short contexts): no combine; wo may launch now
        if (p.trigger_end) pdl_trigger();
        inv = l > 0.f ? 1.f / l : 0.f;
    } else {
        const int64_t pi = (int64_t)h * p.S + s;
#pragma unroll
        for (int i = 0; i < DPL; i++)
            if (i < dpl) p.po[pi * hd + lane * dpl + i] = acc[i];
        if (lane == 0) {
            p.pml[2 * pi] = m;
            p.pml[2 * pi + 1] = l;
        }
        // the last of the active splits of this kv head combines
        if (!attn_last_split(p, hk, n_act, is_last)) return;
        // every other block has ended: wo's blocks may launch during the combine
        if (p.trigger_end) pdl_trigger();
        __threadfence();
        inv = attn_combine_head(p, (int64_t)h * p.S, n_act, hd, sw, sq + warp * hd, lane);
        __syncwarp();
        if (threadIdx.x == 0) p.counter[hk] = 0;
    }
    if (n_act == 1) {
        __syncwarp();
#pragma unroll
        for (int i = 0; i < DPL; i++)
            if (i < dpl) sq[warp * hd + lane * dpl + i] = acc[i];
        __syncwarp();
    }
    attn_out_head(p, h, sq + warp * hd, inv, hd, lane);
}

template <int TILE> static bool attn_dec_allow_smem(int smax) {
    return cudaFuncSetAttribute(k_attn_dec<TILE, 128>, cudaFuncAttributeMaxDynamicSharedMemorySize, smax) == cudaSuccess &&
           cudaFuncSetAttribute(k_attn_dec<TILE, 64>, cudaFuncAttributeMaxDynamicSharedMemorySize, smax) == cudaSuccess &&
           cudaFuncSetAttribute(k_attn_dec<TILE, 0>, cudaFuncAttributeMaxDynamicSharedMemorySize, smax) == cudaSuccess;
}

// ------------------------------------------------------------------------------------
// Decode attention on tensor cores (k_attn_dec_mma; head size 64 or 128, G <= ATT_MAXG).
// k_attn_dec gives each query head a warp, whose lanes convert every K and V element
// from f16 and multiply it in f32: at 4,096 positions that is ~1.2 us per 32 positions,
// issue-bound (bench/NOTES.md, session 12). Here the G query heads of the kv head are
// the rows of an mma.sync m16n8k16 A operand (rows G..15 zero) and a warp scores 16
// positions for all of them at once, as the prompt kernel k_attn_fa does. Precision:
// q (scaled) and the probabilities are each split into two f16 parts (x = hi + lo, lo
// the f16 rounding of x - hi), K and V are f16 already, the products are exact and the
// sums f32: the result equals k_attn_dec's f32 arithmetic to rounding (tiny-llama logits
// 2e-7..5e-7 apart, tests/test_cuda), where k_attn_fa rounds q and p to f16 once (2^-11
// relative). A lo part below 2^-14 is an f16 subnormal (absolute spacing 2^-24); scaling
// q and p up by powers of two to avoid that changed no test result and cost 0.5-2%
// (bench/NOTES.md, session 14).
// CW warps score (16 positions each per cp.async stage, two stages in flight); a block
// has max(G, CW) warps, the others preparing queries and combining. The split, the rope,
// this token's K/V write, the partials and the combine are k_attn_dec's; the scoring
// warps' online-softmax states are merged in shared memory first. At 4,096 positions
// (0.5B, H200) the kernel with CW = 4 takes 10.5 us under ncu against k_attn_dec's 12.3
// us, and decode is 4-6% faster (bench/NOTES.md, session 14). CW = 8 (stages of 128
// positions: a split of 128 in one round) is faster again where it matters: tg128 0.5B
// 1,903 / 1,920 -> 1,957 / 1,955 tok/s, 7B 580.7 / 578.9 -> 595.2 / 592.8, 1.5B +0.6%; @
// d4096 7B 536.5 / 534.9 -> 546.1 / 545.6, 1.5B +1.1%, 0.5B 0; 32B -0.3..+0.2% (run 143).
// ------------------------------------------------------------------------------------

#define ATT_MMA_WT 16                         // positions a warp scores per stage
#define ATT_MMA_ST 2                          // stages in flight
static int attn_mma_warps(int G, int cw) { return std::max(G, cw); }
static size_t attn_mma_smem(int G, int hd, int cw) {
    // per warp: its query head in f32, later the combine's weights and output; this
    // token's k and v; the scoring warps' maxima and sums; q in two f16 parts (16 rows,
    // padded by 16 bytes as every row here: conflict-free ldmatrix); the stages (K, V)
    const size_t floats = (size_t)attn_mma_warps(G, cw) * (ATT_SPW + hd) + 2 * hd + 2 * cw * 16;
    const size_t halves = 2 * 16 * (size_t)(hd + 8) + (size_t)ATT_MMA_ST * ATT_MMA_WT * cw * 2 * (hd + 8);
    return sizeof(float) * floats + sizeof(__half) * halves;
}

// x = hi + lo in two f16 pairs (split_h for each element)
__device__ __forceinline__ void split_h2(float x, float y, uint32_t &hi, uint32_t &lo) {
    const __half2 h = __floats2half2_rn(x, y);
    const float2 hf = __half22float2(h);
    const __half2 l = __floats2half2_rn(x - hf.x, y - hf.y);
    hi = *(const uint32_t *)&h;
    lo = *(const uint32_t *)&l;
}

// POISON (tests, APR_CUDA_ATTN_POISON=1): an instance of its own whose stages are set to an
// f16 NaN before the loads, so that a row read without having been written turns the logits
// into NaN instead of passing unseen (stale shared memory is mostly finite). An instance,
// not a flag: a branch on a flag here cost 1.4-1.9% of 1.5B and 7B decode (session 29).
template <int HD, int CW, bool POISON = false>
__global__ void __launch_bounds__(32 * ATT_MAXG) k_attn_dec_mma(AttnD p) {
    constexpr int LD = HD + 8, WT = ATT_MMA_WT, BT = ATT_MMA_WT * CW, ST = ATT_MMA_ST;
    extern __shared__ float sm[];
    __shared__ int is_last;
    const int hk = blockIdx.x, s = blockIdx.y;
    const int G = p.nh / p.nkv, NW = blockDim.x >> 5, h0 = hk * G;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
    float *wbuf = sm + warp * (ATT_SPW + HD);  // this warp's ATT_SPW + HD floats
    float *skv = sm + NW * (ATT_SPW + HD);     // 2 * HD (this token's k and v)
    float *wm = skv + 2 * HD, *wl = wm + CW * 16;  // scoring warps' row maxima and sums
    __half *sqh = (__half *)(wl + CW * 16), *sql = sqh + 16 * LD;
    __half *stage = sql + 16 * LD;  // ST * BT * 2 * LD
    if (p.trigger) pdl_trigger();
    const AttnSplit sp = attn_split(p, s);
    const int pos = sp.pos, n_act = sp.n_act, start = sp.start, end = sp.end;
    if (start >= end) return;  // an idle split: takes no part in the combine
    const int n_tiles = (end - start + BT - 1) / BT;
    const int64_t cbase = (int64_t)p.seq[0] * p.seq_stride + (int64_t)hk * p.head_stride;
    const __half *kc = p.kc + cbase, *vc = p.vc + cbase;
    auto Ks = [&](int t) { return stage + (size_t)(t % ST) * BT * 2 * LD; };
    auto Vs = [&](int t) { return Ks(t) + BT * LD; };
    if (POISON) {
        for (int i = threadIdx.x; i < ST * BT * 2 * LD; i += blockDim.x) stage[i] = __ushort_as_half((unsigned short)0x7fff);
        __syncthreads();
    }
    // tile t's loads as one cp.async group; the rows after the last position, up to the
    // end of its warp's 16, are zero-filled (the mma reads them: a probability of 0 times a
    // stale NaN would not be 0). Position pos's row inside the split is skipped: the cache
    // does not hold this token yet, and the split writes it from skv. Past the split's end
    // it is zero-filled like the others. Until session 29 it was skipped wherever it came
    // up, so a split ending up to 15 positions before pos read a stale row there: garbage
    // logits whenever the stale bits were an f16 Inf or NaN (test_gpu_long's poisoned
    // cases). Same-run A/Bs of 7B decode on an H100 read the fixed builds -0.7..+0.4% against
    // the old kernels, mostly below, where a rebuild of the unchanged source moved -0.6..+0.3%
    // (bench/NOTES.md, session 29).
    auto tile_load = [&](int t) {
        if (t < n_tiles) {
            const int k0 = start + t * BT, n = min(BT, end - k0), rows = (n + WT - 1) / WT * WT;
            __half *ks = Ks(t), *vs = Vs(t);
            for (int idx = threadIdx.x; idx < rows * (HD / 8); idx += blockDim.x) {
                const int j = idx / (HD / 8), c8 = idx - j * (HD / 8);
                const bool in = j < n;
                if (in && k0 + j == pos) continue;
                const int64_t src = (int64_t)(in ? k0 + j : k0) * HD + 8 * c8;
                cp_async16(ks + j * LD + 8 * c8, kc + src, in);
                cp_async16(vs + j * LD + 8 * c8, vc + src, in);
            }
        }
        cp_commit();
    };
#pragma unroll
    for (int t = 0; t < ST; t++) tile_load(t);
    float rs[ATT_RPL], rc[ATT_RPL];
    rope_sincos_lane(pos, p.rope_dim, p.invf, lane, rs, rc);
    for (int i = threadIdx.x; i < (16 - G) * LD; i += blockDim.x) sqh[G * LD + i] = sql[G * LD + i] = __float2half(0.f);
    pdl_wait();
    if (p.trigger_splits && n_act >= p.trigger_splits) pdl_trigger();  // see attn_trigger_splits
    // the queries: norm, rope, scale (exp2 domain), then hi + lo in f16 rows
    const float qscale = p.scale * 1.4426950408889634f;
    for (int hh = warp; hh < G; hh += NW) {
        for (int d = lane; d < HD; d += 32) wbuf[d] = p.qkv[(int64_t)(h0 + hh) * HD + d];
        __syncwarp();
        if (p.qn) head_norm(wbuf, p.qn, HD, p.eps, lane);
        rope_vec(wbuf, p.rope_dim, p.neox, rs, rc, lane);
        for (int d = lane; d < HD; d += 32) {
            const float v = wbuf[d] * qscale;
            const __half hi = __float2half_rn(v);
            sqh[hh * LD + d] = hi;
            sql[hh * LD + d] = __float2half_rn(v - __half2float(hi));
        }
        __syncwarp();
    }
    // the split holding pos writes this token's K and V (to the cache, and to skv)
    const bool has_pos = start <= pos && pos < end;
    if (has_pos && warp == NW - 1) attn_token_kv(p, hk, cbase, pos, HD, skv, rs, rc, lane);
    // this thread's rows g and g + 8 of the output (column pairs 2c of each 8), in the
    // mma accumulator layout, with their running maxima and (partial) sums
    float o[HD / 8][4];
#pragma unroll
    for (int i = 0; i < HD / 8; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;
    for (int t = 0; t < n_tiles; t++) {
        const int k0 = start + t * BT, nk = min(BT, end - k0);
        cp_wait<ST - 1>();  // this thread's pieces of tile t have landed
        __syncthreads();    // everyone's (and skv, and the queries)
        if (has_pos && k0 <= pos && pos < k0 + BT) {
            // this token's K and V, rounded to f16 as written to the cache
            const int j = pos - k0;
            for (int d = threadIdx.x; d < HD; d += blockDim.x) {
                Ks(t)[j * LD + d] = __float2half(skv[d]);
                Vs(t)[j * LD + d] = __float2half(skv[HD + d]);
            }
            __syncthreads();
        }
        const int j0 = warp * WT;
        if (warp < CW && j0 < nk) {
            const int nv = min(WT, nk - j0);
            const __half *kt = Ks(t) + j0 * LD, *vt = Vs(t) + j0 * LD;
            // S = Q K^T: two n-tiles of 8 positions; B fragments straight from K's rows
            float sc[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
#pragma unroll
            for (int kk = 0; kk < HD / 16; kk++) {
                uint32_t qh[4], ql[4], kb[4];
                ldsm_x4(qh, sqh + (lane & 15) * LD + kk * 16 + (lane >> 4) * 8);
                ldsm_x4(ql, sql + (lane & 15) * LD + kk * 16 + (lane >> 4) * 8);
                ldsm_x4(kb, kt + ((lane >> 4) * 8 + (lane & 7)) * LD + kk * 16 + ((lane >> 3) & 1) * 8);
                mma_16816(sc[0], qh, kb[0], kb[1]);
                mma_16816(sc[0], ql, kb[0], kb[1]);
                mma_16816(sc[1], qh, kb[2], kb[3]);
                mma_16816(sc[1], ql, kb[2], kb[3]);
            }
            if (nv < WT) {
#pragma unroll
                for (int nt = 0; nt < 2; nt++)
#pragma unroll
                    for (int e = 0; e < 2; e++)
                        if (nt * 8 + 2 * c + e >= nv) sc[nt][e] = sc[nt][e + 2] = -INFINITY;
            }
            float mx0 = fmaxf(m0, fmaxf(fmaxf(sc[0][0], sc[0][1]), fmaxf(sc[1][0], sc[1][1])));
            float mx1 = fmaxf(m1, fmaxf(fmaxf(sc[0][2], sc[0][3]), fmaxf(sc[1][2], sc[1][3])));
            mx0 = quad_max(mx0);
            mx1 = quad_max(mx1);
            // position j0 is valid, so mx is finite; a first tile's corr is exp2(-inf) = 0
            const float corr0 = exp2f(m0 - mx0), corr1 = exp2f(m1 - mx1);
            m0 = mx0;
            m1 = mx1;
#pragma unroll
            for (int nt = 0; nt < 2; nt++) {
                sc[nt][0] = exp2f(sc[nt][0] - m0);
                sc[nt][1] = exp2f(sc[nt][1] - m0);
                sc[nt][2] = exp2f(sc[nt][2] - m1);
                sc[nt][3] = exp2f(sc[nt][3] - m1);
            }
            l0 = l0 * corr0 + (sc[0][0] + sc[0][1]) + (sc[1][0] + sc[1][1]);
            l1 = l1 * corr1 + (sc[0][2] + sc[0][3]) + (sc[1][2] + sc[1][3]);
#pragma unroll
            for (int i = 0; i < HD / 8; i++) {
                o[i][0] *= corr0; o[i][1] *= corr0;
                o[i][2] *= corr1; o[i][3] *= corr1;
            }
            // O += P V: the S accumulators are P's A fragment (k = the 16 positions);
            // V's B fragments come transposed out of its rows by ldmatrix.trans
            uint32_t ph[4], pl[4];
            split_h2(sc[0][0], sc[0][1], ph[0], pl[0]);
            split_h2(sc[0][2], sc[0][3], ph[1], pl[1]);
            split_h2(sc[1][0], sc[1][1], ph[2], pl[2]);
            split_h2(sc[1][2], sc[1][3], ph[3], pl[3]);
#pragma unroll
            for (int nt = 0; nt < HD / 8; nt += 2) {
                uint32_t vb[4];
                ldsm_x4_trans(vb, vt + (lane & 15) * LD + nt * 8 + (lane >> 4) * 8);
                mma_16816(o[nt], ph, vb[0], vb[1]);
                mma_16816(o[nt], pl, vb[0], vb[1]);
                mma_16816(o[nt + 1], ph, vb[2], vb[3]);
                mma_16816(o[nt + 1], pl, vb[2], vb[3]);
            }
        }
        __syncthreads();    // every warp is done with tile t's stage
        tile_load(t + ST);  // into the stage just freed
    }
    cp_wait<0>();  // (only empty groups are left)
    // one split holds everything (short contexts): no combine; wo may launch now
    if (n_act == 1 && p.trigger_end) pdl_trigger();
    // merge the scoring warps: maxima and sums first, then each warp's output rows,
    // weighted by exp2(its max - the overall max), into the stages' memory
    l0 = quad_sum(l0);
    l1 = quad_sum(l1);
    if (warp < CW && c == 0) {
        wm[warp * 16 + g] = m0, wm[warp * 16 + g + 8] = m1;
        wl[warp * 16 + g] = l0, wl[warp * 16 + g + 8] = l1;
    }
    __syncthreads();
    auto row_max = [&](int r) {
        float M = wm[r];
#pragma unroll
        for (int w = 1; w < CW; w++) M = fmaxf(M, wm[w * 16 + r]);
        return M;
    };
    auto weight = [&](int w, int r, float M) { return wm[w * 16 + r] == -INFINITY ? 0.f : exp2f(wm[w * 16 + r] - M); };
    // the scoring warps' weighted outputs, CW * G rows of SO floats in the stages' memory (a
    // warp's G <= 16 rows of HD + 8 floats fit in its share of the stages: 2 * ST * WT = 64
    // rows of HD + 8 halves). The 8 floats of padding put a store's 8 rows g on different
    // banks: rows HD apart all began on bank 0, an 8-way conflict on each of a warp's HD / 8
    // stores. tg128 +0.3..0.4% on an H200 (0.5B-7B), -0.2..+0.7% on an H100 (bench/NOTES.md,
    // session 21).
    constexpr int SO = HD + 8;
    static_assert(sizeof(float) * CW * ATT_MAXG * SO <= sizeof(__half) * ST * BT * 2 * LD, "so fits in the stages");
    float *so = (float *)stage;
    if (warp < CW) {
        const float f0 = g < G ? weight(warp, g, row_max(g)) : 0.f, f1 = g + 8 < G ? weight(warp, g + 8, row_max(g + 8)) : 0.f;
#pragma unroll
        for (int nt = 0; nt < HD / 8; nt++) {
            if (g < G) *(float2 *)(so + (warp * G + g) * SO + nt * 8 + 2 * c) = make_float2(o[nt][0] * f0, o[nt][1] * f0);
            if (g + 8 < G)
                *(float2 *)(so + (warp * G + g + 8) * SO + nt * 8 + 2 * c) = make_float2(o[nt][2] * f1, o[nt][3] * f1);
        }
    }
    __syncthreads();
    const float ln2 = 0.6931471805599453f;  // maxima back in natural units of scale * q.k
    for (int hh = warp; hh < G; hh += NW) {
        const float M = row_max(hh);
        float L = 0.f;
#pragma unroll
        for (int w = 0; w < CW; w++) L += wl[w * 16 + hh] * weight(w, hh, M);
        const int64_t pi = (int64_t)(h0 + hh) * p.S + s;
        for (int d = lane; d < HD; d += 32) {
            float a = 0.f;
#pragma unroll
            for (int w = 0; w < CW; w++) a += so[(w * G + hh) * SO + d];
            if (n_act == 1) wbuf[d] = a;
            else p.po[pi * HD + d] = a;
        }
        if (n_act == 1) {
            __syncwarp();
            attn_out_head(p, h0 + hh, wbuf, L > 0.f ? 1.f / L : 0.f, HD, lane);
        } else if (lane == 0) {
            p.pml[2 * pi] = M * ln2;
            p.pml[2 * pi + 1] = L;
        }
    }
    if (n_act == 1) return;
    // the last of the active splits of this kv head combines (k_attn_dec's combine, a warp
    // per query head)
    if (!attn_last_split(p, hk, n_act, is_last)) return;
    // every other block has ended: wo's blocks may launch during the combine
    if (p.trigger_end) pdl_trigger();
    __threadfence();
    for (int hh = warp; hh < G; hh += NW) {
        const float inv = attn_combine_head(p, (int64_t)(h0 + hh) * p.S, n_act, HD, wbuf, wbuf + ATT_SPW, lane);
        attn_out_head(p, h0 + hh, wbuf + ATT_SPW, inv, HD, lane);
        __syncwarp();
    }
    if (threadIdx.x == 0) p.counter[hk] = 0;
}

// k_attn_dec_mma's instance for head size HD: cw scoring warps, poisoned stages or not
typedef void (*AttnKernel)(AttnD);
template <int HD> static AttnKernel attn_mma_kernel(int cw, bool poison) {
    if (cw == 8) return poison ? k_attn_dec_mma<HD, 8, true> : k_attn_dec_mma<HD, 8>;
    return poison ? k_attn_dec_mma<HD, 4, true> : k_attn_dec_mma<HD, 4>;
}
template <int CW> static bool attn_mma_allow_smem(int smax) {
    auto allow = [&](AttnKernel k) {
        return cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smax) == cudaSuccess;
    };
    return allow(k_attn_dec_mma<128, CW>) && allow(k_attn_dec_mma<64, CW>) && allow(k_attn_dec_mma<128, CW, true>) &&
           allow(k_attn_dec_mma<64, CW, true>);
}

// ------------------------------------------------------------------------------------
// Decode matvec, int8-activation form (types the f32 form's kernels lack; APR_CUDA_DECODE=i8
// forces it). The producer of a vector quantizes it (int8 per 32) once, the last block of
// each 32-row group doing it, so every consumer row reads 1 byte per value. It was the
// form of n_embd >= 3072 until session 5, when k_mvs for every matrix beat it (7B tg128
// 329 -> 422 tok/s, bench/NOTES.md).
// ------------------------------------------------------------------------------------

// Chunk j (16 bytes of the main quant array) of row r against the staged activation.
template <int T>
__device__ __forceinline__ float chunk_dot(const DW &W, int r, int j, const int8_t *aq, const float *ad, const int *as) {
    const int64_t rb = (int64_t)r * W.nb;
    if (T == APR_TYPE_Q4_K || T == APR_TYPE_Q5_K) {
        const int b = j >> 3, c = (j >> 1) & 3, hf = j & 1;
        const int64_t g = rb + b;
        const int4 qv = __ldg((const int4 *)(W.f[0] + 128 * g + 32 * c + 16 * hf));
        const uint32_t scw = __ldg((const uint32_t *)(W.f[T == APR_TYPE_Q5_K ? 2 : 1] + 16 * g + 4 * c));
        const uint32_t dmv = __ldg((const uint32_t *)(W.f[T == APR_TYPE_Q5_K ? 3 : 2] + 4 * g));
        int q[4] = {qv.x, qv.y, qv.z, qv.w}, lo[4], hi[4];
#pragma unroll
        for (int i = 0; i < 4; i++) {
            lo[i] = q[i] & 0x0F0F0F0F;
            hi[i] = (q[i] >> 4) & 0x0F0F0F0F;
        }
        if (T == APR_TYPE_Q5_K) {
            const int4 hv = __ldg((const int4 *)(W.f[1] + 32 * g + 16 * hf));
            int h[4] = {hv.x, hv.y, hv.z, hv.w};
#pragma unroll
            for (int i = 0; i < 4; i++) {
                lo[i] |= ((h[i] >> (2 * c)) & 0x01010101) << 4;
                hi[i] |= ((h[i] >> (2 * c + 1)) & 0x01010101) << 4;
            }
        }
        const int e0 = 256 * b + 64 * c + 16 * hf, e1 = e0 + 32;
        const int4 a0 = *(const int4 *)(aq + e0), a1 = *(const int4 *)(aq + e1);
        int x = 0, y = 0;
        x = dp4(lo[0], a0.x, x); x = dp4(lo[1], a0.y, x); x = dp4(lo[2], a0.z, x); x = dp4(lo[3], a0.w, x);
        y = dp4(hi[0], a1.x, y); y = dp4(hi[1], a1.y, y); y = dp4(hi[2], a1.z, y); y = dp4(hi[3], a1.w, y);
        const int sc0 = scw & 0xFF, m0 = (scw >> 8) & 0xFF, sc1 = (scw >> 16) & 0xFF, m1 = scw >> 24;
        const float2 dm = __half22float2(*(const __half2 *)&dmv);
        const float da0 = ad[e0 >> 5], da1 = ad[e1 >> 5];
        return dm.x * (da0 * sc0 * (float)x + da1 * sc1 * (float)y) -
               dm.y * (da0 * m0 * (float)as[e0 >> 4] + da1 * m1 * (float)as[e1 >> 4]);
    } else if (T == APR_TYPE_Q6_K) {
        const int b = j >> 3, n = (j >> 2) & 1, ab = (j >> 1) & 1, lh = j & 1;
        const int64_t g = rb + b;
        const int4 lv = __ldg((const int4 *)(W.f[0] + 128 * g + 64 * n + 32 * ab + 16 * lh));
        const int4 hv = __ldg((const int4 *)(W.f[1] + 64 * g + 32 * n + 16 * lh));
        const int8_t *sc = (const int8_t *)(W.f[2] + 16 * g) + 8 * n + lh;
        const float sc0 = (float)__ldg(sc + 2 * ab), sc1 = (float)__ldg(sc + 2 * ab + 4);
        const float d = __half2float(__ldg((const __half *)(W.f[3] + 2 * g)));
        int l[4] = {lv.x, lv.y, lv.z, lv.w}, h[4] = {hv.x, hv.y, hv.z, hv.w};
        const int e0 = 256 * b + 128 * n + 32 * ab + 16 * lh, e1 = e0 + 64;
        const int4 a0 = *(const int4 *)(aq + e0), a1 = *(const int4 *)(aq + e1);
        int A0[4] = {a0.x, a0.y, a0.z, a0.w}, A1[4] = {a1.x, a1.y, a1.z, a1.w};
        int x = 0, y = 0;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            x = dp4((l[i] & 0x0F0F0F0F) | (((h[i] >> (2 * ab)) & 0x03030303) << 4), A0[i], x);
            y = dp4(((l[i] >> 4) & 0x0F0F0F0F) | (((h[i] >> (2 * ab + 4)) & 0x03030303) << 4), A1[i], y);
        }
        return d * (ad[e0 >> 5] * sc0 * (float)(x - 32 * as[e0 >> 4]) + ad[e1 >> 5] * sc1 * (float)(y - 32 * as[e1 >> 4]));
    } else if (T == APR_TYPE_Q8_0) {
        const int b = j >> 1, hf = j & 1;
        const int64_t g = rb + b;
        const int4 w = __ldg((const int4 *)(W.f[0] + 32 * g + 16 * hf));
        const float d = __half2float(__ldg((const __half *)(W.f[1] + 2 * g)));
        const int4 a = *(const int4 *)(aq + 16 * j);
        int x = 0;
        x = dp4(w.x, a.x, x); x = dp4(w.y, a.y, x); x = dp4(w.z, a.z, x); x = dp4(w.w, a.w, x);
        return d * ad[b] * (float)x;
    } else if (T == APR_TYPE_Q5_0 || T == APR_TYPE_Q4_0) {
        const int64_t g = rb + j;
        const int4 qv = __ldg((const int4 *)(W.f[0] + 16 * g));
        float d;
        uint32_t qh = 0;
        if (T == APR_TYPE_Q5_0) {
            qh = __ldg((const uint32_t *)(W.f[1] + 4 * g));
            d = __half2float(__ldg((const __half *)(W.f[2] + 2 * g)));
        } else {
            d = __half2float(__ldg((const __half *)(W.f[1] + 2 * g)));
        }
        int q[4] = {qv.x, qv.y, qv.z, qv.w};
        const int4 a0 = *(const int4 *)(aq + 32 * j), a1 = *(const int4 *)(aq + 32 * j + 16);
        int A0[4] = {a0.x, a0.y, a0.z, a0.w}, A1[4] = {a1.x, a1.y, a1.z, a1.w};
        int x = 0;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int lo = q[i] & 0x0F0F0F0F, hi = (q[i] >> 4) & 0x0F0F0F0F;
            if (T == APR_TYPE_Q5_0) {
                lo |= spread4((qh >> (4 * i)) & 15, 4);
                hi |= spread4((qh >> (16 + 4 * i)) & 15, 4);
            }
            x = dp4(lo, A0[i], x);
            x = dp4(hi, A1[i], x);
        }
        const int off = T == APR_TYPE_Q5_0 ? 16 : 8;
        return d * ad[j] * (float)(x - off * (as[2 * j] + as[2 * j + 1]));
    } else {
        // the other types: the generic unit code (their units are 16-byte chunks too)
        Act A;
        A.x = nullptr;
        A.q = aq;
        A.d = ad;
        A.s = as;
        A.K = W.cols;
        float acc[1] = {0.f};
        unit_dot<1>(W, r, j, A, acc);
        return acc[0];
    }
}


// Decode matvec, second form (one token). A block owns R consecutive rows and its 256
// threads walk the (row, chunk) pairs of those rows in order, so a warp reads 512
// contiguous bytes per load and every thread issues all its loads (MVQ_U of them) before
// any arithmetic. Partial sums meet in shared memory. The activation (int8 per 32) is read
// from global memory through L1. The last block to finish runs a "post" step for the
// next matrix (RMSNorm + quantize of the residual stream, or quantize of the SwiGLU
// output), so no separate normalization kernels run between the matrices.
// ------------------------------------------------------------------------------------


enum { POST_NONE = 0, POST_NORM = 1, POST_QUANT = 2, POST_GROUP = 3 };

struct MVQ8 {
    DW w[3];
    float *y[3];
    const float *bias[3];
    int block_end[3];  // cumulative blocks per matrix
    int R[3];          // rows per block, per matrix
    int nmat, mode;
    const int8_t *q;   // input activation
    const float *d;
    const int *s;
    int post, post_K;
    const float *post_x, *post_w;
    float eps;
    int8_t *oq;        // post output activation
    float *od;
    int *os;
    unsigned int *counter;
    unsigned long long *amax;
    int ks;            // warps sharing one row pair (split over the row's chunks)
    // RMSNorm without a global pass: the input was quantized un-normalized (x * w) and
    // ss_in holds per-32-group sums of x^2; the consumer scales its dot products by
    // rsqrt(mean + eps). A residual producer (post == POST_GROUP) writes both for the next.
    const float *ss_in;
    int ss_n;
    float *ss_out;
};

template <int T>
__device__ __forceinline__ float raw_dot8(const RawC &R, int j, const int8_t *aq, const float *ad, const int *as) {
    int q[4] = {R.q.x, R.q.y, R.q.z, R.q.w};
    if (T == APR_TYPE_Q4_K || T == APR_TYPE_Q5_K) {
        const int b = j >> 3, c = (j >> 1) & 3, hf = j & 1;
        const int e0 = 256 * b + 64 * c + 16 * hf, e1 = e0 + 32;
        const int4 a0 = __ldg((const int4 *)(aq + e0)), a1 = __ldg((const int4 *)(aq + e1));
        int A0[4] = {a0.x, a0.y, a0.z, a0.w}, A1[4] = {a1.x, a1.y, a1.z, a1.w};
        int h[4] = {R.h.x, R.h.y, R.h.z, R.h.w};
        int x = 0, y = 0;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int lo = q[i] & 0x0F0F0F0F, hi = (q[i] >> 4) & 0x0F0F0F0F;
            if (T == APR_TYPE_Q5_K) {
                lo |= ((h[i] >> (2 * c)) & 0x01010101) << 4;
                hi |= ((h[i] >> (2 * c + 1)) & 0x01010101) << 4;
            }
            x = dp4(lo, A0[i], x);
            y = dp4(hi, A1[i], y);
        }
        const float da0 = __ldg(ad + (e0 >> 5)), da1 = __ldg(ad + (e1 >> 5));
        const float d = half_bits(R.b), dmin = half_bits(R.b >> 16);
        return d * (da0 * (float)(R.a & 0xFF) * (float)x + da1 * (float)((R.a >> 16) & 0xFF) * (float)y) -
               dmin * (da0 * (float)((R.a >> 8) & 0xFF) * (float)__ldg(as + (e0 >> 4)) +
                       da1 * (float)(R.a >> 24) * (float)__ldg(as + (e1 >> 4)));
    } else if (T == APR_TYPE_Q6_K) {
        const int b = j >> 3, n = (j >> 2) & 1, ab = (j >> 1) & 1, lh = j & 1;
        const int e0 = 256 * b + 128 * n + 32 * ab + 16 * lh, e1 = e0 + 64;
        const int4 a0 = __ldg((const int4 *)(aq + e0)), a1 = __ldg((const int4 *)(aq + e1));
        int A0[4] = {a0.x, a0.y, a0.z, a0.w}, A1[4] = {a1.x, a1.y, a1.z, a1.w};
        int h[4] = {R.h.x, R.h.y, R.h.z, R.h.w};
        int x = 0, y = 0;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            x = dp4((q[i] & 0x0F0F0F0F) | (((h[i] >> (2 * ab)) & 0x03030303) << 4), A0[i], x);
            y = dp4(((q[i] >> 4) & 0x0F0F0F0F) | (((h[i] >> (2 * ab + 4)) & 0x03030303) << 4), A1[i], y);
        }
        const float sc0 = (float)(int8_t)(R.a & 0xFF), sc1 = (float)(int8_t)((R.a >> 8) & 0xFF);
        return half_bits(R.b) * (__ldg(ad + (e0 >> 5)) * sc0 * (float)(x - 32 * __ldg(as + (e0 >> 4))) +
                           __ldg(ad + (e1 >> 5)) * sc1 * (float)(y - 32 * __ldg(as + (e1 >> 4))));
    } else if (T == APR_TYPE_Q8_0) {
        const int4 a = __ldg((const int4 *)(aq + 16 * j));
        int x = 0;
        x = dp4(q[0], a.x, x); x = dp4(q[1], a.y, x); x = dp4(q[2], a.z, x); x = dp4(q[3], a.w, x);
        return half_bits(R.b) * __ldg(ad + (j >> 1)) * (float)x;
    } else {  // Q5_0, Q4_0
        const int4 a0 = __ldg((const int4 *)(aq + 32 * j)), a1 = __ldg((const int4 *)(aq + 32 * j + 16));
        int A0[4] = {a0.x, a0.y, a0.z, a0.w}, A1[4] = {a1.x, a1.y, a1.z, a1.w};
        int x = 0;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int lo = q[i] & 0x0F0F0F0F, hi = (q[i] >> 4) & 0x0F0F0F0F;
            if (T == APR_TYPE_Q5_0) {
                lo |= spread4((R.a >> (4 * i)) & 15, 4);
                hi |= spread4((R.a >> (16 + 4 * i)) & 15, 4);
            }
            x = dp4(lo, A0[i], x);
            x = dp4(hi, A1[i], x);
        }
        const int off = T == APR_TYPE_Q5_0 ? 16 : 8;
        return half_bits(R.b) * __ldg(ad + j) * (float)(x - off * (__ldg(as + 2 * j) + __ldg(as + 2 * j + 1)));
    }
}

// Thread (warp, lane) owns elements (warp + 8 i) * 32 + lane: exactly the quant groups a
// warp handles, so everything is loaded at once (one memory latency, not one per group).
#define POST_MAX_IT 40
__device__ void post_step8(const MVQ8 &J) {
    __shared__ float red[32];
    const int K = J.post_K, tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int nw = MVQ_THREADS / 32, ng = K / 32;
    float v[POST_MAX_IT];
    float ss = 0.f;
#pragma unroll
    for (int i = 0; i < POST_MAX_IT; i++) {
        const int gi = warp + nw * i;
        v[i] = gi < ng ? __ldcg(J.post_x + gi * 32 + lane) : 0.f;
        ss += v[i] * v[i];
    }
    float sc = 1.f;
    if (J.post == POST_NORM) sc = rsqrtf(block_sum(ss, red) / K + J.eps);
#pragma unroll
    for (int i = 0; i < POST_MAX_IT; i++) {
        const int gi = warp + nw * i;
        if (gi < ng) {
            float x = v[i] * sc;
            if (J.post == POST_NORM) x *= J.post_w[gi * 32 + lane];
            quant32(x, J.oq, J.od, J.os, gi);
        }
    }
}

// Warp-row form (the one used): a warp owns two rows (or gate and up of one row); lanes
// take consecutive 16-byte chunks, each lane first loads MVW_U chunks of both rows, then
// computes; warp shuffles reduce. The last block runs the post step (see k_mvq).
#define MVW_U 2

template <int T>
__device__ __forceinline__ void warp_rows8(const DW &W0, int ra, const DW &W1, int rb, bool two, int j0, int nc,
                                          const int8_t *aq, const float *ad, const int *as, float &o0, float &o1) {
    const int lane = threadIdx.x & 31;
    float a0 = 0.f, a1 = 0.f;
    for (int base = j0; base < nc; base += 32 * MVW_U) {
        if (T >= 0) {
            RawC x[MVW_U], y[MVW_U];
#pragma unroll
            for (int u = 0; u < MVW_U; u++) {
                const int j = base + lane + 32 * u;
                if (j < nc) {
                    raw_load<T>(x[u], W0, ra, j);
                    if (two) raw_load<T>(y[u], W1, rb, j);
                }
            }
#pragma unroll
            for (int u = 0; u < MVW_U; u++) {
                const int j = base + lane + 32 * u;
                if (j < nc) {
                    a0 += raw_dot8<T>(x[u], j, aq, ad, as);
                    if (two) a1 += raw_dot8<T>(y[u], j, aq, ad, as);
                }
            }
        } else {
            for (int u = 0; u < MVW_U; u++) {
                const int j = base + lane + 32 * u;
                if (j < nc) {
                    a0 += chunk_dot<-1>(W0, ra, j, aq, ad, as);
                    if (two) a1 += chunk_dot<-1>(W1, rb, j, aq, ad, as);
                }
            }
        }
    }
    o0 = warp_sum(a0);
    o1 = warp_sum(a1);
}

// Gate and up of two consecutive rows at once (SwiGLU): four streams in flight per lane.
#define MVW_U4 1
template <int T>
__device__ __forceinline__ void warp_rows4_8(const DW &Wg, const DW &Wu, int r, bool has2, int j0, int nc,
                                           const int8_t *aq, const float *ad, const int *as, float *o) {
    const int lane = threadIdx.x & 31;
    float a[4] = {0.f, 0.f, 0.f, 0.f};
    const int r1 = has2 ? r + 1 : r;
    for (int base = j0; base < nc; base += 32 * MVW_U4) {
        if (T >= 0) {
            RawC x[4][MVW_U4];
#pragma unroll
            for (int u = 0; u < MVW_U4; u++) {
                const int j = base + lane + 32 * u;
                if (j < nc) {
                    raw_load<T>(x[0][u], Wg, r, j);
                    raw_load<T>(x[1][u], Wu, r, j);
                    if (has2) {
                        raw_load<T>(x[2][u], Wg, r1, j);
                        raw_load<T>(x[3][u], Wu, r1, j);
                    }
                }
            }
#pragma unroll
            for (int u = 0; u < MVW_U4; u++) {
                const int j = base + lane + 32 * u;
                if (j < nc) {
#pragma unroll
                    for (int q = 0; q < 4; q++)
                        if (q < 2 || has2) a[q] += raw_dot8<T>(x[q][u], j, aq, ad, as);
                }
            }
        } else {
            for (int u = 0; u < MVW_U4; u++) {
                const int j = base + lane + 32 * u;
                if (j < nc) {
                    a[0] += chunk_dot<-1>(Wg, r, j, aq, ad, as);
                    a[1] += chunk_dot<-1>(Wu, r, j, aq, ad, as);
                    if (has2) {
                        a[2] += chunk_dot<-1>(Wg, r1, j, aq, ad, as);
                        a[3] += chunk_dot<-1>(Wu, r1, j, aq, ad, as);
                    }
                }
            }
        }
    }
#pragma unroll
    for (int q = 0; q < 4; q++) o[q] = warp_sum(a[q]);
}

__global__ void __launch_bounds__(MVQ_THREADS, 3) k_mvw8(MVQ8 J) {
    __shared__ unsigned long long bmax;
    __shared__ int is_last;
    __shared__ float part[MVQ_THREADS / 32][4];
    // which matrix: selects instead of an indexed parameter array (local memory)
    const int m = blockIdx.x < J.block_end[0] ? 0 : (blockIdx.x < J.block_end[1] ? 1 : 2);
    const DW &W = m == 0 ? J.w[0] : (m == 1 ? J.w[1] : J.w[2]);
    const bool swiglu = J.mode == MV_SWIGLU;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int ks = J.ks, slice = warp % ks;
    const int bofs = blockIdx.x - (m == 0 ? 0 : (m == 1 ? J.block_end[0] : J.block_end[1]));
    const int task = bofs * (MVQ_THREADS / 32 / ks) + warp / ks;
    if (threadIdx.x == 0) bmax = 0ull;
    const int r = 2 * task;
    const DW W1 = swiglu ? J.w[1] : W;
    const int rb = r + 1 < W.rows ? r + 1 : r;
    const bool two = r + 1 < W.rows;
    float v0 = 0.f, v1 = 0.f, v2 = 0.f, v3 = 0.f;
    if (r < W.rows && swiglu) {
        const int nc = chunks_per_row(W.type, W.cols);
        const int cs = (nc + ks - 1) / ks;
        const int j0 = slice * cs, j1 = min(nc, j0 + cs);
        float o[4];
        switch (W.type) {
        case APR_TYPE_Q4_K: warp_rows4_8<APR_TYPE_Q4_K>(W, W1, r, two, j0, j1, J.q, J.d, J.s, o); break;
        case APR_TYPE_Q5_K: warp_rows4_8<APR_TYPE_Q5_K>(W, W1, r, two, j0, j1, J.q, J.d, J.s, o); break;
        case APR_TYPE_Q6_K: warp_rows4_8<APR_TYPE_Q6_K>(W, W1, r, two, j0, j1, J.q, J.d, J.s, o); break;
        case APR_TYPE_Q8_0: warp_rows4_8<APR_TYPE_Q8_0>(W, W1, r, two, j0, j1, J.q, J.d, J.s, o); break;
        case APR_TYPE_Q5_0: warp_rows4_8<APR_TYPE_Q5_0>(W, W1, r, two, j0, j1, J.q, J.d, J.s, o); break;
        case APR_TYPE_Q4_0: warp_rows4_8<APR_TYPE_Q4_0>(W, W1, r, two, j0, j1, J.q, J.d, J.s, o); break;
        default: warp_rows4_8<-1>(W, W1, r, two, j0, j1, J.q, J.d, J.s, o); break;
        }
        v0 = o[0]; v1 = o[1]; v2 = o[2]; v3 = o[3];
    } else if (r < W.rows) {
        const int nc = chunks_per_row(W.type, W.cols);
        const int cs = (nc + ks - 1) / ks;
        const int j0 = slice * cs, j1 = min(nc, j0 + cs);
        switch (W.type) {
        case APR_TYPE_Q4_K: warp_rows8<APR_TYPE_Q4_K>(W, r, W1, rb, two, j0, j1, J.q, J.d, J.s, v0, v1); break;
        case APR_TYPE_Q5_K: warp_rows8<APR_TYPE_Q5_K>(W, r, W1, rb, two, j0, j1, J.q, J.d, J.s, v0, v1); break;
        case APR_TYPE_Q6_K: warp_rows8<APR_TYPE_Q6_K>(W, r, W1, rb, two, j0, j1, J.q, J.d, J.s, v0, v1); break;
        case APR_TYPE_Q8_0: warp_rows8<APR_TYPE_Q8_0>(W, r, W1, rb, two, j0, j1, J.q, J.d, J.s, v0, v1); break;
        case APR_TYPE_Q5_0: warp_rows8<APR_TYPE_Q5_0>(W, r, W1, rb, two, j0, j1, J.q, J.d, J.s, v0, v1); break;
        case APR_TYPE_Q4_0: warp_rows8<APR_TYPE_Q4_0>(W, r, W1, rb, two, j0, j1, J.q, J.d, J.s, v0, v1); break;
        default: warp_rows8<-1>(W, r, W1, rb, two, j0, j1, J.q, J.d, J.s, v0, v1); break;
        }
    }
    if (lane == 0) { part[warp][0] = v0; part[warp][1] = v1; part[warp][2] = v2; part[warp][3] = v3; }
    float nscale = 1.f;
    if (J.ss_in) nscale = rsqrtf(warp_sum(lane_sum_ldg(J.ss_in, J.ss_n)) / (32.f * J.ss_n) + J.eps);
    // the epilogue's loads in one round trip, before the barrier (see k_mvw)
    float bias_v[2] = {0.f, 0.f}, yold[2] = {0.f, 0.f};
    if (slice == 0 && lane == 0 && r < W.rows && !swiglu) {
        const float *bias = m == 0 ? J.bias[0] : (m == 1 ? J.bias[1] : J.bias[2]);
        const float *yr = (m == 0 ? J.y[0] : (m == 1 ? J.y[1] : J.y[2])) + r;
#pragma unroll
        for (int k = 0; k < 2; k++) {
            if (r + k >= W.rows) break;
            if (bias) bias_v[k] = __ldg(bias + r + k);
            if (J.mode == MV_ADD) yold[k] = yr[k];
        }
    }
    __syncthreads();
    if (slice == 0 && lane == 0 && r < W.rows) {
        for (int i = 1; i < ks; i++) {
            v0 += part[warp + i][0]; v1 += part[warp + i][1];
            v2 += part[warp + i][2]; v3 += part[warp + i][3];
        }
        v0 *= nscale;
        v1 *= nscale;
        v2 *= nscale;
        v3 *= nscale;
        if (swiglu) {
            J.y[0][r] = v0 / (1.f + __expf(-v0)) * v1;
            if (two) J.y[0][r + 1] = v2 / (1.f + __expf(-v2)) * v3;
        } else {
            for (int k = 0; k < 2 && r + k < W.rows; k++) {
                const int rr = r + k;
                const float v = (k ? v1 : v0) + bias_v[k];
                float *y = (m == 0 ? J.y[0] : (m == 1 ? J.y[1] : J.y[2])) + rr;
                if (J.mode == MV_ADD) *y = yold[k] + v;
                else *y = v;
                if (J.mode == MV_ARGMAX) atomicMax(&bmax, pack_argmax(v, rr));
            }
        }
    }
    if (J.mode == MV_ARGMAX) {
        __syncthreads();
        if (threadIdx.x == 0) atomicMax(J.amax, bmax);
    }
    if ((swiglu && J.oq) || J.post == POST_GROUP) {
        // the last block of each 32-row group quantizes the group for the next matrix
        // (SwiGLU output as is; the residual stream as x * w with its sum of squares)
        __threadfence();
        __syncthreads();
        const int bpg = 32 / J.R[0];  // blocks per 32-row group
        const int g = blockIdx.x / bpg;
        if (threadIdx.x == 0) is_last = atomicAdd(J.counter + g, 1u) == (unsigned)(bpg - 1);
        __syncthreads();
        if (is_last && warp == 0) {
            __threadfence();
            float v = __ldcg(J.y[0] + g * 32 + lane);
            if (J.post == POST_GROUP) {
                const float ss = warp_sum(v * v);
                if (lane == 0) J.ss_out[g] = ss;
                v *= J.post_w[g * 32 + lane];
            }
            quant32(v, J.oq, J.od, J.os, g);
            if (lane == 0) J.counter[g] = 0;
        }
        return;
    }
    if (J.post == POST_NONE) return;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) is_last = atomicAdd(J.counter, 1u) == gridDim.x - 1;
    __syncthreads();
    if (!is_last) return;
    __threadfence();
    post_step8(J);
    if (threadIdx.x == 0) *J.counter = 0;
}

// ------------------------------------------------------------------------------------
// Decode matvec with persistent warps: the output matrix (both forms) and gate/up with
// SwiGLU (f32 form). k_mvw and k_mvw8 give a warp one row pair and end; the output matrix
// has 75,968 row pairs (vocabulary 151,936), so their grids ran ~24 waves, each paying
// the whole chain of latencies again (weights, the activation, the reduction, the write):
// 0.5B's output matrix read at 1.25 TB/s, now 3.1 TB/s. Here a grid of resident blocks
// walks the tasks, each warp with the next step's weight loads in flight while it
// computes the current one. The activation is prepared once per block: the f32 form
// quantizes it into shared memory per 16 values (quant16v: the same int8 values and scales
// as act_load's quant16v_ref gives k_mvw per lane); the int8 form reads the producer's quantized
// vector through L1 as k_mvw8 does. Every matrix goes through it (APR_CUDA_MVS_ALL=0:
// QKV, wo and down through k_mvw): three kernels share mvs_rows, k_mvs (output,
// gate/up), k_mvs_multi (QKV: up to three matrices, two types, with bias) and k_mvs_res
// (wo, ffn_down: the residual add, the next norm's input and sums of squares); kept
// apart because the epilogue state of the last two made the plain kernel spill.
// APR_CUDA_NO_MVS=1, APR_CUDA_MVS_FFN=0 and APR_CUDA_MVS_ALL=0 (read at context creation)
// keep the old kernels: the reference tests/test_cuda.c compares with.
// ------------------------------------------------------------------------------------

struct MVS {
    DW w[3];                                         // matrices of one type and width (QKV: three)
    DW w2;                                           // MV_SWIGLU: the up matrix (w[0] is gate)
    int block_end[3];                                // matrix m's blocks end at block_end[m]
    int task_q[3], task_r[3];                        // SPLIT: task_q tasks per block, the first task_r one more
    float *y[3];
    const float *bias[3];
    int mode;                                        // MV_STORE, MV_ADD, MV_ARGMAX or MV_SWIGLU
    const float *x;                                  // f32 form: the input (x * norm weight)
    const int8_t *q; const float *d; const int *s;  // int8 form
    const float *ss_in;                              // RMSNorm: sum of ss_in[0..ss_n) is sum x^2
    int ss_n;
    float eps;
    float *xw_out;                                   // MV_ADD (residual): y * norm_w for the next matrix
    const float *norm_w;
    float *ss_out;                                   // ... and per block the sum of y^2 over its rows
    unsigned long long *amax;
    int trigger_late;                                // k_mvs_multi: pdl_trigger after the block's rows
    KVPrefetch kv_pf;                                // k_mvs_multi: the KV cache to prefetch (attn_early)
    int *dyn_counter;                                // k_mvs<T, true>: tasks handed out, one per pool 32 ints apart (0 between launches)
    int dyn_static;                                  // ... after this many rounds of the fixed stride
    int dyn_pools;                                   // ... by dyn_pools counters (at most the blocks)
};

#define MVS_U 2  // chunks per lane and row in one step

// The activation of chunk j from the block's quantized copy (f32 form; act_store's layout).
template <int T>
__device__ __forceinline__ void act_smem(const int8_t *sq, const float *sd, const int *ssum, int j, int K, LA &a) {
    if (T == APR_TYPE_Q5_0 || T == APR_TYPE_Q4_0) {
        a.q0 = *(const int4 *)(sq + 16 * j);
        a.q1 = *(const int4 *)(sq + 16 * (K / 32 + j));
        const float2 d = *(const float2 *)(sd + 2 * j);
        const int2 t = *(const int2 *)(ssum + 2 * j);
        a.d0 = d.x; a.d1 = d.y;
        a.s0 = t.x; a.s1 = t.y;
        return;
    }
    int e0, e1;
    act_offsets<T>(j, e0, e1);
    a.q0 = *(const int4 *)(sq + e0);
    a.d0 = sd[e0 >> 4];
    a.s0 = ssum[e0 >> 4];
    if (T != APR_TYPE_Q8_0) {
        a.q1 = *(const int4 *)(sq + e1);
        a.d1 = sd[e1 >> 4];
        a.s1 = ssum[e1 >> 4];
    }
}

// Q4_K and Q6_K in pairs of adjacent chunks (f32 form). Lane l of a step reads chunks
// 2l and 2l + 1 of the step's 64 instead of l and l + 32: 32 contiguous bytes of quants
// whose scales and block scale are one load, and the per-sub-block float work done once
// per pair. (Per chunk, the scale decode and float arithmetic were about half of a step's
// ~400 instructions, and a step is bound by the warp's instruction chain: bench/NOTES.md,
// session 7.) Pair p covers chunks 2p and 2p + 1: Q4_K quants at byte 32p of the row,
// values [64p, 64p + 64); Q6_K quants at 32p, high bits at 32 (p / 2), values [E, E + 32)
// and [E + 64, E + 96) with E = 256 (p / 4) + 128 (p / 2 % 2) + 32 (p % 2).
template <int T> __host__ __device__ constexpr bool mvs_paired() { return T == APR_TYPE_Q4_K || T == APR_TYPE_Q6_K; }

struct RawP { int4 q0, q1, h0, h1; uint32_t a, a2, b; };

// Addresses from i, the pair's index in the whole matrix (4 per block), as 32-bit products
// (IMAD.WIDE): 64-bit row offsets per field cost ~15 instructions per row and step. A
// matrix of these types has fewer than 2^32 pairs (checked at upload).
template <int T>
__device__ __forceinline__ void pair_load(RawP &R, const DW &W, int r, int p) {
    const uint32_t i = (uint32_t)r * (uint32_t)(4 * W.nb) + (uint32_t)p;
    const int4 *q = (const int4 *)(W.f[0] + (size_t)i * 32);
    R.q0 = __ldg(q);
    R.q1 = __ldg(q + 1);
    if (T == APR_TYPE_Q4_K) {
        R.a = __ldg((const uint32_t *)(W.f[1] + (size_t)i * 4));         // sc, m of sub-blocks 2c, 2c + 1
        R.b = __ldg((const uint32_t *)(W.f[2] + (size_t)(i >> 2) * 4));  // d, dmin
    } else {
        const int4 *h = (const int4 *)(W.f[1] + (size_t)(i >> 1) * 32);
        R.h0 = __ldg(h);
        R.h1 = __ldg(h + 1);
        const uint2 sc = __ldg((const uint2 *)(W.f[2] + (size_t)(i >> 1) * 8));  // 8 of the 16 scales
        R.a = sc.x;
        R.a2 = sc.y;
        R.b = __ldg((const uint16_t *)(W.f[3] + (size_t)(i >> 2) * 2));
    }
}

// Group g of the block's quantized activation: 16 int8 values, their scale d and sum s,
// laid out so that the 32 lanes of a step read consecutive 16-byte pieces (no bank
// conflicts): stored in value order, a lane's pieces were 32 bytes (Q5_0, Q4_0: 2-way
// conflict) or 64 bytes apart (Q4_K pairs: 4-way), and the activation's loads were most of
// the L1 traffic (ncu, 7B gate/up: L1/TEX 82% busy, DRAM 56%; bench/NOTES.md, session 10).
// - Q5_0, Q4_0: chunk j's two groups (values 0..15 and 16..31 of its block) at 16 j and
//   16 (K / 32 + j); d and s of group g at sd[g], ssum[g] as before (a float2 per chunk).
// - Q4_K, Q6_K (paired): pair p reads four groups (k = 0..3, pair_group), piece k at
//   16 (k NP + p), NP = K / 64 pairs. Q4_K keeps d and d * s of pieces 2i, 2i + 1 as one
//   float4 at sd[4 (i NP + p)] (its min terms need only the product); Q6_K the four pieces'
//   d as a float4 at sd[4 p] and their sums at ssum[4 p].
// - other types: group g at 16 g, sd[g], ssum[g].
// The same sizes in every case: K bytes, then K / 16 floats and K / 16 ints.
template <int T> __device__ __forceinline__ void pair_group(int g, int &p, int &k) {
    if (T == APR_TYPE_Q4_K) {
        p = g >> 2;  // values [64 p, 64 p + 64): groups 4p .. 4p + 3
        k = g & 3;
    } else {  // Q6_K: pair p reads groups E / 16 + {0, 1, 4, 5} (E as in the pairs' comment above)
        const int b = g >> 4, gi = g & 15;
        p = 4 * b + ((gi >> 3) << 1) + ((gi >> 1) & 1);
        k = (gi & 1) + ((gi >> 1) & 2);
    }
}

template <int T, bool PAIRED>
__device__ __forceinline__ void act_store(int8_t *sq, float *sd, int *ssum, int g, int K, int4 q, float d, int s) {
    if (!PAIRED) {
        const bool split = T == APR_TYPE_Q5_0 || T == APR_TYPE_Q4_0;
        *(int4 *)(sq + 16 * (split ? (g & 1) * (K / 32) + (g >> 1) : g)) = q;
        sd[g] = d;
        ssum[g] = s;
        return;
    }
    const int np = K / 64;
    int p, k;
    pair_group<T>(g, p, k);
    *(int4 *)(sq + 16 * (k * np + p)) = q;
    if (T == APR_TYPE_Q4_K) {
        *(float2 *)(sd + 4 * ((k >> 1) * np + p) + 2 * (k & 1)) = make_float2(d, d * (float)s);
    } else {
        sd[4 * p + k] = d;
        ssum[4 * p + k] = s;
    }
}

// The activation pair p meets, from the block's quantized copy: four groups of 16 (int8),
// their scales, and Q4_K: the min terms' sums of d * s over each sub-block's two groups;
// Q6_K: the int8 sums.
struct PA { int4 q[4]; float4 d; float2 ms; int4 s; };

template <int T>
__device__ __forceinline__ void pair_act(const int8_t *sq, const float *sd, const int *ssum, int p, int K, PA &a) {
    const int np = K / 64;
#pragma unroll
    for (int k = 0; k < 4; k++) a.q[k] = *(const int4 *)(sq + 16 * (k * np + p));
    if (T == APR_TYPE_Q4_K) {
        const float4 u = *(const float4 *)(sd + 4 * p), v = *(const float4 *)(sd + 4 * (np + p));  // d, d * s
        a.d = make_float4(u.x, u.z, v.x, v.z);
        a.ms = make_float2(u.y + u.w, v.y + v.w);
    } else {
        a.d = *(const float4 *)(sd + 4 * p);
        a.s = *(const int4 *)(ssum + 4 * p);
    }
}

// One row's dot product over pair p: the same integer dot products as raw_dot's two
// chunks, their float terms regrouped per sub-block (differences at float rounding).
template <int T>
__device__ __forceinline__ float pair_dot(const RawP &R, int p, const PA &a) {
    const int q0[4] = {R.q0.x, R.q0.y, R.q0.z, R.q0.w}, q1[4] = {R.q1.x, R.q1.y, R.q1.z, R.q1.w};
    const int A[4][4] = {{a.q[0].x, a.q[0].y, a.q[0].z, a.q[0].w}, {a.q[1].x, a.q[1].y, a.q[1].z, a.q[1].w},
                         {a.q[2].x, a.q[2].y, a.q[2].z, a.q[2].w}, {a.q[3].x, a.q[3].y, a.q[3].z, a.q[3].w}};
    int x[4] = {0, 0, 0, 0};  // groups: low nibbles of q0, of q1, high nibbles of q0, of q1
    if (T == APR_TYPE_Q4_K) {
        // high nibbles in place (16 x the value, unsigned bytes): one instruction less per
        // word than shifting them down; the 1/16 goes into their scale (exact)
#pragma unroll
        for (int i = 0; i < 4; i++) {
            x[0] = dp4(q0[i] & 0x0F0F0F0F, A[0][i], x[0]);
            x[1] = dp4(q1[i] & 0x0F0F0F0F, A[1][i], x[1]);
            x[2] = dp4us((uint32_t)q0[i] & 0xF0F0F0F0u, A[2][i], x[2]);
            x[3] = dp4us((uint32_t)q1[i] & 0xF0F0F0F0u, A[3][i], x[3]);
        }
        const float sc_lo = (float)(R.a & 0xFF), m_lo = (float)((R.a >> 8) & 0xFF);
        const float sc_hi = (float)((R.a >> 16) & 0xFF) * 0.0625f, m_hi = (float)(R.a >> 24);
        const float dots = sc_lo * (a.d.x * (float)x[0] + a.d.y * (float)x[1]) +
                           sc_hi * (a.d.z * (float)x[2] + a.d.w * (float)x[3]);
        const float mins = m_lo * a.ms.x + m_hi * a.ms.y;
        return half_bits(R.b) * dots - half_bits(R.b >> 16) * mins;
    } else {
        const int ab = p & 1;  // which 2-bit plane of the high bits
        const int h0[4] = {R.h0.x, R.h0.y, R.h0.z, R.h0.w}, h1[4] = {R.h1.x, R.h1.y, R.h1.z, R.h1.w};
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const uint32_t s0 = (uint32_t)h0[i] >> (2 * ab), s1 = (uint32_t)h1[i] >> (2 * ab);
            x[0] = dp4((q0[i] & 0x0F0F0F0F) | ((s0 << 4) & 0x30303030), A[0][i], x[0]);
            x[1] = dp4((q1[i] & 0x0F0F0F0F) | ((s1 << 4) & 0x30303030), A[1][i], x[1]);
            x[2] = dp4(((q0[i] >> 4) & 0x0F0F0F0F) | (s0 & 0x30303030), A[2][i], x[2]);
            x[3] = dp4(((q1[i] >> 4) & 0x0F0F0F0F) | (s1 & 0x30303030), A[3][i], x[3]);
        }
        const uint32_t lo = R.a >> (16 * ab), hi = R.a2 >> (16 * ab);  // scales of the four groups
        const int sc[4] = {(int8_t)lo, (int8_t)(lo >> 8), (int8_t)hi, (int8_t)(hi >> 8)};
        const int s[4] = {a.s.x, a.s.y, a.s.z, a.s.w};
        const float d[4] = {a.d.x, a.d.y, a.d.z, a.d.w};
        float t = 0.f;
#pragma unroll
        for (int g = 0; g < 4; g++) t += d[g] * (float)((x[g] - 32 * s[g]) * sc[g]);
        return half_bits(R.b) * t;
    }
}

// A lane's weights of one row for one step: MVS_U chunks, or PP pairs.
template <bool PAIRED, int PP> struct LaneStep { RawC c[MVS_U]; };
template <int PP> struct LaneStep<true, PP> { RawP p[PP]; };

// Matrix m of a launch's three, field by field (selects: an indexed parameter array would
// be copied to local memory). The width is shared by all three.
__device__ __forceinline__ DW pick_dw(const MVS &J, int m) {
    DW W = J.w[0];
    W.type = m == 0 ? J.w[0].type : (m == 1 ? J.w[1].type : J.w[2].type);
    W.rows = m == 0 ? J.w[0].rows : (m == 1 ? J.w[1].rows : J.w[2].rows);
    W.nb = m == 0 ? J.w[0].nb : (m == 1 ? J.w[1].nb : J.w[2].nb);
#pragma unroll
    for (int f = 0; f < 4; f++) {
        W.f[f] = m == 0 ? J.w[0].f[f] : (m == 1 ? J.w[1].f[f] : J.w[2].f[f]);
        W.fbytes[f] = m == 0 ? J.w[0].fbytes[f] : (m == 1 ? J.w[1].fbytes[f] : J.w[2].fbytes[f]);
    }
    return W;
}

enum { MVS_PLAIN = 0, MVS_MULTI = 1, MVS_RES = 2 };  // k_mvs, k_mvs_multi, k_mvs_res

// Pairs per lane and step of the paired types: Q4_K in k_mvs (MVS_PP_PLAIN) and in
// k_mvs_res / k_mvs_multi (MVS_PP_RES), else one. Two everywhere (128 registers, 2 blocks
// per SM instead of 80 and 3): the bytes a warp has in flight count more than the warps.
// k_mvs_res / k_mvs_multi (grids of one task per warp or less): 7B tg128 475.5 -> 494.6
// tok/s (session 7). k_mvs (gate/up, output: several tasks per warp): slower in session 7
// (492.2), when the activation's shared-memory loads had bank conflicts and kept the L1 the
// busiest unit; with conflict-free loads faster: 7B 543.4 -> 569.2, 32B 138.6 -> 144.9,
// 7B @ d4096 490.4 -> 512.1, 1.5B 1,153.6 -> 1,158.4 (session 10, bench/NOTES.md).
#ifndef MVS_PP_PLAIN
#define MVS_PP_PLAIN 2
#endif
#ifndef MVS_PP_RES
#define MVS_PP_RES 2
#endif
template <int T, int KIND> __host__ __device__ constexpr int mvs_pp() {
    return T == APR_TYPE_Q4_K ? (KIND == MVS_PLAIN ? MVS_PP_PLAIN : MVS_PP_RES) : 1;
}

// One kernel per weight type, so that each gets its own register budget: types whose raw
// chunk is 6 registers (Q4_0, Q8_0, Q4_K) fit three blocks per SM (24 warps, more loads in
// flight), Q5_K and Q6_K (10) two, as Q4_K with two pairs per lane, and Q5_0: at three
// blocks (80 registers) its instances spilled 8-32 bytes; at two (108-113) none, and 0.5B
// (whose rows of 896 make Q4_K_M's matrices Q5_0 and Q8_0) read tg128 1,634.5 -> 1,677.6;
// Q8_0 at two as well: 1,668.1 (session 7).
#ifndef MVS_MINB_SMALL
#define MVS_MINB_SMALL 3
#endif
template <int T, int KIND> __host__ __device__ constexpr int mvs_minb() {
    return T == APR_TYPE_Q5_K || T == APR_TYPE_Q6_K || T == APR_TYPE_Q5_0 || mvs_pp<T, KIND>() > 1 ? 2
                                                                                                   : MVS_MINB_SMALL;
}

// The rows of matrix m of the launch, W (a register copy for MVS_MULTI, else J.w[0]
// itself). A task is two rows: rows 2t and 2t+1 of a matrix (MV_STORE, MV_ADD, MV_ARGMAX),
// or row t of w and of w2 (MV_SWIGLU: gate and up, whose types must match). The blocks of
// a launch are split between its matrices (block_end). Within a matrix:
// - !SPLIT: warp g of N takes tasks g, g + N, ... (so that the warps read neighbouring rows
//   at any time);
// - SPLIT (launch_mvs chooses it where the tasks are long and the rounds uneven): the
//   blocks take consecutive runs of tasks (task_q or task_q + 1 each) and a block's warps
//   equal shares of their steps, in order, so that a task may be split between neighbouring
//   warps; their partial sums meet in shared memory and a lane of warp 0 finishes the task
//   after the loop. 32B's wo and ffn_down (2,560 tasks for 2,112 warps) ran two rounds for
//   1.2 rounds of work without it: 32B tg128 144.3 -> 152.8 tok/s. (Used for every matrix
//   it made 7B 5% and 0.5B 8% slower: each 0.5B kernel 0.2-0.5 us, 7B's output matrix 4%;
//   bench/NOTES.md, session 11.)
// ss_rows: lane 0's sum of squares of the residual rows it wrote (MV_ADD).
template <int T, bool I8, int KIND, int PP, bool SPLIT, bool DYN, int NT = MVQ_THREADS>
__device__ __forceinline__ void mvs_rows_of(const MVS &J, const DW &W, int m, int8_t *sq, float *sd, int *ssum,
                                            float *ep_all, unsigned long long &best, float &ss_rows) {
    constexpr bool MULTI = KIND == MVS_MULTI;
    constexpr int NW = NT / 32;  // warps per block (NT: threads; MVQ_THREADS but in k_mvs_res's WIDE form)
    constexpr int LNW = NW == 16 ? 4 : 3;
    static_assert(NW == 1 << LNW, "the warps' shares below divide by NW with shifts");
    const int b0 = m == 0 ? 0 : (m == 1 ? J.block_end[0] : J.block_end[1]);
    const int b1 = m == 0 ? J.block_end[0] : (m == 1 ? J.block_end[1] : J.block_end[2]);
    float *Y = m == 0 ? J.y[0] : (m == 1 ? J.y[1] : J.y[2]);
    const float *bias = m == 0 ? J.bias[0] : (m == 1 ? J.bias[1] : J.bias[2]);
    const bool swiglu = KIND == MVS_PLAIN && J.mode == MV_SWIGLU, add = KIND == MVS_RES;
    const bool argmax = KIND == MVS_PLAIN && J.mode == MV_ARGMAX;
    const DW &W2 = swiglu ? J.w2 : J.w[0];  // the second row's matrix: up (MV_SWIGLU) or W
    const int lane = threadIdx.x & 31, wi = threadIdx.x >> 5;
    constexpr bool PAIRED = !I8 && mvs_paired<T>();
    constexpr int CPS = PAIRED ? 64 * PP : 32 * MVS_U;  // chunks per step
    const int nc = chunks_per_row(T, W.cols);
    const int nr = (nc + CPS - 1) / CPS;  // steps per task (CPS a power of two)
    const int ntask = swiglu ? W.rows : (W.rows + 1) / 2;
    const int bl = blockIdx.x - b0, nwarps = (b1 - b0) * NW, gw = bl * NW + wi;
    // SPLIT: this block's tasks [t0, t0 + nt); warp w's steps [w nt nr / NW, (w + 1) nt nr /
    // NW) of them, from step cs of task ct (floor(floor(x) / nr) = floor(x / nr)). The
    // tasks [tw0, tw1) lie in this warp's steps and are finished here; one before (begun by
    // the warp before) leaves its partial sums in parts[wi][0], one from tw1 on (finished by
    // the warps after) in parts[wi][1].
    const int tq = m == 0 ? J.task_q[0] : (m == 1 ? J.task_q[1] : J.task_q[2]);
    const int tr = m == 0 ? J.task_r[0] : (m == 1 ? J.task_r[1] : J.task_r[2]);
    const int nt = tq + (bl < tr), t0 = bl * tq + min(bl, tr);
    int ct = SPLIT ? t0 + (wi * nt >> LNW) : gw, cs = SPLIT ? (wi * nt * nr >> LNW) - (wi * nt >> LNW) * nr : 0;
    const int ns = SPLIT ? ((wi + 1) * nt * nr >> LNW) - (wi * nt * nr >> LNW)
                   : DYN ? 0  // (DYN: its own loop below)
                         : (gw < ntask ? (ntask - gw + nwarps - 1) / nwarps * nr : 0);  // this warp's steps
    const int tw0 = ct + (cs != 0), tw1 = t0 + ((wi + 1) * nt >> LNW);
    auto whole = [&](int t) { return !SPLIT || (t >= tw0 && t < tw1); };
    __shared__ float2 parts[SPLIT ? NW : 1][2];
    LaneStep<PAIRED, PP> A[2], B[2];  // rows ra and rb
    // This warp's steps in order: task ct from step cs, its steps up to nr - 1 (chunks from
    // step * CPS), then the next task's (SPLIT: ct + 1, else ct + nwarps) from 0, ... A
    // cursor (ct, cs) holds the next step to consume; loads run one step ahead of it. (A
    // division by nr per step, as before, cost 4% of 7B's tg128: 410 -> 428 tok/s without it.)
    auto advance = [&](int &t, int &step) {
        if constexpr (DYN) return;  // (DYN: its loop sets the cursor)
        if (++step == nr) step = 0, t += SPLIT ? 1 : nwarps;
    };
    auto load = [&](LaneStep<PAIRED, PP>(&R)[2], int t, int step) {
        const int base = step * CPS;
        const int ra = swiglu ? t : 2 * t, rb = swiglu ? t : 2 * t + 1;
        const DW &Wb = MULTI ? W : W2;
        if constexpr (PAIRED) {
#pragma unroll
            for (int u = 0; u < PP; u++) {
                const int p = base / 2 + lane + 32 * u;
                if (2 * p < nc) {
                    pair_load<T>(R[0].p[u], W, ra, p);
                    if (rb < Wb.rows) pair_load<T>(R[1].p[u], Wb, rb, p);
                }
            }
        } else {
#pragma unroll
            for (int u = 0; u < MVS_U; u++) {
                const int j = base + lane + 32 * u;
                if (j < nc) {
                    raw_load<T>(R[0].c[u], W, ra, j);
                    if (rb < Wb.rows) raw_load<T>(R[1].c[u], Wb, rb, j);
                }
            }
        }
    };
    if (ns > 0) load(A, ct, cs);
    // DYN (k_mvs<T, true>: gate/up where mvs_plan says): the first J.dyn_static rounds of
    // tasks at the fixed stride (g, g + N, ...), the rest handed out one at a time by
    // counters, so that warps that finish early take the tasks that the slow ones would have
    // taken in the last rounds (7B's gate/up: blocks of equal work took 20-28 us,
    // bench/NOTES.md session 19). Each task is still one warp's, in the same order: the
    // same bits as the fixed stride. The blocks form G = J.dyn_pools pools (block b: pool b
    // % G), each with its own counter and the tasks static_tasks + G v + pool (v < pool_tasks):
    // one counter for all made 1.5B's short tasks wait on it (tg128 -7%, session 20). A
    // warp asks for its next task as its loads enter the task before (the atomic's result
    // waits in lane 0's register, pend, for that task's last step) and stops at the first
    // number past pool_tasks: every warp of the pool gets exactly one of those, so the warp
    // that gets the last, pool_tasks + pool_warps - 1, knows that no grab of this launch is
    // left in its pool and puts the counter back to 0 for the next launch.
    const int static_tasks = DYN ? J.dyn_static * nwarps : 0, ndyn = ntask - static_tasks;  // (mvs_plan: <= ntask)
    const int pools = DYN ? J.dyn_pools : 1, pool = DYN ? bl % pools : 0;
    const int pool_tasks = max(0, (ndyn - pool + pools - 1) / pools);
    const int pool_warps = NW * ((b1 - b0 - pool + pools - 1) / pools);
    int *const counter = DYN ? J.dyn_counter + 32 * pool : nullptr;  // (its own 128-byte line)
    int lt = ntask, ls = 0, pend = 0, at = ntask, as = 0;  // the load cursor (task, step); A's step
    bool pend_dyn = false;  // pend: a task (fixed stride) or lane 0's grab
    auto grab = [&]() {
        if (lane == 0) pend = atomicAdd(counter, 1);
        pend_dyn = true;
    };
    auto request_next = [&](int t) {  // the task after t, in pend
        if (t + nwarps < static_tasks) pend = t + nwarps, pend_dyn = false;
        else grab();
    };
    auto take_next = [&]() {  // the task asked for (ntask: none)
        if (!pend_dyn) return pend;
        const int v = __shfl_sync(0xffffffffu, pend, 0);
        if (v == pool_tasks + pool_warps - 1 && lane == 0) atomicExch(counter, 0);
        return v < pool_tasks ? static_tasks + v * pools + pool : ntask;
    };
    if constexpr (DYN) {
        if (static_tasks > 0) lt = gw;
        else grab(), lt = take_next();
        if (lt < ntask) request_next(lt), load(A, lt, 0);
        at = lt;
    }
    pdl_wait();
    // SPLIT: lane j of warp 0 (1 <= j < NW) is a finisher if warp j's first step falls
    // inside a task (task t0 + tl) in which no earlier warp's does: it finishes that task
    // after the loop, its epilogue's values copied to esplit[j] here. fin[j]: that task (-1:
    // none), its steps [x, y) of the block's z.
    // The epilogue's values of row r and (two) r + 1 (bias, old residual, next norm weight)
    // copied to dst[0..6) by cp.async: at a task's first step (into ep), or for a split task
    // (esplit).
    const bool epilogue = KIND != MVS_PLAIN && (bias || add);
    auto copy_epilogue = [&](float *dst, int r, bool two) {
#pragma unroll
        for (int k = 0; k < 2; k++) {
            if (k == 1 && !two) break;
            if (bias) cp_async4(dst + k, bias + r + k);
            else dst[k] = 0.f;
            if (add) {
                cp_async4(dst + 2 + k, Y + r + k);
                if (J.xw_out) cp_async4(dst + 4 + k, J.norm_w + r + k);
            }
        }
        cp_commit();
    };
    __shared__ float esplit[SPLIT ? NW : 1][6];
    __shared__ int4 fin[SPLIT ? NW : 1];
    const int tl = lane * nt >> LNW;
    const bool finisher = SPLIT && wi == 0 && lane >= 1 && lane < NW && (lane * nt * nr >> LNW) != tl * nr &&
                          ((lane - 1) * nt * nr >> LNW) <= tl * nr;
    if (SPLIT && wi == 0 && lane < NW) fin[lane] = make_int4(finisher ? t0 + tl : -1, tl * nr, (tl + 1) * nr, nt * nr);
    if (finisher && epilogue) copy_epilogue(esplit[lane], 2 * (t0 + tl), 2 * (t0 + tl) + 1 < W.rows);
    // the input's sums of squares (RMSNorm) requested before the input itself: two round
    // trips to L2 at once instead of one after the other. k_mvs_res's inputs (attention
    // output, SwiGLU output) are never normalized (launch_residual).
    constexpr bool NORMED = KIND != MVS_RES;
    LaneSum ss_pre;
    if (NORMED && J.ss_in) lane_sum_issue(J.ss_in, J.ss_n, ss_pre);
    if (!I8 && KIND == MVS_PLAIN) {
        for (int g = threadIdx.x; g < W.cols / 16; g += NT) {
            int4 q;
            float d;
            int sum;
            quant16(J.x + 16 * g, q, d, sum);
            act_store<T, PAIRED>(sq, sd, ssum, g, W.cols, q, d, sum);
        }
    } else if (!I8) {
        // two groups of 16 per thread and round, their loads in one round trip (ffn_down's
        // input is long); not in k_mvs, where the registers would spill. (Four in k_mvs_res
        // with 128 registers, two rounds instead of three for 7B's ffn_down: slower, 7B
        // tg128 535.6 -> 530.1, bench/NOTES.md session 7.) What the prologues cost (probes,
        // session 24): all of them free, 7B tg128 +5.9%; their arithmetic alone +1.1%. The
        // rest is the wait for the input, which comes back behind the weight loads issued
        // before pdl_wait; ffn_down's at half the bytes gave +1.3..2.1%.
        const int ng = W.cols / 16;
        for (int g = threadIdx.x; g < ng; g += 2 * NT) {
            const bool second = g + NT < ng;
            float v[2][16];
            load16(J.x + 16 * g, v[0]);
            if (second) load16(J.x + 16 * (g + NT), v[1]);
            int4 q;
            float d;
            int sum;
            quant16v(v[0], q, d, sum);
            act_store<T, PAIRED>(sq, sd, ssum, g, W.cols, q, d, sum);
            if (second) {
                quant16v(v[1], q, d, sum);
                act_store<T, PAIRED>(sq, sd, ssum, g + NT, W.cols, q, d, sum);
            }
        }
    }
    const float nscale =
        NORMED && J.ss_in ? rsqrtf(warp_sum(lane_sum_finish(J.ss_in, J.ss_n, ss_pre)) / (float)W.cols + J.eps) : 1.f;
    if (!I8) __syncthreads();
    float a0 = 0.f, a1 = 0.f;
    // The epilogue's loads (bias, old residual, next norm weight) go out at a task's first
    // step, so that they arrive while its dot products are computed; as copies into shared
    // memory (cp.async), since registers held across the steps made the kernel spill.
    float *ep = ep_all + (threadIdx.x >> 5) * 6;  // bias[2], old[2], norm[2] (k_mvs: unused)
    // Task t's outputs from its two dot products v0, v1 (scaled) and e: bias[2], old[2],
    // norm[2] of its rows (the epilogue's values; unused without one).
    auto store_task = [&](int t, float v0, float v1, const float *e, float &ss) {
        const int r = swiglu ? t : 2 * t;
        if (swiglu) {
            Y[t] = v0 / (1.f + __expf(-v0)) * v1;
            return;
        }
        const bool two = r + 1 < W.rows;
        const float v[2] = {v0 + (epilogue ? e[0] : 0.f), v1 + (epilogue ? e[1] : 0.f)};
#pragma unroll
        for (int k = 0; k < 2; k++) {
            if (k == 1 && !two) break;
            if (add) {
                const float nv = e[2 + k] + v[k];  // as k_mvw: (dot * scale + bias) + old
                Y[r + k] = nv;
                if (J.xw_out) {
                    J.xw_out[r + k] = nv * e[4 + k];
                    ss += nv * nv;
                }
            } else {
                Y[r + k] = v[k];
                if (argmax) best = max(best, pack_argmax(v[k], r + k));
            }
        }
    };
    auto consume = [&](LaneStep<PAIRED, PP>(&R)[2], bool last) {  // last: this warp's last step
        const int t = ct, step = cs, base = step * CPS;
        advance(ct, cs);
        const int r = swiglu ? t : 2 * t;
        const bool two = swiglu || r + 1 < W.rows;
        if (step == 0 && lane == 0 && epilogue && whole(t)) copy_epilogue(ep, r, two);
        if constexpr (PAIRED) {
#pragma unroll
            for (int u = 0; u < PP; u++) {
                const int p = base / 2 + lane + 32 * u;
                if (2 * p < nc) {
                    PA a;
                    pair_act<T>(sq, sd, ssum, p, W.cols, a);
                    a0 += pair_dot<T>(R[0].p[u], p, a);
                    if (two) a1 += pair_dot<T>(R[1].p[u], p, a);
                }
            }
        } else {
#pragma unroll
            for (int u = 0; u < MVS_U; u++) {
                const int j = base + lane + 32 * u;
                if (j < nc) {
                    if (I8) {
                        a0 += raw_dot8<T>(R[0].c[u], j, J.q, J.d, J.s);
                        if (two) a1 += raw_dot8<T>(R[1].c[u], j, J.q, J.d, J.s);
                    } else {
                        LA a;
                        act_smem<T>(sq, sd, ssum, j, W.cols, a);
                        a0 += raw_dot<T>(R[0].c[u], j, a);
                        if (two) a1 += raw_dot<T>(R[1].c[u], j, a);
                    }
                }
            }
        }
        if (step == nr - 1 || (SPLIT && last)) {  // the task's last step, or (SPLIT) this warp's
            const float v0 = warp_sum(a0) * nscale, v1 = warp_sum(a1) * nscale;
            a0 = a1 = 0.f;
            if (!whole(t)) {
                if (lane == 0) parts[wi][t < tw0 ? 0 : 1] = make_float2(v0, v1);
            } else if (lane == 0) {
                if (epilogue) cp_wait<0>();
                store_task(t, v0, v1, ep, ss_rows);
            }
        }
    };
    auto load_next = [&](LaneStep<PAIRED, PP>(&R)[2]) {  // the step after the cursor's
        int t = ct, step = cs;
        advance(t, step);
        load(R, t, step);
    };
    for (int s = 0; s < ns; s += 2) {
        if (s + 1 < ns) load_next(B);
        consume(A, s + 1 == ns);
        if (s + 2 < ns) load_next(A);
        if (s + 1 < ns) consume(B, s + 2 == ns);
    }
    if constexpr (DYN) {
        auto advance_load = [&]() {  // the load cursor to the next step (never past ntask: see below)
            if (++ls == nr) {
                ls = 0;
                lt = take_next();
                if (lt < ntask) request_next(lt);
            }
        };
        while (at < ntask) {
            advance_load();
            const int bt = lt, bs = ls;
            if (bt < ntask) load(B, bt, bs);
            ct = at, cs = as;
            consume(A, false);
            if (bt >= ntask) break;
            advance_load();
            at = lt, as = ls;
            if (at < ntask) load(A, at, as);
            ct = bt, cs = bs;
            consume(B, false);
        }
    }
    // The tasks split between warps: their partial sums, in warp order (a fixed order: the
    // same bits every run), then the epilogue, by the finisher lanes of warp 0.
    if (!SPLIT) return;
    __syncthreads();
    if (wi == 0) {
        float ss_split = 0.f;
        const int4 f = fin[lane & (NW - 1)];  // (read from shared memory: no registers held across the loop)
        if (lane < NW && f.x >= 0) {
            float v0 = 0.f, v1 = 0.f;
            for (int w = lane - 1; w < NW && (w * f.w >> LNW) < f.z; w++) {
                const int w0 = w * f.w >> LNW, w1 = (w + 1) * f.w >> LNW;
                if (w1 > w0 && w1 > f.y) {
                    const float2 pv = parts[w][w0 > f.y ? 0 : 1];
                    v0 += pv.x;
                    v1 += pv.y;
                }
            }
            if (epilogue) cp_wait<0>();
            store_task(f.x, v0, v1, esplit[lane], ss_split);
        }
        // lane 0 reports the block's sums of squares (k_mvs_res): the split tasks' join them
        ss_split = warp_sum(ss_split);
        if (lane == 0) ss_rows += ss_split;
    }
}

template <int T, bool I8, int KIND, bool SPLIT = false, bool DYN = false, int NT = MVQ_THREADS>
__device__ __forceinline__ void mvs_rows(const MVS &J, int8_t *sq, float *sd, int *ssum, float *ep_all,
                                         unsigned long long &best, float &ss_rows) {
    // MVS_MULTI (QKV): this block's matrix, its pointers in registers; otherwise w[0] and
    // the parameters are read where they are used (no registers held for them in the loop)
    if (KIND == MVS_MULTI) {
        const int m = blockIdx.x < J.block_end[0] ? 0 : (blockIdx.x < J.block_end[1] ? 1 : 2);
        const DW W = pick_dw(J, m);
        mvs_rows_of<T, I8, KIND, mvs_pp<T, KIND>(), SPLIT, false>(J, W, m, sq, sd, ssum, ep_all, best, ss_rows);
    } else {
        mvs_rows_of<T, I8, KIND, mvs_pp<T, KIND>(), SPLIT, DYN, NT>(J, J.w[0], 0, sq, sd, ssum, ep_all, best, ss_rows);
    }
}

// Shared memory of the f32 form for K columns: int8 values, then a scale and a sum per 16.
static size_t mvs_smem_bytes(int K) { return (size_t)K + (size_t)(K / 16) * 8; }

// DYN: the tasks of the last rounds from a counter (mvs_rows_of); f32 form only. (Gate/up's
// DYN instance in blocks of 16 warps, as k_mvs_res_wide below: 7B tg128 -0.5%, @ d4096 -0.6%,
// 32B +0.2% on the H100, bench/NOTES.md session 25.)
template <int T, bool DYN = false>
__global__ void __launch_bounds__(MVQ_THREADS, mvs_minb<T, MVS_PLAIN>()) k_mvs(MVS J, int i8) {
    extern __shared__ int4 mvs_smem[];
    __shared__ unsigned long long bmax;
    int8_t *sq = (int8_t *)mvs_smem;  // f32 form: the quantized activation, K bytes
    float *sd = (float *)(sq + J.w[0].cols);  // its scales and sums per 16 values
    int *ssum = (int *)(sd + J.w[0].cols / 16);
    if (threadIdx.x == 0) bmax = 0ull;
    __syncthreads();
    pdl_trigger();
    unsigned long long best = 0ull;
    float ss_rows = 0.f;
    if constexpr (DYN) {
        mvs_rows<T, false, MVS_PLAIN, false, true>(J, sq, sd, ssum, nullptr, best, ss_rows);
    } else {
        if (i8) mvs_rows<T, true, MVS_PLAIN>(J, sq, sd, ssum, nullptr, best, ss_rows);
        else mvs_rows<T, false, MVS_PLAIN>(J, sq, sd, ssum, nullptr, best, ss_rows);
    }
    if (J.mode == MV_ARGMAX) {
        if ((threadIdx.x & 31) == 0) atomicMax(&bmax, best);
        __syncthreads();
        if (threadIdx.x == 0) atomicMax(J.amax, bmax);
    }
}

// The residual matrices (wo, ffn_down; f32 form): y += W x + bias, then y * norm_w for the
// next matrix and per block the sum of y^2 for its RMSNorm. NT threads a block: MVQ_THREADS,
// or twice that in k_mvs_res_wide.
template <int T, bool SPLIT, int NT>
__device__ __forceinline__ void mvs_res_block(const MVS &J) {
    extern __shared__ int4 mvs_smem[];
    __shared__ float ssb[NT / 32];
    __shared__ float ep[NT / 32 * 6];
    int8_t *sq = (int8_t *)mvs_smem;
    float *sd = (float *)(sq + J.w[0].cols);
    int *ssum = (int *)(sd + J.w[0].cols / 16);
    pdl_trigger();
    unsigned long long best = 0ull;
    float ss_rows = 0.f;
    mvs_rows<T, false, MVS_RES, SPLIT, false, NT>(J, sq, sd, ssum, ep, best, ss_rows);
    if (J.ss_out) {
        // per-block sum of squares of the new residual rows, summed in a fixed order
        if ((threadIdx.x & 31) == 0) ssb[threadIdx.x >> 5] = ss_rows;
        __syncthreads();
        if (threadIdx.x == 0) {
            float t = 0.f;
            for (int w = 0; w < NT / 32; w++) t += ssb[w];
            J.ss_out[blockIdx.x] = t;
        }
    }
}

template <int T, bool SPLIT>
__global__ void __launch_bounds__(MVQ_THREADS, mvs_minb<T, MVS_RES>()) k_mvs_res(MVS J, int unused) {
    (void)unused;
    mvs_res_block<T, SPLIT, MVQ_THREADS>(J);
}

// WIDE: one block of 16 warps where k_mvs_res has two of 8 per SM (Q4_K, Q6_K: 128
// registers), for long inputs (7B's ffn_down: 18,944 columns, 74 KB of f32 per block). Each
// SM then reads and quantizes the input once instead of twice. The same tasks per warp in
// the same order as k_mvs_res's (warp g of N: tasks g, g + N, ...), so the same row sums;
// only the per-block sums of squares group 16 warps' rows. SPLIT (32B's ffn_down: 2,560
// tasks for 132 x 16 warps): a block's run of tasks shared by its 16 warps' steps.
template <int T, bool SPLIT = false>
__global__ void __launch_bounds__(2 * MVQ_THREADS, 1) k_mvs_res_wide(MVS J, int unused) {
    static_assert(mvs_minb<T, MVS_RES>() == 2, "two blocks of k_mvs_res per SM become one of twice the warps");
    (void)unused;
    mvs_res_block<T, SPLIT, 2 * MVQ_THREADS>(J);
}

// Several matrices of one width in one launch (QKV), f32 form, MV_STORE + bias: those of
// type TA first, then those of type TB (Q4_K_M: wv is Q6_K in some layers). Registers as
// for the larger of the two.
template <int TA, int TB, bool SPLIT>
__global__ void __launch_bounds__(MVQ_THREADS, std::min(mvs_minb<TA, MVS_MULTI>(), mvs_minb<TB, MVS_MULTI>()))
    k_mvs_multi(MVS J, int unused) {
    extern __shared__ int4 mvs_smem[];
    int8_t *sq = (int8_t *)mvs_smem;
    float *sd = (float *)(sq + J.w[0].cols);
    int *ssum = (int *)(sd + J.w[0].cols / 16);
    __shared__ float ep[MVQ_THREADS / 32 * 6];
    (void)unused;
    // QKV before an early-launched attention (attn_early): its blocks launch only once every
    // block here is done with its rows, and find this layer's KV cache in L2
    if (!J.trigger_late) pdl_trigger();
    if (J.kv_pf.k) prefetch_kv_l2(J.kv_pf);
    unsigned long long best = 0ull;
    float ss_rows = 0.f;
    const int m = blockIdx.x < J.block_end[0] ? 0 : (blockIdx.x < J.block_end[1] ? 1 : 2);
    const int type = m == 0 ? J.w[0].type : (m == 1 ? J.w[1].type : J.w[2].type);
    if (TA == TB || type == TA) mvs_rows<TA, false, MVS_MULTI, SPLIT>(J, sq, sd, ssum, ep, best, ss_rows);
    else mvs_rows<TB, false, MVS_MULTI, SPLIT>(J, sq, sd, ssum, ep, best, ss_rows);
    if (J.trigger_late) pdl_trigger();
}

// ------------------------------------------------------------------------------------
// k_ring_res: the residual matvec with its weights streamed through shared memory
// ------------------------------------------------------------------------------------
// k_mvs_res keeps its weights in registers: a warp has one step of loads in flight, issued
// before pdl_wait, and the next step's only once the block has quantized its input. On
// 7B's ffn_down that quantization (18,944 values) takes ~4 us a layer while only the first
// step is in flight, and loading more before or after pdl_wait only moved the wait
// (bench/NOTES.md, sessions 17-22). Here one warp copies the weights with TMA bulk copies
// (cp.async.bulk) into a ring of shared-memory stages, one row a stage, independent of the
// registers and of the quantization; RING_WARPS warps quantize the input, then take the
// rows in turn. Q4_K and Q6_K (the paired layout, pair_load), sm_90 only.
//
// Rows are dealt to the blocks in turn: block b takes rows b, b + G, b + 2 G, ... (G blocks;
// rows_q each, the first rows_r one more), so that the blocks read neighbouring rows at the
// same time. A run of consecutive rows a block streamed ~10% slower in a TMA ring
// (bench/cuda/mkprobe.cu, session 27: 132 sequential streams against the DRAM's locality).
// Each row's stage also takes that row's share of the last field (the 16-byte-aligned range
// around it: bulk copies move 16-byte units). Row i of the block goes to warp i % RING_WARPS
// and to that warp's stage (i / RING_WARPS) % depth, so that each stage has one consumer,
// which waits for its phases in order (a shared stage could be waited for one phase early:
// an mbarrier's parity names two phases). A stage is free again once all 32 lanes of its
// warp have arrived on its empty barrier, each after its own reads of it and a proxy fence
// (its reads are generic-proxy accesses, the next copy into the stage an async-proxy write).
// (One arrive after __syncwarp orders the lanes' reads as well, since bar.warp.sync orders
// memory among its threads, but racecheck does not follow that order: it reported hazards
// where a warp's one stage was reused row after row; session 30, runs 266-268.)
// A row's sum is the same as k_mvs_res's (each lane's pairs in the same order, the same
// pair_dot and warp_sum); the block's sum of squares covers other rows (another grid).
#define RING_WARPS 8
#define RING_DEPTH_MAX 4
#ifndef RING_QG
#define RING_QG 3
#endif

struct RingJ {
    DW w;
    float *y;              // y += W x (+ bias)
    const float *x;        // the input, K floats
    const float *bias;     // or nullptr
    float *xw_out;         // y * norm_w: the next matrix's input
    const float *norm_w;
    float *ss_out;         // per block: the sum of the new y^2 (the next RMSNorm)
    int rows_q, rows_r;    // rows per block
    int depth;             // stages per consumer warp
    int pre;               // rows copied before the copying warp's pdl_wait
    int last_cap;          // bytes of a stage for its row's range of the last field (16-aligned)
};

__device__ __forceinline__ uint32_t smem_addr(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
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
// bytes (a multiple of 16, both addresses 16-aligned) from global to shared memory; b's
// transaction count falls by them when they have landed
__device__ __forceinline__ void bulk_copy(void *dst, const void *src, uint32_t bytes, uint64_t *b) {
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(
                     smem_addr(dst)),
                 "l"(src), "r"(bytes), "r"(smem_addr(b))
                 : "memory");
}
#endif

// Row bytes of field f of W (the paired layout: nb blocks of fbytes[f] a row).
__host__ __device__ __forceinline__ int ring_row_bytes(const DW &W, int f) { return W.nb * W.fbytes[f]; }

// Fields of a row streamed whole into its stage (the last field, whose rows are not 16-byte
// multiples, follows as the 16-byte-aligned range around the row's part): Q4_K quants and
// scales; Q6_K ql, qh and scales.
__host__ __device__ constexpr int ring_streamed(int type) { return type == APR_TYPE_Q4_K ? 2 : 3; }

// Pair p of one row from its stage (fields 0 .. ring_streamed - 1 back to back) and its
// last field (sm: that row's scales in the block's copy): pair_load's values.
template <int T>
__device__ __forceinline__ void ring_pair(RawP &R, const uint8_t *st, int rb0, int rb1, const uint8_t *sm, int p) {
    const int4 *q = (const int4 *)(st + 32 * p);
    R.q0 = q[0];
    R.q1 = q[1];
    if (T == APR_TYPE_Q4_K) {
        R.a = *(const uint32_t *)(st + rb0 + 4 * p);
        R.b = *(const uint32_t *)(sm + 4 * (p >> 2));
    } else {
        const int4 *h = (const int4 *)(st + rb0 + 32 * (p >> 1));
        R.h0 = h[0];
        R.h1 = h[1];
        const uint2 sc = *(const uint2 *)(st + rb0 + rb1 + 8 * (p >> 1));
        R.a = sc.x;
        R.a2 = sc.y;
        R.b = *(const uint16_t *)(sm + 2 * (p >> 2));
    }
}

template <int T>
__global__ void __launch_bounds__((RING_WARPS + 1) * 32, 2) k_ring_res(RingJ J) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    constexpr int NF = ring_streamed(T);  // fields streamed whole a row; field NF: the row's range of it
    constexpr int CT = RING_WARPS * 32;      // consumer threads
    extern __shared__ int4 ring_smem[];
    __shared__ uint64_t full[RING_WARPS * RING_DEPTH_MAX], empty[RING_WARPS * RING_DEPTH_MAX];
    __shared__ float ssb[RING_WARPS];
    const DW &W = J.w;
    const int K = W.cols, b = blockIdx.x, G = gridDim.x, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int n = J.rows_q + (b < J.rows_r);  // rows b, b + G, b + 2 G, ...
    // shared memory: the quantized input (act_store's paired layout), the stages
    int8_t *sq = (int8_t *)ring_smem;
    float *sd = (float *)(sq + K);
    int *ssum = (int *)(sd + K / 16);
    uint8_t *stages = (uint8_t *)(ssum + K / 16);
    const int rb0 = ring_row_bytes(W, 0), rb1 = ring_row_bytes(W, 1), sbytes = ring_row_bytes(W, NF);
    int fields_bytes = 0;  // a stage: fields 0 .. NF - 1 of its row, then its last field's range
#pragma unroll
    for (int f = 0; f < NF; f++) fields_bytes += ring_row_bytes(W, f);
    const int stage_bytes = fields_bytes + J.last_cap;
    auto last_lo = [&](int r) { return ((size_t)r * sbytes) & ~(size_t)15; };
    auto stage_of = [&](int i, int &s, int &k) {  // row i's stage and its use of it
        const int j = i / RING_WARPS;
        s = i % RING_WARPS + RING_WARPS * (j % J.depth);
        k = j / J.depth;
    };
    if (threadIdx.x == 0) {
        for (int s = 0; s < RING_WARPS * J.depth; s++) mbar_init(&full[s], 1), mbar_init(&empty[s], 32);
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
    }
    __syncthreads();
    pdl_trigger();
    if (warp == RING_WARPS) {  // the copying warp: one lane issues every copy
        if (lane != 0) return;
        for (int i = 0; i < n; i++) {
            if (i == J.pre) pdl_wait();  // (the weights do not depend on the kernel before)
            int s, k;
            stage_of(i, s, k);
            if (k > 0) mbar_wait(&empty[s], (k - 1) & 1);
            const int r = b + i * G;
            const size_t lo = last_lo(r), hi = ((size_t)(r + 1) * sbytes + 15) & ~(size_t)15;
            uint8_t *dst = stages + (size_t)s * stage_bytes;
            mbar_expect_tx(&full[s], (uint32_t)(fields_bytes + (hi - lo)));
#pragma unroll
            for (int f = 0; f < NF; f++) {
                const int rb = ring_row_bytes(W, f);
                bulk_copy(dst, W.f[f] + (size_t)r * rb, (uint32_t)rb, &full[s]);
                dst += rb;
            }
            bulk_copy(dst, W.f[NF] + lo, (uint32_t)(hi - lo), &full[s]);
        }
        return;
    }
    // the consumers: the input quantized into shared memory, as k_mvs_res's prologue
    pdl_wait();
    // RING_QG groups of 16 a thread and round, their loads in one round trip to L2
    const int ng = K / 16;
    for (int g = threadIdx.x; g < ng; g += RING_QG * CT) {
        float v[RING_QG][16];
#pragma unroll
        for (int u = 0; u < RING_QG; u++)
            if (g + u * CT < ng) load16(J.x + 16 * (g + u * CT), v[u]);
#pragma unroll
        for (int u = 0; u < RING_QG; u++) {
            if (g + u * CT >= ng) break;
            int4 q;
            float d;
            int sum;
            quant16v(v[u], q, d, sum);
            act_store<T, true>(sq, sd, ssum, g + u * CT, K, q, d, sum);
        }
    }
    asm volatile("bar.sync 1, %0;\n" ::"n"(CT) : "memory");  // the consumers only
    const int np = 4 * W.nb;  // pairs a row
    float ss = 0.f;
    for (int i = warp; i < n; i += RING_WARPS) {
        int s, k;
        stage_of(i, s, k);
        const int r = b + i * G;
        float old = 0.f, nw = 0.f, bv = 0.f;
        if (lane == 0) {
            old = J.y[r];
            nw = J.norm_w[r];
            if (J.bias) bv = J.bias[r];
        }
        mbar_wait(&full[s], k & 1);
        const uint8_t *st = stages + (size_t)s * stage_bytes, *sm = st + fields_bytes + ((size_t)r * sbytes - last_lo(r));
        float a0 = 0.f;
#pragma unroll 2
        for (int p = lane; p < np; p += 32) {
            RawP R;
            ring_pair<T>(R, st, rb0, rb1, sm, p);
            PA a;
            pair_act<T>(sq, sd, ssum, p, K, a);
            a0 += pair_dot<T>(R, p, a);
        }
        // this lane's reads of the stage are done: with the other 31 lanes' arrivals it is
        // free for row i + RING_WARPS * depth
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        mbar_arrive(&empty[s]);
        const float v = warp_sum(a0);
        if (lane == 0) {
            const float nv = old + (v + bv);  // as k_mvs_res: (dot + bias) + old
            J.y[r] = nv;
            J.xw_out[r] = nv * nw;
            ss += nv * nv;
        }
    }
    if (lane == 0) ssb[warp] = ss;
    asm volatile("bar.sync 1, %0;\n" ::"n"(CT) : "memory");
    if (threadIdx.x == 0) {
        float t = 0.f;
        for (int w = 0; w < RING_WARPS; w++) t += ssb[w];
        J.ss_out[b] = t;
    }
#endif
}

typedef void (*MvsKernel)(MVS, int);
template <int T> static MvsKernel mvs_single(int kind) { return kind == MVS_RES ? k_mvs_res<T, false> : k_mvs<T>; }

// The kernel of a k_mvs launch of this kind: for MVS_MULTI the instance for matrices of
// types ta (first) and tb, else k_mvs or k_mvs_res of type ta; nullptr where there is none
// (mv_fast_type only). split: the SPLIT instance (mvs_rows_of), built for k_mvs_res and
// k_mvs_multi of the types of large models' matrices only (Q4_K, Q6_K): nullptr for others.
static MvsKernel mvs_kernel(int kind, int ta, int tb, bool split = false) {
    if (split) {
        if (kind == MVS_RES && ta == APR_TYPE_Q4_K) return k_mvs_res<APR_TYPE_Q4_K, true>;
        if (kind == MVS_RES && ta == APR_TYPE_Q6_K) return k_mvs_res<APR_TYPE_Q6_K, true>;
        if (kind == MVS_MULTI && ta == APR_TYPE_Q4_K && tb == APR_TYPE_Q4_K) return k_mvs_multi<APR_TYPE_Q4_K, APR_TYPE_Q4_K, true>;
        if (kind == MVS_MULTI && ta == APR_TYPE_Q4_K && tb == APR_TYPE_Q6_K) return k_mvs_multi<APR_TYPE_Q4_K, APR_TYPE_Q6_K, true>;
        if (kind == MVS_MULTI && ta == APR_TYPE_Q6_K && tb == APR_TYPE_Q6_K) return k_mvs_multi<APR_TYPE_Q6_K, APR_TYPE_Q6_K, true>;
        return nullptr;
    }
    if (kind != MVS_MULTI) {
        switch (ta) {
        case APR_TYPE_Q4_K: return mvs_single<APR_TYPE_Q4_K>(kind);
        case APR_TYPE_Q5_K: return mvs_single<APR_TYPE_Q5_K>(kind);
        case APR_TYPE_Q6_K: return mvs_single<APR_TYPE_Q6_K>(kind);
        case APR_TYPE_Q8_0: return mvs_single<APR_TYPE_Q8_0>(kind);
        case APR_TYPE_Q5_0: return mvs_single<APR_TYPE_Q5_0>(kind);
        case APR_TYPE_Q4_0: return mvs_single<APR_TYPE_Q4_0>(kind);
        default: return nullptr;
        }
    }
#define MVS_PAIR(A, B) \
    if (ta == APR_TYPE_##A && tb == APR_TYPE_##B) return k_mvs_multi<APR_TYPE_##A, APR_TYPE_##B, false>;
    MVS_PAIR(Q4_K, Q4_K) MVS_PAIR(Q5_K, Q5_K) MVS_PAIR(Q6_K, Q6_K) MVS_PAIR(Q8_0, Q8_0) MVS_PAIR(Q5_0, Q5_0)
    MVS_PAIR(Q4_0, Q4_0) MVS_PAIR(Q4_K, Q6_K) MVS_PAIR(Q5_K, Q6_K) MVS_PAIR(Q5_0, Q8_0) MVS_PAIR(Q4_0, Q8_0)
#undef MVS_PAIR
    return nullptr;
}

// DYN counters: up to MVS_DYN_POOLS_MAX per launch, 32 ints (a 128-byte line) apart.
#define MVS_DYN_POOLS_MAX 32
#define MVS_DYN_SPAN (32 * MVS_DYN_POOLS_MAX)

// k_mvs's DYN instance of type ta (Q4_K: gate/up of Q4_K_M files; Q6_K: of Q6_K files),
// nullptr for others.
static MvsKernel mvs_dyn_kernel(int ta) {
    if (ta == APR_TYPE_Q4_K) return k_mvs<APR_TYPE_Q4_K, true>;
    if (ta == APR_TYPE_Q6_K) return k_mvs<APR_TYPE_Q6_K, true>;
    return nullptr;
}

// The WIDE instance of k_mvs_res for type ta (mvs_plan), nullptr where there is none.
static MvsKernel mvs_wide_kernel(int ta, bool split = false) {
    if (ta == APR_TYPE_Q4_K) return split ? k_mvs_res_wide<APR_TYPE_Q4_K, true> : k_mvs_res_wide<APR_TYPE_Q4_K>;
    if (ta == APR_TYPE_Q6_K) return split ? k_mvs_res_wide<APR_TYPE_Q6_K, true> : k_mvs_res_wide<APR_TYPE_Q6_K>;
    return nullptr;
}

// f on every k_mvs instance there is (mvs_kernel, mvs_dyn_kernel, mvs_wide_kernel).
template <typename F> static void mvs_each_kernel(F f) {
    static const int types[] = {APR_TYPE_Q4_K, APR_TYPE_Q5_K, APR_TYPE_Q6_K, APR_TYPE_Q8_0, APR_TYPE_Q5_0, APR_TYPE_Q4_0};
    for (int kind : {MVS_PLAIN, MVS_RES, MVS_MULTI})
        for (int a : types)
            for (int b : types)
                for (bool split : {false, true})
                    if (MvsKernel k = mvs_kernel(kind, a, b, split)) f(k);
    for (int a : types) {
        if (MvsKernel k = mvs_dyn_kernel(a)) f(k);
        if (MvsKernel k = mvs_wide_kernel(a)) f(k);
        if (MvsKernel k = mvs_wide_kernel(a, true)) f(k);
    }
}

// Dynamic shared memory up to smax for every k_mvs instance (ffn_down's input is long).
static bool mvs_allow_smem(int smax) {
    bool ok = true;
    mvs_each_kernel([&](MvsKernel k) {
        ok = ok && cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smax) == cudaSuccess;
    });
    return ok;
}


// The shared-memory carveout (percent of the SM's shared memory, the rest is L1) asked
// for by every decode kernel (APR_CUDA_CARVEOUT, context_create); -1: the driver's choice.
// Function attributes hold for the process: set only where they change.
static void decode_carveout(int pct) {
    static int applied = -1;
    if (pct == applied) return;
    applied = pct;
    auto set = [&](const void *k) { cudaFuncSetAttribute(k, cudaFuncAttributePreferredSharedMemoryCarveout, pct); };
    mvs_each_kernel([&](MvsKernel k) { set((const void *)k); });
    set((const void *)k_ring_res<APR_TYPE_Q4_K>);
    set((const void *)k_ring_res<APR_TYPE_Q6_K>);
    set((const void *)k_attn_dec_mma<128, 8>);
    set((const void *)k_attn_dec_mma<128, 4>);
    set((const void *)k_attn_dec_mma<64, 8>);
    set((const void *)k_attn_dec_mma<64, 4>);
    set((const void *)k_embed_norm);
    cudaGetLastError();
}

// Token embedding + RMSNorm + quantize for the first matrix (one token, one block).
__global__ void __launch_bounds__(MVQ_THREADS) k_embed_norm8(DW E, const int *tokens, float *hidden, const float *nw,
                                                            float eps, int8_t *oq, float *od, int *os,
                                                            unsigned long long *amax, float *ss_out) {
    extern __shared__ float xe[];
    if (threadIdx.x == 0 && amax) *amax = 0ull;
    int tok = tokens[0];
    if (tok < 0 || tok >= E.rows) tok = 0;
    const int K = E.cols;
    for (int k = threadIdx.x * 16; k < K; k += MVQ_THREADS * 16) {
        float v[16];
        deq16(E, tok, k, v);
        for (int i = 0; i < 16 && k + i < K; i++) { hidden[k + i] = v[i]; xe[k + i] = v[i]; }
    }
    __syncthreads();
    (void)eps;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int gi = warp; gi < K / 32; gi += MVQ_THREADS / 32) {
        const float v = xe[gi * 32 + lane];
        const float s2 = warp_sum(v * v);
        if (lane == 0) ss_out[gi] = s2;
        quant32(v * nw[gi * 32 + lane], oq, od, os, gi);
    }
}




// ------------------------------------------------------------------------------------
// Host side: model upload
// ------------------------------------------------------------------------------------

#define CU_TRY(call, what)                                                              \
    do {                                                                                \
        cudaError_t e_ = (call);                                                        \
        if (e_ != cudaSuccess) {                                                        \
            snprintf(err, err_size, "%s: %s", what, cudaGetErrorString(e_));           \
            return APR_ERROR_BACKEND;                                                   \
        }                                                                               \
    } while (0)

struct GLayer {
    DW wq, wk, wv, wo, gate, up, down;
    float *attn_norm, *ffn_norm, *bq, *bk, *bv, *bo, *qn, *kn;
    float *bqkv;  // bq, bk, bv one after the other (zeros where absent) for the fused QKV GEMM
};

struct GModel {
    apr_hparams hp;
    apr_backend_host host;
    int l0;  // first layer on the GPU (layers before it run on the CPU)
    std::vector<GLayer> layers;
    DW tok, out;
    float *out_norm;
    float *rope_freqs;
    double *inv_freq;
    std::vector<void *> allocs;
    uint64_t mem;
    char name[256];
    int sms;
    double mem_bw;  // peak memory bandwidth in bytes/s (memory clock x bus width; 0: not known)
    size_t smem_optin;
    int smem_dyn;  // dynamic shared memory a kernel may ask for: smem_optin less 2 KB for static
    bool pdl;  // programmatic dependent launch in the decode graph (sm_90+)
    bool wgmma;  // this build has k_wgemm's body for this GPU (sm_90a), see k_wgmma_probe
    bool tma;    // bulk copies and mbarrier transaction counts (sm_90+): k_ring_res
};

// F16 and BF16 matrices: a prompt hands them its activations as two f16 parts (launch_mm)
static bool is_half_type(int t) { return t == APR_TYPE_F16 || t == APR_TYPE_BF16; }
static bool any_half(const DW *const *ws, int n) {
    for (int i = 0; i < n; i++)
        if (is_half_type(ws[i]->type)) return true;
    return false;
}
static bool model_has_half_weights(const GModel *M) {
    bool half = is_half_type(M->out.type);
    for (int l = M->l0; l < M->hp.n_layer; l++) {
        const GLayer &g = M->layers[l];
        const DW *ws[7] = {&g.wq, &g.wk, &g.wv, &g.wo, &g.gate, &g.up, &g.down};
        half = half || any_half(ws, 7);
    }
    return half;
}

static void glog(const GModel *M, apr_log_level lv, const char *fmt, ...) {
    if (!M->host.log) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    M->host.log(M->host.log_user, lv, buf);
}

// The measurement and test switches (APR_CUDA_*, read at context creation). A numeric one
// is taken only where its whole value is an int; otherwise one WARN line names it and its
// default holds (through atoi, "off" or "1x" read as 0 or 1, which switched kernels).
static const char *env_num(const GModel *M, const char *name) {
    const char *v = getenv(name);
    if (!v) return nullptr;
    char *end;
    errno = 0;
    const long n = strtol(v, &end, 10);
    if (end == v || *end != 0 || errno == ERANGE || n < INT_MIN || n > INT_MAX) {
        glog(M, APR_LOG_WARN, "CUDA: %s=%s is not a whole number: ignored", name, v);
        return nullptr;
    }
    return v;
}

// ... a word from a list (words: nullptr-terminated), or nullptr with one WARN line
static const char *env_word(const GModel *M, const char *name, const char *const *words) {
    const char *v = getenv(name);
    if (!v) return nullptr;
    for (const char *const *w = words; *w; w++)
        if (strcmp(v, *w) == 0) return v;
    glog(M, APR_LOG_WARN, "CUDA: %s=%s is not one of its values: ignored", name, v);
    return nullptr;
}
static const char *const k_decode_words[] = {"i8", "f32", nullptr};     // APR_CUDA_DECODE
static const char *const k_half_act_words[] = {"f16", nullptr};         // APR_CUDA_HALF_ACT
static const char *const k_gemm_words[] = {"wmma", "tiles", nullptr};   // APR_CUDA_GEMM
static const char *const k_deq_words[] = {"generic", nullptr};          // APR_CUDA_DEQ

static cudaError_t gmalloc(GModel *M, void **p, size_t n) {
    cudaError_t e = cudaMalloc(p, n ? n : 16);
    if (e == cudaSuccess) {
        M->allocs.push_back(*p);
        M->mem += n;
    }
    return e;
}

static size_t align16(size_t n) { return (n + 15) & ~(size_t)15; }

static apr_result upload_matrix(GModel *M, const apr_tensor_view &tv, const char *what, DW *out,
                                char *err, size_t err_size) {
    memset(out, 0, sizeof *out);
    QLayout L;
    if (!tv.data) {
        snprintf(err, err_size, "tensor %s is missing", what);
        return APR_ERROR_INVALID_FILE;
    }
    if (!q_layout(tv.type, &L)) {
        snprintf(err, err_size, "tensor %s: type %d is not supported by the CUDA backend", what, tv.type);
        return APR_ERROR_UNSUPPORTED;
    }
    int64_t cols = tv.ne[0], rows = 1;
    for (int i = 1; i < 4; i++) rows *= tv.ne[i] > 0 ? tv.ne[i] : 1;
    if (cols <= 0 || cols % L.block_elems || rows <= 0 || rows > (1 << 30) || cols > (1 << 30)) {
        snprintf(err, err_size, "tensor %s: bad shape %lld x %lld", what, (long long)cols, (long long)rows);
        return APR_ERROR_INVALID_FILE;
    }
    const int64_t nb = cols / L.block_elems, nblocks = nb * rows;
    if ((tv.type == APR_TYPE_Q4_K || tv.type == APR_TYPE_Q6_K) && nblocks * 4 > (int64_t)UINT32_MAX) {
        // k_mvs addresses a pair of chunks (4 per block) by a 32-bit index (pair_load)
        snprintf(err, err_size, "tensor %s: %lld blocks, more than the CUDA backend addresses", what,
                 (long long)nblocks);
        return APR_ERROR_INVALID_FILE;
    }
    if (tv.size < (uint64_t)(nblocks * L.block_bytes)) {
        snprintf(err, err_size, "tensor %s: %llu bytes, %lld needed", what, (unsigned long long)tv.size,
                 (long long)(nblocks * L.block_bytes));
        return APR_ERROR_INVALID_FILE;
    }
    // Q4_K / Q5_K: the 12 bytes of packed 6-bit scales and mins become 16 plain bytes
    const bool kq = tv.type == APR_TYPE_Q4_K || tv.type == APR_TYPE_Q5_K;
    const int kscale_field = tv.type == APR_TYPE_Q5_K ? 2 : 1;
    size_t off[4], fsz[4], total = 0;
    for (int f = 0; f < L.nfields; f++) {
        off[f] = total;
        fsz[f] = (kq && f == kscale_field) ? 16 : L.f[f].size;
        total += align16((size_t)nblocks * fsz[f]);
    }
    std::vector<uint8_t> h(total);
    const uint8_t *src = (const uint8_t *)tv.data;
    if (L.nfields == 1) {
        memcpy(h.data(), src, (size_t)nblocks * L.block_bytes);
    } else {
        for (int f = 0; f < L.nfields; f++) {
            uint8_t *dst = h.data() + off[f];
            const int fo = L.f[f].off, fs = L.f[f].size;
            if (kq && f == kscale_field) {
                for (int64_t b = 0; b < nblocks; b++) {
                    const uint8_t *q = src + b * L.block_bytes + fo;
                    uint8_t *o = dst + b * 16;
                    for (int j = 0; j < 8; j++) {
                        if (j < 4) {
                            o[2 * j] = q[j] & 63;
                            o[2 * j + 1] = q[j + 4] & 63;
                        } else {
                            o[2 * j] = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
                            o[2 * j + 1] = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
                        }
                    }
                }
                continue;
            }
            for (int64_t b = 0; b < nblocks; b++) memcpy(dst + b * fs, src + b * L.block_bytes + fo, fs);
        }
    }
    void *d;
    CU_TRY(gmalloc(M, &d, total), what);
    CU_TRY(cudaMemcpy(d, h.data(), total, cudaMemcpyHostToDevice), what);
    out->type = tv.type;
    out->rows = (int)rows;
    out->cols = (int)cols;
    out->nb = (int)nb;
    for (int f = 0; f < L.nfields; f++) {
        out->f[f] = (const uint8_t *)d + off[f];
        out->fbytes[f] = (int)fsz[f];
    }
    return APR_SUCCESS;
}

// Norm weights and biases: any float type -> f32 on the device (NULL if absent).
static apr_result upload_vec(GModel *M, const apr_tensor_view &tv, const char *what, int64_t n,
                             float **out, char *err, size_t err_size) {
    *out = nullptr;
    if (!tv.data) return APR_SUCCESS;
    int64_t cnt = 1;
    for (int i = 0; i < 4; i++) cnt *= tv.ne[i] > 0 ? tv.ne[i] : 1;
    const int es = tv.type == APR_TYPE_F32 ? 4 : 2;
    if (!type_is_float(tv.type) || cnt != n || tv.size < (uint64_t)(n * es)) {
        snprintf(err, err_size, "tensor %s: expected %lld float values", what, (long long)n);
        return APR_ERROR_INVALID_FILE;
    }
    std::vector<float> h((size_t)n);
    for (int64_t i = 0; i < n; i++) {
        if (tv.type == APR_TYPE_F32) {
            memcpy(&h[i], (const uint8_t *)tv.data + 4 * i, 4);
        } else {
            uint16_t v;
            memcpy(&v, (const uint8_t *)tv.data + 2 * i, 2);
            if (tv.type == APR_TYPE_BF16) {
                uint32_t u = (uint32_t)v << 16;
                memcpy(&h[i], &u, 4);
            } else {
                __half_raw r;
                r.x = v;
                h[i] = __half2float(__half(r));
            }
        }
    }
    void *d;
    CU_TRY(gmalloc(M, &d, n * sizeof(float)), what);
    CU_TRY(cudaMemcpy(d, h.data(), n * sizeof(float), cudaMemcpyHostToDevice), what);
    *out = (float *)d;
    return APR_SUCCESS;
}

static void model_free(void *ms) {
    GModel *M = (GModel *)ms;
    if (!M) return;
    for (void *p : M->allocs) cudaFree(p);
    delete M;
}

static apr_result model_load(const apr_model_view *mv, const apr_backend_host *host, int32_t n_gpu_layers,
                             void **model_state, char *err, size_t err_size) {
    *model_state = nullptr;
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev <= 0) {
        snprintf(err, err_size, "no CUDA device");
        cudaGetLastError();
        return APR_ERROR_BACKEND;
    }
    const apr_hparams &hp = mv->hp;
    if (hp.n_layer <= 0 || hp.n_embd <= 0 || hp.n_head <= 0 || hp.n_head_kv <= 0 ||
        hp.n_head % hp.n_head_kv || hp.head_dim <= 0 || hp.head_dim > 256 || (hp.head_dim & 1) ||
        hp.n_head / hp.n_head_kv > 32 || hp.rope_dim > hp.head_dim || hp.n_vocab <= 0 || hp.n_ff <= 0) {
        snprintf(err, err_size, "hyperparameters outside what the CUDA backend runs (head_dim %d, heads %d/%d)",
                 hp.head_dim, hp.n_head, hp.n_head_kv);
        return APR_ERROR_UNSUPPORTED;
    }
    GModel *M = new GModel();
    M->hp = hp;
    if (host) M->host = *host;
    else memset(&M->host, 0, sizeof M->host);
    M->mem = 0;
    cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    snprintf(M->name, sizeof M->name, "%s", prop.name);
    M->sms = prop.multiProcessorCount;
    {
        int mem_khz = 0, bus_bits = 0;
        if (cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, 0) != cudaSuccess ||
            cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0) != cudaSuccess)
            mem_khz = bus_bits = 0, cudaGetLastError();
        M->mem_bw = 2.0 * mem_khz * 1e3 * bus_bits / 8;  // double data rate
    }
    M->pdl = prop.major >= 9 && !getenv("APR_CUDA_NO_PDL");
    M->tma = prop.major >= 9;
    M->smem_optin = prop.sharedMemPerBlockOptin;
    const int nl = hp.n_layer;
    const int ngl = n_gpu_layers < 0 || n_gpu_layers > nl ? nl : n_gpu_layers;
    M->l0 = nl - ngl;
    if (M->l0 > 0 && !M->host.cpu_layers) {
        snprintf(err, err_size, "partial offload (%d of %d layers) needs the host's CPU layers", ngl, nl);
        delete M;
        return APR_ERROR_UNSUPPORTED;
    }
    size_t need_smem = (size_t)std::max(hp.n_ff, std::max(hp.n_embd, hp.n_head * hp.head_dim)) * 4;
    if (need_smem > M->smem_optin) {
        snprintf(err, err_size, "rows of %zu bytes exceed shared memory", need_smem);
        delete M;
        return APR_ERROR_UNSUPPORTED;
    }
    apr_result r = APR_SUCCESS;
#define UP_M(view, dst, nm) if (r == APR_SUCCESS) r = upload_matrix(M, view, nm, dst, err, err_size)
#define UP_V(view, n, dst, nm) if (r == APR_SUCCESS) r = upload_vec(M, view, nm, n, dst, err, err_size)
    UP_M(mv->tok_embd, &M->tok, "token_embd");
    if (mv->output.data == mv->tok_embd.data) {
        if (r == APR_SUCCESS) M->out = M->tok;
    } else {
        UP_M(mv->output, &M->out, "output");
    }
    UP_V(mv->output_norm, hp.n_embd, &M->out_norm, "output_norm");
    UP_V(mv->rope_freqs, (hp.rope_dim > 0 ? hp.rope_dim : hp.head_dim) / 2, &M->rope_freqs, "rope_freqs");
    const int qd = hp.n_head * hp.head_dim, kvd = hp.n_head_kv * hp.head_dim;
    M->layers.resize(nl);
    for (int l = M->l0; l < nl && r == APR_SUCCESS; l++) {
        const apr_layer_view &lv = mv->layers[l];
        GLayer &g = M->layers[l];
        memset(&g, 0, sizeof g);
        char nm[64];
        snprintf(nm, sizeof nm, "blk.%d", l);
        UP_M(lv.wq, &g.wq, nm); UP_M(lv.wk, &g.wk, nm); UP_M(lv.wv, &g.wv, nm); UP_M(lv.wo, &g.wo, nm);
        UP_M(lv.ffn_gate, &g.gate, nm); UP_M(lv.ffn_up, &g.up, nm); UP_M(lv.ffn_down, &g.down, nm);
        UP_V(lv.attn_norm, hp.n_embd, &g.attn_norm, nm);
        UP_V(lv.ffn_norm, hp.n_embd, &g.ffn_norm, nm);
        UP_V(lv.bq, qd, &g.bq, nm); UP_V(lv.bk, kvd, &g.bk, nm); UP_V(lv.bv, kvd, &g.bv, nm);
        UP_V(lv.bo, hp.n_embd, &g.bo, nm);
        UP_V(lv.q_norm, hp.head_dim, &g.qn, nm); UP_V(lv.k_norm, hp.head_dim, &g.kn, nm);
        if (r == APR_SUCCESS && (g.bq || g.bk || g.bv)) {
            void *d;
            const size_t nb = sizeof(float) * (size_t)(qd + 2 * kvd);
            cudaError_t e = gmalloc(M, &d, nb);
            if (e == cudaSuccess) e = cudaMemset(d, 0, nb);
            if (e == cudaSuccess && g.bq) e = cudaMemcpy(d, g.bq, sizeof(float) * qd, cudaMemcpyDeviceToDevice);
            float *bf = (float *)d;
            if (e == cudaSuccess && g.bk) e = cudaMemcpy(bf + qd, g.bk, sizeof(float) * kvd, cudaMemcpyDeviceToDevice);
            if (e == cudaSuccess && g.bv)
                e = cudaMemcpy(bf + qd + kvd, g.bv, sizeof(float) * kvd, cudaMemcpyDeviceToDevice);
            if (e != cudaSuccess) {
                snprintf(err, err_size, "%s: bias upload: %s", nm, cudaGetErrorString(e));
                r = e == cudaErrorMemoryAllocation ? APR_ERROR_OUT_OF_MEMORY : APR_ERROR_BACKEND;
            }
            g.bqkv = bf;
        }
        if (r == APR_SUCCESS &&
            (g.wq.cols != hp.n_embd || g.wq.rows != qd || g.wk.rows != kvd || g.wv.rows != kvd ||
             g.wk.cols != hp.n_embd || g.wv.cols != hp.n_embd || g.wo.cols != qd || g.wo.rows != hp.n_embd ||
             g.gate.cols != hp.n_embd || g.gate.rows != hp.n_ff || g.up.rows != hp.n_ff ||
             g.up.cols != hp.n_embd || g.down.cols != hp.n_ff || g.down.rows != hp.n_embd ||
             !g.attn_norm || !g.ffn_norm)) {
            snprintf(err, err_size, "%s: tensor shapes do not match the hyperparameters", nm);
            r = APR_ERROR_INVALID_FILE;
        }
    }
    if (r == APR_SUCCESS && (M->tok.cols != hp.n_embd || M->out.cols != hp.n_embd || !M->out_norm)) {
        snprintf(err, err_size, "token_embd/output/output_norm shapes do not match n_embd");
        r = APR_ERROR_INVALID_FILE;
    }
#undef UP_M
#undef UP_V
    if (r == APR_SUCCESS) {
        // rope inverse frequencies in double: fscale * base^(-2i/d) / rope_freqs[i]
        const int rd = hp.rope_dim > 0 ? hp.rope_dim : hp.head_dim;
        std::vector<double> inv(rd / 2 + 1);
        std::vector<float> fr(rd / 2 + 1, 1.f);
        if (M->rope_freqs) cudaMemcpy(fr.data(), M->rope_freqs, sizeof(float) * (rd / 2), cudaMemcpyDeviceToHost);
        const double fs = hp.rope_freq_scale > 0.f ? hp.rope_freq_scale : 1.0;
        for (int i = 0; i < rd / 2; i++) inv[i] = fs * pow((double)hp.rope_freq_base, -2.0 * i / rd) / (double)fr[i];
        void *d;
        if (gmalloc(M, &d, sizeof(double) * inv.size()) != cudaSuccess ||
            cudaMemcpy(d, inv.data(), sizeof(double) * inv.size(), cudaMemcpyHostToDevice) != cudaSuccess) {
            snprintf(err, err_size, "rope table upload failed");
            r = APR_ERROR_BACKEND;
        }
        M->inv_freq = (double *)d;
    }
    if (r != APR_SUCCESS) {
        model_free(M);
        return r;
    }
    {  // does this build carry k_wgemm's body (sm_90a) for this GPU?
        int *d_has = nullptr, has = 0;
        if (cudaMalloc((void **)&d_has, sizeof(int)) == cudaSuccess) {
            k_wgmma_probe<<<1, 1>>>(d_has);
            if (cudaMemcpy(&has, d_has, sizeof(int), cudaMemcpyDeviceToHost) != cudaSuccess) has = 0;
            cudaFree(d_has);
        }
        cudaGetLastError();
        M->wgmma = has == 1 && wg_smem(128, 256) <= M->smem_optin;
    }
    // dynamic shared memory beyond 48 KB must be asked for; the kernels' static shared
    // memory comes out of the same per-block limit
    M->smem_dyn = (int)M->smem_optin - 2048;
    const int smax = M->smem_dyn;
    if (cudaFuncSetAttribute(k_norm_act, cudaFuncAttributeMaxDynamicSharedMemorySize, smax) != cudaSuccess ||
        cudaFuncSetAttribute(k_swiglu_act, cudaFuncAttributeMaxDynamicSharedMemorySize, smax) != cudaSuccess ||
        cudaFuncSetAttribute(k_attn, cudaFuncAttributeMaxDynamicSharedMemorySize, smax) != cudaSuccess ||
        !attn_dec_allow_smem<32>(smax) || !attn_dec_allow_smem<64>(smax) ||
        !attn_mma_allow_smem<4>(smax) || !attn_mma_allow_smem<8>(smax) ||
        cudaFuncSetAttribute(k_embed_norm8, cudaFuncAttributeMaxDynamicSharedMemorySize, smax) != cudaSuccess ||
        cudaFuncSetAttribute(k_embed_norm, cudaFuncAttributeMaxDynamicSharedMemorySize, smax) != cudaSuccess ||
        cudaFuncSetAttribute(k_hgemm<128, 128>, cudaFuncAttributeMaxDynamicSharedMemorySize, hg_smem(128, 128)) != cudaSuccess ||
        cudaFuncSetAttribute(k_hgemm<64, 128>, cudaFuncAttributeMaxDynamicSharedMemorySize, hg_smem(64, 128)) != cudaSuccess ||
        cudaFuncSetAttribute(k_hgemm<64, 64>, cudaFuncAttributeMaxDynamicSharedMemorySize, hg_smem(64, 64)) != cudaSuccess ||
        (M->wgmma && !wgemm_allow_smem()) ||
        cudaFuncSetAttribute(k_attn_fa<64>, cudaFuncAttributeMaxDynamicSharedMemorySize, fa_smem(64)) != cudaSuccess ||
        cudaFuncSetAttribute(k_attn_fa<128>, cudaFuncAttributeMaxDynamicSharedMemorySize, fa_smem(128)) != cudaSuccess ||
        !mvs_allow_smem(smax) ||
        (M->tma && (cudaFuncSetAttribute(k_ring_res<APR_TYPE_Q4_K>, cudaFuncAttributeMaxDynamicSharedMemorySize, smax) != cudaSuccess ||
                    cudaFuncSetAttribute(k_ring_res<APR_TYPE_Q6_K>, cudaFuncAttributeMaxDynamicSharedMemorySize, smax) != cudaSuccess))) {
        snprintf(err, err_size, "cudaFuncSetAttribute: %s", cudaGetErrorString(cudaGetLastError()));
        model_free(M);
        return APR_ERROR_BACKEND;
    }
    // The uploads ran on the legacy default stream, which the contexts' non-blocking streams
    // do not wait for (and a pageable cudaMemcpy may return before its DMA has landed):
    // finish them before any context can use the weights.
    const cudaError_t uploaded = cudaDeviceSynchronize();
    if (uploaded != cudaSuccess) {
        snprintf(err, err_size, "uploading the weights: %s", cudaGetErrorString(uploaded));
        model_free(M);
        return APR_ERROR_BACKEND;
    }
    glog(M, APR_LOG_INFO, "CUDA: %s, %d of %d layers on the GPU, %.1f MiB of weights", M->name, ngl, nl,
         M->mem / 1048576.0);
    *model_state = M;
    return APR_SUCCESS;
}

static const char *device_name(void *ms) { return ms ? ((GModel *)ms)->name : ""; }
static uint64_t memory_used(void *ms) { return ms ? ((GModel *)ms)->mem : 0; }

// ------------------------------------------------------------------------------------
// Host side: contexts and the forward pass
// ------------------------------------------------------------------------------------

struct GCtx {
    GModel *M;
    apr_backend_context_params p;
    cudaStream_t st;
    int B, E, QD, KVD, QKVD, F, V, Kmax;
    int *d_in;        // [tok B][pos B][seq B][rows B]
    int *h_in;        // pinned, same layout
    int *d_in1, *h_in1;  // the graph's one-token inputs {tok, pos, seq, row}
    float *hidden, *ax, *ad, *qkv, *gate, *up, *po, *pml, *logits;
    int8_t *aq;
    int *as;
    __half *ah, *ah2;  // f16 GEMM inputs; ah2: the SwiGLU output of the fused gate/up GEMM (with
                       // alo: in the hi + lo form, [n][2F])
    __half *alo;       // a prompt's activations as hi + lo f16 parts for F16/BF16 weights, [n][2K]
                       // (null when the model has none, or APR_CUDA_HALF_ACT=f16; k_f16_hilo)
    __half *kc, *vc;
    int64_t seq_stride, head_stride, layer_stride;
    int S_dec;
    size_t part_cap, logits_rows;
    unsigned long long *amax, *h_amax;
    float *h_logits, *h_hidden;
    cudaGraphExec_t graph[2];  // [0] argmax, [1] logits
    int launches, launches_decode;
    float *attn_out;
    int *counter;
    float *ssp, *xw;
    unsigned int *mvq_counter;  // int8 form: finished blocks per 32-row group
    int8_t *aq2;                // int8 form: second activation buffer
    float *ad2;
    int *as2;
    bool i8;                    // decode with the int8-activation form
    bool mvs;                   // the output matrix through k_mvs (APR_CUDA_NO_MVS=1: not)
    int mvs_per_sm[64];         // k_mvs (+32: k_mvs_res): resident blocks per SM, per weight type (0: not asked yet)
    int mvs_multi_per_sm[32][32];  // k_mvs_multi, per pair of types
    int attn_tile;              // decode attention: positions per tile (32 or 64)
    bool attn_any_hd;           // decode attention: the run-time head size instance (tests)
    bool attn_mma;              // decode attention on tensor cores (k_attn_dec_mma)
    int attn_mma_cw;            // ... its scoring warps (4 or 8)
    bool attn_poison;           // tests: k_attn_dec_mma's stages set to NaN first (APR_CUDA_ATTN_POISON)
    bool mvs_ffn;               // f32 form: gate/up through k_mvs too
    bool mvs_all;               // f32 form: every matrix through k_mvs (QKV, wo, down too)
    int mvs_split;              // k_mvs SPLIT instances: -1 where they pay (launch_mvs), 0 never, 1 wherever built
    bool split_logged;          // ... the first one launched is in the log (tests look for it)
    int mvs_spread_pct;         // k_mvs grids under this % of the SMs' count spread (launch_mvs)
    int mvs_spread_tasks;       // ... to this many tasks a block
    int mvs_fill;               // k_mvs grids under half the slots, tasks of this many steps: all slots (launch_mvs)
    bool spread_logged;         // the first spread or filled grid is in the log (tests look for it)
    int mvs_dyn;                // k_mvs (gate/up): the last this many rounds from counters (0: never)
    int mvs_dyn_blocks;         // ... at most this many blocks (0: no limit; tests, for many rounds)
    int mvs_dyn_pools;          // ... in this many pools, each with its counter (at most the blocks)
    int mvs_dyn_min_ns;         // ... where a task takes this long or more (mvs_plan's estimate)
    bool dyn_logged;            // the first such launch is in the log (tests look for it)
    int res_wide_cols;          // residual matrices (Q4_K, Q6_K) of this many columns or more through k_mvs_res_wide (0: none, -1: mvs_plan's rule)
    int mvs_wide_per_sm[32];    // ... its resident blocks per SM, per weight type (0: not asked yet; SPLIT's alike)
    bool wide_logged;           // the first k_mvs_res_wide launch is in the log (tests look for it)
    bool res_wide_split;        // ... for SPLIT grids too (APR_CUDA_RES_WIDE_SPLIT=0: not)
    int ring_min_cols;          // residual matrices (Q4_K, Q6_K) of this many columns or more through k_ring_res (0: none, -1: ring_plan's rule)
    int ring_bytes;             // ... its stages' shared memory, at most
    int ring_pre;               // ... rows copied before its copying warp's pdl_wait
    int ring_blocks;            // ... at most this many blocks (0: one per SM; tests)
    bool ring_logged;           // the first k_ring_res launch is in the log (tests look for it)
    int carveout;               // the decode kernels' shared-memory carveout in percent (-1: the driver's choice; APR_CUDA_CARVEOUT)
    int *mvs_dyn_counter;       // the counters (k_mvs<T, true>), MVS_DYN_SPAN ints per layer's gate/up
    bool attn_pdl;              // f32 form: decode attention launched with PDL
    bool attn_early;            // ... after a QKV that triggers late and prefetches the KV cache
    int attn_min_chunk;         // decode attention: positions per split, at least
    bool attn_trigger;          // decode attention lets wo launch early
    bool attn_trigger_end;      // ... or once its combine is all that is left (f32 form)
    int attn_trigger_splits;    // ... or once its input is ready, from this many splits on (f32 form; 0: never)
    bool mvq_one_wave;          // k_mvw: fewer warps per row rather than a second wave of blocks
    __half *wscratch;
    size_t wscratch_n;
    bool fast;
    bool wgmma;     // prompt GEMMs on k_wgemm (M->wgmma, unless APR_CUDA_GEMM=wmma)
    bool wg_fused;  // k_wgemm reads Q4_K / Q6_K weights itself (APR_CUDA_WG_FUSED=1; slower so far)
    bool gemm_tiles;  // every prompt GEMM through k_gemm, as without memory for the scratch (APR_CUDA_GEMM=tiles)
    bool deq_generic;  // every type through k_deq_f16 (APR_CUDA_DEQ=generic: the reference in tests)
    int wg_tile_bm, wg_tile_bn;  // k_wgemm's tile forced by APR_CUDA_WG_TILE=BMxBN, else 0
    std::vector<void *> allocs;
    uint64_t mem;
};

// APR_CUDA_PROFILE=1: no graphs; every launch is followed by an event and the time
// between events is summed per launch site, printed when the context is freed.
struct ProfEv { cudaEvent_t e; int line; };
static std::vector<ProfEv> g_prof;
static double g_prof_ms[4096];
static int g_prof_n[4096];
static bool g_profile = getenv("APR_CUDA_PROFILE") != nullptr;
// A/B switches for measurements: APR_CUDA_NO_FA=1 keeps prompts on the CUDA-core attention.
static bool g_no_fa = getenv("APR_CUDA_NO_FA") != nullptr;

static void launched(GCtx *C, int line);

static void prof_flush(cudaStream_t st) {
    if (!g_profile || g_prof.size() < 2) return;
    cudaStreamSynchronize(st);
    for (size_t i = 1; i < g_prof.size(); i++) {
        float ms = 0;
        cudaEventElapsedTime(&ms, g_prof[i - 1].e, g_prof[i].e);
        g_prof_ms[g_prof[i].line & 4095] += ms;
        g_prof_n[g_prof[i].line & 4095]++;
    }
    for (auto &p : g_prof) cudaEventDestroy(p.e);
    g_prof.clear();
}
static void prof_print(void) {
    if (!g_profile) return;
    double tot = 0;
    for (int i = 0; i < 4096; i++) tot += g_prof_ms[i];
    for (int i = 0; i < 4096; i++)
        if (g_prof_n[i])
            fprintf(stderr, "  prof line %4d: %6d launches %9.3f ms total %7.2f us each %5.1f%%\n", i, g_prof_n[i],
                    g_prof_ms[i], 1000 * g_prof_ms[i] / g_prof_n[i], 100 * g_prof_ms[i] / tot);
    memset(g_prof_ms, 0, sizeof g_prof_ms);
    memset(g_prof_n, 0, sizeof g_prof_n);
}

static cudaError_t cmalloc(GCtx *C, void **p, size_t n) {
    cudaError_t e = cudaMalloc(p, n ? n : 16);
    if (e == cudaSuccess) {
        C->allocs.push_back(*p);
        C->mem += n;
    }
    return e;
}

static void context_free(void *cs) {
    GCtx *C = (GCtx *)cs;
    if (!C) return;
    if (C->st) cudaStreamSynchronize(C->st);
    for (int i = 0; i < 2; i++)
        if (C->graph[i]) cudaGraphExecDestroy(C->graph[i]);
    for (void *p : C->allocs) cudaFree(p);
    if (C->logits) cudaFree(C->logits);
    if (C->wscratch) cudaFree(C->wscratch);
    if (C->h_in) cudaFreeHost(C->h_in);
    if (C->h_in1) cudaFreeHost(C->h_in1);
    if (C->h_amax) cudaFreeHost(C->h_amax);
    if (C->h_logits) cudaFreeHost(C->h_logits);
    if (C->h_hidden) cudaFreeHost(C->h_hidden);
    if (C->st) cudaStreamDestroy(C->st);
    if (C->M) C->M->mem -= C->mem;
    prof_print();
    delete C;
}

static bool attn_trigger_fits(GCtx *C, const DW &wo);  // below, with the decode launches

static apr_result context_create(void *ms, const apr_backend_context_params *p, void **cs, char *err,
                                 size_t err_size) {
    *cs = nullptr;
    GModel *M = (GModel *)ms;
    const apr_hparams &hp = M->hp;
    if (p->n_ctx <= 0 || p->n_seq <= 0 || p->n_batch <= 0) {
        snprintf(err, err_size, "n_ctx, n_seq and n_batch must be positive");
        return APR_ERROR_INVALID_ARGUMENT;
    }
    GCtx *C = new GCtx();
    memset((void *)C, 0, offsetof(GCtx, allocs));
    C->M = M;
    C->p = *p;
    C->B = p->n_batch;
    C->E = hp.n_embd;
    C->QD = hp.n_head * hp.head_dim;
    C->KVD = hp.n_head_kv * hp.head_dim;
    C->QKVD = C->QD + 2 * C->KVD;
    C->F = hp.n_ff;
    C->V = M->out.rows;
    C->Kmax = std::max(C->E, std::max(C->QD, C->F));
    const int B = C->B;
#define CT(call, what)                                                                   \
    do {                                                                                 \
        cudaError_t e_ = (call);                                                         \
        if (e_ != cudaSuccess) {                                                         \
            snprintf(err, err_size, "%s: %s", what, cudaGetErrorString(e_));            \
            context_free(C);                                                             \
            return e_ == cudaErrorMemoryAllocation ? APR_ERROR_OUT_OF_MEMORY : APR_ERROR_BACKEND; \
        }                                                                                \
    } while (0)
    CT(cudaStreamCreateWithFlags(&C->st, cudaStreamNonBlocking), "stream");
    CT(cmalloc(C, (void **)&C->d_in, sizeof(int) * 4 * B), "inputs");
    CT(cmalloc(C, (void **)&C->d_in1, sizeof(int) * 4), "inputs");
    CT(cudaMallocHost((void **)&C->h_in, sizeof(int) * 4 * B), "pinned inputs");
    CT(cudaMallocHost((void **)&C->h_in1, sizeof(int) * 4), "pinned inputs");
    CT(cudaMallocHost((void **)&C->h_amax, sizeof(unsigned long long) * B), "pinned");
    CT(cudaMallocHost((void **)&C->h_logits, sizeof(float) * C->V), "pinned logits");
    if (M->l0 > 0) CT(cudaMallocHost((void **)&C->h_hidden, sizeof(float) * (size_t)B * C->E), "pinned hidden");
    const size_t BK = (size_t)B * C->Kmax;
    CT(cmalloc(C, (void **)&C->hidden, sizeof(float) * B * C->E), "hidden");
    CT(cmalloc(C, (void **)&C->ax, sizeof(float) * BK), "act");
    CT(cmalloc(C, (void **)&C->aq, BK), "act");
    CT(cmalloc(C, (void **)&C->ad, sizeof(float) * (BK / 32 + 1)), "act");
    CT(cmalloc(C, (void **)&C->as, sizeof(int) * (BK / 16 + 1)), "act");
    CT(cmalloc(C, (void **)&C->ah, sizeof(__half) * BK), "act");
    const char *half_act = env_word(M, "APR_CUDA_HALF_ACT", k_half_act_words);
    const bool hilo = model_has_half_weights(M) && !(half_act && strcmp(half_act, "f16") == 0);
    CT(cmalloc(C, (void **)&C->ah2, sizeof(__half) * (size_t)B * C->F * (hilo ? 2 : 1)), "act");
    if (hilo) CT(cmalloc(C, (void **)&C->alo, sizeof(__half) * 2 * BK), "act");
    CT(cmalloc(C, (void **)&C->qkv, sizeof(float) * (size_t)B * C->QKVD), "qkv");
    CT(cmalloc(C, (void **)&C->gate, sizeof(float) * (size_t)B * C->F), "ffn");
    CT(cmalloc(C, (void **)&C->up, sizeof(float) * (size_t)B * C->F), "ffn");
    CT(cmalloc(C, (void **)&C->amax, sizeof(unsigned long long) * B), "argmax");
    CT(cmalloc(C, (void **)&C->attn_out, sizeof(float) * C->QD), "attention output");
    CT(cmalloc(C, (void **)&C->counter, sizeof(int) * hp.n_head_kv), "attention counters");
    // (zeroed on the context's own stream: a non-blocking one, which would not wait for a
    // cudaMemset on the legacy default stream)
    CT(cudaMemsetAsync(C->counter, 0, sizeof(int) * hp.n_head_kv, C->st), "attention counters");
    // norm parts: one per block of the kernel that wrote the residual (k_mvs: up to 8 per SM)
    CT(cmalloc(C, (void **)&C->ssp, sizeof(float) * std::max(C->E / 2 + 1, 8 * M->sms + 1)), "norm parts");
    CT(cmalloc(C, (void **)&C->xw, sizeof(float) * C->E), "normed residual");
    CT(cmalloc(C, (void **)&C->mvq_counter, sizeof(unsigned int) * (C->Kmax / 32 + 1)), "counter");
    CT(cudaMemsetAsync(C->mvq_counter, 0, sizeof(unsigned int) * (C->Kmax / 32 + 1), C->st), "counter");
    CT(cmalloc(C, (void **)&C->mvs_dyn_counter, sizeof(int) * MVS_DYN_SPAN * hp.n_layer), "counter");
    CT(cudaMemsetAsync(C->mvs_dyn_counter, 0, sizeof(int) * MVS_DYN_SPAN * hp.n_layer, C->st), "counter");
    CT(cmalloc(C, (void **)&C->aq2, C->Kmax), "act");
    CT(cmalloc(C, (void **)&C->ad2, sizeof(float) * (C->Kmax / 32 + 1)), "act");
    CT(cmalloc(C, (void **)&C->as2, sizeof(int) * (C->Kmax / 16 + 1)), "act");
    {
        // the fused one-token path needs quantized matrices with rows of whole 32-groups
        bool ok = C->E % 32 == 0 && C->QD % 32 == 0 && C->F % 32 == 0 && mvf_ok(M->out);
        for (int l = M->l0; l < hp.n_layer && ok; l++) {
            const GLayer &g = M->layers[l];
            ok = mvf_ok(g.wq) && mvf_ok(g.wk) && mvf_ok(g.wv) && mvf_ok(g.wo) && mvf_ok(g.gate) && mvf_ok(g.up) &&
                 mvf_ok(g.down) && !g.qn == !g.kn;
        }
        ok = ok && hp.head_dim % 32 == 0 && hp.n_head / hp.n_head_kv <= ATT_MAXG;  // k_attn_dec's block
        // gate and up are read by one kernel instantiation (k_mvw, k_mvw8, k_mvs): one type
        for (int l = M->l0; l < hp.n_layer && ok; l++) ok = M->layers[l].gate.type == M->layers[l].up.type;
        C->fast = ok && !getenv("APR_CUDA_NO_FAST");
        // the int8 form also takes the types the f32-input form lacks (Q2_K, Q3_K, IQ4...)
        bool f32_types = mv_fast_type(M->out.type);
        for (int l = M->l0; l < hp.n_layer && f32_types; l++) {
            const GLayer &g = M->layers[l];
            f32_types = mv_fast_type(g.wq.type) && mv_fast_type(g.wk.type) && mv_fast_type(g.wv.type) &&
                        mv_fast_type(g.wo.type) && mv_fast_type(g.gate.type) && mv_fast_type(g.up.type) &&
                        mv_fast_type(g.down.type);
        }
        C->mvs = mv_fast_type(M->out.type) && !getenv("APR_CUDA_NO_MVS");
        // measurement switches (bench/NOTES.md): APR_CUDA_MVQ_WAVES=1 lets k_mvw grids
        // run a second wave; APR_CUDA_MVS_FFN=0/1 forces gate/up off/onto k_mvs
        const char *waves = env_num(M, "APR_CUDA_MVQ_WAVES");
        C->mvq_one_wave = !(waves && atoi(waves) > 1);
        const char *form = env_word(M, "APR_CUDA_DECODE", k_decode_words);  // "i8" or "f32": force one form (tests)
        C->i8 = !f32_types || (form && strcmp(form, "i8") == 0);
        if (C->i8 && C->E > POST_MAX_IT * MVQ_THREADS) {  // the int8 form's norm step holds E in registers
            C->i8 = false;
            C->fast = C->fast && f32_types;
        }
        // 32-position tiles: 64 paid for short contexts of the f32 form while one split held
        // up to 128 positions; with splits of 32 (session 7) half of such a tile was empty:
        // tg128 7B 510 -> 519, 1.5B 1,068 -> 1,077, 0.5B 1,492 -> 1,511 (bench/NOTES.md).
        // APR_CUDA_ATTN_TILE=32|64 overrides (measurements, tests).
        const char *tile = env_num(M, "APR_CUDA_ATTN_TILE");
        C->attn_tile = tile ? (atoi(tile) == 64 ? 64 : 32) : 32;
        // APR_CUDA_ATTN_ANY_HD=1: the instance for any head size, where 64 and 128 have their own
        const char *any_hd = env_num(M, "APR_CUDA_ATTN_ANY_HD");
        C->attn_any_hd = any_hd && atoi(any_hd) == 1;
        // Decode attention on tensor cores where its instances fit (head size 64 or 128):
        // APR_CUDA_ATTN_MMA=0 keeps k_attn_dec (the reference in tests)
        const char *mma = env_num(M, "APR_CUDA_ATTN_MMA");
        C->attn_mma = !C->attn_any_hd && (hp.head_dim == 64 || hp.head_dim == 128) && !(mma && atoi(mma) == 0);
        // eight scoring warps (see k_attn_dec_mma); APR_CUDA_ATTN_CW=4: four (tests)
        const char *cw = env_num(M, "APR_CUDA_ATTN_CW");
        C->attn_mma_cw = cw && atoi(cw) == 4 ? 4 : 8;
        // APR_CUDA_ATTN_POISON=1: k_attn_dec_mma's instance that fills its stages with NaN
        // first (tests: a row read but never written shows as NaN logits)
        const char *poison = env_num(M, "APR_CUDA_ATTN_POISON");
        C->attn_poison = poison && atoi(poison) == 1;
        // ... as far as its block fits the GPU's shared memory (eight scoring warps at head
        // size 128: 158 KB with 8 heads per kv head, where an RTX 4090 allows 99 KB): eight,
        // else four (88 KB), else k_attn_dec. APR_CUDA_ATTN_SMEM=n: as if n bytes (tests).
        {
            const char *cap = env_num(M, "APR_CUDA_ATTN_SMEM");
            size_t smax = (size_t)M->smem_dyn;  // as asked for at model load
            if (cap && atol(cap) > 0) smax = std::min(smax, (size_t)atol(cap));
            const int G = hp.n_head / hp.n_head_kv;
            if (C->attn_mma && C->attn_mma_cw == 8 && attn_mma_smem(G, hp.head_dim, 8) > smax) C->attn_mma_cw = 4;
            if (C->attn_mma && attn_mma_smem(G, hp.head_dim, C->attn_mma_cw) > smax) C->attn_mma = false;
        }
        // gate/up through k_mvs (f32 form): tg128 0.5B 1287 -> 1345, 1.5B 800 -> 861 tok/s
        // (bench/NOTES.md); APR_CUDA_MVS_FFN=0 keeps k_mvw (the reference in tests)
        const char *ffn = env_num(M, "APR_CUDA_MVS_FFN");
        C->mvs_ffn = !C->i8 && C->fast && !(ffn && atoi(ffn) == 0);
        // Every matrix through k_mvs (7B tg128 329 -> 422 tok/s against the int8 form; 32B
        // 102 -> 110). Until session 7 only from n_embd 3072: k_mvw's short kernels were
        // faster on QKV, wo and down of 1.5B (851 against 736 tok/s), no longer with k_mvs's
        // Q4_K/Q6_K pairs and the split attention (1.5B 958 -> 1,067, 0.5B 1,391 -> 1,508;
        // bench/NOTES.md). APR_CUDA_MVS_ALL=0 keeps k_mvw there (the reference in tests).
        const char *all = env_num(M, "APR_CUDA_MVS_ALL");
        C->mvs_all = C->mvs_ffn && C->mvs && !(all && atoi(all) == 0);
        // APR_CUDA_MVS_SPLIT=0 / 1: the SPLIT instances never / wherever built (tests,
        // measurements); otherwise where launch_mvs's rule says they pay
        const char *split = env_num(M, "APR_CUDA_MVS_SPLIT");
        C->mvs_split = split ? (atoi(split) == 1 ? 1 : 0) : -1;
        // launch_mvs's spread: APR_CUDA_MVS_SPREAD=p grids under p % of the SMs' count (0:
        // never), APR_CUDA_MVS_SPREAD_TASKS=n tasks a block (measurements, tests)
        const char *spread = env_num(M, "APR_CUDA_MVS_SPREAD"), *spread_tasks = env_num(M, "APR_CUDA_MVS_SPREAD_TASKS");
        C->mvs_spread_pct = spread ? std::max(0, atoi(spread)) : 50;
        C->mvs_spread_tasks = spread_tasks && atoi(spread_tasks) >= 1 && atoi(spread_tasks) <= 8 ? atoi(spread_tasks) : 4;
        // ... and its fill: APR_CUDA_MVS_FILL=n tasks of n steps or more (0: never)
        const char *fill = env_num(M, "APR_CUDA_MVS_FILL");
        C->mvs_fill = fill ? std::max(0, atoi(fill)) : 4;
        // k_mvs's tasks of the last rounds from a counter (mvs_rows_of's DYN):
        // APR_CUDA_MVS_DYN=n the last n rounds (0: never), APR_CUDA_MVS_DYN_BLOCKS=b grids of
        // at most b blocks (tests: several rounds on a small model)
        const char *dyn = env_num(M, "APR_CUDA_MVS_DYN"), *dyn_blocks = env_num(M, "APR_CUDA_MVS_DYN_BLOCKS");
        const char *dyn_pools = env_num(M, "APR_CUDA_MVS_DYN_POOLS");
        C->mvs_dyn = dyn ? std::max(0, atoi(dyn)) : 2;
        C->mvs_dyn_blocks = dyn_blocks ? std::max(0, atoi(dyn_blocks)) : 0;
        C->mvs_dyn_pools = dyn_pools ? std::min(MVS_DYN_POOLS_MAX, std::max(1, atoi(dyn_pools))) : 8;
        const char *dyn_min = env_num(M, "APR_CUDA_MVS_DYN_MIN_NS");
        C->mvs_dyn_min_ns = dyn_min ? std::max(0, atoi(dyn_min)) : 2000;
        // k_mvs_res_wide (blocks of 16 warps) where mvs_plan's rule says; APR_CUDA_RES_WIDE=n
        // residual matrices of n columns or more whatever their grid (0: none; tests,
        // measurements); APR_CUDA_RES_WIDE_SPLIT=0 not for SPLIT grids
        const char *wide = env_num(M, "APR_CUDA_RES_WIDE");
        C->res_wide_cols = wide ? std::max(0, atoi(wide)) : -1;
        const char *wide_split = env_num(M, "APR_CUDA_RES_WIDE_SPLIT");
        C->res_wide_split = !wide_split || atoi(wide_split) != 0;
        // k_ring_res (sm_90) where ring_plan's rule says; APR_CUDA_RING=n residual matrices of
        // n columns or more (0: none), APR_CUDA_RING_KB=k stages of at most k KB,
        // APR_CUDA_RING_PRE=r rows copied before pdl_wait, APR_CUDA_RING_BLOCKS=b at most b
        // blocks (tests: many rows a block)
        const char *ring = env_num(M, "APR_CUDA_RING"), *ring_kb = env_num(M, "APR_CUDA_RING_KB");
        const char *ring_pre = env_num(M, "APR_CUDA_RING_PRE"), *ring_blocks = env_num(M, "APR_CUDA_RING_BLOCKS");
        C->ring_min_cols = !M->tma ? 0 : ring ? std::max(0, atoi(ring)) : -1;
        C->ring_bytes = 1024 * (ring_kb ? std::max(1, atoi(ring_kb)) : 160);
        C->ring_pre = ring_pre ? std::max(0, atoi(ring_pre)) : RING_WARPS;
        C->ring_blocks = ring_blocks ? std::max(0, atoi(ring_blocks)) : 0;
    }
    // Decode attention splits: 32 positions each where the grid allows, up to one per SM and
    // kv head (and ATT_SMAX). A block's positions are one dependent chain (scores, softmax,
    // weighted sum), so short contexts want several splits despite the combine: one split up
    // to 128 positions, as before, against 32 each: 7B tg128 495.8 -> 511.0, 1.5B 892.9 ->
    // 959.6, 0.5B 1,340 -> 1,394 (16: 513.6, 955.1, 1,367; bench/NOTES.md, session 7). Two
    // per SM paid with the kernel before session 9 (7B @ d4096 242.6 -> 248.8 tok/s); since
    // its cp.async stages one per SM is faster at 7B @ d4096 (478.8 -> 482.9) and more
    // splits cost more (0.5B: four per SM 1,539 -> 1,487), as each split adds a partial
    // to the combine (bench/NOTES.md, session 9). Until session 13 also at most 64: with two
    // kv heads (0.5B, 1.5B) 66 splits make 4,097 to 4,224 positions two tiles a split
    // instead of three, the third of one or two positions: 0.5B @ d4096 1,573 / 1,581 ->
    // 1,584 / 1,602, 1.5B 1,001 / 1,001 -> 1,011 / 1,012, tg128 unchanged (run 130).
    // On tensor cores (k_attn_dec_mma, session 14) a split's positions cost far less than
    // the combine of another partial, so splits hold at least 128 positions there: one
    // split (no combine) up to 128, 33 per kv head at 4,096 positions where one per SM
    // would give 66 of 64. Against 32 (run 138, H200): tg128 0.5B 1,837 -> 1,923 tok/s,
    // 1.5B 1,184 -> 1,218, 7B 573 -> 584, 32B 153.4 -> 154.6; @ d4096 0.5B 1,681 -> 1,697,
    // 1.5B 1,067 -> 1,084, 7B 540 -> 538, 32B 144.8 -> 144.8.
    // APR_CUDA_ATTN_SPLIT=n: at least n positions per split, APR_CUDA_ATTN_BPS=n splits per
    // SM and kv head, APR_CUDA_ATTN_SMAX=n at most (measurements, tests).
    const char *split_env = env_num(M, "APR_CUDA_ATTN_SPLIT"), *bps_env = env_num(M, "APR_CUDA_ATTN_BPS"),
               *smax_env = env_num(M, "APR_CUDA_ATTN_SMAX");
    C->attn_min_chunk = split_env ? std::max(16, std::min(4096, atoi(split_env))) : C->attn_mma ? 128 : 32;
    const int per_sm = bps_env ? std::max(1, std::min(8, atoi(bps_env))) : 1;
    const int s_cap = smax_env ? std::max(1, std::min(ATT_SMAX, atoi(smax_env))) : ATT_SMAX;
    const int S = std::max(1, std::min((p->n_ctx + C->attn_min_chunk - 1) / C->attn_min_chunk, per_sm * M->sms / hp.n_head_kv));
    C->S_dec = std::min(S, s_cap);
    // Decode attention and PDL (bench/NOTES.md, session 3). Launched with PDL (its blocks
    // waiting beside the QKV matvec) it was slower: 0.5B @ d4096 731 -> 606 tok/s
    // (session 2), and @ d4096 1170 -> 1097 even with a trigger-less attention. Its
    // pdl_trigger lets wo's blocks start and prefetch during attention (and the kernels
    // after wo in turn). That paid at long contexts and beside k_mvw's small wo grids
    // (session 3: 0.5B @ d4096 1121 -> 1145, tg128 1345 -> 1363), but with wo in k_mvs and
    // the split attention (session 7) it costs: tg128 0.5B 1,514 -> 1,610 without it, 1.5B
    // 1,064 -> 1,082, 7B 518.6 -> 519.4; @ d4096 0.5B 1,282 -> 1,333, 7B 447.5 -> 444.2.
    // So off in the f32 form; the int8 form keeps session 3's rule (not re-measured).
    // The f32 form triggers later instead, in the last block of each kv head once every
    // other block has ended (or in the one split of short contexts): wo launches during
    // the combine, which globaltimer stamps showed to be the attention's last 3 us at 4,096
    // positions (bench/NOTES.md, session 12). Not where wo's grid takes every slot of the
    // GPU (32B: 264 blocks for 264 slots), as a wo block then waits for the attention's
    // SM: 32B tg128 153.4 -> 130.1 tok/s (run 123); see attn_trigger_fits.
    // Early attention (attn_early, session 13): launched with PDL after a QKV (k_mvs_multi)
    // that triggers only once a block's rows are done, so the attention's blocks launch as
    // QKV ends instead of waiting beside it, and that prefetches this layer's KV cache into
    // L2 meanwhile. Where the GPU holds many short splits per kv head (two kv heads: 66
    // splits, 64 positions each at 4k) the attention is mostly its start, which this hides:
    // 0.5B @ d4096 1,584 / 1,602 -> 1,609 / 1,618 tok/s, 1.5B 1,011 / 1,012 -> 1,027 /
    // 1,026, tg128 0.5B +1%, 1.5B +1.6..2%. Where they are longer (7B: 33 splits of 125
    // positions) it costs: 7B @ d4096 518 / 516 -> 511 / 510 (run 130, bench/NOTES.md
    // session 13). So on where the grid allows 48 splits per kv head or more (one per SM),
    // in the f32 form with QKV in k_mvs.
    // Elsewhere in that form (7B, 32B: 33 and 16 splits per kv head) the attention is
    // launched with PDL too, QKV triggering at its start: its blocks take the slots that
    // QKV's last blocks leave and compute their rope and issue their cache loads before
    // QKV has ended. tg128 / @ d4096, two rounds each (bench/NOTES.md, session 17): H100
    // (run 169) 7B +2.0% / +1.0%, 32B +0.8%; H200 (run 170) 7B +1.7..1.9% / +0.9%, 32B
    // +1.0..1.1% / +0.5..0.9%. (Session 2's 17% loss was with the old matvec kernels'
    // grids; session 10's run 100 had 7B +1.6% / -1.3%.)
    // There, where a token's attention has 24 splits or more (attn_trigger_splits: 7B from
    // ~3,000 positions), it lets wo launch as soon as its pdl_wait returns instead of at its
    // end, and wo's blocks load their rows while the long attention runs. Short attentions
    // lose by it: the attention's last writes and wo's pdl_wait then queue behind wo's
    // 7 MB of loads (stamps, session 17: wo's pdl_wait returned 2.5 us after the attention's
    // last block left). H100, runs 173-174, 7B tg128 @ depth d, against the end trigger:
    // d0 -0.6..-1.2%, d1024 -0.7..+0.2%, d3072 (25 splits) +1.1%, d4096 (33) +1.5..2.0%;
    // triggering at the attention's start instead: d2048 (17) +0.2%, d4096 +2.0%. Not in
    // the early form (0.5B @ d4096: -3.5..-5.5%; 1.5B +0.2..0.7%), nor where wo takes every
    // slot (attn_trigger_fits).
    // APR_CUDA_ATTN_EARLY=0/1, APR_CUDA_ATTN_PDL=0/1, APR_CUDA_ATTN_TRIGGER=0/1,
    // APR_CUDA_ATTN_TRIGGER_END=0 and APR_CUDA_ATTN_TRIGGER_SPLITS=n (0: never) override
    // (measurements, tests).
    {
        const char *ap = env_num(M, "APR_CUDA_ATTN_PDL"), *at = env_num(M, "APR_CUDA_ATTN_TRIGGER"),
                   *ate = env_num(M, "APR_CUDA_ATTN_TRIGGER_END"), *early = env_num(M, "APR_CUDA_ATTN_EARLY");
        C->attn_early = !C->i8 && C->mvs_all && M->pdl && (early ? atoi(early) == 1 : M->sms / hp.n_head_kv >= 48);
        C->attn_pdl = C->attn_early || (!C->i8 && (ap ? atoi(ap) == 1 : C->mvs_all && M->pdl));
        C->attn_trigger = at ? atoi(at) == 1 : (C->i8 && hp.n_head_kv * C->S_dec > M->sms / 8);
        C->attn_trigger_end = !C->i8 && !(ate && atoi(ate) == 0);
        const char *ats = env_num(M, "APR_CUDA_ATTN_TRIGGER_SPLITS");
        C->attn_trigger_splits = C->i8 ? 0 : ats ? std::max(0, atoi(ats)) : C->attn_early ? 0 : 24;
    }
    // APR_CUDA_CARVEOUT=pct (measurements): the shared-memory carveout (percent of the SM's
    // shared memory; the rest is L1) asked for by every decode kernel; unset, the driver's
    // choice. H100 against the driver's (bench/NOTES.md, session 23): 100% (28 KB of L1)
    // cost every cell 3% or more (run 212: the matvecs' loads in flight hold L1 lines); 72%
    // read 7B tg128 +0.7..1.3%, @ d4096 +0.4..0.9%, 32B +0.6..0.7%, 1.5B -2% (runs 213-214);
    // 58% and 69% (both 164 KB, the attention's) +0.4% and nothing (run 215). Too small and
    // too unclear (the driver rounds to its own steps) for a default. A function attribute:
    // the last context created sets it for the process.
    {
        const char *carve = env_num(M, "APR_CUDA_CARVEOUT");
        C->carveout = carve ? std::max(-1, std::min(100, atoi(carve))) : -1;
        if (C->fast) decode_carveout(C->carveout);  // (-1 too: a context before may have set another)
    }
    C->part_cap = std::max((size_t)hp.n_head * C->S_dec * hp.head_dim, (size_t)B * hp.n_head * hp.head_dim * 4);
    CT(cmalloc(C, (void **)&C->po, sizeof(float) * C->part_cap), "attention scratch");
    CT(cmalloc(C, (void **)&C->pml, sizeof(float) * 2 * (C->part_cap / hp.head_dim + 1)), "attention scratch");
    C->logits_rows = 1;
    {
        cudaError_t e = cudaMalloc((void **)&C->logits, sizeof(float) * C->V);
        if (e != cudaSuccess) C->logits = nullptr;
        CT(e, "logits");
    }
    const int nl_gpu = hp.n_layer - M->l0;
    C->head_stride = (int64_t)p->n_ctx * hp.head_dim;
    C->seq_stride = C->head_stride * hp.n_head_kv;
    C->layer_stride = C->seq_stride * p->n_seq;
    const size_t kv_bytes = sizeof(__half) * (size_t)C->layer_stride * std::max(nl_gpu, 1);
    CT(cmalloc(C, (void **)&C->kc, kv_bytes), "KV cache");
    CT(cmalloc(C, (void **)&C->vc, kv_bytes), "KV cache");
#undef CT
    M->mem += C->mem;
    if (p->kv_type != APR_KV_F16)
        glog(M, APR_LOG_INFO, "CUDA: KV cache kept in F16 (the only type the CUDA backend has)");
    // Prompt GEMMs on wgmma where the build and the GPU have it; APR_CUDA_GEMM=wmma keeps
    // k_hgemm (the reference in tests, and measurements); APR_CUDA_GEMM=tiles takes k_gemm,
    // the path of a GPU without memory for the f16 scratch (tests).
    {
        const char *gemm = env_word(M, "APR_CUDA_GEMM", k_gemm_words);
        C->gemm_tiles = gemm && strcmp(gemm, "tiles") == 0;
        C->wgmma = M->wgmma && !(gemm && (strcmp(gemm, "wmma") == 0 || C->gemm_tiles));
        // The fused form is slower today (7B pp512 17.2k against 20.6k tok/s, bench/NOTES.md,
        // session 8): APR_CUDA_WG_FUSED=1 turns it on (tests, measurements).
        const char *fused = env_num(M, "APR_CUDA_WG_FUSED");
        C->wg_fused = C->wgmma && fused && atoi(fused) == 1;
        const char *deq = env_word(M, "APR_CUDA_DEQ", k_deq_words);
        C->deq_generic = deq && strcmp(deq, "generic") == 0;
        const char *tile = getenv("APR_CUDA_WG_TILE");
        int bm = 0, bn = 0, used = 0;
        if (tile && sscanf(tile, "%dx%d%n", &bm, &bn, &used) == 2 && tile[used] == 0 &&
            ((bm == 128 && (bn == 128 || bn == 192 || bn == 256)) || (bm == 64 && (bn == 64 || bn == 128)))) {
            C->wg_tile_bm = bm;
            C->wg_tile_bn = bn;
        } else if (tile) {
            glog(M, APR_LOG_WARN, "CUDA: APR_CUDA_WG_TILE=%s is not one of 128x128, 128x192, 128x256, 64x64, 64x128: ignored", tile);
        }
    }
    const char *gemm_form = C->gemm_tiles ? "tiles (k_gemm)"
                            : !C->wgmma   ? "wmma (k_hgemm)"
                            : C->wg_fused ? "wgmma (k_wgemm), Q4_K/Q6_K read in the kernel"
                                          : "wgmma (k_wgemm), all types through the f16 scratch";
    glog(M, APR_LOG_INFO, "CUDA: prompt GEMM: %s%s%s", gemm_form,
         C->deq_generic ? ", generic dequantization (k_deq_f16)" : "",
         C->alo ? ", F16/BF16 weights with hi + lo f16 activations" : "");
    if (C->wg_tile_bm) glog(M, APR_LOG_INFO, "CUDA: k_wgemm tiles %dx%d", C->wg_tile_bm, C->wg_tile_bn);
    char trigger_note[96] = "";
    if (C->fast && C->mvs_all && C->attn_trigger_splits > 0 && M->pdl && M->l0 < hp.n_layer &&
        attn_trigger_fits(C, M->layers[M->l0].wo))
        snprintf(trigger_note, sizeof trigger_note, ", wo launched at the attention's input from %d split%s",
                 C->attn_trigger_splits, C->attn_trigger_splits == 1 ? "" : "s");
    char carve_note[48] = "";
    if (C->carveout >= 0) snprintf(carve_note, sizeof carve_note, ", shared-memory carveout %d%%", C->carveout);
    glog(M, APR_LOG_INFO, "CUDA: one-token decode: %s%s%s%s%s%s", !C->fast ? "generic kernels"
                                                  : C->i8   ? "int8 activations (k_mvw8)"
                                                  : C->mvs_all ? "f32 activations, every matrix through k_mvs"
                                                               : "f32 activations (k_mvw, k_mvs)",
         C->fast && C->attn_mma ? (C->attn_mma_cw == 8 ? ", attention on tensor cores (8 scoring warps)"
                                                        : ", attention on tensor cores (4 scoring warps)")
                                : "",
         C->fast && C->attn_early           ? ", attention launched early (PDL after QKV, KV cache prefetched)"
         : C->fast && C->attn_pdl && M->pdl ? ", attention launched with PDL"
                                            : "",
         trigger_note, carve_note, M->pdl ? "" : " (no PDL on this GPU)");
    *cs = C;
    return APR_SUCCESS;
}

static void launched(GCtx *C, int line) {
    C->launches++;
    if (!g_profile) return;
    ProfEv p;
    cudaEventCreate(&p.e);
    cudaEventRecord(p.e, C->st);
    p.line = line;
    g_prof.push_back(p);
}

// Every kernel goes out with programmatic stream serialization on sm_90+ (see pdl_wait),
// also inside the captured graph; each begins with pdl_wait() before it touches memory
// the previous kernel may use. The prompt kernels too: 25 or more plain launches (even of
// an empty kernel) left every later decode graph of the process 5% slower (0.5B: 722 ->
// 767 us per token, bench/NOTES.md, session 4), while launches with the attribute did not.
// APR_CUDA_NO_PDL=1 launches them plainly.
template <typename... KArgs, typename... Args>
static void launch_kernel_(GCtx *C, bool pdl, void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem,
                        Args... args) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = C->st;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = at;
    cfg.numAttrs = C->M->pdl && pdl ? 1 : 0;
    cudaLaunchKernelEx(&cfg, kernel, args...);
}
template <typename... KArgs, typename... Args>
static void launch_kernel(GCtx *C, void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, Args... args) {
    launch_kernel_(C, true, kernel, grid, block, smem, args...);
}

// Launch a job as matvec (n <= 8) or GEMM. mode MV_SWIGLU / MV_ARGMAX only as matvec.
static void launch_mv(GCtx *C, const MVJob &J, const Act &A, int n) {
    const int rows = J.row_end[J.nmat - 1];
    dim3 grid((rows + MV_WARPS - 1) / MV_WARPS), block(MV_WARPS * 32);
    switch (n) {
    case 1: launch_kernel(C, k_matvec<1>, grid, block, 0, J, A); break;
    case 2: launch_kernel(C, k_matvec<2>, grid, block, 0, J, A); break;
    case 3: launch_kernel(C, k_matvec<3>, grid, block, 0, J, A); break;
    case 4: launch_kernel(C, k_matvec<4>, grid, block, 0, J, A); break;
    case 5: launch_kernel(C, k_matvec<5>, grid, block, 0, J, A); break;
    case 6: launch_kernel(C, k_matvec<6>, grid, block, 0, J, A); break;
    case 7: launch_kernel(C, k_matvec<7>, grid, block, 0, J, A); break;
    default: launch_kernel(C, k_matvec<8>, grid, block, 0, J, A); break;
    }
    launched(C, __LINE__);
}

static Act act_in(GCtx *C, int K);

// The f16 weight scratch of the prompt GEMMs grows to the largest matrix group seen.
static bool ensure_scratch(GCtx *C, size_t need) {
    if (need <= C->wscratch_n) return true;
    if (C->wscratch) cudaFree(C->wscratch);
    C->wscratch = nullptr;
    C->wscratch_n = 0;
    if (cudaMalloc((void **)&C->wscratch, need * sizeof(__half)) != cudaSuccess) {
        cudaGetLastError();
        return false;
    }
    C->wscratch_n = need;
    return true;
}

// One k_wgemm launch of tile shape bm x bn (token tiles on blockIdx.x).
template <int T>
static void launch_wgemm(GCtx *C, int bm, int bn, const WSrc &S, const __half *X, int M, int K, int n, float *Y,
                         int ystride, const float *bias, int mode, __half *H, int ldh) {
#define WG_LAUNCH(BM_, BN_)                                                                                           \
    launch_kernel(C, k_wgemm<BM_, BN_, T>, dim3((n + BN_ - 1) / BN_, (M + BM_ - 1) / BM_), BM_ * 2, wg_smem(BM_, BN_), \
                  C->wscratch, S, X, M, n, K, Y, ystride, bias, mode, H, ldh)
    if (bm == 128 && bn == 256) WG_LAUNCH(128, 256);
    else if (bm == 128 && bn == 192) WG_LAUNCH(128, 192);
    else if (bm == 128) WG_LAUNCH(128, 128);
    else if (bn == 128) WG_LAUNCH(64, 128);
    else WG_LAUNCH(64, 64);
#undef WG_LAUNCH
}

// One tensor-core GEMM over the rows of ws[0..nw) (interleave: row by row, for gate and
// up). On wgmma with Q4_K or Q6_K weights of one type (K a multiple of 256) the kernel
// reads them itself (the fused form); otherwise they are first dequantized to the f16
// scratch, one matrix after the other. The tile shape is chosen to cover the SMs. False
// (nothing launched) where it cannot run: K not a multiple of 32, f32 weights (kept in
// f32), or no memory for the scratch.
// hilo: X holds each token's activations in two f16 parts, [n][2K] (k_f16_hilo), and each
// weight row goes to the scratch twice, so that one GEMM of depth 2K sums W hi + W lo.
static bool launch_hgemm(GCtx *C, const DW *const *ws, int nw, bool interleave, const __half *X, bool hilo, int K,
                         int n, float *Y, int ystride, const float *bias, int mode, __half *H, int ldh, int tag) {
    if (K % HG_BK || C->gemm_tiles) return false;
    int M = 0;
    bool one_type = nw <= 3 && (!interleave || nw == 2);
    for (int i = 0; i < nw; i++) {
        if (ws[i]->type == APR_TYPE_F32 || ws[i]->cols != K) return false;
        M += ws[i]->rows;
        one_type = one_type && ws[i]->type == ws[0]->type;
    }
    const int dup = hilo ? 2 : 1;
    K *= dup;  // the GEMM's depth from here on
    const bool wg = C->wgmma && K % WG_BK == 0;
    const int fused = !hilo && wg && C->wg_fused && one_type && K % 256 == 0 &&
                              (ws[0]->type == APR_TYPE_Q4_K || ws[0]->type == APR_TYPE_Q6_K)
                          ? ws[0]->type
                          : 0;
    if (!fused) {
        if (!ensure_scratch(C, (size_t)M * K)) return false;
        int row0 = 0;
        for (int i = 0; i < nw; i++) {
            const DW &w = *ws[i];
            __half *dst = interleave ? C->wscratch : C->wscratch + (size_t)row0 * K;
            const int rm = interleave ? nw : 1, ra = interleave ? i : 0;
            if (!C->deq_generic && !hilo && K % 256 == 0 && (w.type == APR_TYPE_Q4_K || w.type == APR_TYPE_Q6_K)) {
                const int bx = (K / 8 + 255) / 256;
                const dim3 grid(bx, std::min(w.rows, std::max(1, C->M->sms * 8 / bx)));
                if (w.type == APR_TYPE_Q4_K)
                    launch_kernel(C, k_deq_kq_f16<APR_TYPE_Q4_K>, grid, 256, 0, w, dst, rm, ra);
                else
                    launch_kernel(C, k_deq_kq_f16<APR_TYPE_Q6_K>, grid, 256, 0, w, dst, rm, ra);
            } else {
                const int64_t units = (int64_t)w.rows * (w.cols / 16);
                const int blocks = (int)std::min<int64_t>((units + 255) / 256, (int64_t)C->M->sms * 16);
                launch_kernel(C, k_deq_f16, blocks, 256, 0, w, dst, rm, ra, dup);
            }
            launched(C, 2990);
            row0 += w.rows;
        }
    }
    auto blocks = [&](int bm, int bn) { return ((M + bm - 1) / bm) * ((n + bn - 1) / bn); };
    const int sms = C->M->sms;
    if (wg) {
        WSrc S;
        memset(&S, 0, sizeof S);
        for (int i = 0, end = 0; fused && i < nw; i++) {
            S.w[i] = *ws[i];
            S.row_end[i] = end += ws[i]->rows;
        }
        S.interleave = interleave;
        // The largest tile whose grid covers the SMs; 128x128 already from 3/4 of them:
        // 7B's wo and down (112 blocks on 132 SMs) ran faster so than as 64x128 tiles
        // (224 blocks, two per SM): pp512 20,030 -> 20,975 (bench/NOTES.md, session 8).
        // 128x192 where 128x128 tiles would take a second, mostly empty wave and 128x192
        // tiles fit in one (32B's wo and down: 160 blocks of 128x128, 120 of 128x192).
        // APR_CUDA_WG_TILE=BMxBN forces one shape (measurements, tests).
        int bm = C->wg_tile_bm, bn = C->wg_tile_bn;
        if (!bm) {
            if (blocks(128, 256) >= sms) bm = 128, bn = 256;
            else if (blocks(128, 128) > sms && blocks(128, 192) <= sms && blocks(128, 192) * 4 >= sms * 3)
                bm = 128, bn = 192;
            else if (blocks(128, 128) * 4 >= sms * 3) bm = 128, bn = 128;
            else if (blocks(64, 128) >= sms) bm = 64, bn = 128;
            else bm = 64, bn = 64;
        }
        if (fused == APR_TYPE_Q4_K)
            launch_wgemm<APR_TYPE_Q4_K>(C, bm, bn, S, X, M, K, n, Y, ystride, bias, mode, H, ldh);
        else if (fused == APR_TYPE_Q6_K)
            launch_wgemm<APR_TYPE_Q6_K>(C, bm, bn, S, X, M, K, n, Y, ystride, bias, mode, H, ldh);
        else
            launch_wgemm<0>(C, bm, bn, S, X, M, K, n, Y, ystride, bias, mode, H, ldh);
    } else if (blocks(128, 128) >= sms)
        launch_kernel(C, k_hgemm<128, 128>, dim3((M + 127) / 128, (n + 127) / 128), 256, hg_smem(128, 128),
            C->wscratch, X, M, n, K, Y, ystride, bias, mode, H, ldh);
    else if (blocks(64, 128) >= sms)
        launch_kernel(C, k_hgemm<64, 128>, dim3((M + 63) / 64, (n + 127) / 128), 256, hg_smem(64, 128),
            C->wscratch, X, M, n, K, Y, ystride, bias, mode, H, ldh);
    else
        launch_kernel(C, k_hgemm<64, 64>, dim3((M + 63) / 64, (n + 63) / 64), 256, hg_smem(64, 64),
            C->wscratch, X, M, n, K, Y, ystride, bias, mode, H, ldh);
    launched(C, tag);
    return true;
}

// F16 and BF16 weights are exact in f16, a prompt's activations are not: rounded to f16
// (11 bits) they put GPU-vs-CPU logits at 1.9e-3 on tiny-llama F16, where issue 7 asks 1e-3.
// So the GEMMs over such weights take x as hi + lo, hi = f16(x), lo = f16(x - hi) (~22 bits
// of x, as good as the CPU's f32), in one GEMM of depth 2K (launch_hgemm's hilo).
// APR_CUDA_HALF_ACT=f16 keeps the plain f16 form (tests, measurements).
__global__ void k_f16_hilo(const float *x, __half *out, int K, int64_t nk) {
    pdl_wait();  // launched with PDL: see launch_kernel
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < nk; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = i / K, k = i - t * K;
        split_h(x[i], out[t * 2 * K + k], out[t * 2 * K + K + k]);
    }
}

// Whether a prompt GEMM over these weights takes hi + lo activations; if so, C->alo gets
// them from C->ax (the f32 activations of which C->ah holds the f16 copy).
static bool prepare_hilo(GCtx *C, const DW *const *ws, int nw, int K, int n) {
    if (!C->alo || !any_half(ws, nw)) return false;
    const int64_t nk = (int64_t)n * K;
    launch_kernel(C, k_f16_hilo, (int)std::min<int64_t>((nk + 255) / 256, (int64_t)C->M->sms * 8), 256, 0,
                  (const float *)C->ax, C->alo, K, nk);
    launched(C, __LINE__);
    return true;
}

// A prompt's matrix products, n tokens; X = C->ah (f16 of the f32 activations C->ax) or
// the fused SwiGLU's f16 output; x_hilo: X is already in the hi + lo form, [n][2K].
static void launch_mm(GCtx *C, const MVJob &J, const __half *X, int K, int n, bool x_hilo = false) {
    bool f32 = false;
    for (int m = 0; m < J.nmat; m++) f32 |= J.w[m].type == APR_TYPE_F32;
    if (f32) {
        // f32 weights keep f32 precision: matvec 8 tokens at a time (small models only)
        for (int t0 = 0; t0 < n; t0 += 8) {
            MVJob Jc = J;
            for (int m = 0; m < J.nmat; m++) Jc.y[m] += (size_t)t0 * J.ystride[m];
            Act a = act_in(C, K);
            a.x += (size_t)t0 * K;
            a.q += (size_t)t0 * K;
            a.d += (size_t)t0 * (K / 32);
            a.s += (size_t)t0 * (K / 16);
            launch_mv(C, Jc, a, std::min(8, n - t0));
        }
        return;
    }
    const DW *ws[3];
    for (int m = 0; m < J.nmat; m++) ws[m] = &J.w[m];
    const bool hilo = x_hilo || (X == C->ah && prepare_hilo(C, ws, J.nmat, K, n));
    if (hilo && !x_hilo) X = C->alo;
    // one matrix at a time through the f16 GEMM, when the scratch for the largest exists
    size_t need = 0;
    for (int m = 0; m < J.nmat; m++) need = std::max(need, (size_t)J.w[m].rows * K * (hilo ? 2 : 1));
    if (K % HG_BK == 0 && !C->gemm_tiles && ensure_scratch(C, need)) {
        for (int m = 0; m < J.nmat; m++)
            launch_hgemm(C, &ws[m], 1, false, X, hilo, K, n, J.y[m], J.ystride[m], J.bias[m], J.mode,
                         nullptr, 0, K == C->F ? 3004 : 3003);
        return;
    }
    // no scratch: k_gemm dequantizes tile by tile (hilo: a second pass adds W lo)
    MMJob mm;
    memset(&mm, 0, sizeof mm);
    int tiles = 0;
    for (int m = 0; m < J.nmat; m++) {
        mm.w[m] = J.w[m];
        mm.y[m] = J.y[m];
        mm.bias[m] = J.bias[m];
        mm.ystride[m] = J.ystride[m];
        tiles += (J.w[m].rows + GM_BM - 1) / GM_BM;
        mm.tile_end[m] = tiles;
    }
    mm.nmat = J.nmat;
    mm.mode = J.mode;
    dim3 grid(tiles, (n + GM_BN - 1) / GM_BN);
    launch_kernel(C, k_gemm, grid, 128, 0, mm, X, K, hilo ? 2 * K : K, n);
    launched(C, __LINE__);
    if (hilo) {
        mm.mode = MV_ADD;
        for (int m = 0; m < J.nmat; m++) mm.bias[m] = nullptr;
        launch_kernel(C, k_gemm, grid, 128, 0, mm, X + K, K, 2 * K, n);
        launched(C, __LINE__);
    }
}

static MVJob job1(const DW &w, float *y, const float *bias, int ystride, int mode) {
    MVJob J;
    memset(&J, 0, sizeof J);
    J.w[0] = w;
    J.y[0] = y;
    J.bias[0] = bias;
    J.ystride[0] = ystride;
    J.row_end[0] = w.rows;
    J.nmat = 1;
    J.mode = mode;
    return J;
}

static ActOut act_out(GCtx *C, bool want_h, int K) {
    ActOut o;
    o.x = C->ax;
    o.q = C->aq;
    o.d = C->ad;
    o.s = C->as;
    o.h = C->ah;
    o.want_q = (K % 32) == 0;
    o.want_h = want_h;
    return o;
}

static Act act_in(GCtx *C, int K) {
    Act a;
    a.x = C->ax;
    a.q = C->aq;
    a.d = C->ad;
    a.s = C->as;
    a.K = K;
    return a;
}

static int norm_threads(int K) { return K >= 1024 ? 512 : (K >= 256 ? 256 : 128); }

// Everything after the inputs are on the device. tok/pos/seq/rows are device pointers;
// n tokens; n_out output rows; out_mode 0: logits into C->logits, 1: argmax into C->amax.
// The heads and the KV cache layout: fields of RopeP, AttnP and AttnD.
template <typename P>
static void set_heads(P &p, const GCtx *C) {
    const apr_hparams &hp = C->M->hp;
    p.seq_stride = C->seq_stride;
    p.head_stride = C->head_stride;
    p.nh = hp.n_head;
    p.nkv = hp.n_head_kv;
    p.hd = hp.head_dim;
}

// RopeP (prompt rope + KV write) and AttnD (decode attention, which ropes itself): the
// heads, the QKV buffer and the rope of the model.
template <typename P>
static void set_head_rope(P &p, const GCtx *C) {
    const apr_hparams &hp = C->M->hp;
    set_heads(p, C);
    p.qkv = C->qkv;
    p.rope_dim = hp.rope_dim > 0 ? hp.rope_dim : hp.head_dim;
    p.neox = hp.rope_kind == APR_ROPE_NEOX;
    p.base = hp.rope_freq_base;
    p.fscale = hp.rope_freq_scale > 0.f ? hp.rope_freq_scale : 1.f;
    p.eps = hp.norm_eps;
    p.invf = C->M->inv_freq;
}

static apr_result enqueue_forward(GCtx *C, const int *tok, const int *pos, const int *seq, const int *rows,
                                  int n, int n_out, int out_mode, int S, const apr_backend_batch *hb) {
    GModel *M = C->M;
    const apr_hparams &hp = M->hp;
    const int E = C->E, QD = C->QD, KVD = C->KVD, F = C->F;
    const bool gemm = n > 8;
    launch_kernel(C, k_embed, n, 64, 0, M->tok, tok, C->hidden, n, out_mode == 1 ? C->amax : nullptr);
    launched(C, __LINE__);
    if (M->l0 > 0) {
        // partial offload: the first l0 layers run on the CPU on host activations
        cudaMemcpyAsync(C->h_hidden, C->hidden, sizeof(float) * n * E, cudaMemcpyDeviceToHost, C->st);
        if (cudaStreamSynchronize(C->st) != cudaSuccess) return APR_ERROR_BACKEND;
        apr_result r = M->host.cpu_layers(M->host.cpu_user, C, 0, M->l0, C->h_hidden, hb);
        if (r != APR_SUCCESS) return r;
        cudaMemcpyAsync(C->hidden, C->h_hidden, sizeof(float) * n * E, cudaMemcpyHostToDevice, C->st);
    }
    RopeP rp;
    memset(&rp, 0, sizeof rp);
    set_head_rope(rp, C);
    rp.ld = C->QKVD;
    rp.pos = pos;
    rp.seq = seq;
    AttnP ap;
    set_heads(ap, C);
    ap.q = C->qkv;
    ap.ld = C->QKVD;
    ap.S = S;
    ap.scale = 1.f / sqrtf((float)hp.head_dim);
    ap.pos = pos;
    ap.seq = seq;
    ap.po = C->po;
    ap.pml = C->pml;
    const int G = hp.n_head / hp.n_head_kv;
    const size_t attn_smem = sizeof(float) * (G * hp.head_dim + 32 * (hp.head_dim / 2 + 1) + 32 * (hp.head_dim / 2));
    // a prompt (one sequence, consecutive positions) takes the tensor-core attention
    bool prompt_fa = n > 8 && hb && (hp.head_dim == 64 || hp.head_dim == 128) && !g_no_fa;
    for (int i = 1; i < n && prompt_fa; i++)
        prompt_fa = hb->pos[i] == hb->pos[0] + i && (!hb->seq || hb->seq[i] == hb->seq[0]);
    for (int l = M->l0; l < hp.n_layer; l++) {
        const GLayer &g = M->layers[l];
        const int64_t lofs = (int64_t)(l - M->l0) * C->layer_stride;
        // attention block
        launch_kernel(C, k_norm_act, n, norm_threads(E), E * sizeof(float), C->hidden, E, nullptr, g.attn_norm, hp.norm_eps,
                                                                     E, act_out(C, gemm, E));
        launched(C, __LINE__);
        MVJob J;
        memset(&J, 0, sizeof J);
        J.w[0] = g.wq; J.w[1] = g.wk; J.w[2] = g.wv;
        J.y[0] = C->qkv; J.y[1] = C->qkv + QD; J.y[2] = C->qkv + QD + KVD;
        J.bias[0] = g.bq; J.bias[1] = g.bk; J.bias[2] = g.bv;
        J.ystride[0] = J.ystride[1] = J.ystride[2] = C->QKVD;
        J.row_end[0] = QD; J.row_end[1] = QD + KVD; J.row_end[2] = QD + 2 * KVD;
        J.nmat = 3;
        J.mode = MV_STORE;
        const DW *qkv_w[3] = {&g.wq, &g.wk, &g.wv};
        if (gemm) {
            const bool hilo = prepare_hilo(C, qkv_w, 3, E, n);
            const __half *X = hilo ? C->alo : C->ah;
            if (!launch_hgemm(C, qkv_w, 3, false, X, hilo, E, n, C->qkv, C->QKVD, g.bqkv, HG_STORE, nullptr, 0, 3001))
                launch_mm(C, J, X, E, n, hilo);
        } else {
            launch_mv(C, J, act_in(C, E), n);
        }
        rp.qn = g.qn;
        rp.kn = g.kn;
        rp.kc = C->kc + lofs;
        rp.vc = C->vc + lofs;
        launch_kernel(C, k_rope_kv, dim3(n, hp.n_head + 2 * hp.n_head_kv), 64, 0, rp);
        launched(C, __LINE__);
        ap.kc = C->kc + lofs;
        ap.vc = C->vc + lofs;
        if (prompt_fa) {
            const dim3 fg((n + FA_BQ - 1) / FA_BQ, hp.n_head);
            if (hp.head_dim == 64) launch_kernel(C, k_attn_fa<64>, fg, 128, fa_smem(64), ap, n);
            else launch_kernel(C, k_attn_fa<128>, fg, 128, fa_smem(128), ap, n);
        } else {
            launch_kernel(C, k_attn, dim3(hp.n_head_kv, S, n), 32 * G, attn_smem, ap);
        }
        launched(C, __LINE__);
        launch_kernel(C, k_attn_combine, dim3(n, hp.n_head), std::max(32, std::min(256, (hp.head_dim + 31) / 32 * 32)), 0,
            C->po, C->pml, hp.n_head, hp.head_dim, prompt_fa ? 1 : S, act_out(C, gemm, QD));
        launched(C, __LINE__);
        if (hp.head_dim % 32) {
            // quant groups would cross heads: quantize the whole vector in a second pass
            launch_kernel(C, k_norm_act, n, norm_threads(QD), QD * sizeof(float), C->ax, QD, nullptr, nullptr, 0.f, QD,
                                                                         act_out(C, gemm, QD));
            launched(C, __LINE__);
        }
        MVJob Jo = job1(g.wo, C->hidden, g.bo, E, MV_ADD);
        if (gemm) launch_mm(C, Jo, C->ah, QD, n);
        else launch_mv(C, Jo, act_in(C, QD), n);
        // feed-forward block
        launch_kernel(C, k_norm_act, n, norm_threads(E), E * sizeof(float), C->hidden, E, nullptr, g.ffn_norm, hp.norm_eps,
                                                                     E, act_out(C, gemm, E));
        launched(C, __LINE__);
        const DW *gu_w[2] = {&g.gate, &g.up};
        // F16/BF16 weights in the FFN: gate and up take hi + lo activations where they are
        // F16/BF16, and the SwiGLU goes out in the hi + lo form for down
        const bool ffn_hilo = gemm && C->alo && (any_half(gu_w, 2) || is_half_type(g.down.type));
        const bool gu_hilo = ffn_hilo && prepare_hilo(C, gu_w, 2, E, n);
        const __half *X_gu = gu_hilo ? C->alo : C->ah;
        if (gemm && launch_hgemm(C, gu_w, 2, true, X_gu, gu_hilo, E, n, nullptr, 0, nullptr,
                                 ffn_hilo ? HG_SWIGLU_HILO : HG_SWIGLU_H, C->ah2, ffn_hilo ? 2 * F : F, 3002)) {
            // gate, up and SwiGLU in one GEMM; its f16 output feeds down
            launch_mm(C, job1(g.down, C->hidden, nullptr, E, MV_ADD), C->ah2, F, n, ffn_hilo);
        } else if (gemm) {
            MVJob Jg;
            memset(&Jg, 0, sizeof Jg);
            Jg.w[0] = g.gate; Jg.w[1] = g.up;
            Jg.y[0] = C->gate; Jg.y[1] = C->up;
            Jg.ystride[0] = Jg.ystride[1] = F;
            Jg.row_end[0] = F; Jg.row_end[1] = 2 * F;
            Jg.nmat = 2;
            Jg.mode = MV_STORE;
            launch_mm(C, Jg, X_gu, E, n, gu_hilo);
            launch_kernel(C, k_swiglu_act, n, norm_threads(F), F * sizeof(float), C->gate, C->up, F, act_out(C, true, F));
            launched(C, __LINE__);
            launch_mm(C, job1(g.down, C->hidden, nullptr, E, MV_ADD), C->ah, F, n);
        } else {
            MVJob Jg = job1(g.gate, C->gate, nullptr, F, MV_SWIGLU);
            Jg.w[1] = g.up;
            launch_mv(C, Jg, act_in(C, E), n);
            launch_kernel(C, k_norm_act, n, norm_threads(F), F * sizeof(float), C->gate, F, nullptr, nullptr, 0.f, F,
                                                                         act_out(C, false, F));
            launched(C, __LINE__);
            launch_mv(C, job1(g.down, C->hidden, nullptr, E, MV_ADD), act_in(C, F), n);
        }
    }
    // output: final norm of the wanted rows, then the vocabulary projection
    const bool out_gemm = out_mode == 0 && n_out > 8;
    launch_kernel(C, k_norm_act, n_out, norm_threads(E), E * sizeof(float), C->hidden, E, rows, M->out_norm, hp.norm_eps,
                                                                     E, act_out(C, out_gemm, E));
    launched(C, __LINE__);
    if (out_gemm) {
        launch_mm(C, job1(M->out, C->logits, nullptr, C->V, MV_STORE), C->ah, E, n_out);
    } else {
        for (int t0 = 0; t0 < n_out; t0 += 8) {
            const int nt = std::min(8, n_out - t0);
            MVJob Jl = job1(M->out, C->logits + (size_t)t0 * C->V, nullptr, C->V, out_mode == 1 ? MV_ARGMAX : MV_STORE);
            Jl.amax = C->amax + t0;
            Act a = act_in(C, E);
            a.x += (size_t)t0 * E;
            a.q += (size_t)t0 * E;
            a.d += (size_t)t0 * (E / 32);
            a.s += (size_t)t0 * (E / 16);
            launch_mv(C, Jl, a, nt);
        }
    }
    return cudaGetLastError() == cudaSuccess ? APR_SUCCESS : APR_ERROR_BACKEND;
}


// Launch one decode matvec; returns its block count (a residual producer writes one sum
// of squares per block: the consumer's ss_n).
// k_mvw's grid for J: J.ks and J.block_end set, the block count returned.
static int mvq_plan(GCtx *C, MVQ &J) {
    // Split a row pair's chunks over ks warps when a warp would need more than one round
    // of loads, or when there are too few row pairs to fill the GPU; slices stay >= 16 chunks.
    int pairs = 0;
    for (int m = 0; m < J.nmat; m++) pairs += (J.w[m].rows + 1) / 2;
    const int nc = chunks_per_row(J.w[0].type, J.w[0].cols);
    const int per_round = 32 * (J.mode == MV_SWIGLU ? 1 : MVQ_U);
    const int target = C->M->sms * 24;
    int ks = 1;
    while (ks < 8 && (nc > ks * per_round || pairs * ks < target) && nc / (ks * 2) >= 16) ks *= 2;
    auto count = [&](int k) {
        const int rpb = (MVQ_THREADS / 32 / k) * 2;  // rows per block
        int blocks = 0;
        for (int m = 0; m < J.nmat; m++) {
            blocks += (J.w[m].rows + rpb - 1) / rpb;
            J.block_end[m] = blocks;
        }
        for (int m = J.nmat; m < 3; m++) J.block_end[m] = blocks;
        return blocks;
    };
    // A second wave of blocks pays the whole chain of latencies again (0.5B's ffn_down:
    // 448 blocks for 396 slots): fewer warps per row pair instead, down to one.
    const int slots = C->M->sms * MVQ_MINB;
    if (C->mvq_one_wave)
        while (ks > 1 && count(ks) > slots) ks /= 2;
    J.ks = ks;
    return count(ks);
}

static int launch_mvq(GCtx *C, MVQ &J) {
    const int blocks = mvq_plan(C, J);
    J.prefetch = C->M->pdl;
    launch_kernel(C, k_mvw, dim3(blocks), dim3(MVQ_THREADS), 0, J);
    launched(C, __LINE__);
    return blocks;
}

// Decode attention of one token (both decode forms): the parameters shared by every layer
// (the caller sets the layer's norms and cache), and the launch.
static AttnD attn_dec_params(GCtx *C, const int *pos, const int *seq) {
    const apr_hparams &hp = C->M->hp;
    AttnD ap;
    memset(&ap, 0, sizeof ap);
    set_head_rope(ap, C);
    ap.S = C->S_dec;
    ap.min_chunk = C->attn_min_chunk;
    ap.scale = 1.f / sqrtf((float)hp.head_dim);
    ap.pos = pos;
    ap.seq = seq;
    ap.po = C->po;
    ap.pml = C->pml;
    ap.out = C->attn_out;
    ap.counter = C->counter;
    ap.trigger = C->attn_trigger;
    return ap;
}
template <int TILE>
static void launch_attn_dec_tile(GCtx *C, dim3 grid, dim3 block, size_t smem, const AttnD &ap) {
    const int hd = C->attn_any_hd ? 0 : ap.hd;  // 0: the instance for any head size
    if (hd == 128) launch_kernel_(C, C->attn_pdl, k_attn_dec<TILE, 128>, grid, block, smem, ap);
    else if (hd == 64) launch_kernel_(C, C->attn_pdl, k_attn_dec<TILE, 64>, grid, block, smem, ap);
    else launch_kernel_(C, C->attn_pdl, k_attn_dec<TILE, 0>, grid, block, smem, ap);
}
static void launch_attn_dec(GCtx *C, const AttnD &ap) {
    const int G = ap.nh / ap.nkv;
    if (C->attn_mma) {
        const int cw = C->attn_mma_cw;
        const dim3 grid(ap.nkv, C->S_dec), block(32 * attn_mma_warps(G, cw));
        const size_t smem = attn_mma_smem(G, ap.hd, cw);
        const AttnKernel k = ap.hd == 128 ? attn_mma_kernel<128>(cw, C->attn_poison) : attn_mma_kernel<64>(cw, C->attn_poison);
        launch_kernel_(C, C->attn_pdl, k, grid, block, smem, ap);
        launched(C, __LINE__);
        return;
    }
    const size_t smem = attn_dec_smem(G, ap.hd, C->attn_tile);
    const dim3 grid(ap.nkv, C->S_dec), block(32 * G);
    if (C->attn_tile == 64) launch_attn_dec_tile<64>(C, grid, block, smem, ap);
    else launch_attn_dec_tile<32>(C, grid, block, smem, ap);
    launched(C, __LINE__);
}

// A k_mvs job of one matrix: the f32 form reads x (then q == nullptr), the int8 form q/d/s.
// ss_n: the input's RMSNorm sums of squares in C->ssp (0: the input is not normalized).
static MVS mvs1(GCtx *C, const DW &w, float *y, const float *bias, int mode, const float *x, int ss_n) {
    MVS J;
    memset(&J, 0, sizeof J);
    J.w[0] = J.w[1] = J.w[2] = w;
    J.y[0] = y;
    J.bias[0] = bias;
    J.mode = mode;
    J.x = x;
    J.ss_in = ss_n ? C->ssp : nullptr;
    J.ss_n = ss_n;
    J.eps = C->M->hp.norm_eps;
    J.amax = C->amax;
    return J;
}

// A k_mvs matrix's tasks: its row pairs, or (MV_SWIGLU) its rows, each with up's.
static int mvs_tasks(const DW &w, int mode) { return mode == MV_SWIGLU ? w.rows : (w.rows + 1) / 2; }

// Resident blocks per SM of kernel k at `threads` threads a block and the f32 form's shared
// memory for the largest width, asked once into *per_sm (0: not asked yet; 1 where the
// query fails).
static int mvs_blocks_per_sm(GCtx *C, int *per_sm, MvsKernel k, int threads) {
    if (!*per_sm && (cudaOccupancyMaxActiveBlocksPerMultiprocessor(per_sm, k, threads, mvs_smem_bytes(C->Kmax)) !=
                         cudaSuccess ||
                     *per_sm < 1))
        *per_sm = 1;
    return *per_sm;
}

// ... of the k_mvs kernel of this kind and types (the SPLIT instances have the same launch
// bounds).
static int mvs_per_sm(GCtx *C, int kind, int ta, int tb) {
    int *per_sm = kind == MVS_MULTI ? &C->mvs_multi_per_sm[ta & 31][tb & 31] : &C->mvs_per_sm[(ta & 31) + 32 * (kind == MVS_RES)];
    return mvs_blocks_per_sm(C, per_sm, mvs_kernel(kind, ta, tb), MVQ_THREADS);
}

// Steps per task of a row of `cols` columns of type ta in the SPLIT instances (k_mvs_res,
// k_mvs_multi: mvs_pp pairs of chunks per lane for Q4_K).
static int mvs_split_steps(int ta, int cols) {
    const int cps = 64 * (ta == APR_TYPE_Q4_K ? MVS_PP_RES : 1);
    return (chunks_per_row(ta, cols) + cps - 1) / cps;
}

// How launch_mvs lays out a grid of `tasks` tasks in all over matrices of types ta .. tb and
// `cols` columns (f32 form): a block per 8 tasks (MVS_GRID_PLAIN); or, for types with
// SPLIT instances, their steps shared by the warps of mvs_spread_tasks tasks a block where
// blocks of 8 would fill under mvs_spread_pct % of the SMs' count (MVS_GRID_SPREAD), or of
// all the slots where they would fill under half of them and a task takes mvs_fill steps
// or more (MVS_GRID_FILL). The reasons and measurements are at launch_mvs.
enum { MVS_GRID_PLAIN, MVS_GRID_SPREAD, MVS_GRID_FILL };
static int mvs_grid(GCtx *C, int kind, int ta, int tb, int tasks, int cols) {
    if (C->mvs_split >= 0 || !mvs_kernel(kind, ta, tb, true)) return MVS_GRID_PLAIN;
    const int blocks_of_8 = (tasks + MVQ_THREADS / 32 - 1) / (MVQ_THREADS / 32);
    if ((int64_t)blocks_of_8 * 100 < (int64_t)C->mvs_spread_pct * C->M->sms) return MVS_GRID_SPREAD;
    if (C->mvs_fill > 0 && mvs_split_steps(ta, cols) >= C->mvs_fill &&
        2 * blocks_of_8 < mvs_per_sm(C, kind, ta, tb) * C->M->sms)
        return MVS_GRID_FILL;
    return MVS_GRID_PLAIN;
}

// How a k_mvs launch lays out its work: the instance, the grid's form, and per matrix the
// end of its blocks and the tasks of each (task_q, the first task_r one more). launch_mvs
// launches it; attn_trigger_fits asks it of wo.
struct MvsPlan {
    MvsKernel k;
    bool split;  // k is the SPLIT instance
    int grid;    // MVS_GRID_*
    int slots;   // resident blocks the GPU holds of this kernel
    int blocks, block_end[3], task_q[3], task_r[3];
    int dyn_static;  // k is the DYN instance: the rounds at the fixed stride before the counters (else 0)
    int dyn_pools;   // ... and its pools (counters)
    double task_ns;  // a task's time, estimated (0: not known)
    bool dyn;
    int threads;     // a block's threads (MVQ_THREADS; twice that for k_mvs_res_wide)
};

static MvsPlan mvs_plan(GCtx *C, const MVS &J, int nmat) {
    GModel *M = C->M;
    MvsPlan P;
    // k_mvs_res for a residual (with or without a bias), k_mvs_multi for several matrices or
    // a bias (QKV), else k_mvs. (Until session 7 a residual with a bias, wo of a model with
    // attn_output.bias, went to k_mvs_multi, which stores instead of adding: test-wide has
    // such a bias now.)
    const int ta = J.w[0].type, tb = J.w[nmat - 1].type;
    const int kind = J.mode == MV_ADD ? MVS_RES : (nmat > 1 || J.bias[0] ? MVS_MULTI : MVS_PLAIN);
    P.k = mvs_kernel(kind, ta, tb);
    MvsKernel k_split = J.q || C->mvs_split == 0 ? nullptr : mvs_kernel(kind, ta, tb, true);
    const int per_block = MVQ_THREADS / 32;
    P.slots = mvs_per_sm(C, kind, ta, tb) * M->sms;
    int tasks[3], want[3], total = 0, all_tasks = 0;
    for (int m = 0; m < nmat; m++) {
        tasks[m] = mvs_tasks(J.w[m], J.mode);
        all_tasks += tasks[m];
    }
    // Spread: a block per 8 tasks leaves most SMs idle where the matrices are small (0.5B's
    // ffn_down: 56 blocks for 132 SMs), and each warp's task is one chain of loads and dot
    // products. Grids under mvs_spread_pct % of the SMs' count, of types with a SPLIT
    // instance, take mvs_spread_tasks (4) tasks a block instead, their steps shared by the
    // block's eight warps: 0.5B tg128 +5% on an H100 (three tasks: +3%; bench/NOTES.md,
    // session 16). Whole tasks on fewer warps a block (0.5B's Q5_0 wo) were slower.
    //
    // Fill: where blocks of 8 tasks would take under half the slots and the tasks are long
    // (4 steps or more), all the slots, the steps shared by the warps: 1.5B's ffn_down Q6_K
    // (96 blocks of 5 steps a task; 264 slots): 1.5B tg128 +2.1% on an H100, +2.4% on an
    // H200. 7B's ffn_down (224 blocks of 8 tasks of 5 or 10 steps), filled too, read +0.3%
    // on the H100 but -1.2% on the H200: hence the half. From 2 steps (1.5B's Q4_K ffn_down
    // too): +1.6% (bench/NOTES.md, session 16).
    P.grid = k_split ? mvs_grid(C, kind, ta, tb, all_tasks, J.w[0].cols) : MVS_GRID_PLAIN;
    const bool spread = P.grid == MVS_GRID_SPREAD, fill = P.grid == MVS_GRID_FILL;
    // APR_CUDA_MVS_SPLIT=1 (tests): three tasks a block, so that most blocks share some
    const int tasks_per_block = k_split && C->mvs_split == 1 ? 3 : spread ? C->mvs_spread_tasks : per_block;
    for (int m = 0; m < nmat; m++) {
        want[m] = fill ? std::max(1, (int)((int64_t)P.slots * tasks[m] / all_tasks))
                       : (tasks[m] + tasks_per_block - 1) / tasks_per_block;
        total += want[m];
    }
    // a block per 8 tasks where that fits in one wave, else the slots shared by task count
    P.blocks = 0;
    for (int m = 0; m < nmat; m++) {
        const int nb = total <= P.slots ? want[m] : std::max(1, (int)((int64_t)P.slots * want[m] / total));
        P.blocks += nb;
        P.block_end[m] = P.blocks;
        P.task_q[m] = tasks[m] / nb;
        P.task_r[m] = tasks[m] % nb;
    }
    for (int m = nmat; m < 3; m++) P.block_end[m] = P.blocks, P.task_q[m] = P.task_r[m] = 0;
    // The SPLIT instance where whole tasks per warp would leave the last round mostly idle
    // and a task has steps to share: the first matrix's rounds (tasks per warp, x) rounded up
    // 15% or more above x, and two steps or more per task. 32B (run 113): wo and ffn_down
    // (x = 1.21), QKV (1.71); nothing of 0.5B-7B (but the spread and filled grids above).
    if (k_split && C->mvs_split < 0 && !spread && !fill) {
        const double x = (double)tasks[0] / (P.block_end[0] * per_block);
        if (mvs_split_steps(ta, J.w[0].cols) < 2 || std::ceil(x) < 1.15 * x) k_split = nullptr;
    }
    P.split = k_split != nullptr;
    if (k_split) P.k = k_split;
    // WIDE (k_mvs_res_wide): a residual matrix of a plain or SPLIT grid takes a block per
    // 16 tasks instead of 8 (SPLIT: the slots, one block per SM where there were two), so
    // that each SM reads and quantizes the input once. The rule: inputs of 8,192 columns or
    // more (ffn_down) where the wide grid still covers 3/4 of the SMs (7B: 112 blocks; a
    // 3B's 64 would leave half of them idle). Against the same build without it: 7B on the
    // H100 tg128 +0.6%, @ d4096 +0.2% (run 225), on the H200 +1.2%, +0.3% (run 226); 32B
    // (SPLIT) on the H100 +1.0%, +0.7% (run 231). With wo too (APR_CUDA_RES_WIDE=1) the
    // H100's 7B tg128 +1.1% but @ d4096 -0.2%: wo's blocks, launched during a long
    // attention, wait for whole SMs (bench/NOTES.md, session 25).
    P.threads = MVQ_THREADS;
    const int wide_blocks = (tasks[0] + 2 * per_block - 1) / (2 * per_block);
    const bool wide = C->res_wide_cols < 0 ? J.w[0].cols >= 8192 && 4 * wide_blocks >= 3 * M->sms
                                           : C->res_wide_cols > 0 && J.w[0].cols >= C->res_wide_cols;
    MvsKernel k_wide = kind == MVS_RES && !J.q && (!P.split || C->res_wide_split) && P.grid == MVS_GRID_PLAIN && wide
                           ? mvs_wide_kernel(ta, P.split)
                           : nullptr;
    if (k_wide) {
        P.k = k_wide;
        P.threads = 2 * MVQ_THREADS;
        P.slots = mvs_blocks_per_sm(C, &C->mvs_wide_per_sm[ta & 31], k_wide, P.threads) * M->sms;
        P.blocks = std::min(P.slots, wide_blocks);
        if (P.split && C->mvs_split == 1) P.blocks = std::min(P.slots, (tasks[0] + 4) / 5);  // (tests: tasks shared)
        for (int m = 0; m < 3; m++) P.block_end[m] = P.blocks;
        P.task_q[0] = tasks[0] / P.blocks;
        P.task_r[0] = tasks[0] % P.blocks;
    }
    // The DYN instance (a lone matrix of k_mvs, f32 form, with counters: gate/up) where the
    // warps have more than mvs_dyn rounds of tasks and a task takes mvs_dyn_min_ns or more:
    // its last mvs_dyn rounds (floor) are handed out by the counters. A task's time is
    // estimated as its bytes (two rows) over the warps' share of the peak bandwidth.
    // Measured (bench/NOTES.md, session 20), the last two rounds, H100: 7B tg128 +1.3%, 7B @
    // d4096 +1.3%, 32B tg128 +1.1% (one round: 7B alike, 32B +0.4%). The DYN loop costs
    // a warp the wait for its grabs where a task is short: the H200's 7B gate/up (~1.8 us a
    // task) -1.2% with every task at the fixed stride in that loop (one failing grab a warp)
    // and -1.2% with the grabs; 1.5B's on the H100 (~1.1 us) -3%. Hence 2 us. Not for the
    // output matrix (no counter given): +0.2% on the H100's 7B (~3.7 us), -0.7% on the
    // H200's (~2.6 us).
    P.dyn = false;
    P.dyn_static = 0;
    P.dyn_pools = 1;
    int64_t task_bytes = 0;  // two rows: a pair, or gate's and up's
    for (int f = 0; f < 4; f++) task_bytes += 2 * (int64_t)J.w[0].nb * J.w[0].fbytes[f];
    P.task_ns = M->mem_bw > 0 ? task_bytes * (double)P.blocks * per_block / M->mem_bw * 1e9 : 0;
    if (kind == MVS_PLAIN && !J.q && J.dyn_counter && C->mvs_dyn > 0 && mvs_dyn_kernel(ta) &&
        (P.task_ns >= C->mvs_dyn_min_ns || C->mvs_dyn_min_ns == 0)) {
        if (C->mvs_dyn_blocks > 0 && P.blocks > C->mvs_dyn_blocks)
            P.blocks = P.block_end[0] = P.block_end[1] = P.block_end[2] = C->mvs_dyn_blocks;
        const int rounds = tasks[0] / (P.blocks * per_block);
        P.dyn = rounds > C->mvs_dyn || C->mvs_dyn_blocks > 0;
        if (P.dyn) {
            P.k = mvs_dyn_kernel(ta);
            P.dyn_static = std::max(0, rounds - C->mvs_dyn);
            P.dyn_pools = std::min(C->mvs_dyn_pools, P.blocks);
        }
    }
    return P;
}

// Launch k_mvs over J's first nmat matrices (one type and width): a grid of resident
// blocks, split between the matrices by their tasks (mvs_plan). Returns the number of
// blocks (the ss_n of a residual written with ss_out).
static int launch_mvs(GCtx *C, MVS &J, int nmat, bool pdl) {
    GModel *M = C->M;
    const MvsPlan P = mvs_plan(C, J, nmat);
    for (int m = 0; m < 3; m++) J.block_end[m] = P.block_end[m], J.task_q[m] = P.task_q[m], J.task_r[m] = P.task_r[m];
    J.dyn_static = P.dyn_static;
    J.dyn_pools = P.dyn_pools;
    if (P.dyn && !C->dyn_logged)
        glog(M, APR_LOG_INFO,
             "CUDA: k_mvs takes the tasks of its last %d rounds from a counter (DYN) from a %dx%d matrix on (~%.1f us a task)",
             C->mvs_dyn, J.w[0].rows, J.w[0].cols, P.task_ns / 1e3);
    C->dyn_logged = C->dyn_logged || P.dyn;
    if (P.split && !C->split_logged)
        glog(M, APR_LOG_INFO, "CUDA: k_mvs shares tasks between warps (SPLIT) from a %dx%d matrix on", J.w[0].rows,
             J.w[0].cols);
    C->split_logged = C->split_logged || P.split;
    const bool spread = P.grid == MVS_GRID_SPREAD, fill = P.grid == MVS_GRID_FILL;
    if ((spread || fill) && !C->spread_logged)
        glog(M, APR_LOG_INFO, "CUDA: k_mvs spreads a %dx%d matrix over %d blocks (%s)", J.w[0].rows, J.w[0].cols,
             P.blocks, spread ? "a few tasks a block" : "every slot");
    C->spread_logged = C->spread_logged || spread || fill;
    if (P.threads > MVQ_THREADS && !C->wide_logged)
        glog(M, APR_LOG_INFO, "CUDA: k_mvs_res_wide takes a %dx%d matrix in %d blocks of %d warps", J.w[0].rows,
             J.w[0].cols, P.blocks, P.threads / 32);
    C->wide_logged = C->wide_logged || P.threads > MVQ_THREADS;
    const size_t smem = J.q ? (size_t)0 : mvs_smem_bytes(J.w[0].cols);
    launch_kernel_(C, pdl, P.k, dim3(P.blocks), dim3(P.threads), smem, J, J.q ? 1 : 0);
    launched(C, __LINE__);
    return P.blocks;
}

// Whether decode attention may let wo launch before it ends (trigger_end at its combine,
// trigger_splits at its input): wo's k_mvs_res grid as launch_mvs plans it and one
// attention block per kv head fit in the GPU's slots together. Not where wo's grid fills
// every slot (32B: 264 blocks for 264 slots), as a wo block then waits for the attention's
// SM (context_create).
static bool attn_trigger_fits(GCtx *C, const DW &wo) {
    const MVS J = mvs1(C, wo, nullptr, nullptr, MV_ADD, nullptr, 0);
    const MvsPlan P = mvs_plan(C, J, 1);
    return P.grid != MVS_GRID_FILL && P.blocks + C->M->hp.n_head_kv <= P.slots;
}

static MVQ mvq1(const DW &w, float *y, const float *bias, int mode, const float *x) {
    MVQ J;
    memset(&J, 0, sizeof J);
    J.w[0] = w;
    J.y[0] = y;
    J.bias[0] = bias;
    J.nmat = 1;
    J.mode = mode;
    J.x = x;
    return J;
}

// k_ring_res's launch for a residual matrix, where it is asked for and fits: its grid in
// *blocks, its shared memory in *smem (false: not this matrix).
// The rule: the matrices whose k_mvs_res grid would fill every slot (MVS_GRID_FILL: few
// rows, long ones; 1.5B's ffn_down), where one block per SM streaming whole rows beats the
// filled grid: 1.5B tg128 +0.9..1.7% on an H100, +0.9..1.2% on an H200 (runs 216-217), and
// +0.4..0.6% more with the rows dealt in turn (run 251). Not 7B's ffn_down (224 blocks of
// k_mvs_res_wide): -0.7..-0.9% there with the rows dealt in turn (run 251; -2.9% with a run
// of rows a block); its input's quantization still costs ~4.5% of the token in this kernel,
// and its large shared memory keeps its blocks from starting beside gate/up's
// (bench/NOTES.md, sessions 23 and 28).
static bool ring_plan(GCtx *C, const DW &w, RingJ &J, int *blocks, size_t *smem) {
    GModel *M = C->M;
    if (!C->ring_min_cols || (w.type != APR_TYPE_Q4_K && w.type != APR_TYPE_Q6_K)) return false;
    if (C->ring_min_cols > 0 && w.cols < C->ring_min_cols) return false;
    if (C->ring_min_cols < 0 && mvs_plan(C, mvs1(C, w, nullptr, nullptr, MV_ADD, nullptr, 0), 1).grid != MVS_GRID_FILL)
        return false;
    const int nf = ring_streamed(w.type);
    int64_t stage = 0;
    for (int f = 0; f < nf; f++) {
        const int rb = ring_row_bytes(w, f);
        if (rb % 16 || ((uintptr_t)w.f[f] & 15)) return false;  // bulk copies move 16-byte units
        stage += rb;
    }
    if ((uintptr_t)w.f[nf] & 15 || w.cols % 32) return false;
    int grid = C->ring_blocks > 0 ? std::min(C->ring_blocks, M->sms) : M->sms;
    grid = std::max(1, std::min(grid, w.rows));
    J.rows_q = w.rows / grid;
    J.rows_r = w.rows % grid;
    J.last_cap = (int)align16((size_t)ring_row_bytes(w, nf)) + 16;  // (a row's range rounded out to 16 at both ends)
    stage += J.last_cap;
    J.depth = (int)std::max<int64_t>(1, std::min<int64_t>(RING_DEPTH_MAX, C->ring_bytes / (RING_WARPS * stage)));
    const size_t need = (size_t)w.cols * 3 / 2 + (size_t)RING_WARPS * J.depth * stage;
    if (need > (size_t)M->smem_dyn) return false;
    J.pre = C->ring_pre;
    *blocks = grid;
    *smem = need;
    return true;
}

// A residual matrix of the f32 form (wo, ffn_down): hidden += W x (+ bias), then
// hidden * norm_w into xw for the next matrix and its sums of squares into ssp; through
// k_ring_res (ring_plan), k_mvs_res (mvs_all) or k_mvw. Returns the next matrix's ss_n.
static int launch_residual(GCtx *C, const DW &w, const float *bias, const float *x, const float *norm_w) {
    RingJ R;
    memset(&R, 0, sizeof R);
    int ring_blocks = 0;
    size_t ring_smem = 0;
    if (C->mvs_all && ring_plan(C, w, R, &ring_blocks, &ring_smem)) {
        R.w = w;
        R.y = C->hidden;
        R.x = x;
        R.bias = bias;
        R.xw_out = C->xw;
        R.norm_w = norm_w;
        R.ss_out = C->ssp;
        if (!C->ring_logged)
            glog(C->M, APR_LOG_INFO, "CUDA: k_ring_res streams a %dx%d matrix through %d stages of shared memory a block (%d blocks)",
                 w.rows, w.cols, RING_WARPS * R.depth, ring_blocks);
        C->ring_logged = true;
        const dim3 block((RING_WARPS + 1) * 32);
        if (w.type == APR_TYPE_Q4_K) launch_kernel(C, k_ring_res<APR_TYPE_Q4_K>, dim3(ring_blocks), block, ring_smem, R);
        else launch_kernel(C, k_ring_res<APR_TYPE_Q6_K>, dim3(ring_blocks), block, ring_smem, R);
        launched(C, __LINE__);
        return ring_blocks;
    }
    if (C->mvs_all) {
        MVS J = mvs1(C, w, C->hidden, bias, MV_ADD, x, 0);  // not normalized: k_mvs_res ignores ss_in
        J.xw_out = C->xw;
        J.norm_w = norm_w;
        J.ss_out = C->ssp;
        return launch_mvs(C, J, 1, true);
    }
    MVQ J = mvq1(w, C->hidden, bias, MV_ADD, x);
    J.xw_out = C->xw;
    J.norm_w = norm_w;
    J.ss_out = C->ssp;
    return launch_mvq(C, J);
}

// One token, everything fused as far as it goes: 2 + 5 * n_layer launches. xw holds the
// residual stream times the next norm's weight, ssp its sums of squares per block of the
// kernel that wrote it (ss_n of them).
static apr_result enqueue_decode1(GCtx *C, const int *tok, const int *pos, const int *seq, int out_mode) {
    GModel *M = C->M;
    const apr_hparams &hp = M->hp;
    const int QD = C->QD, KVD = C->KVD;
    launch_kernel(C, k_embed_norm, dim3(1), dim3(MVQ_THREADS), (size_t)0, M->tok, tok, C->hidden,
               (const float *)M->layers[M->l0].attn_norm, C->xw, C->amax, C->ssp);
    launched(C, __LINE__);
    int ss_n = 1;
    AttnD ap = attn_dec_params(C, pos, seq);
    for (int l = M->l0; l < hp.n_layer; l++) {
        const GLayer &g = M->layers[l];
        const int64_t lofs = (int64_t)(l - M->l0) * C->layer_stride;
        if (C->mvs_all) {
            // wq, wk, wv in one k_mvs_multi launch, those of wq's type first (Q4_K_M: wv is
            // Q6_K in some layers); a pair of types without an instance: a launch per type
            const DW *w[3] = {&g.wq, &g.wk, &g.wv};
            float *y[3] = {C->qkv, C->qkv + QD, C->qkv + QD + KVD};
            const float *b[3] = {g.bq, g.bk, g.bv};
            int order[3], n = 0;
            for (int pass = 0; pass < 2; pass++)
                for (int k = 0; k < 3; k++)
                    if ((w[k]->type == g.wq.type) == (pass == 0)) order[n++] = k;
            const int tb = w[order[2]]->type;
            bool three_types = false;
            for (int k = 0; k < 3; k++) three_types |= w[k]->type != g.wq.type && w[k]->type != tb;
            const bool one_launch = !three_types && mvs_kernel(MVS_MULTI, g.wq.type, tb);
            for (int i = 0; i < 3;) {
                MVS J = mvs1(C, *w[order[i]], y[order[i]], b[order[i]], MV_STORE, C->xw, ss_n);
                int nm = 0;
                for (; i < 3 && (one_launch || w[order[i]]->type == J.w[0].type); i++, nm++) {
                    J.w[nm] = *w[order[i]];
                    J.y[nm] = y[order[i]];
                    J.bias[nm] = b[order[i]];
                }
                // the launch before the attention (a lone matrix without a bias goes to k_mvs,
                // which triggers at its start: the attention's blocks then wait beside it)
                if (C->attn_early && i == 3) {
                    J.trigger_late = 1;
                    J.kv_pf = {C->kc + lofs, C->vc + lofs, pos, seq, C->seq_stride, C->head_stride, hp.n_head_kv,
                               hp.head_dim};
                }
                launch_mvs(C, J, nm, true);
            }
        } else {
            MVQ J = mvq1(g.wq, C->qkv, g.bq, MV_STORE, C->xw);
            J.w[1] = g.wk; J.w[2] = g.wv;
            J.y[1] = C->qkv + QD; J.y[2] = C->qkv + QD + KVD;
            J.bias[1] = g.bk; J.bias[2] = g.bv;
            J.nmat = 3;
            J.ss_in = C->ssp;
            J.ss_n = ss_n;
            J.eps = hp.norm_eps;
            launch_mvq(C, J);
        }
        ap.qn = g.qn;
        ap.kn = g.kn;
        ap.kc = C->kc + lofs;
        ap.vc = C->vc + lofs;
        // Attention is launched with PDL where QKV runs in k_mvs (attn_pdl: early or not, see
        // context_create); with the old matvec kernels its blocks, waiting beside QKV's,
        // cost 17% at 4096 positions (bench/NOTES.md, session 2).
        const bool wo_fits = C->mvs_all && attn_trigger_fits(C, g.wo);
        ap.trigger_end = C->attn_trigger_end && wo_fits;
        ap.trigger_splits = wo_fits ? C->attn_trigger_splits : 0;
        launch_attn_dec(C, ap);
        ss_n = launch_residual(C, g.wo, g.bo, C->attn_out, g.ffn_norm);
        if (C->mvs_ffn) {
            MVS Jg = mvs1(C, g.gate, C->gate, nullptr, MV_SWIGLU, C->xw, ss_n);
            Jg.w2 = g.up;
            Jg.dyn_counter = C->mvs_dyn_counter + MVS_DYN_SPAN * l;
            launch_mvs(C, Jg, 1, true);
        } else {
            MVQ Jg = mvq1(g.gate, C->gate, nullptr, MV_SWIGLU, C->xw);
            Jg.w[1] = g.up;
            Jg.ss_in = C->ssp;
            Jg.ss_n = ss_n;
            Jg.eps = hp.norm_eps;
            launch_mvq(C, Jg);
        }
        const float *next_norm = l + 1 < hp.n_layer ? M->layers[l + 1].attn_norm : M->out_norm;
        ss_n = launch_residual(C, g.down, nullptr, C->gate, next_norm);
    }
    if (C->mvs) {
        MVS Jl = mvs1(C, M->out, C->logits, nullptr, out_mode == 1 ? MV_ARGMAX : MV_STORE, C->xw, ss_n);
        launch_mvs(C, Jl, 1, true);
    } else {
        MVQ Jl = mvq1(M->out, C->logits, nullptr, out_mode == 1 ? MV_ARGMAX : MV_STORE, C->xw);
        Jl.amax = C->amax;
        Jl.ss_in = C->ssp;
        Jl.ss_n = ss_n;
        Jl.eps = hp.norm_eps;
        launch_mvq(C, Jl);
    }
    return cudaGetLastError() == cudaSuccess ? APR_SUCCESS : APR_ERROR_BACKEND;
}

static void launch_mvq8(GCtx *C, MVQ8 &J) {
    int blocks = 0;
    // split rows over several warps when there are too few row pairs to fill the GPU
    int pairs = 0;
    for (int m = 0; m < J.nmat; m++) pairs += (J.w[m].rows + 1) / 2;
    const int nc = chunks_per_row(J.w[0].type, J.w[0].cols);
    const int target = C->M->sms * 24;
    int ks = 1;
    while (ks < 8 && pairs * ks < target && nc / (ks * 2) >= 32) ks *= 2;
    J.ks = ks;
    for (int m = 0; m < J.nmat; m++) {
        J.R[m] = (MVQ_THREADS / 32 / ks) * 2;  // rows per block (SwiGLU: two rows of gate and up per warp)
        blocks += (J.w[m].rows + J.R[m] - 1) / J.R[m];
        J.block_end[m] = blocks;
    }
    J.counter = C->mvq_counter;
    // no PDL for this form: measured slower with it (7B tg128 297.6 -> 291.5, 32B 93.4 -> 86.8)
    launch_kernel_(C, false, k_mvw8, dim3(blocks), dim3(MVQ_THREADS), 0, J);
    launched(C, __LINE__);
}

static MVQ8 mvq18(const DW &w, float *y, const float *bias, int mode, const int8_t *q, const float *d, const int *s) {
    MVQ8 J;
    memset(&J, 0, sizeof J);
    J.w[0] = w;
    J.y[0] = y;
    J.bias[0] = bias;
    J.nmat = 1;
    J.mode = mode;
    J.q = q;
    J.d = d;
    J.s = s;
    return J;
}

// The int8 form of enqueue_decode1, 2 + 5 * n_layer launches. The int8 activation
// alternates between two buffers (A: normalized residual, B: attention output / SwiGLU
// output) because a matrix's post step writes the next one's input.
static apr_result enqueue_decode1_i8(GCtx *C, const int *tok, const int *pos, const int *seq, int out_mode) {
    GModel *M = C->M;
    const apr_hparams &hp = M->hp;
    const int E = C->E, QD = C->QD, KVD = C->KVD;
    launch_kernel_(C, false, k_embed_norm8, dim3(1), dim3(MVQ_THREADS), E * sizeof(float), M->tok, tok, C->hidden,
               (const float *)M->layers[M->l0].attn_norm, hp.norm_eps, C->aq, C->ad, C->as, C->amax, C->ssp);
    launched(C, __LINE__);
    AttnD ap = attn_dec_params(C, pos, seq);
    ap.oq = C->aq2;  // the output quantized for wo
    ap.od = C->ad2;
    ap.os = C->as2;
    for (int l = M->l0; l < hp.n_layer; l++) {
        const GLayer &g = M->layers[l];
        const int64_t lofs = (int64_t)(l - M->l0) * C->layer_stride;
        MVQ8 J = mvq18(g.wq, C->qkv, g.bq, MV_STORE, C->aq, C->ad, C->as);
        J.w[1] = g.wk; J.w[2] = g.wv;
        J.y[1] = C->qkv + QD; J.y[2] = C->qkv + QD + KVD;
        J.bias[1] = g.bk; J.bias[2] = g.bv;
        J.nmat = 3;
        J.ss_in = C->ssp;
        J.ss_n = E / 32;
        J.eps = hp.norm_eps;
        launch_mvq8(C, J);
        ap.qn = g.qn;
        ap.kn = g.kn;
        ap.kc = C->kc + lofs;
        ap.vc = C->vc + lofs;
        launch_attn_dec(C, ap);
        MVQ8 Jo = mvq18(g.wo, C->hidden, g.bo, MV_ADD, C->aq2, C->ad2, C->as2);
        Jo.post = POST_GROUP;
        Jo.post_w = g.ffn_norm;
        Jo.ss_out = C->ssp;
        Jo.oq = C->aq; Jo.od = C->ad; Jo.os = C->as;
        launch_mvq8(C, Jo);
        MVQ8 Jg = mvq18(g.gate, C->gate, nullptr, MV_SWIGLU, C->aq, C->ad, C->as);
        Jg.w[1] = g.up;
        Jg.ss_in = C->ssp;
        Jg.ss_n = E / 32;
        Jg.eps = hp.norm_eps;
        Jg.oq = C->aq2; Jg.od = C->ad2; Jg.os = C->as2;
        launch_mvq8(C, Jg);
        MVQ8 Jd = mvq18(g.down, C->hidden, nullptr, MV_ADD, C->aq2, C->ad2, C->as2);
        Jd.post = POST_GROUP;
        Jd.post_w = l + 1 < hp.n_layer ? M->layers[l + 1].attn_norm : M->out_norm;
        Jd.ss_out = C->ssp;
        Jd.oq = C->aq; Jd.od = C->ad; Jd.os = C->as;
        launch_mvq8(C, Jd);
    }
    if (C->mvs) {
        MVS Jl = mvs1(C, M->out, C->logits, nullptr, out_mode == 1 ? MV_ARGMAX : MV_STORE, nullptr, E / 32);
        Jl.q = C->aq;
        Jl.d = C->ad;
        Jl.s = C->as;
        launch_mvs(C, Jl, 1, false);
    } else {
        MVQ8 Jl = mvq18(M->out, C->logits, nullptr, out_mode == 1 ? MV_ARGMAX : MV_STORE, C->aq, C->ad, C->as);
        Jl.amax = C->amax;
        Jl.ss_in = C->ssp;
        Jl.ss_n = E / 32;
        Jl.eps = hp.norm_eps;
        launch_mvq8(C, Jl);
    }
    return cudaGetLastError() == cudaSuccess ? APR_SUCCESS : APR_ERROR_BACKEND;
}

static void ctx_log_cuda(GCtx *C, const char *what) {
    cudaError_t e = cudaGetLastError();
    glog(C->M, APR_LOG_ERROR, "CUDA: %s failed: %s", what, cudaGetErrorString(e));
}

static apr_result check_batch(GCtx *C, const apr_backend_batch *b) {
    if (!b || b->n_tokens <= 0 || b->n_tokens > C->B || !b->tokens || !b->pos || b->n_out < 0 ||
        b->n_out > b->n_tokens || (b->n_out > 0 && !b->out_rows))
        return APR_ERROR_INVALID_ARGUMENT;
    for (int i = 0; i < b->n_tokens; i++) {
        const int s = b->seq ? b->seq[i] : 0;
        if (b->tokens[i] < 0 || b->tokens[i] >= C->M->tok.rows || b->pos[i] < 0 || b->pos[i] >= C->p.n_ctx ||
            s < 0 || s >= C->p.n_seq)
            return APR_ERROR_INVALID_ARGUMENT;
    }
    for (int i = 0; i < b->n_out; i++)
        if (b->out_rows[i] < 0 || b->out_rows[i] >= b->n_tokens) return APR_ERROR_INVALID_ARGUMENT;
    return APR_SUCCESS;
}

// mode 0: logits to host (n_out rows), 1: argmax tokens
static apr_result run_forward(GCtx *C, const apr_backend_batch *b, int mode, float *logits, int32_t *tokens_out) {
    apr_result r = check_batch(C, b);
    if (r != APR_SUCCESS) return r;
    GModel *M = C->M;
    const int n = b->n_tokens, n_out = b->n_out;
    if (n_out == 0 && mode == 1) mode = 0;
    if (mode == 0 && (size_t)std::max(n_out, 1) > C->logits_rows) {
        cudaStreamSynchronize(C->st);
        cudaFree(C->logits);
        C->logits = nullptr;
        if (cudaMalloc((void **)&C->logits, sizeof(float) * (size_t)n_out * C->V) != cudaSuccess) {
            C->logits_rows = 0;
            ctx_log_cuda(C, "logits allocation");
            return APR_ERROR_OUT_OF_MEMORY;
        }
        C->logits_rows = n_out;
    }
    const bool graphable = n == 1 && M->l0 == 0 && n_out == 1 && !g_profile;
    if (graphable) {
        C->h_in1[0] = b->tokens[0];
        C->h_in1[1] = b->pos[0];
        C->h_in1[2] = b->seq ? b->seq[0] : 0;
        C->h_in1[3] = 0;
        cudaGraphExec_t &ge = C->graph[mode == 1 ? 0 : 1];
        if (!ge) {
            cudaGraph_t graph;
            C->launches = 0;
            if (cudaStreamBeginCapture(C->st, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
                ctx_log_cuda(C, "graph capture");
                return APR_ERROR_BACKEND;
            }
            cudaMemcpyAsync(C->d_in1, C->h_in1, 4 * sizeof(int), cudaMemcpyHostToDevice, C->st);
            if (C->fast && C->i8) r = enqueue_decode1_i8(C, C->d_in1, C->d_in1 + 1, C->d_in1 + 2, mode);
            else if (C->fast) r = enqueue_decode1(C, C->d_in1, C->d_in1 + 1, C->d_in1 + 2, mode);
            else r = enqueue_forward(C, C->d_in1, C->d_in1 + 1, C->d_in1 + 2, C->d_in1 + 3, 1, 1, mode, C->S_dec, b);
            if (mode == 1)
                cudaMemcpyAsync(C->h_amax, C->amax, sizeof(unsigned long long), cudaMemcpyDeviceToHost, C->st);
            else
                cudaMemcpyAsync(C->h_logits, C->logits, sizeof(float) * C->V, cudaMemcpyDeviceToHost, C->st);
            cudaError_t e = cudaStreamEndCapture(C->st, &graph);
            if (r != APR_SUCCESS || e != cudaSuccess) {
                ctx_log_cuda(C, "graph capture");
                return APR_ERROR_BACKEND;
            }
            e = cudaGraphInstantiate(&ge, graph, 0);
            cudaGraphDestroy(graph);
            if (e != cudaSuccess) {
                ge = nullptr;
                ctx_log_cuda(C, "graph instantiation");
                return APR_ERROR_BACKEND;
            }
            C->launches_decode = C->launches;
        }
        if (cudaGraphLaunch(ge, C->st) != cudaSuccess || cudaStreamSynchronize(C->st) != cudaSuccess) {
            ctx_log_cuda(C, "decode step");
            return APR_ERROR_BACKEND;
        }
        if (mode == 1) tokens_out[0] = (int32_t)(0xFFFFFFFFu - (uint32_t)(C->h_amax[0] & 0xFFFFFFFFu));
        else memcpy(logits, C->h_logits, sizeof(float) * C->V);
        return APR_SUCCESS;
    }
    // general path: a batch of tokens, maybe several sequences
    int *h = C->h_in;
    const int B = C->B;
    int maxpos = 0;
    for (int i = 0; i < n; i++) {
        h[i] = b->tokens[i];
        h[B + i] = b->pos[i];
        h[2 * B + i] = b->seq ? b->seq[i] : 0;
        maxpos = std::max(maxpos, b->pos[i]);
    }
    for (int i = 0; i < std::max(n_out, 1); i++) h[3 * B + i] = n_out ? b->out_rows[i] : n - 1;
    for (int k = 0; k < 4; k++)
        cudaMemcpyAsync(C->d_in + k * B, h + k * B, sizeof(int) * n, cudaMemcpyHostToDevice, C->st);
    const apr_hparams &hp = M->hp;
    int S = std::min(C->S_dec, (maxpos + 1 + 63) / 64);
    S = std::max(1, std::min(S, (int)(C->part_cap / ((size_t)n * hp.n_head * hp.head_dim))));
    C->launches = 0;
    if (g_profile) launched(C, 0);
    const int no = std::max(n_out, 1);
    if (n == 1 && no == 1 && C->fast && M->l0 == 0)
        r = C->i8 ? enqueue_decode1_i8(C, C->d_in, C->d_in + B, C->d_in + 2 * B, mode)
                  : enqueue_decode1(C, C->d_in, C->d_in + B, C->d_in + 2 * B, mode);
    else
        r = enqueue_forward(C, C->d_in, C->d_in + B, C->d_in + 2 * B, C->d_in + 3 * B, n, no, mode, S, b);
    if (r != APR_SUCCESS) {
        ctx_log_cuda(C, "forward");
        return r;
    }
    if (mode == 1) {
        cudaMemcpyAsync(C->h_amax, C->amax, sizeof(unsigned long long) * no, cudaMemcpyDeviceToHost, C->st);
        if (cudaStreamSynchronize(C->st) != cudaSuccess) {
            ctx_log_cuda(C, "forward");
            return APR_ERROR_BACKEND;
        }
        for (int i = 0; i < n_out; i++)
            tokens_out[i] = (int32_t)(0xFFFFFFFFu - (uint32_t)(C->h_amax[i] & 0xFFFFFFFFu));
    } else {
        if (n_out > 0 && logits)
            cudaMemcpyAsync(logits, C->logits, sizeof(float) * (size_t)n_out * C->V, cudaMemcpyDeviceToHost, C->st);
        if (cudaStreamSynchronize(C->st) != cudaSuccess) {
            ctx_log_cuda(C, "forward");
            return APR_ERROR_BACKEND;
        }
    }
    prof_flush(C->st);
    return APR_SUCCESS;
}

static apr_result forward(void *cs, const apr_backend_batch *b, float *logits) {
    return run_forward((GCtx *)cs, b, 0, logits, nullptr);
}
static apr_result forward_argmax(void *cs, const apr_backend_batch *b, int32_t *tokens_out) {
    if (!tokens_out) return run_forward((GCtx *)cs, b, 0, nullptr, nullptr);
    return run_forward((GCtx *)cs, b, 1, nullptr, tokens_out);
}
// Positions are the caller's: attention reads only positions <= the token's own, so
// truncation needs nothing on the device.
static void seq_truncate(void *cs, int32_t seq, int32_t n_keep) { (void)cs; (void)seq; (void)n_keep; }
static int launches_per_token(void *cs) { return cs ? ((GCtx *)cs)->launches_decode : 0; }

static const apr_backend_vtable g_vtable = {
    APR_BACKEND_ABI, "CUDA", model_load, model_free, device_name, context_create, context_free,
    forward, forward_argmax, seq_truncate, launches_per_token, memory_used,
};

#ifdef _WIN32
#define APR_CUDA_EXPORT extern "C" __declspec(dllexport)
#else
#define APR_CUDA_EXPORT extern "C" __attribute__((visibility("default")))
#endif

APR_CUDA_EXPORT const apr_backend_vtable *apr_cuda_backend(uint32_t abi_version) {
    return abi_version == APR_BACKEND_ABI ? &g_vtable : nullptr;
}

// ------------------------------------------------------------------------------------
// Self-tests of device helpers against their references (tests/test_cuda.c finds this
// entry point with dlsym; apr.h never calls it)
// ------------------------------------------------------------------------------------

// Input group g of the quant16v test: 16 finite floats of one of eight shapes (signed
// halves and integers that land on rounding ties, magnitudes from 2^-100 to 2^100,
// denormals (made from their bits: the build flushes denormal arithmetic to zero), mostly
// zeros, a single nonzero value, all negative, equal magnitudes).
__device__ float selftest_value(uint32_t seed, int g, int i) {
    uint32_t h = seed ^ (uint32_t)g * 0x9E3779B1u ^ (uint32_t)i * 0x85EBCA77u;
    h ^= h >> 15, h *= 0x2C1B3C6Du, h ^= h >> 12, h *= 0x297A2D39u, h ^= h >> 15;
    const float u = (float)(h >> 8) * (1.f / 16777216.f) * 2.f - 1.f;  // [-1, 1)
    switch (g & 7) {
    case 0: return (float)((int)(h % 509u) - 254) * 0.5f;                   // halves up to 127
    case 1: return (float)((int)(h % 255u) - 127);                          // integers, amax 127
    case 2: return u * exp2f((float)((int)(h % 200u) - 100));               // 2^-100 .. 2^100
    case 3: return __uint_as_float((h & 0x807FFFFFu) | 1u);                 // denormals
    case 4: return i == (int)(seed % 16u) ? u * 3.f : 0.f;                  // one nonzero value
    case 5: return (h & 3u) ? 0.f : u;                                      // mostly zeros
    case 6: return -fabsf(u) * 17.f;                                        // all negative
    default: return i & 1 ? 0.37f : -0.37f;                                 // equal magnitudes
    }
}

__global__ void k_selftest_quant16(int n, uint32_t seed, unsigned int *bad) {
    for (int g = blockIdx.x * blockDim.x + threadIdx.x; g < n; g += gridDim.x * blockDim.x) {
        float v[16];
#pragma unroll
        for (int i = 0; i < 16; i++) v[i] = selftest_value(seed, g, i);
        int4 qf, qr;
        float df, dr;
        int sf, sr;
        quant16v(v, qf, df, sf);
        quant16v_ref(v, qr, dr, sr);
        if (qf.x != qr.x || qf.y != qr.y || qf.z != qr.z || qf.w != qr.w || __float_as_uint(df) != __float_as_uint(dr) ||
            sf != sr)
            atomicAdd(bad, 1u);
    }
}

// name "quant16": quant16v against quant16v_ref on 2^22 generated groups (bitwise).
// Returns the number of mismatching groups, or -1 (unknown name, no GPU, a CUDA error).
APR_CUDA_EXPORT int apr_cuda_selftest(const char *name) {
    if (!name || strcmp(name, "quant16") != 0) return -1;
    unsigned int *bad = nullptr, h_bad = 0;
    if (cudaMalloc((void **)&bad, sizeof *bad) != cudaSuccess) return -1;
    bool ok = cudaMemset(bad, 0, sizeof *bad) == cudaSuccess;
    for (uint32_t seed = 1; ok && seed <= 4; seed++) {
        k_selftest_quant16<<<1024, 256>>>(1 << 20, seed * 0x1234567u, bad);
        ok = cudaGetLastError() == cudaSuccess;
    }
    ok = ok && cudaMemcpy(&h_bad, bad, sizeof h_bad, cudaMemcpyDeviceToHost) == cudaSuccess;
    cudaFree(bad);
    return ok ? (int)h_bad : -1;
}
