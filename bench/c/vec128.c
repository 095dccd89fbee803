/* Hand-vectorized versions of the memory-bound kernels whose targets
 * picojoule's Cranelift backend misses, written with 128-bit vectors (GCC's
 * vector extension: SSE on x86_64, NEON on aarch64) and ordinary stores —
 * what a 128-bit code generator could reach at best on this machine, by
 * the structure a careful programmer would choose:
 *
 * - chain: one pass, four vectors per iteration;
 * - blur, unsharp: one pass per row over a ring of three rows of the
 *   horizontal blur (the row below computed in the same loop that writes
 *   the output row), edges scalar;
 * - softmax: per row, a max pass, an exp-and-sum pass writing `exp` into the
 *   output, a division pass over it in place; `exp` is picojoule's own
 *   algorithm (`pj_runtime::math::expf`) in four lanes.
 *
 * Same arithmetic as the .pj examples; sums in other orders (softmax's
 * lanes), so results agree to rounding, as the C baselines do.
 * `cargo bench` reports these beside picojoule as "128-bit C". */
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef float v4 __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

static inline v4 ld(const float *p) { v4 v; memcpy(&v, p, 16); return v; }
static inline void st(float *p, v4 v) { memcpy(p, &v, 16); }
static inline v4 splat(float x) { return (v4){x, x, x, x}; }
/* `a > b ? a : b` lane by lane */
static inline v4 vmax(v4 a, v4 b) {
    v4i m = a > b;
    return (v4)(((v4i)a & m) | ((v4i)b & ~m));
}
static inline v4 vmin(v4 a, v4 b) {
    v4i m = a < b;
    return (v4)(((v4i)a & m) | ((v4i)b & ~m));
}

void c128_chain(const float *x, float a, float b, float *y, long n) {
    float scale = a * 2.0f;
    v4 s = splat(scale), bb = splat(b), z = splat(0.0f);
    long i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k += 4) {
            v4 t = vmax(s * ld(x + i + k) + bb, z);
            st(y + i + k, t * t);
        }
    for (; i < n; i++) {
        float t = scale * x[i] + b;
        t = t > 0.0f ? t : 0.0f;
        y[i] = t * t;
    }
}

static inline long clampl(long i, long n) { return i < 0 ? 0 : (i >= n ? n - 1 : i); }

/* A ring of three rows of `bx` for rows -1..h: slot of row r. */
static inline float *slot(float *ring, long r, long w) { return ring + ((r + 3) % 3) * w; }

/* Scalar `bx` of blur at (row `yy`, column x), clamped columns. */
static inline float blur_bx(const float *row, long x, long w) {
    return (row[clampl(x - 1, w)] + row[x] + row[clampl(x + 1, w)]) / 3.0f;
}

static void blur_bx_row(const float *in, float *dst, long y, long h, long w) {
    const float *r = in + clampl(y, h) * w;
    for (long x = 0; x < w; x++) dst[x] = blur_bx(r, x, w);
}

void c128_blur(const float *in, float *out, float *ring, long h, long w) {
    if (h <= 0 || w <= 0) return;
    v4 third = splat(3.0f);
    blur_bx_row(in, slot(ring, -1, w), -1, h, w);
    blur_bx_row(in, slot(ring, 0, w), 0, h, w);
    for (long y = 0; y < h; y++) {
        const float *r = in + clampl(y + 1, h) * w;
        float *above = slot(ring, y - 1, w), *mid = slot(ring, y, w), *below = slot(ring, y + 1, w);
        float *o = out + y * w;
        long x = 0;
        /* column 0 and the last columns read past the edge: scalar */
        for (; x < w && x < 1; x++) {
            below[x] = blur_bx(r, x, w);
            o[x] = (above[x] + mid[x] + below[x]) / 3.0f;
        }
        for (; x + 4 <= w - 1; x += 4) {
            v4 b = (ld(r + x - 1) + ld(r + x) + ld(r + x + 1)) / third;
            st(below + x, b);
            st(o + x, (ld(above + x) + ld(mid + x) + b) / third);
        }
        for (; x < w; x++) {
            below[x] = blur_bx(r, x, w);
            o[x] = (above[x] + mid[x] + below[x]) / 3.0f;
        }
    }
}

/* Unsharp's mirror boundary reaches one past each edge: the edge itself. */
static inline float unsharp_bx(const float *row, long x, long w) {
    return (row[clampl(x - 1, w)] + 2.0f * row[x] + row[clampl(x + 1, w)]) / 4.0f;
}

static void unsharp_bx_row(const float *img, float *dst, long y, long h, long w) {
    const float *r = img + clampl(y, h) * w;
    for (long x = 0; x < w; x++) dst[x] = unsharp_bx(r, x, w);
}

static inline float unsharp_px(float above, float mid, float below, float v, float amount) {
    float b = (above + 2.0f * mid + below) / 4.0f;
    float o = v + amount * (v - b);
    return o < 0.0f ? 0.0f : (o > 1.0f ? 1.0f : o);
}

void c128_unsharp(const float *img, float amount, float *out, float *ring, long h, long w) {
    if (h <= 0 || w <= 0) return;
    v4 two = splat(2.0f), quarter = splat(0.25f), am = splat(amount);
    v4 zero = splat(0.0f), one = splat(1.0f);
    unsharp_bx_row(img, slot(ring, -1, w), -1, h, w);
    unsharp_bx_row(img, slot(ring, 0, w), 0, h, w);
    for (long y = 0; y < h; y++) {
        const float *r = img + clampl(y + 1, h) * w;
        const float *v = img + y * w;
        float *above = slot(ring, y - 1, w), *mid = slot(ring, y, w), *below = slot(ring, y + 1, w);
        float *o = out + y * w;
        long x = 0;
        for (; x < w && x < 1; x++) {
            below[x] = unsharp_bx(r, x, w);
            o[x] = unsharp_px(above[x], mid[x], below[x], v[x], amount);
        }
        for (; x + 4 <= w - 1; x += 4) {
            v4 b = (ld(r + x - 1) + two * ld(r + x) + ld(r + x + 1)) * quarter;
            st(below + x, b);
            v4 bl = (ld(above + x) + two * ld(mid + x) + b) * quarter;
            v4 p = ld(v + x);
            v4 q = p + am * (p - bl);
            st(o + x, vmin(vmax(q, zero), one));
        }
        for (; x < w; x++) {
            below[x] = unsharp_bx(r, x, w);
            o[x] = unsharp_px(above[x], mid[x], below[x], v[x], amount);
        }
    }
}

/* pj_runtime::math::expf in four lanes: clamp, Cody-Waite reduction, the
 * Cephes polynomial, two exponent steps. */
static inline v4 exp4(v4 x) {
    const float p[6] = {1.9875691e-4f, 1.3981999e-3f, 8.333452e-3f, 4.1665796e-2f, 1.6666665e-1f, 0.5f};
    x = vmin(x, splat(89.0f));
    x = vmax(x, splat(-104.0f));
    v4 round = splat(12582912.0f);
    v4 t = x * splat(1.44269504f) + round;
    v4 k = t - round;
    v4i n = (v4i)t - (v4i)round;
    v4 r = (x - k * splat(0.693359375f)) - k * splat(-2.12194440e-4f);
    v4 q = splat(p[0]);
    for (int i = 1; i < 6; i++) q = q * r + splat(p[i]);
    q = q * (r * r) + r + splat(1.0f);
    v4i n1 = n >> 1, n2 = n - n1, bias = {127, 127, 127, 127};
    return q * (v4)((n1 + bias) << 23) * (v4)((n2 + bias) << 23);
}

void c128_softmax(const float *x, float *y, long n, long c) {
    for (long i = 0; i < n; i++) {
        const float *r = x + i * c;
        float *o = y + i * c;
        long j = 0;
        v4 m4 = splat(-INFINITY);
        for (; j + 4 <= c; j += 4) m4 = vmax(ld(r + j), m4);
        float m = -INFINITY;
        for (int l = 0; l < 4; l++) m = m4[l] > m ? m4[l] : m;
        for (; j < c; j++) m = r[j] > m ? r[j] : m;
        v4 mm = splat(m), s4 = splat(0.0f);
        for (j = 0; j + 4 <= c; j += 4) {
            v4 e = exp4(ld(r + j) - mm);
            st(o + j, e);
            s4 += e;
        }
        float s = (s4[0] + s4[1]) + (s4[2] + s4[3]);
        for (; j < c; j++) {
            o[j] = expf(r[j] - m);
            s += o[j];
        }
        v4 ss = splat(s);
        for (j = 0; j + 4 <= c; j += 4) st(o + j, ld(o + j) / ss);
        for (; j < c; j++) o[j] /= s;
    }
}
