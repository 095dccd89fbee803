#!/usr/bin/env python3
"""Generates the example inputs and their expected outputs with NumPy.

Every kernel in examples/*.pj has a folder examples/data/<kernel>/ holding one
`<param>.npy` per parameter (scalars as 0-d arrays) and one
`expected_<result>.npy` per result, computed here independently of picojoule
with the semantics of docs/language.md. `cargo test` checks the interpreter
against these files. Rerun after changing an example: python3 examples/reference.py
"""
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent / "data"
rng = np.random.default_rng(20261127)
f32 = np.float32


def save(kernel, **arrays):
    d = ROOT / kernel
    d.mkdir(parents=True, exist_ok=True)
    for name, a in arrays.items():
        np.save(d / f"{name}.npy", a)


def blur():
    inp = rng.random((13, 17), dtype=f32)
    p = np.pad(inp, ((0, 0), (1, 1)), mode="edge")  # @boundary(clamp)
    bx = (p[:, :-2] + p[:, 1:-1] + p[:, 2:]) / f32(3.0)
    q = np.pad(bx, ((1, 1), (0, 0)), mode="edge")  # bx rows -1 and H read clamped input rows
    out = (q[:-2] + q[1:-1] + q[2:]) / f32(3.0)
    save("blur", input=inp, expected_out=out.astype(f32))


def blur_u8():
    inp = rng.integers(0, 256, (14, 19), dtype=np.uint8)
    p = np.pad(inp.astype(f32), ((0, 0), (1, 1)), mode="edge")  # @boundary(clamp)
    bx = (p[:, :-2] + p[:, 1:-1] + p[:, 2:]) / f32(3.0)
    q = np.pad(bx, ((1, 1), (0, 0)), mode="edge")
    v = (q[:-2] + q[1:-1] + q[2:]) / f32(3.0) + f32(0.5)
    out = np.clip(np.trunc(v), 0, 255).astype(np.uint8)  # u8(): toward zero, saturating
    save("blur_u8", input=inp, expected_out=out)


def valid_blur():
    inp = rng.random((11, 9), dtype=f32)
    out = (inp[:-2, :-2] + inp[1:-1, 1:-1] + inp[2:, 2:]) / f32(3.0)
    save("valid_blur", input=inp, expected_out=out.astype(f32))


def matmul():
    a = rng.standard_normal((7, 19)).astype(f32)
    b = rng.standard_normal((19, 5)).astype(f32)
    c = (a.astype(np.float64) @ b.astype(np.float64)).astype(f32)
    save("matmul", a=a, b=b, expected_c=c)


def softmax():
    x = (rng.standard_normal((6, 33)) * 4).astype(f32)
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    y = e / e.sum(axis=1, keepdims=True)
    save("softmax", x=x, expected_y=y.astype(f32))


def chain():
    x = rng.standard_normal(1000).astype(f32)
    a, b = f32(0.75), f32(-0.25)
    t = np.maximum(a * f32(2.0) * x + b, f32(0.0))
    save("chain", x=x, a=np.array(a), b=np.array(b), expected_y=(t * t).astype(f32))


def qdot():
    a = rng.integers(0, 256, (5, 33), dtype=np.uint8)
    b = rng.integers(-128, 128, (33, 7), dtype=np.int8)
    c = a.astype(np.int32) @ b.astype(np.int32)
    save("qdot", a=a, b=b, expected_c=c.astype(np.int32))


def unsharp():
    img = rng.random((12, 15), dtype=f32)
    amount = f32(1.5)
    p = np.pad(img, ((0, 0), (1, 1)), mode="symmetric")  # @boundary(mirror)
    bx = (p[:, :-2] + f32(2.0) * p[:, 1:-1] + p[:, 2:]) / f32(4.0)
    q = np.pad(bx, ((1, 1), (0, 0)), mode="symmetric")
    blurred = (q[:-2] + f32(2.0) * q[1:-1] + q[2:]) / f32(4.0)
    out = np.clip(img + amount * (img - blurred), f32(0.0), f32(1.0))
    save("unsharp", img=img, amount=np.array(amount), expected_out=out.astype(f32))


def layernorm():
    x = (rng.standard_normal((4, 24)) * 3 + 1).astype(f32)
    gamma = rng.standard_normal(24).astype(f32)
    beta = rng.standard_normal(24).astype(f32)
    eps = f32(1e-5)
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=1, keepdims=True)
    var = ((x64 - mean) ** 2).mean(axis=1, keepdims=True)
    y = (x64 - mean) / np.sqrt(var + eps) * gamma + beta
    save("layernorm", x=x, gamma=gamma, beta=beta, eps=np.array(eps), expected_y=y.astype(f32))


def conv2d():
    img = rng.random((10, 14), dtype=f32)
    filt = rng.standard_normal((3, 5)).astype(f32)
    R, S = filt.shape
    p = np.pad(img.astype(np.float64), ((R // 2, R - 1 - R // 2), (S // 2, S - 1 - S // 2)))  # @boundary(zero)
    out = np.zeros(img.shape)
    for r in range(R):
        for s in range(S):
            out += p[r : r + img.shape[0], s : s + img.shape[1]] * filt[r, s]
    save("conv2d", img=img, filt=filt, expected_out=out.astype(f32))


def gelu():
    import math

    x = (rng.standard_normal((6, 9)) * 3).astype(f32)
    bias = rng.standard_normal(9).astype(f32)
    v = (x + bias).astype(np.float64)  # the f32 sum, then exact math
    erf = np.vectorize(math.erf)
    y = 0.5 * v * (1 + erf(v * 0.70710678))
    approx = 0.5 * v * (1 + np.tanh(0.7978846 * (v + 0.044715 * v**3)))
    save("gelu", x=x, bias=bias, expected_y=y.astype(f32), expected_approx=approx.astype(f32))


def ema():
    x = rng.standard_normal((5, 37)).astype(f32)
    alpha = f32(0.2)
    y = np.empty_like(x)
    y[:, 0] = x[:, 0]
    for i in range(1, x.shape[1]):  # float32 throughout, as the kernel
        y[:, i] = alpha * x[:, i] + (f32(1.0) - alpha) * y[:, i - 1]
    colsum = np.cumsum(x, axis=0, dtype=f32)
    save("ema", x=x, alpha=np.array(alpha), expected_y=y, expected_colsum=colsum)


def histogram():
    img = rng.integers(0, 256, (19, 23), dtype=np.uint8)
    hist = np.bincount(img.ravel(), minlength=256).astype(np.int32)
    cdf = np.cumsum(hist.astype(np.int64))
    equalized = (cdf[img] * 255 // img.size).astype(np.uint8)
    save("histogram", img=img, expected_hist=hist, expected_equalized=equalized)


def edges():
    img = rng.uniform(0.0, 1.0, (17, 21)).astype(f32)
    lin = np.pad(img.astype(np.float64) ** 2.2, 1, mode="edge")
    h, w = img.shape

    def at(dy, dx):
        return lin[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]

    gx = (at(-1, 1) + 2 * at(0, 1) + at(1, 1)) - (at(-1, -1) + 2 * at(0, -1) + at(1, -1))
    gy = (at(1, -1) + 2 * at(1, 0) + at(1, 1)) - (at(-1, -1) + 2 * at(-1, 0) + at(-1, 1))
    save("edges", img=img, expected_magnitude=np.hypot(gx, gy).astype(f32),
         expected_angle=np.arctan2(gy, gx).astype(f32))


def logistic():
    z = rng.standard_normal(301) * 12.0
    softplus = np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))
    sigmoid = 1.0 / (1.0 + np.exp(-z))
    save("logistic", z=z, expected_softplus=softplus, expected_sigmoid=sigmoid)


if __name__ == "__main__":
    for example in [blur, valid_blur, matmul, softmax, chain, qdot, unsharp, layernorm, conv2d, gelu, ema, histogram, edges, logistic, blur_u8]:
        example()
    print(f"wrote {sum(1 for _ in ROOT.rglob('*.npy'))} files under {ROOT}")
