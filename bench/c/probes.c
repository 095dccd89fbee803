/* This machine's compute roofline: the peak rate of independent vector
 * fused multiply-adds, at 128 bits (what Cranelift emits) and at 512 bits
 * (AVX-512's width; GCC's vector extension splits it where the machine has
 * less). Twelve independent accumulators, each started from a different
 * value read at run time so the compiler can neither merge nor fold the
 * chains, cover the FMA latency on two pipes. Returns the flops done (2
 * per lane per FMA). */
#include <stdint.h>

typedef float v4 __attribute__((vector_size(16)));
typedef float v16 __attribute__((vector_size(64)));

#define PROBE(NAME, V, LANES)                                                       \
    double NAME(long iters, const float *seed, float *sink) {                       \
        V a[12], m, c;                                                              \
        for (int l = 0; l < LANES; l++) { m[l] = seed[0]; c[l] = seed[1]; }          \
        for (int k = 0; k < 12; k++)                                                \
            for (int l = 0; l < LANES; l++) a[k][l] = seed[2] * (float)(k * LANES + l); \
        V a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5];         \
        V a6 = a[6], a7 = a[7], a8 = a[8], a9 = a[9], a10 = a[10], a11 = a[11];     \
        for (long i = 0; i < iters; i++) {                                          \
            a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;     \
            a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;     \
            a8 = a8 * m + c; a9 = a9 * m + c; a10 = a10 * m + c; a11 = a11 * m + c; \
        }                                                                           \
        V s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;         \
        float t = 0;                                                                \
        for (int l = 0; l < LANES; l++) t += s[l];                                  \
        *sink = t;                                                                  \
        return (double)iters * 12.0 * LANES * 2.0;                                  \
    }

PROBE(pj_probe_fma128, v4, 4)
PROBE(pj_probe_fma512, v16, 16)
