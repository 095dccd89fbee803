"""Bad input gets the CLI's precise messages as Python exceptions, and
nothing is written out of bounds or into an input."""

from pathlib import Path

import numpy as np
import pytest

import picojoule as pj

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module", params=pj.backends())
def matmul(request):
    return pj.compile(EXAMPLES / "matmul.pj", backend=request.param).matmul


def test_a_source_with_errors_raises_compile_error_with_the_diagnostics():
    with pytest.raises(pj.CompileError) as e:
        pj.compile("kernel k(x: f32[N]) -> y: f32[N] { y[i] = x[i] + z[i]; }")
    text = str(e.value)
    assert "z" in text and "<string>:1:" in text
    assert isinstance(e.value, ValueError)


def test_bad_options_name_what_is_accepted():
    src = EXAMPLES / "chain.pj"
    with pytest.raises(ValueError, match='"cranelift", "llvm"'):
        pj.compile(src, backend="gcc")
    with pytest.raises(ValueError, match='"off", "reassoc" or "contract"'):
        pj.compile(src, fast_math="fast")
    with pytest.raises(ValueError, match="opt_level=7"):
        pj.compile(src, opt_level=7)
    with pytest.raises(ValueError, match="host"):
        pj.compile(src, target="aarch64-unknown-linux-gnu")
    with pytest.raises(FileNotFoundError, match="nowhere.pj"):
        pj.compile("nowhere.pj")
    with pytest.raises(TypeError, match="source text or a path"):
        pj.compile(42)
    if "llvm" not in pj.backends():
        with pytest.raises(ValueError, match="--features llvm"):
            pj.compile(src, backend="llvm")


def test_kernel_takes_exactly_one():
    with pytest.raises(ValueError, match="2 kernels"):
        pj.kernel("kernel a(x: f32[N]) -> y: f32[N] { y[i] = x[i]; }\n"
                  "kernel b(x: f32[N]) -> y: f32[N] { y[i] = x[i]; }")


def test_wrong_dtype_is_a_type_error_naming_the_parameter(matmul):
    a = np.ones((4, 5), np.float64)
    b = np.ones((5, 3), np.float32)
    with pytest.raises(TypeError, match=r"argument `a` expects an array of float32 \(f32\[M, K\]\), got float64; convert it with `.astype\(numpy.float32\)`"):
        matmul(a, b)
    with pytest.raises(TypeError, match="argument `b` expects a NumPy array of float32.*got list"):
        matmul(b.T.copy(), [[1.0]])


def test_sizes_that_disagree_are_a_value_error_naming_dim_and_both_sizes(matmul):
    a = np.ones((4, 5), np.float32)
    b = np.ones((6, 3), np.float32)
    with pytest.raises(ValueError) as e:
        matmul(a, b)
    text = str(e.value)
    assert "`b`" in text and "5" in text and "6" in text and "K" in text, text
    with pytest.raises(ValueError, match=r"expects 2 dims \(f32\[K, N\]\), got an array of shape \(5,\)"):
        matmul(a, np.ones(5, np.float32))


def test_arguments_are_bound_like_python_functions(matmul):
    a, b = np.ones((2, 2), np.float32), np.ones((2, 2), np.float32)
    with pytest.raises(TypeError, match=r"missing `b` \(f32\[K, N\]\)"):
        matmul(a)
    with pytest.raises(TypeError, match="takes 2 arguments"):
        matmul(a, b, a)
    with pytest.raises(TypeError, match="no parameter `c`; its parameters: a, b"):
        matmul(a, b=b, c=a)
    with pytest.raises(TypeError, match="two values for argument `a`"):
        matmul(a, b, a=a)


def test_every_way_of_calling_binds_and_refuses_alike(matmul):
    """CPython calls a kernel through its vectorcall slot; `__call__` (the
    tuple-and-dict slot) and `**` of names built at run time (not interned)
    must bind the same way and say the same."""
    a, b = np.arange(4, dtype=np.float32).reshape(2, 2), np.eye(2, dtype=np.float32)
    name_a, name_b = "".join(["a"]), "".join(["b"])  # new strings, not interned
    want = a @ b
    for call in (
        lambda: matmul(a, b),
        lambda: matmul.__call__(a, b),
        lambda: matmul(**{name_a: a, name_b: b}),
        lambda: matmul.__call__(b=b, a=a),
        lambda: matmul(*[a], **{name_b: b}, out=np.empty((2, 2), np.float32)),
    ):
        np.testing.assert_array_equal(call(), want)
    for call in (matmul, matmul.__call__):
        with pytest.raises(TypeError, match="no parameter `c`; its parameters: a, b"):
            call(a, b=b, **{"".join(["c"]): a})
        with pytest.raises(TypeError, match="two values for argument `a`"):
            call(a, b, **{name_a: a})
        with pytest.raises(TypeError, match=r"missing `b` \(f32\[K, N\]\)"):
            call(a=a)
    # a keyword that is not a string never reaches a kernel: CPython refuses it
    with pytest.raises(TypeError):
        matmul(a, **{1: b})


def test_scalars_are_checked_for_kind_and_range():
    k = pj.kernel("kernel shift(x: u8[N], s: u8, f: f32) -> y: f32[N] { y[i] = f32(x[i] + s) * f; }")
    x = np.arange(4, dtype=np.uint8)
    np.testing.assert_array_equal(k(x, 3, 0.5), (x + 3).astype(np.float32) * 0.5)
    with pytest.raises(TypeError, match=r"argument `s` expects an integer \(u8\), got float"):
        k(x, 2.5, 1.0)
    with pytest.raises(ValueError, match="`s` = 300 is outside the range of u8, 0 to 255"):
        k(x, 300, 1.0)
    with pytest.raises(ValueError, match="outside the range of u8"):
        k(x, 2**70, 1.0)
    with pytest.raises(TypeError, match=r"argument `f` expects a number \(f32\), got str"):
        k(x, 1, "2")


def test_out_is_checked_before_anything_is_written(matmul):
    a = np.ones((4, 5), np.float32)
    b = np.ones((5, 3), np.float32)
    with pytest.raises(ValueError, match=r"out `c` has shape \(4, 4\); this call's `c` has shape \(4, 3\) \(dim 1: 4 against 3\)"):
        matmul(a, b, out=np.empty((4, 4), np.float32))
    with pytest.raises(TypeError, match="out `c` expects an array of float32"):
        matmul(a, b, out=np.empty((4, 3), np.float64))
    ro = np.zeros((4, 3), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        matmul(a, b, out=ro)
    assert not ro.any()


def test_results_may_not_overlap_arguments():
    k = pj.kernel("kernel inc(x: f32[N]) -> y: f32[N] { y[i] = x[i] + 1.0; }")
    x = np.zeros(8, np.float32)
    with pytest.raises(ValueError, match="overlaps argument `x`"):
        k(x, out=x)
    with pytest.raises(ValueError, match="two indices to one element"):
        k(x, out=np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), (8,), (0,)))
    assert not x.any()


def test_failures_while_running_raise_kernel_error():
    k = pj.kernel("kernel d(x: i32[N], q: i32) -> y: i32[N] { y[i] = x[i] / q; }")
    with pytest.raises(pj.KernelError) as e:
        k(np.arange(5, dtype=np.int32), 0)
    assert e.value.status_name == "division by zero" and e.value.status == 3
    assert isinstance(e.value, RuntimeError)
    # reads the compiler cannot prove in bounds are refused before any call
    with pytest.raises(pj.CompileError, match="cannot be proven in bounds"):
        pj.kernel("kernel g(x: f32[N], o: i64) -> y: f32[N] { y[i] = x[i + o]; }")
