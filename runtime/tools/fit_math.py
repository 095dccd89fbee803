"""Fits the polynomials of picojoule's f32 elementary functions
(runtime/src/math/*.rs) and prints them as f32 literals.

Each polynomial approximates a smooth function g on an interval; the fit
minimizes the largest weighted error max |w(x) (p(x) - g(x))| (Lawson's
algorithm: iteratively reweighted least squares, which converges to the
minimax polynomial), with w chosen so that the error it bounds is the
relative error of the final result. The reference values come from mpmath
at 40 digits. The coefficients are then rounded to f32; the accuracy the
runtime promises is measured on the rounded coefficients, in Rust
(runtime/tests/accuracy.rs), not here.

    python runtime/tools/fit_math.py
"""

import mpmath
import numpy as np

mpmath.mp.dps = 40


def lawson(xs, g, w, powers, var, iters=400):
    """Coefficients c of sum c_i var(x)^powers[i] minimizing max |w (p - g)|."""
    v = np.array([float(var(x)) for x in xs])
    a = np.stack([v**p for p in powers], axis=1)
    gv = np.array([float(g(x)) for x in xs])
    wv = np.array([float(w(x)) for x in xs])
    lw = np.full(len(xs), 1.0 / len(xs))
    best = None
    for _ in range(iters):
        sw = np.sqrt(lw) * wv
        c, *_ = np.linalg.lstsq(a * sw[:, None], gv * sw, rcond=None)
        err = np.abs(wv * (a @ c - gv))
        if best is None or err.max() < best[1]:
            best = (c, err.max())
        lw = lw * err
        lw /= lw.sum()
    return best


def nodes(lo, hi, n=3000):
    k = np.arange(n)
    return [mpmath.mpf(float(x)) for x in (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.pi * (k + 0.5) / n)]


def show(name, fit):
    c, err = fit
    lits = ", ".join(repr(float(np.float32(x))) for x in c)
    print(f"{name}: max weighted error {err:.3e} ({err / 2**-24:.3f} f32 ulp-units)\n  [{lits}]")


def main():
    mp = mpmath
    # sin(r) = r + r z S(z), z = r^2, |r| <= pi/4
    xs = [x for x in nodes(1e-4, float(mp.pi / 4))]
    show("sin S", lawson(xs, lambda r: (mp.sin(r) - r) / r**3, lambda r: r**3 / mp.sin(r), [0, 1, 2], lambda r: r * r))
    # cos(r) = 1 - z/2 + z^2 C(z)
    show("cos C", lawson(xs, lambda r: (mp.cos(r) - 1 + r * r / 2) / r**4, lambda r: r**4 / mp.cos(r), [0, 1, 2], lambda r: r * r))
    # log(1 + f) = f - f^2/2 + f^3 L(f), f in [sqrt(1/2) - 1, sqrt(2) - 1]
    fs = [x for x in nodes(float(mp.sqrt(0.5) - 1), float(mp.sqrt(2) - 1)) if abs(x) > 1e-5]
    for deg in (7, 8):
        show(f"log L deg {deg}", lawson(fs, lambda f: (mp.log1p(f) - f + f * f / 2) / f**3, lambda f: f**3 / mp.log1p(f), list(range(deg + 1)), lambda f: f))
    # tanh(x) = x + x z T(z), |x| <= 0.625
    xs = nodes(1e-4, 0.625)
    for deg in (4, 5):
        show(f"tanh T deg {deg}", lawson(xs, lambda x: (mp.tanh(x) - x) / x**3, lambda x: x**3 / mp.tanh(x), list(range(deg + 1)), lambda x: x * x))
    # erf(x) = x E(z), |x| <= A
    for a in (0.875, 1.0):
        xs = nodes(1e-4, a)
        for deg in (5, 6):
            show(f"erf E [0,{a}] deg {deg}", lawson(xs, lambda x: mp.erf(x) / x, lambda x: 1, list(range(deg + 1)), lambda x: x * x))
        # erf(x) = 1 - exp(Q(x)), A <= x <= 4: weight erfc so the error is erf's absolute error
        xs = nodes(a, 4.0)
        for deg in (7, 8, 9, 10):
            show(f"erf Q [{a},4] deg {deg}", lawson(xs, lambda x: mp.log(mp.erfc(x)), lambda x: mp.erfc(x) / mp.erf(x), list(range(deg + 1)), lambda x: x))
    # atan(t) = t + t z A(z), 0 <= t <= tan(pi/8)
    xs = nodes(1e-4, float(mp.tan(mp.pi / 8)))
    for deg in (3, 4, 5):
        show(f"atan A deg {deg}", lawson(xs, lambda t: (mp.atan(t) - t) / t**3, lambda t: t**3 / mp.atan(t), list(range(deg + 1)), lambda t: t * t))



def extra():
    mp = mpmath
    xs = nodes(1e-4, 0.875)
    show("erf E-1 [0,0.875] deg 6", lawson(xs, lambda x: mp.erf(x) / x - 1, lambda x: x / mp.erf(x), list(range(7)), lambda x: x * x))
    xs = nodes(1e-4, 1.0)
    for deg in (7, 8, 9, 10):
        show(f"atan A [0,1] deg {deg}", lawson(xs, lambda t: (mp.atan(t) - t) / t**3, lambda t: t**3 / mp.atan(t), list(range(deg + 1)), lambda t: t * t))



def pow_polys():
    """`pow`'s f64 polynomial: 2^r on [-1/2, 1/2], relative error."""
    mp = mpmath
    xs = nodes(-0.5, 0.5, 4000)
    for deg in (6, 7):
        c, err = lawson(xs, lambda r: mp.power(2, r), lambda r: 1 / mp.power(2, r), list(range(deg + 1)), lambda r: r)
        print(f"exp2 deg {deg}: max relative error {err:.3e} (2^{np.log2(err):.1f})\n  [{', '.join(repr(float(x)) for x in c)}]")



def f64_atan():
    """f64 atan on [0, 7/16] (runtime/src/math/double/trig.rs)."""
    mp = mpmath
    eps = mp.mpf("1e-30")

    def fit(name, g, lo, hi, n):
        c, err = mp.chebyfit(g, [lo, hi], n, error=True)
        print(f"{name} ({n} terms): max absolute error {float(err):.3e}\n  [{', '.join(repr(float(x)) for x in c)}]  # highest first")

    a2 = (mp.mpf(7) / 16) ** 2 * mp.mpf("1.001")
    fit("atan A", lambda z: (mp.atan(mp.sqrt(z)) - mp.sqrt(z)) / mp.sqrt(z) ** 3 if z > eps else -mp.mpf(1) / 3, mp.mpf(0), a2, 11)


def f64_polys():
    """The f64 polynomials (runtime/src/math/double/): Chebyshev fits in
    mpmath at 40 digits (near-minimax for these smooth, nearly constant
    targets), the error measured on a fine grid."""
    mp = mpmath

    def fit(name, g, lo, hi, n):
        c, _ = mp.chebyfit(g, [lo, hi], n, error=True)
        c = c[::-1]  # lowest degree first
        err = max(abs(sum(mpmath.mpf(float(ci)) * x**i for i, ci in enumerate(c)) - g(x)) / abs(g(x))
                  for x in mp.linspace(lo, hi, 400) if g(x) != 0)
        print(f"{name} ({n} terms): max relative error {float(err):.3e}\n  [{', '.join(repr(float(x)) for x in c[::-1])}]  # highest first")

    eps = mp.mpf("1e-30")
    # e^r = 1 + r + r^2 P(r), |r| <= ln2/2
    h = mp.log(2) / 2 + mp.mpf("0.001")
    fit("exp P", lambda r: (mp.exp(r) - 1 - r) / r**2 if abs(r) > eps else mp.mpf(0.5), -h, h, 12)
    # log(1+f) = f - hfsq + s (hfsq + R(z)): R(z) / z, z in [0, 0.0295]
    zmax = ((mp.sqrt(2) - 1) / (mp.sqrt(2) + 1)) ** 2 + mp.mpf("0.0001")
    fit("log R/z", lambda z: (2 * mp.atanh(mp.sqrt(z)) / mp.sqrt(z) - 2) / z if z > eps else mp.mpf(2) / 3, mp.mpf(0), zmax, 7)
    # sin r = r + r^3 S(z), cos r = 1 - z/2 + z^2 C(z), z = r^2 <= (pi/4)^2
    q = (mp.pi / 4) ** 2 * mp.mpf("1.001")
    fit("sin S", lambda z: (mp.sin(mp.sqrt(z)) - mp.sqrt(z)) / mp.sqrt(z) ** 3 if z > eps else -mp.mpf(1) / 6, mp.mpf(0), q, 6)
    t2 = mp.mpf("0.55") ** 2 * mp.mpf("1.001")
    fit("tanh T", lambda z: (mp.tanh(mp.sqrt(z)) - mp.sqrt(z)) / mp.sqrt(z) ** 3 if z > eps else -mp.mpf(1) / 3, mp.mpf(0), t2, 11)
    fit("cos C", lambda z: (mp.cos(mp.sqrt(z)) - 1 + z / 2) / z**2 if z > eps else mp.mpf(1) / 24, mp.mpf(0), q, 6)


def pi_parts_f64():
    """pi/2 as five 26-bit parts and a 53-bit one."""
    mp = mpmath
    mp.mp.dps = 80
    rem = mp.pi / 2
    for i in range(6):
        bits = 26 if i < 5 else 53
        e = mp.floor(mp.log(abs(rem), 2))
        q = mp.mpf(2) ** (e - bits + 1)
        p = mp.nint(rem / q) * q
        assert float(p) == p
        print(repr(float(p)), end=", ")
        rem -= p
    print(f"\n  rest {float(rem):.3e}")
    mp.mp.dps = 40


if __name__ == "__main__":
    main()
    extra()
    pow_polys()
    f64_polys()
    pi_parts_f64()
    f64_atan()
