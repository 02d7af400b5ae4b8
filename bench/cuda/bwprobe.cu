// bench/cuda/bwprobe.cu - the GPU's read bandwidth, as a decode step's matvecs see it: a
// streaming read of a buffer far larger than L2 (int4 loads through the read-only path,
// U loads in flight per thread before they are used), for a sweep of blocks per SM and U;
// and the device-to-device copy (read + write) that ANCHORS.md's rooflines use. Device only.
//   nvcc -O3 -arch=sm_90a -o /tmp/bwprobe bench/cuda/bwprobe.cu && /tmp/bwprobe [MiB]
#include <cstdio>
#include <cstdlib>
#include <cuda_runtime.h>

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { \
    fprintf(stderr, "bwprobe: %s: %s\n", #x, cudaGetErrorString(e_)); return 1; } } while (0)

template <int U>
__global__ void k_read(const int4 *__restrict__ p, size_t n, int *sink) {
    int acc = 0;
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (; i + (U - 1) * stride < n; i += U * stride) {
        int4 v[U];
#pragma unroll
        for (int u = 0; u < U; u++) v[u] = __ldg(p + i + u * stride);
#pragma unroll
        for (int u = 0; u < U; u++) acc ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
    }
    for (; i < n; i += stride) { const int4 v = __ldg(p + i); acc ^= v.x ^ v.y ^ v.z ^ v.w; }
    if (acc == 0x12345678) *sink = acc;  // never true for the buffer's contents: keeps the loads
}

template <int U>
static float time_read(const int4 *p, size_t n, int *sink, int blocks, int reps) {
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    k_read<U><<<blocks, 256>>>(p, n, sink);  // warm-up
    float best = 1e30f;
    for (int r = 0; r < reps; r++) {
        cudaEventRecord(a);
        k_read<U><<<blocks, 256>>>(p, n, sink);
        cudaEventRecord(b);
        cudaEventSynchronize(b);
        float ms;
        cudaEventElapsedTime(&ms, a, b);
        if (ms < best) best = ms;
    }
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    return best;
}

int main(int argc, char **argv) {
    const size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 2048;
    if (mib < 64 || mib > 65536) { fprintf(stderr, "usage: bwprobe [MiB, 64..65536]\n"); return 2; }
    const size_t bytes = mib << 20, n = bytes / sizeof(int4);
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    int4 *p, *q;
    int *sink;
    CK(cudaMalloc(&p, bytes));
    CK(cudaMalloc(&q, bytes));
    CK(cudaMalloc(&sink, sizeof(int)));
    CK(cudaMemset(p, 1, bytes));
    printf("%s, %d SMs, L2 %d MiB, buffer %zu MiB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20, mib);
    const int reps = 10;
    double best = 0;
    printf("read GB/s   U=1      U=2      U=4      U=8   (blocks of 256 per SM: rows)\n");
    for (int bps = 1; bps <= 8; bps *= 2) {
        const int blocks = bps * prop.multiProcessorCount;
        float ms[4] = {time_read<1>(p, n, sink, blocks, reps), time_read<2>(p, n, sink, blocks, reps),
                       time_read<4>(p, n, sink, blocks, reps), time_read<8>(p, n, sink, blocks, reps)};
        CK(cudaGetLastError());
        printf("  %d/SM ", bps);
        for (int k = 0; k < 4; k++) {
            const double gbs = bytes / (ms[k] * 1e-3) / 1e9;
            if (gbs > best) best = gbs;
            printf(" %8.1f", gbs);
        }
        printf("\n");
    }
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    float cbest = 1e30f;
    for (int r = 0; r < reps; r++) {
        cudaEventRecord(a);
        CK(cudaMemcpyAsync(q, p, bytes, cudaMemcpyDeviceToDevice));
        cudaEventRecord(b);
        cudaEventSynchronize(b);
        float ms;
        cudaEventElapsedTime(&ms, a, b);
        if (ms < cbest) cbest = ms;
    }
    printf("best streaming read %.1f GB/s; device-to-device copy %.1f GB/s (read + write)\n", best,
           2.0 * bytes / (cbest * 1e-3) / 1e9);
    return 0;
}
