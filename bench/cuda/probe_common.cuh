// bench/cuda/probe_common.cuh - what the standalone GPU probes (mkprobe.cu, ffnprobe.cu) share:
// error checks, apr's int8-per-16 quantization (quant16), Q4_K's scale decoding, random Q4_K
// weights and a plain streaming read (the bandwidth bound). Not part of apr. A probe defines
// PROBE_NAME (its error messages' prefix) before including it.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#ifndef PROBE_NAME
#define PROBE_NAME "probe"
#endif

#define CK(x)                                                                                  \
    do {                                                                                       \
        cudaError_t e_ = (x);                                                                  \
        if (e_ != cudaSuccess) {                                                               \
            fprintf(stderr, "%s: %s: %s (line %d)\n", PROBE_NAME, #x, cudaGetErrorString(e_), __LINE__); \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

#define QBLK 144                 // bytes of a Q4_K block of 256 weights

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float silu(float g) { return g / (1.f + __expf(-g)); }

// 16 values to int8 (amax / 127, round to nearest even), their scale and sum
__device__ __forceinline__ void quant16(const float (&v)[16], int4 &q, float &d, int &s) {
    float amax = 0.f;
#pragma unroll
    for (int i = 0; i < 16; i++) amax = fmaxf(amax, fabsf(v[i]));
    d = amax / 127.f;
    const float id = amax > 0.f ? 127.f / amax : 0.f;
    int w[4], sum = 0;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int b[4];
#pragma unroll
        for (int k = 0; k < 4; k++) b[k] = __float2int_rn(v[4 * i + k] * id), sum += b[k];
        w[i] = (b[0] & 0xFF) | ((b[1] & 0xFF) << 8) | ((b[2] & 0xFF) << 16) | ((uint32_t)b[3] << 24);
    }
    q = make_int4(w[0], w[1], w[2], w[3]);
    s = sum;
}

__device__ __forceinline__ void load16(const float *x, float (&v)[16]) {
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const float4 t = __ldcg((const float4 *)x + i);  // L2: the input was written by other SMs
        v[4 * i] = t.x, v[4 * i + 1] = t.y, v[4 * i + 2] = t.z, v[4 * i + 3] = t.w;
    }
}

// Byte i (0..11) of a Q4_K block's scales, from its three words
__device__ __forceinline__ int sbyte(uint32_t s0, uint32_t s1, uint32_t s2, int i) {
    const uint32_t w = i < 4 ? s0 : i < 8 ? s1 : s2;
    return (w >> (8 * (i & 3))) & 0xFF;
}

__device__ __forceinline__ void scale_min(uint32_t s0, uint32_t s1, uint32_t s2, int j, int &sc, int &m) {
    if (j < 4) {
        sc = sbyte(s0, s1, s2, j) & 63;
        m = sbyte(s0, s1, s2, j + 4) & 63;
    } else {
        sc = (sbyte(s0, s1, s2, j + 4) & 0xF) | ((sbyte(s0, s1, s2, j - 4) >> 6) << 4);
        m = (sbyte(s0, s1, s2, j + 4) >> 4) | ((sbyte(s0, s1, s2, j) >> 6) << 4);
    }
}

__device__ __forceinline__ uint32_t hash(uint64_t i, uint32_t seed) {
    uint64_t z = i * 0x9E3779B97F4A7C15ull + seed;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)(z ^ (z >> 31));
}

// random Q4_K blocks with small d and dmin, so that 28 layers stay finite
__global__ void k_fill_q4k(uint8_t *w, size_t nblk, uint32_t seed) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < nblk; i += (size_t)gridDim.x * blockDim.x) {
        uint32_t *q = (uint32_t *)(w + i * QBLK);
        for (int k = 1; k < QBLK / 4; k++) q[k] = hash(i * 64 + k, seed);
        const float d = 2e-4f * (1.f + (hash(i, seed ^ 7) & 255) / 256.f), dm = 7.5f * d;  // weights of mean ~0
        __half2 h = __floats2half2_rn(d, dm);
        q[0] = *(uint32_t *)&h;
    }
}

__global__ void k_fill_f32(float *x, int n, uint32_t seed, float lo, float hi) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        x[i] = lo + (hi - lo) * (hash(i, seed) & 0xFFFFFF) / 16777216.f;
}

__global__ void k_read(const int4 *__restrict__ p, size_t n, int *sink) {
    int acc = 0;
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (; i + 3 * stride < n; i += 4 * stride) {
        int4 v[4];
#pragma unroll
        for (int u = 0; u < 4; u++) v[u] = __ldg(p + i + u * stride);
#pragma unroll
        for (int u = 0; u < 4; u++) acc ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
    }
    for (; i < n; i += stride) { const int4 v = __ldg(p + i); acc ^= v.x ^ v.y ^ v.z ^ v.w; }
    if (acc == 0x12345678) *sink = acc;
}

static float elapsed(cudaEvent_t a, cudaEvent_t b) {
    float ms;
    CK(cudaEventElapsedTime(&ms, a, b));
    return ms;
}
