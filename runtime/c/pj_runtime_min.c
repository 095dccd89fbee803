/* The picojoule runtime's entry points in plain C, for targets where the
 * Rust runtime (libpj_runtime.a) cannot be built: serial, single-threaded,
 * same ABI. The tests use it when no Rust toolchain for the target is
 * installed; everything else links the Rust runtime.
 *
 * Math functions are the C library's, which is also what Rust's f32::exp
 * and friends call on Linux, so results agree with the interpreter.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char last_error[512];
static _Thread_local int has_error;

int32_t pj_rt_fail(int32_t code, const uint8_t* msg, size_t len, int64_t a, int64_t b) {
    /* fill {0} and {1} in the template */
    size_t o = 0;
    for (size_t i = 0; i < len && o + 24 < sizeof last_error; i++) {
        if (msg[i] == '{' && i + 2 < len && msg[i + 2] == '}' && (msg[i + 1] == '0' || msg[i + 1] == '1')) {
            o += (size_t)snprintf(last_error + o, sizeof last_error - o, "%lld", (long long)(msg[i + 1] == '0' ? a : b));
            i += 2;
        } else {
            last_error[o++] = (char)msg[i];
        }
    }
    last_error[o] = 0;
    has_error = 1;
    return code;
}

const char* pj_last_error(void) { return has_error ? last_error : NULL; }

/* Serial: one thread whatever is asked, but the same limits as the Rust runtime. */
int32_t pj_set_threads(int32_t n) {
    if (n < 1 || n > 1024) {
        snprintf(last_error, sizeof last_error, "%d threads: a pool has 1 to 1024 threads", (int)n);
        has_error = 1;
        return 6;
    }
    return 0;
}

void* pj_rt_alloc(size_t bytes) {
    if (bytes == 0) return (void*)64;
    void* p = NULL;
    return posix_memalign(&p, 64, bytes) == 0 ? p : NULL;
}

void pj_rt_free(void* p, size_t bytes) {
    if (bytes != 0) free(p);
}

/* Row-major copies of views whose rows are strided (runtime/src/layout.rs). */
#define PJ_MAX_RANK 8
typedef struct pj_buffer {
    void* data;
    int64_t shape[PJ_MAX_RANK];
    int64_t strides[PJ_MAX_RANK];
    int32_t elem_type;
    int32_t rank;
} pj_buffer;

static size_t elem_size(int32_t t) {
    static const size_t sizes[] = {1, 1, 2, 4, 8, 1, 2, 4, 4, 8};
    return t >= 0 && t < 10 ? sizes[t] : 0;
}

static void copy_elements(const pj_buffer* dst, const pj_buffer* src, size_t size) {
    int64_t index[PJ_MAX_RANK] = {0};
    int r = src->rank;
    for (;;) {
        int64_t d = 0, s = 0;
        for (int k = 0; k < r; k++) {
            d += index[k] * dst->strides[k];
            s += index[k] * src->strides[k];
        }
        memcpy((char*)dst->data + d * (int64_t)size, (const char*)src->data + s * (int64_t)size, size);
        int k = r;
        for (;;) {
            if (k == 0) return;
            k--;
            if (++index[k] < src->shape[k]) break;
            index[k] = 0;
        }
    }
}

int64_t pj_rt_contiguous(pj_buffer* dst, const pj_buffer* src, int32_t copy) {
    *dst = *src;
    int r = src->rank;
    if (r <= 0 || src->strides[r - 1] == 1) return 0;
    size_t size = elem_size(src->elem_type), n = 1;
    for (int k = 0; k < r; k++) n *= (size_t)src->shape[k];
    void* data = pj_rt_alloc(n * size);
    if (!data) return -1;
    int64_t stride = 1;
    for (int k = r - 1; k >= 0; k--) {
        dst->strides[k] = stride;
        stride *= src->shape[k] > 1 ? src->shape[k] : 1;
    }
    dst->data = data;
    if (copy && n > 0) copy_elements(dst, src, size);
    return (int64_t)(n * size);
}

void pj_rt_copy_back(const pj_buffer* dst, const pj_buffer* tmp) {
    size_t n = 1;
    for (int k = 0; k < dst->rank; k++) n *= (size_t)dst->shape[k];
    if (dst->data != tmp->data && n > 0) copy_elements(dst, tmp, elem_size(dst->elem_type));
}

/* picojoule's own expf (runtime/src/math.rs): the same operations in the
   same order, never contracted into fused multiply-adds. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#define PJ_NO_CONTRACT
#elif defined(__GNUC__)
#define PJ_NO_CONTRACT __attribute__((optimize("fp-contract=off")))
#else
#define PJ_NO_CONTRACT
#endif
PJ_NO_CONTRACT float pj_rt_expf(float x) {
    static const float P[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                               4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
    const float round = 12582912.0f;
    union { float f; int32_t i; } t, s1, s2, rb;
    if (x > 89.0f) x = 89.0f;
    else if (x < -104.0f) x = -104.0f;
    t.f = x * 1.44269504088896341f + round;
    float k = t.f - round;
    rb.f = round;
    int32_t n = t.i - rb.i;
    float r = (x - k * 0.693359375f) - k * -2.12194440e-4f;
    float p = P[0];
    for (int i = 1; i < 6; i++) p = p * r + P[i];
    p = p * (r * r) + r + 1.0f;
    int32_t n1 = n >> 1, n2 = n - n1;
    s1.i = (n1 + 127) << 23;
    s2.i = (n2 + 127) << 23;
    return p * s1.f * s2.f;
}
double pj_rt_exp(double x) { return exp(x); }
float pj_rt_logf(float x) { return logf(x); }
double pj_rt_log(double x) { return log(x); }
float pj_rt_tanhf(float x) { return tanhf(x); }
double pj_rt_tanh(double x) { return tanh(x); }
float pj_rt_powf(float x, float y) { return powf(x, y); }
double pj_rt_pow(double x, double y) { return pow(x, y); }
float pj_rt_fmodf(float x, float y) { return fmodf(x, y); }
double pj_rt_fmod(double x, double y) { return fmod(x, y); }
/* The Rust runtime computes these with musl's algorithms (the libm crate);
 * the C library's here are within 1 ulp of them, not always the same bits. */
float pj_rt_sinf(float x) { return sinf(x); }
double pj_rt_sin(double x) { return sin(x); }
float pj_rt_cosf(float x) { return cosf(x); }
double pj_rt_cos(double x) { return cos(x); }
float pj_rt_tanf(float x) { return tanf(x); }
double pj_rt_tan(double x) { return tan(x); }
float pj_rt_erff(float x) { return erff(x); }
double pj_rt_erf(double x) { return erf(x); }
float pj_rt_log1pf(float x) { return log1pf(x); }
double pj_rt_log1p(double x) { return log1p(x); }
float pj_rt_expm1f(float x) { return expm1f(x); }
double pj_rt_expm1(double x) { return expm1(x); }
float pj_rt_atan2f(float y, float x) { return atan2f(y, x); }
double pj_rt_atan2(double y, double x) { return atan2(y, x); }

/* Serial stand-in for the worker pool: one chunk, on this thread. */
int32_t pj_rt_parallel_for(int64_t lo, int64_t hi, int64_t grain, int32_t (*body)(const void*, int64_t, int64_t), const void* ctx) {
    (void)grain;
    return lo < hi ? body(ctx, lo, hi) : 0;
}

/* The threads a parallel loop would share: this runtime has one. */
int64_t pj_rt_threads(void) { return 1; }
