/* Plain-loop C versions of the example kernels: what a programmer writes
 * first, compiled with `cc -O3 -march=native` by build.rs. `cargo bench`
 * measures picojoule against these in the same run. Same semantics as the
 * .pj examples (boundary modes included); no manual vectorization, tiling
 * or threading. */
#include <math.h>
#include <stdint.h>

static inline long clampl(long i, long n) { return i < 0 ? 0 : (i >= n ? n - 1 : i); }
static inline long mirrorl(long i, long n) {
    long p = 2 * n, m = i % p;
    if (m < 0) m += p;
    return m < n ? m : p - 1 - m;
}

void c_blur(const float *in, float *out, float *bx, long h, long w) {
    for (long y = -1; y <= h; y++)
        for (long x = 0; x < w; x++) {
            long yy = clampl(y, h);
            bx[(y + 1) * w + x] = (in[yy * w + clampl(x - 1, w)] + in[yy * w + x] + in[yy * w + clampl(x + 1, w)]) / 3.0f;
        }
    for (long y = 0; y < h; y++)
        for (long x = 0; x < w; x++)
            out[y * w + x] = (bx[y * w + x] + bx[(y + 1) * w + x] + bx[(y + 2) * w + x]) / 3.0f;
}

void c_unsharp(const float *img, float amount, float *out, float *bx, long h, long w) {
    for (long y = -1; y <= h; y++)
        for (long x = 0; x < w; x++) {
            long yy = mirrorl(y, h);
            bx[(y + 1) * w + x] = (img[yy * w + mirrorl(x - 1, w)] + 2.0f * img[yy * w + x] + img[yy * w + mirrorl(x + 1, w)]) / 4.0f;
        }
    for (long y = 0; y < h; y++)
        for (long x = 0; x < w; x++) {
            float b = (bx[y * w + x] + 2.0f * bx[(y + 1) * w + x] + bx[(y + 2) * w + x]) / 4.0f;
            float v = img[y * w + x] + amount * (img[y * w + x] - b);
            out[y * w + x] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
        }
}

void c_chain(const float *x, float a, float b, float *y, long n) {
    float scale = a * 2.0f;
    for (long i = 0; i < n; i++) {
        float t = scale * x[i] + b;
        t = t > 0.0f ? t : 0.0f;
        y[i] = t * t;
    }
}

void c_softmax(const float *x, float *y, long n, long c) {
    for (long i = 0; i < n; i++) {
        const float *r = x + i * c;
        float m = -INFINITY;
        for (long j = 0; j < c; j++) m = r[j] > m ? r[j] : m;
        float s = 0.0f;
        for (long j = 0; j < c; j++) { float e = expf(r[j] - m); y[i * c + j] = e; s += e; }
        for (long j = 0; j < c; j++) y[i * c + j] /= s;
    }
}

void c_layernorm(const float *x, const float *gamma, const float *beta, float eps, float *y, long n, long c) {
    for (long i = 0; i < n; i++) {
        const float *r = x + i * c;
        float s = 0.0f;
        for (long j = 0; j < c; j++) s += r[j];
        float mean = s / (float)c;
        float v = 0.0f;
        for (long j = 0; j < c; j++) v += (r[j] - mean) * (r[j] - mean);
        float var = v / (float)c;
        float inv = sqrtf(var + eps);
        for (long j = 0; j < c; j++) y[i * c + j] = (r[j] - mean) / inv * gamma[j] + beta[j];
    }
}

void c_matmul(const float *a, const float *b, float *c, long m, long k, long n) {
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            float s = 0.0f;
            for (long p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
            c[i * n + j] = s;
        }
}

void c_qdot(const uint8_t *a, const int8_t *b, int32_t *c, long m, long k, long n) {
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            int32_t s = 0;
            for (long p = 0; p < k; p++) s += (int32_t)a[i * k + p] * (int32_t)b[p * n + j];
            c[i * n + j] = s;
        }
}

void c_conv2d(const float *img, const float *filt, float *out, long h, long w, long r, long s) {
    for (long y = 0; y < h; y++)
        for (long x = 0; x < w; x++) {
            float acc = 0.0f;
            for (long i = 0; i < r; i++)
                for (long j = 0; j < s; j++) {
                    long yy = y + i - r / 2, xx = x + j - s / 2;
                    float v = (yy >= 0 && yy < h && xx >= 0 && xx < w) ? img[yy * w + xx] : 0.0f;
                    acc += v * filt[i * s + j];
                }
            out[y * w + x] = acc;
        }
}
