"""Calling kernels from Python: results, zero-copy views, out=, several
results, threads, pickling. Every test runs on every backend the package
was built with."""

import pickle
import threading
from pathlib import Path

import numpy as np
import pytest

import picojoule as pj

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BACKENDS = pj.backends()


def blur_reference(x):
    """examples/blur.pj in NumPy: 3 taps along rows then columns, edges clamped."""
    p = np.pad(x, ((0, 0), (1, 1)), mode="edge")
    bx = (p[:, :-2] + p[:, 1:-1] + p[:, 2:]) / np.float32(3.0)
    q = np.pad(bx, ((1, 1), (0, 0)), mode="edge")
    return (q[:-2] + q[1:-1] + q[2:]) / np.float32(3.0)


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def test_an_example_file_matches_numpy_bit_for_bit(backend):
    blur = pj.compile(EXAMPLES / "blur.pj", backend=backend, fast_math="off").blur
    x = np.random.default_rng(1).random((37, 53), dtype=np.float32)
    y = blur(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_array_equal(y, blur_reference(x))


def test_scalars_by_position_and_by_name(backend):
    chain = pj.kernel(str(EXAMPLES / "chain.pj"), backend=backend, fast_math="off")
    x = np.linspace(-2, 2, 1001, dtype=np.float32)
    want = np.maximum(np.float32(1.5) * 2 * x + np.float32(0.25), 0) ** 2
    np.testing.assert_array_equal(chain(x, 1.5, 0.25), want)
    np.testing.assert_array_equal(chain(b=0.25, a=1.5, x=x), want)
    np.testing.assert_array_equal(chain(x, np.float32(1.5), 0.25), want)


def test_strided_views_are_read_in_place_and_give_the_same_bits(backend):
    blur = pj.compile(EXAMPLES / "blur.pj", backend=backend).blur
    base = np.random.default_rng(2).random((64, 90), dtype=np.float32)
    for view in (base[::2], base[:, ::3], base.T, base[::-1, 5:-7], base[3:40:4, ::-2]):
        np.testing.assert_array_equal(blur(view), blur(np.ascontiguousarray(view)))
    before = base.copy()
    blur(base.T)
    np.testing.assert_array_equal(base, before)


def test_misaligned_and_non_native_memory(backend):
    blur = pj.compile(EXAMPLES / "blur.pj", backend=backend).blur
    x = np.random.default_rng(3).random((20, 30), dtype=np.float32)
    raw = np.zeros(x.nbytes + 1, np.uint8)
    odd = raw[1:].view(np.float32).reshape(x.shape)  # data one byte past alignment
    odd[...] = x
    assert not odd.flags.aligned
    np.testing.assert_array_equal(blur(odd), blur(x))
    with pytest.raises(TypeError, match="float32"):
        blur(x.astype(">f4"))


def test_results_into_out_and_the_same_object_returned(backend):
    blur = pj.compile(EXAMPLES / "blur.pj", backend=backend).blur
    x = np.random.default_rng(4).random((16, 16), dtype=np.float32)
    out = np.empty_like(x)
    r = blur(x, out=out)
    assert r is out
    np.testing.assert_array_equal(out, blur(x))
    # a strided view of a larger array is written in place
    big = np.zeros((32, 32), np.float32)
    blur(x, out=big[::2, ::2])
    np.testing.assert_array_equal(big[::2, ::2], blur(x))
    assert not big[1::2].any()


def test_several_results_come_as_a_tuple(backend):
    m = pj.compile("""
kernel stats(x: f32[N, C]) -> (lo: f32[N], hi: f32[N], n: i64[N]) {
    lo[i] = min(c) x[i, c];
    hi[i] = max(c) x[i, c];
    n[i] = sum(c) i64(x[i, c] > 0.5);
}
""", backend=backend)
    x = np.random.default_rng(5).random((7, 11), dtype=np.float32)
    lo, hi, n = m.stats(x)
    np.testing.assert_array_equal(lo, x.min(axis=1))
    np.testing.assert_array_equal(hi, x.max(axis=1))
    np.testing.assert_array_equal(n, (x > 0.5).sum(axis=1))
    outs = (np.empty(7, np.float32), np.empty(7, np.float32), np.empty(7, np.int64))
    assert m.stats(x, out=outs) == outs or all(a is b for a, b in zip(m.stats(x, out=outs), outs))


def test_scalar_results_are_numpy_scalars_or_fill_a_0d_out(backend):
    m = pj.compile("""
kernel moments(x: f32[N]) -> (mean: f32, var: f32) {
    mean = (sum(i) x[i]) / f32(N);
    var = (sum(i) (x[i] - mean) * (x[i] - mean)) / f32(N);
}
""", backend=backend, fast_math="off")
    x = np.array([1, 2, 4, 9], np.float32)
    mean, var = m.moments(x)
    assert isinstance(mean, np.float32) and mean == 4.0
    assert var == np.float32(((x - 4) ** 2).sum() / 4)
    outs = (np.zeros((), np.float32), np.zeros((), np.float32))
    got = m.moments(x, out=outs)
    assert got[0] is outs[0] and outs[0][()] == 4.0
    with pytest.raises(ValueError, match="0 dims"):
        m.moments(x, out=(np.zeros(1, np.float32), outs[1]))


def test_integer_kernels_are_exact(backend):
    qdot = pj.compile(EXAMPLES / "qdot.pj", backend=backend).qdot
    rng = np.random.default_rng(6)
    params = dict((p[0], p) for p in qdot.params)
    a = rng.integers(0, 256, (33, 70), dtype=np.uint8)
    b = rng.integers(-128, 128, (70, 19), dtype=np.int8)
    assert params["a"][1] == "u8" and params["b"][1] == "i8"
    np.testing.assert_array_equal(qdot(a, b), a.astype(np.int32) @ b.astype(np.int32))


def test_threads_give_the_same_bits(backend):
    softmax = pj.compile(EXAMPLES / "softmax.pj", backend=backend).softmax
    x = np.random.default_rng(7).normal(size=(300, 257)).astype(np.float32)
    with pj.threads(1):
        one = softmax(x)
    with pj.threads(3):
        three = softmax(x)
        with pj.threads(2):
            two = softmax(x)
    np.testing.assert_array_equal(one, three)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_allclose(one.sum(axis=1), 1.0, rtol=1e-5)
    before = pj.get_threads()
    pj.set_threads(1)
    try:
        assert pj.get_threads() == 1
        np.testing.assert_array_equal(softmax(x), one)
    finally:
        pj.set_threads(before)
    with pytest.raises(ValueError, match="1 to 1024"):
        pj.set_threads(0)


def test_kernels_pickle_by_source_and_compile_once_per_process(backend):
    blur = pj.compile(EXAMPLES / "blur.pj", backend=backend, fast_math="off").blur
    again = pickle.loads(pickle.dumps(blur))
    x = np.random.default_rng(8).random((9, 9), dtype=np.float32)
    np.testing.assert_array_equal(again(x), blur(x))
    assert again.module.options == blur.module.options
    third = pickle.loads(pickle.dumps(blur))
    assert third.module is again.module  # the second unpickling compiled nothing


def test_introspection(backend):
    m = pj.compile(EXAMPLES / "softmax.pj", backend=backend)
    k = m.softmax
    assert k.signature == "softmax(x: f32[N, C]) -> y: f32[N, C]"
    assert k.params == [("x", "f32", 2, "f32[N, C]")]
    assert k.results == [("y", "f32", 2, "f32[N, C]")]
    assert "pj.kernel" in k.ir("checked")
    assert "loop.parallel" in k.ir("lowered") or "loop.for" in k.ir("lowered")
    assert "softmax" in repr(k) and backend in repr(k)
    assert "<table>" in k._repr_html_()
    asm = k.asm()
    assert "ret" in asm
    assert m.kernels == ["softmax"] and "softmax" in dir(m)
    with pytest.raises(AttributeError, match="its kernels: softmax"):
        m.softmx
    with pytest.raises(ValueError, match="stage"):
        k.ir("parsed")


def test_int64_arrays_of_either_c_name_are_accepted(backend):
    # NumPy names 64-bit integers after C's `long` or `long long`; both are i64
    k = pj.kernel("kernel s(x: i64[N]) -> y: i64[N] { y[i] = x[i] + 1; }", backend=backend)
    for dt in (np.int64, np.longlong):
        np.testing.assert_array_equal(k(np.arange(3, dtype=dt)), [1, 2, 3])
    with pytest.raises(TypeError, match="int64"):
        k(np.arange(3, dtype=np.uint64))


def test_threads_of_python_call_one_kernel_at_once(backend):
    # large enough that each call releases the GIL and the calls overlap
    blur = pj.compile(EXAMPLES / "blur.pj", backend=backend).blur
    x = np.random.default_rng(9).random((512, 512), dtype=np.float32)
    want = blur(x)
    got = [None] * 6

    def work(i):
        got[i] = blur(x)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(got))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g in got:
        np.testing.assert_array_equal(g, want)


def test_empty_arrays_and_foreign_dtypes(backend):
    blur = pj.compile(EXAMPLES / "blur.pj", backend=backend).blur
    assert blur(np.zeros((0, 5), np.float32)).shape == (0, 5)
    for bad in (np.zeros((3, 3), np.complex64), np.zeros((3, 3), object),
                np.zeros(3, dtype=[("a", "f4")])):
        with pytest.raises(TypeError, match="expects an array of float32"):
            blur(bad)
    with pytest.raises(ValueError, match=r"got an array of shape \(\)"):
        blur(np.ones((), np.float32))
    with pytest.raises(TypeError, match="expects a NumPy array of float32 .*got float32"):
        blur(np.float32(1.0))
