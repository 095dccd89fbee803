"""The elementary functions against mpmath at 40 digits, through every
backend: each within the ulps docs/language.md states, in f64 and f32,
and every backend giving the interpreter's bits (one definition, which
vector code computes inline and scalar code calls)."""

import math

import numpy as np
import pytest

import picojoule as pj

mpmath = pytest.importorskip("mpmath")
mpmath.mp.dps = 40

# name, picojoule call, mpmath reference, input range, stated ulps (f64, f32)
UNARY = [
    ("sin", "sin(x[i])", mpmath.sin, (-1e4, 1e4), (1.0, 1.5)),
    ("cos", "cos(x[i])", mpmath.cos, (-1e4, 1e4), (1.5, 1.5)),
    ("tan", "tan(x[i])", mpmath.tan, (-1e4, 1e4), (2.5, 3.0)),
    ("erf", "erf(x[i])", mpmath.erf, (-6.0, 6.0), (1.0, 1.5)),
    ("log1p", "log1p(x[i])", lambda v: mpmath.log(1 + v), (-0.999, 1e6), (1.0, 1.0)),
    ("expm1", "expm1(x[i])", mpmath.expm1, (-50.0, 80.0), (2.5, 2.0)),
    ("log", "log(x[i])", mpmath.log, (1e-30, 1e30), (1.0, 1.0)),
    ("tanh", "tanh(x[i])", mpmath.tanh, (-12.0, 12.0), (1.5, 1.5)),
    ("exp", "exp(x[i])", mpmath.exp, (-87.0, 88.0), (1.5, 1.0)),
]


def ulps(got, want, dtype):
    """|got - want| in units of the last place of `want` rounded to dtype."""
    info = np.finfo(dtype)
    w = abs(float(want))
    e = max(math.frexp(w)[1] - 1, int(info.minexp)) if w else int(info.minexp)
    return abs(mpmath.mpf(float(got)) - want) / mpmath.ldexp(1, e - info.nmant)


def inputs(lo, hi, dtype, n=1500):
    rng = np.random.default_rng(7)
    small = np.geomspace(1e-20, 1.0, 100)
    x = np.concatenate([rng.uniform(lo, hi, n), small, -small, np.linspace(lo, hi, 101)])
    return x[(x >= lo) & (x <= hi)].astype(dtype)


@pytest.mark.parametrize("name,call,ref,domain,stated", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_unary_functions_are_within_their_stated_ulps_on_every_backend(name, call, ref, domain, stated, dtype):
    t = "f64" if dtype == np.float64 else "f32"
    src = f"kernel k(x: {t}[N]) -> y: {t}[N] {{ y[i] = {call}; }}"
    x = inputs(*domain, dtype)
    results = [pj.kernel(src, backend=b)(x) for b in pj.backends()]
    for r in results[1:]:
        assert r.tobytes() == results[0].tobytes(), "backends disagree"
    worst = max(ulps(g, ref(mpmath.mpf(float(v))), dtype) for v, g in zip(x, results[0]))
    bound = stated[0] if dtype == np.float64 else stated[1]
    assert worst <= bound, f"{name} {t}: {float(worst):.3f} ulp"


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_atan2_is_within_its_stated_ulps_in_every_quadrant(dtype):
    t = "f64" if dtype == np.float64 else "f32"
    k = pj.kernel(f"kernel k(y: {t}[N], x: {t}[N]) -> a: {t}[N] {{ a[i] = atan2(y[i], x[i]); }}")
    rng = np.random.default_rng(11)
    y = (rng.standard_normal(2000) * 10.0 ** rng.integers(-5, 6, 2000)).astype(dtype)
    x = (rng.standard_normal(2000) * 10.0 ** rng.integers(-5, 6, 2000)).astype(dtype)
    got = k(y, x)
    worst = max(ulps(g, mpmath.atan2(mpmath.mpf(float(a)), mpmath.mpf(float(b))), dtype)
                for a, b, g in zip(y, x, got))
    assert worst <= 2.0, f"atan2 {t}: {float(worst):.3f} ulp"
    np.testing.assert_array_equal(k(np.array([0.0, -0.0, 1.0], dtype), np.array([-1.0, -1.0, 0.0], dtype)),
                                  np.array([math.pi, -math.pi, math.pi / 2], dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_pow_is_within_one_ulp_and_follows_c99(dtype):
    t = "f64" if dtype == np.float64 else "f32"
    k = pj.kernel(f"kernel k(x: {t}[N], y: {t}[N]) -> p: {t}[N] {{ p[i] = pow(x[i], y[i]); }}")
    rng = np.random.default_rng(5)
    x = np.exp(rng.uniform(-20, 20, 3000)).astype(dtype)
    y = rng.uniform(-4, 4, 3000).astype(dtype)
    got = k(x, y)
    worst = max(ulps(g, mpmath.power(mpmath.mpf(float(a)), mpmath.mpf(float(b))), dtype)
                for a, b, g in zip(x, y, got) if np.isfinite(g) and g != 0)
    assert worst <= 1.0, f"pow {t}: {float(worst):.3f} ulp"
    # NumPy's answers at the C99 special cases
    xs = np.array([np.nan, 1.0, -1.0, 0.0, -0.0, -0.0, -2.0, -2.0, np.inf, -np.inf], dtype)
    ys = np.array([0.0, np.nan, np.inf, -3.0, -3.0, 3.0, 3.0, 0.5, -1.0, 3.0], dtype)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(k(xs, ys), np.power(xs, ys))


def test_a_float_function_of_an_integer_says_to_convert():
    with pytest.raises(pj.CompileError, match=r"`sin` needs a float argument, found i32"):
        pj.kernel("kernel k(x: i32[N]) -> y: f32[N] { y[i] = sin(x[i]); }")
