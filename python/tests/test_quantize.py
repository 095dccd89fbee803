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


BLUR_U8 = """
kernel blur_u8(input: u8[H, W] @boundary(clamp)) -> out: u8[H, W] {
    bx[y, x] = (f32(input[y, x - 1]) + f32(input[y, x]) + f32(input[y, x + 1])) / 3.0;
    out[y, x] = u8((bx[y - 1, x] + bx[y, x] + bx[y + 1, x]) / 3.0 + 0.5);
}
"""


@pytest.mark.parametrize("backend", pj.backends())
@pytest.mark.parametrize("mode", ["int16", "auto"])
def test_an_8_bit_blur_in_f32_runs_exactly_in_16_bit_integers(backend, mode):
    m = pj.compile(BLUR_U8, backend=backend, quantize=mode)
    assert any("int16 — exact" in n for n in m.quantization), m.quantization
    img = np.random.default_rng(5).integers(0, 256, (37, 53), dtype=np.uint8)
    got = m.blur_u8(img)
    p = np.pad(img.astype(np.int64), 1, mode="edge")
    s = sum(p[1 + dy:38 + dy, 1 + dx:54 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1))
    # (s / 9 + 0.5) truncated, in integers
    assert np.array_equal(got, ((2 * s + 9) // 18).astype(np.uint8))


UNFUSED = """
kernel unfused(x: f32[N, N] @boundary(clamp) @range(0.0, 4.0)) -> y: f32[N, N] @tolerance(abs = 0.1) {
    t[i, j] = sqrt(x[i, j - 1] + x[i, j] + x[i, j + 1]) * 0.5 + 1.0;
    y[i, j] = t[i, j] * t[i, j] - 0.5 * t[i, j];
    schedule {
        t.compute_root();
    }
}
"""


@pytest.mark.parametrize("backend", pj.backends())
def test_a_stored_stage_in_bf16_stays_within_the_proven_bound(backend):
    m = pj.compile(UNFUSED, backend=backend, quantize="bf16")
    assert any("bf16 — stored as bfloat16" in n for n in m.quantization), m.quantization
    bound = bound_of(m.quantization)
    x = np.random.default_rng(9).uniform(0, 4, (41, 41)).astype(np.float32)
    p = np.pad(x.astype(np.float64), ((0, 0), (1, 1)), mode="edge")
    t = np.sqrt(p[:, :-2] + p[:, 1:-1] + p[:, 2:]) * 0.5 + 1.0
    exact = t * t - 0.5 * t
    assert np.abs(m.unfused(x) - exact).max() <= bound <= 0.1


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


def test_auto_weighs_its_choices_at_the_sizes_given():
    # a module is compiled before it sees data: `sizes=` says where it will
    # run (else the source's `// bench:` line, else 1024 each)
    notes = {}
    for n in (8, 1024):
        m = pj.compile(DENSE, quantize="auto", sizes={"M": n, "K": n, "N": n})
        notes[n] = " ".join(m.quantization)
        assert "estimated" in notes[n], notes[n]
    assert notes[8] != notes[1024]
    with_line = pj.compile(DENSE + "\n// bench: M=8, K=8, N=8\n", quantize="auto")
    assert " ".join(with_line.quantization) == notes[8]
    with pytest.raises(ValueError, match="`M` = -1: a size must be between 0 and 2\\^40"):
        pj.compile(DENSE, quantize="auto", sizes={"M": -1})
    with pytest.raises(TypeError):
        pj.compile(DENSE, quantize="auto", sizes={"M": "many"})
