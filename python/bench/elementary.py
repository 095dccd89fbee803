"""picojoule's f32 elementary functions in vector code, against the same
kernel kept scalar (`schedule { y.vectorize(false); }`: a runtime call per
element, what every function but `exp` cost before they were defined over
lanes — the calls compute the same definitions, `pow`'s was the host
libm's) and against NumPy's own f32 functions, in one process, alternating.

    python python/bench/elementary.py [--backend cranelift|llvm] [--rounds 11] [--threads 1] [--dtype f32|f64]

Each kernel maps 2^22 f32 inputs drawn from the range the function is
used on (|x| < 8 for sin/cos/tan, so no lane takes the scalar fallback);
the vector and scalar kernels must agree bit for bit (one definition),
and both must stay within a few ulps of NumPy. `erf` has no NumPy
function: its row shows picojoule only.
"""

import argparse
import statistics
import time

import numpy as np

import picojoule as pj

N = 1 << 22

# name, call, NumPy equivalent (None: none), input range
FUNCTIONS = [
    ("sin", "sin(x[i])", np.sin, (-8.0, 8.0)),
    ("cos", "cos(x[i])", np.cos, (-8.0, 8.0)),
    ("tan", "tan(x[i])", np.tan, (-1.5, 1.5)),
    ("log", "log(x[i])", np.log, (1e-3, 1e3)),
    ("log1p", "log1p(x[i])", np.log1p, (-0.5, 10.0)),
    ("expm1", "expm1(x[i])", np.expm1, (-5.0, 5.0)),
    ("tanh", "tanh(x[i])", np.tanh, (-5.0, 5.0)),
    ("erf", "erf(x[i])", None, (-4.0, 4.0)),
    ("atan2", "atan2(z[i], x[i])", lambda x, z: np.arctan2(z, x), (-4.0, 4.0)),
    ("pow", "pow(x[i], z[i])", np.power, (0.01, 4.0)),
    ("pow 2.4", "pow(x[i], 2.4)", lambda x: np.power(x, np.float32(2.4)), (0.0, 1.0)),
    ("exp", "exp(x[i])", np.exp, (-20.0, 20.0)),
]


# the functions defined over f64 lanes
F64 = {"sin", "cos", "tan", "log", "log1p", "expm1", "tanh", "exp"}


def source(call, scalar, t):
    params = f"x: {t}[N], z: {t}[N]" if "z[i]" in call else f"x: {t}[N]"
    sched = " schedule { y.vectorize(false); }" if scalar else ""
    return f"kernel k({params}) -> y: {t}[N] {{ y[i] = {call};{sched} }}"


def median_ms(samples):
    return statistics.median(samples) * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default=None)
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dtype", default="f32", choices=["f32", "f64"])
    args = ap.parse_args()
    dtype = np.float32 if args.dtype == "f32" else np.float64
    rng = np.random.default_rng(3)
    print(f"backend {args.backend or 'default'}, {args.threads} thread(s), 2^22 {args.dtype}, median of {args.rounds} alternating rounds")
    print(f"| function | vector (ms) | scalar calls (ms) | vector speed-up | NumPy (ms) | NumPy / vector |")
    print("|---|---|---|---|---|---|")
    with pj.threads(args.threads):
        for name, call, ref, (lo, hi) in FUNCTIONS:
            if args.dtype == "f64" and name not in F64:
                continue
            x = rng.uniform(lo, hi, N).astype(dtype)
            z = rng.uniform(lo, hi, N).astype(dtype)
            inputs = (x, z) if "z[i]" in call else (x,)
            vec = pj.kernel(source(call, False, args.dtype), backend=args.backend)
            sca = pj.kernel(source(call, True, args.dtype), backend=args.backend)
            a, b = vec(*inputs), sca(*inputs)
            if a.tobytes() != b.tobytes():
                print(f"{name}: vector and scalar results differ")
            if ref is not None:
                want = ref(*inputs).astype(np.float64)
                err = np.max(np.abs(a - want) / np.maximum(np.spacing(np.abs(want).astype(dtype)), 1e-300))
                if err > 8:
                    print(f"{name}: {err:.1f} ulp from NumPy")
            contenders = [("vec", lambda: vec(*inputs)), ("sca", lambda: sca(*inputs))]
            if ref is not None:
                contenders.append(("np", lambda: ref(*inputs)))
            times = {k: [] for k, _ in contenders}
            for _ in range(args.rounds):
                for k, f in contenders:
                    t0 = time.perf_counter()
                    f()
                    times[k].append(time.perf_counter() - t0)
            v, s = median_ms(times["vec"]), median_ms(times["sca"])
            if ref is not None:
                n = median_ms(times["np"])
                print(f"| {name} | {v:.2f} | {s:.2f} | {s / v:.1f}x | {n:.2f} | {n / v:.2f} |")
            else:
                print(f"| {name} | {v:.2f} | {s:.2f} | {s / v:.1f}x | - | - |")


if __name__ == "__main__":
    main()
