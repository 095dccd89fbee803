/* Calls the AOT-compiled `blur` kernel from C.
 *
 *   cargo build --release                         # pj, and the runtime archive
 *   target/release/pj build examples/blur.pj -o blur.o   # writes blur.o and blur.h
 *   cc -I. examples/aot_c/main.c blur.o target/release/libpj_runtime.a -lpthread -ldl -lm -o blur_demo
 *   ./blur_demo
 *
 * It blurs a generated image, checks every pixel against a plain C blur,
 * then shows that a wrong output shape, and an output over the input, are
 * refused with a status and a message instead of a write out of bounds or
 * a result that depends on the order of the work. `cargo test` builds and
 * runs it.
 */
#include "blur.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static pj_buffer make_f32(float* data, int64_t h, int64_t w) {
    pj_buffer b = {0};
    b.data = data;
    b.elem_type = PJ_F32;
    b.rank = 2;
    b.shape[0] = h;
    b.shape[1] = w;
    b.strides[0] = w;
    b.strides[1] = 1;
    return b;
}

static float at(const float* img, int64_t h, int64_t w, int64_t y, int64_t x) {
    y = y < 0 ? 0 : (y >= h ? h - 1 : y); /* @boundary(clamp) */
    x = x < 0 ? 0 : (x >= w ? w - 1 : x);
    return img[y * w + x];
}

int main(void) {
    const int64_t H = 37, W = 53;
    float* img = malloc(sizeof(float) * H * W);
    for (int64_t i = 0; i < H * W; i++) img[i] = (float)((i * 7919) % 1000) / 1000.0f;
    pj_buffer input = make_f32(img, H, W);

    /* ask the kernel for the result shape, then allocate it */
    int64_t shape[2];
    pj_buffer shape_buf = {0};
    shape_buf.data = shape;
    shape_buf.elem_type = PJ_I64;
    shape_buf.rank = 1;
    shape_buf.shape[0] = 2;
    shape_buf.strides[0] = 1;
    if (blur_shape(&input, &shape_buf) != PJ_OK) {
        fprintf(stderr, "blur_shape failed: %s\n", pj_last_error());
        return 1;
    }
    float* out = malloc(sizeof(float) * shape[0] * shape[1]);
    pj_buffer output = make_f32(out, shape[0], shape[1]);
    int32_t st = blur(&input, &output);
    if (st != PJ_OK) {
        fprintf(stderr, "blur failed (%d): %s\n", st, pj_last_error());
        return 1;
    }

    /* the same blur in plain C: horizontal then vertical, clamped */
    int bad = 0;
    for (int64_t y = 0; y < H; y++) {
        for (int64_t x = 0; x < W; x++) {
            float rows[3];
            for (int k = -1; k <= 1; k++) {
                int64_t yy = y + k; /* bx row -1 is the clamped row 0, and so on */
                rows[k + 1] = (at(img, H, W, yy, x - 1) + at(img, H, W, yy, x) + at(img, H, W, yy, x + 1)) / 3.0f;
            }
            float want = (rows[0] + rows[1] + rows[2]) / 3.0f;
            if (fabsf(out[y * W + x] - want) > 1e-6f) {
                if (bad++ < 5) fprintf(stderr, "mismatch at (%lld, %lld): %f vs %f\n", (long long)y, (long long)x, out[y * W + x], want);
            }
        }
    }
    if (bad) return 1;

    /* a wrong output shape is an error, not a write out of bounds */
    pj_buffer small = make_f32(out, H - 1, W);
    st = blur(&input, &small);
    if (st != PJ_SHAPE_MISMATCH) {
        fprintf(stderr, "expected PJ_SHAPE_MISMATCH, got %d\n", st);
        return 1;
    }
    char shape_error[256];
    snprintf(shape_error, sizeof shape_error, "%s", pj_last_error());

    /* so is an output over the input: results never share memory with arguments */
    pj_buffer over = make_f32(img, H, W);
    st = blur(&input, &over);
    if (st != PJ_BAD_ARGUMENT) {
        fprintf(stderr, "expected PJ_BAD_ARGUMENT, got %d\n", st);
        return 1;
    }
    printf("blur %lldx%lld ok; wrong shape refused: %s; overlap refused: %s\n", (long long)H, (long long)W,
           shape_error, pj_last_error());
    free(out);
    free(img);
    return 0;
}
