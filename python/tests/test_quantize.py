"""quantize=: 8-bit fixed point where the compiler proves the error bound
meets the tolerance; what it chose is Module.quantization."""

import numpy as np
import pytest

import picojoule as pj

DENSE = """
kernel dense(x: f32[M, K] @range(-1.0, 1.0), w: f32[K, N] @range(-0.5, 0.5))
    -> y: f32[M, N] @tolerance(abs = 0.5) {
    y[i, j] = sum(k) x[i, k] * w[k, j];
}
"""


def bound_of(notes):
    # "... proven within 4.9701e-1 of the exact result ..."
    text = " ".join(notes)
    return float(text.split("proven within ")[1].split(" ")[0])


@pytest.mark.parametrize("backend", pj.backends())
def test_int8_within_the_proven_bound_of_the_exact_product(backend):
    m = pj.compile(DENSE, backend=backend, quantize="int8")
    assert any("int8" in n for n in m.quantization), m.quantization
    bound = bound_of(m.quantization)
    assert bound <= 0.5
    rng = np.random.default_rng(3)
    for _ in range(5):
        x = rng.uniform(-1, 1, (7, 40)).astype(np.float32)
        w = rng.uniform(-0.5, 0.5, (40, 9)).astype(np.float32)
        y = m.dense(x, w)
        exact = x.astype(np.float64) @ w.astype(np.float64)
        assert np.abs(y - exact).max() <= bound
    assert "quantize=int8" in repr(m.dense)


def test_float_without_quantize_and_explanations_otherwise():
    assert pj.compile(DENSE).quantization == []
    plain = DENSE.replace(" @tolerance(abs = 0.5)", "")
    m = pj.compile(plain, quantize="auto")
    assert any("has no tolerance" in n for n in m.quantization), m.quantization
    m = pj.compile(plain, quantize="int8", tolerance=0.5)
    assert any("int8" in n for n in m.quantization), m.quantization


def test_bad_requests_name_the_argument():
    with pytest.raises(ValueError, match="quantize="):
        pj.compile(DENSE, quantize="int4")
    with pytest.raises(ValueError, match="tolerance="):
        pj.compile(DENSE, quantize="int8", tolerance="abs=-1")
    with pytest.raises(ValueError, match="tolerance= applies to quantize="):
        pj.compile(DENSE, tolerance="abs=1")


def test_a_quantized_kernel_pickles_with_its_options():
    import pickle

    k = pj.compile(DENSE, quantize="int8").dense
    again = pickle.loads(pickle.dumps(k))
    x = np.ones((2, 8), np.float32)
    w = np.full((8, 3), 0.25, np.float32)
    assert np.array_equal(k(x, w), again(x, w))
    assert "quantize=int8" in repr(again)
