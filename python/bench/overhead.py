"""Per-call overhead of a tiny kernel: picojoule from Python, the same
compiled code from C (`pj build` + a C loop), and numba's dispatch of the
same function, in one run.

    python python/bench/overhead.py --pj target/release/pj --runtime target/release/libpj_runtime.a

Needs a C compiler for the C figure and numba for numba's (each is
skipped, saying so, when missing)."""

import argparse
import os
import subprocess
import tempfile
import timeit

import numpy as np

import picojoule as pj

SOURCE = "kernel inc(x: f32[N]) -> y: f32[N] { y[i] = x[i] + 1.0; }\n"
N = 16

C_DRIVER = r"""
#include <stdio.h>
#include <time.h>
#include "inc.h"
int main(void) {
    float x[16] = {0}, y[16];
    pj_buffer bx = {x, {16}, {1}, PJ_F32, 1}, by = {y, {16}, {1}, PJ_F32, 1};
    double best = 1e9;
    for (int r = 0; r < 7; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < 1000000; i++) inc(&bx, &by);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ns = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e6;
        if (ns < best) best = ns;
    }
    printf("%.1f\n", best);
    return 0;
}
"""


def per_call_ns(f, number=200_000, repeat=7):
    return min(timeit.repeat(f, number=number, repeat=repeat)) / number * 1e9


def c_ns(pj_bin, runtime, backend):
    if not pj_bin or not runtime:
        return None
    d = tempfile.mkdtemp(prefix="pjoverhead")
    src = os.path.join(d, "inc.pj")
    with open(src, "w") as f:
        f.write(SOURCE)
    built = subprocess.run([pj_bin, "build", src, "--backend", backend, "-o", os.path.join(d, "inc.o")],
                           capture_output=True, text=True)
    if built.returncode != 0:
        print(f"note: no C figure for {backend}: {built.stderr.strip()}")
        return None
    with open(os.path.join(d, "main.c"), "w") as f:
        f.write(C_DRIVER)
    exe = os.path.join(d, "main")
    subprocess.run(["cc", "-O2", "-I", d, os.path.join(d, "main.c"), os.path.join(d, "inc.o"), runtime,
                    "-lpthread", "-ldl", "-lm", "-o", exe], check=True)
    return float(subprocess.run([exe], check=True, capture_output=True, text=True).stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pj", help="the pj binary (for the C figure)")
    ap.add_argument("--runtime", help="libpj_runtime.a (for the C figure)")
    a = ap.parse_args()
    x = np.zeros(N, np.float32)
    out = np.empty(N, np.float32)
    rows = []
    for backend in pj.backends():
        k = pj.kernel(SOURCE, backend=backend)
        rows.append((f"picojoule {backend}, k(x, out=y)", per_call_ns(lambda: k(x, out=out))))
        rows.append((f"picojoule {backend}, y = k(x)", per_call_ns(lambda: k(x))))
        c = c_ns(a.pj, a.runtime, backend)
        rows.append((f"C calling the same object ({backend})", c))
    try:
        import numba

        @numba.njit
        def inc(x, y):
            for i in range(x.shape[0]):
                y[i] = x[i] + np.float32(1.0)

        @numba.njit
        def inc_alloc(x):
            return x + np.float32(1.0)

        inc(x, out)
        inc_alloc(x)
        rows.append((f"numba {numba.__version__}, inc(x, y)", per_call_ns(lambda: inc(x, out))))
        rows.append((f"numba {numba.__version__}, y = inc(x)", per_call_ns(lambda: inc_alloc(x))))
    except ImportError:
        rows.append(("numba (not installed)", None))
    print(f"per call, N = {N} f32, best of 7 x 200000 calls")
    for name, ns in rows:
        print(f"  {name:45s} {'-' if ns is None else f'{ns / 1000:.3f} us'}")


if __name__ == "__main__":
    main()
