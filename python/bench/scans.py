"""Recurrences against numba loops, in one process, alternating: a
cumulative sum of 2^24 f32, and an exponential moving average along the
rows of a 4096 x 4096 f32 image, on 1 and 2 threads.

    python python/bench/scans.py [--backend cranelift|llvm] [--rounds 15]

numba's loops are what a user writes by hand: `@njit` for one thread,
`@njit(parallel=True)` with `prange` over the rows for two (numba's
threads set with `numba.set_num_threads`). Every round calls each
contender once on the same inputs (alternation: a VM's speed drifts from
minute to minute); the table shows each one's median and the ratios.
Results must agree bit for bit with numba's (the same f32 operations in
the same order), or the script says so.
"""

import argparse
import statistics
import time

import numpy as np

import picojoule as pj

SOURCE = """
kernel cumsum(x: f32[N]) -> c: f32[N] {
    c[i] = c[i - 1] + x[i] init 0.0;
}
kernel ema(x: f32[R, N], alpha: f32) -> y: f32[R, N] {
    y[r, i] = select(i == 0, x[r, 0], alpha * x[r, i] + (1.0 - alpha) * y[r, i - 1]) init 0.0;
}
"""


def numba_kernels():
    import numba
    from numba import njit, prange

    @njit(cache=False)
    def cumsum(x, c):
        acc = np.float32(0.0)
        for i in range(x.shape[0]):
            acc = acc + x[i]
            c[i] = acc

    def ema_body(x, alpha, y, r):
        beta = np.float32(1.0) - alpha
        prev = x[r, 0]
        y[r, 0] = prev
        for i in range(1, x.shape[1]):
            prev = alpha * x[r, i] + beta * prev
            y[r, i] = prev

    body = njit(ema_body)

    @njit
    def ema1(x, alpha, y):
        for r in range(x.shape[0]):
            body(x, alpha, y, r)

    @njit(parallel=True)
    def ema_par(x, alpha, y):
        for r in prange(x.shape[0]):
            body(x, alpha, y, r)

    return numba, cumsum, ema1, ema_par


def median_ms(samples):
    return statistics.median(samples) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default=None)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    m = pj.compile(SOURCE, backend=args.backend)
    numba, nb_cumsum, nb_ema1, nb_ema_par = numba_kernels()
    rng = np.random.default_rng(1)
    x1 = rng.standard_normal(1 << 24).astype(np.float32)
    x2 = rng.standard_normal((4096, 4096)).astype(np.float32)
    alpha = np.float32(0.125)
    c_pj, c_nb = np.empty_like(x1), np.empty_like(x1)
    y_pj, y_nb = np.empty_like(x2), np.empty_like(x2)

    def pj_on(n, f):
        def run():
            with pj.threads(n):
                f()
        return run

    def nb_on(n, f):
        def run():
            numba.set_num_threads(n)
            f()
        return run

    contenders = {
        ("cumsum 2^24", "picojoule 1t"): pj_on(1, lambda: m.cumsum(x1, out=c_pj)),
        ("cumsum 2^24", "numba 1t"): lambda: nb_cumsum(x1, c_nb),
        ("ema 4096^2", "picojoule 1t"): pj_on(1, lambda: m.ema(x2, alpha, out=y_pj)),
        ("ema 4096^2", "numba 1t"): lambda: nb_ema1(x2, alpha, y_nb),
        ("ema 4096^2", "picojoule 2t"): pj_on(2, lambda: m.ema(x2, alpha, out=y_pj)),
        ("ema 4096^2", "numba 2t"): nb_on(2, lambda: nb_ema_par(x2, alpha, y_nb)),
    }
    for f in contenders.values():  # compile and warm up
        f()
    for a, b, what in ((c_pj, c_nb, "cumsum"), (y_pj, y_nb, "ema")):
        if not np.array_equal(a, b):
            print(f"warning: {what}: picojoule and numba differ (max {np.max(np.abs(a - b))})")
    times = {k: [] for k in contenders}
    for _ in range(args.rounds):
        for k, f in contenders.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    med = {k: median_ms(v) for k, v in times.items()}
    print(f"backend: {args.backend or 'cranelift'}, {args.rounds} rounds, median ms")
    for (kern, who), ms in med.items():
        print(f"  {kern:12} {who:14} {ms:8.2f}")
    print("ratios (numba / picojoule; > 1: picojoule faster)")
    print(f"  cumsum 1t: {med[('cumsum 2^24', 'numba 1t')] / med[('cumsum 2^24', 'picojoule 1t')]:.2f}")
    print(f"  ema 1t:    {med[('ema 4096^2', 'numba 1t')] / med[('ema 4096^2', 'picojoule 1t')]:.2f}")
    print(f"  ema 2t:    {med[('ema 4096^2', 'numba 2t')] / med[('ema 4096^2', 'picojoule 2t')]:.2f}")
    print(f"  picojoule ema 2t over 1t: {med[('ema 4096^2', 'picojoule 1t')] / med[('ema 4096^2', 'picojoule 2t')]:.2f}x")


if __name__ == "__main__":
    main()
