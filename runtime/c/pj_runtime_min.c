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

void* pj_rt_alloc(size_t bytes) {
    if (bytes == 0) return (void*)64;
    void* p = NULL;
    return posix_memalign(&p, 64, bytes) == 0 ? p : NULL;
}

void pj_rt_free(void* p, size_t bytes) {
    if (bytes != 0) free(p);
}

float pj_rt_expf(float x) { return expf(x); }
double pj_rt_exp(double x) { return exp(x); }
float pj_rt_logf(float x) { return logf(x); }
double pj_rt_log(double x) { return log(x); }
float pj_rt_tanhf(float x) { return tanhf(x); }
double pj_rt_tanh(double x) { return tanh(x); }
float pj_rt_powf(float x, float y) { return powf(x, y); }
double pj_rt_pow(double x, double y) { return pow(x, y); }
float pj_rt_fmodf(float x, float y) { return fmodf(x, y); }
double pj_rt_fmod(double x, double y) { return fmod(x, y); }

/* Serial stand-in for the worker pool: one chunk, on this thread. */
int32_t pj_rt_parallel_for(int64_t lo, int64_t hi, int64_t grain, int32_t (*body)(const void*, int64_t, int64_t), const void* ctx) {
    (void)grain;
    return lo < hi ? body(ctx, lo, hi) : 0;
}
