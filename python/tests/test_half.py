"""f16 and bf16 parameters and results: NumPy's float16 and ml_dtypes'
bfloat16 arrays in and out, every operation the f32 one rounded to the
type, bit for bit what NumPy computes the same way."""

import ml_dtypes
import numpy as np
import pytest

import picojoule as pj

SAXPY = """
kernel saxpy(x: T[N], y: T[N], a: T) -> z: T[N] {
    z[i] = a * x[i] + y[i];
}
"""

TYPES = [np.float16, ml_dtypes.bfloat16]


def rounded(v, t):
    """`v` (float32) rounded to `t` and back: one step of the kernel."""
    return v.astype(t).astype(np.float32)


@pytest.mark.parametrize("backend", pj.backends())
@pytest.mark.parametrize("t", TYPES)
def test_each_operation_rounds_to_the_type(backend, t):
    name = "f16" if t is np.float16 else "bf16"
    m = pj.compile(SAXPY.replace("T", name), backend=backend)
    rng = np.random.default_rng(1)
    x = rng.normal(0, 100, 1000).astype(t)
    y = rng.normal(0, 100, 1000).astype(t)
    z = m.saxpy(x, y, 0.3)
    assert z.dtype == np.dtype(t) and z.shape == (1000,)
    a = np.float32(np.array(0.3).astype(t))
    want = rounded(rounded(a * x.astype(np.float32), t) + y.astype(np.float32), t)
    assert (z.astype(np.float32) == want).all()
    # into a given array
    out = np.empty(1000, dtype=t)
    m.saxpy(x, y, 0.3, out=out)
    assert (out.view(np.uint16) == z.view(np.uint16)).all()


def test_a_wrong_dtype_says_how_to_convert():
    m = pj.compile(SAXPY.replace("T", "bf16"))
    x = np.zeros(4, dtype=np.float32)
    with pytest.raises(TypeError, match=r"expects an array of bfloat16.*astype\(ml_dtypes.bfloat16\)"):
        m.saxpy(x, x, 1.0)
    m16 = pj.compile(SAXPY.replace("T", "f16"))
    with pytest.raises(TypeError, match=r"expects an array of float16.*astype\(numpy.float16\)"):
        m16.saxpy(x, x, 1.0)
    # a uint16 array is not a bfloat16 array, though its bits could be
    with pytest.raises(TypeError, match="bfloat16"):
        m.saxpy(x.astype(np.uint16), x.astype(np.uint16), 1.0)


def test_sums_accumulate_in_f32_and_round_once():
    m = pj.compile("kernel total(x: f16[N]) -> s: f16[1] { s[i] = sum(k) x[k]; }")
    x = np.full(3000, 1.0, dtype=np.float16)
    # f16 alone would stop at 2048 (2049 rounds back to it)
    assert m.total(x)[0] == np.float16(3000)


def test_dask_chunks_of_16_bit_floats_give_the_bits_of_one_call():
    da = pytest.importorskip("dask.array")
    import picojoule.dask as pjd

    m = pj.compile("""
    kernel k(x: f16[N] @boundary(clamp), b: bf16[N]) -> (y: f16[N], z: bf16[N]) {
        y[i] = (x[i - 1] + x[i + 1]) * 0.5;
        z[i] = b[i] * 3.0;
    }""")
    rng = np.random.default_rng(5)
    x = rng.normal(0, 10, 1000).astype(np.float16)
    b = rng.normal(0, 10, 1000).astype(ml_dtypes.bfloat16)
    y, z = pjd.map(m.k, da.from_array(x, chunks=300), da.from_array(b, chunks=300))
    assert y.dtype == np.float16 and z.dtype == np.dtype(ml_dtypes.bfloat16)
    y1, z1 = m.k(x, b)
    assert (y.compute(scheduler="synchronous").view(np.uint16) == y1.view(np.uint16)).all()
    assert (z.compute(scheduler="synchronous").view(np.uint16) == z1.view(np.uint16)).all()
