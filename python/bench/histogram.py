"""A 256-bin histogram of a 4096 x 4096 `u8` image: picojoule's update
(`hist[i32(img[y, x])] += 1 for y, x`, a private histogram per thread)
on 1 and 2 threads against `np.bincount` (one thread; it needs the pixels
as a flat array, which `ravel` gives without a copy), in one process,
alternating.

    python python/bench/histogram.py [--backend cranelift|llvm] [--rounds 15]

Results must agree exactly."""

import argparse
import statistics
import time

import numpy as np

import picojoule as pj

SOURCE = """
kernel hist(img: u8[H, W]) -> h: i32[256] {
    h[b] = 0;
    h[i32(img[y, x])] += 1 for y, x;
}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default=None)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    k = pj.kernel(SOURCE, backend=args.backend)
    img = np.random.default_rng(1).integers(0, 256, (4096, 4096), dtype=np.uint8)
    h = np.empty(256, dtype=np.int32)

    def pj_on(n):
        def run():
            with pj.threads(n):
                k(img, out=h)
        return run

    contenders = {
        "np.bincount": lambda: np.bincount(img.ravel(), minlength=256),
        "picojoule 1t": pj_on(1),
        "picojoule 2t": pj_on(2),
    }
    for f in contenders.values():
        f()
    if not np.array_equal(h, np.bincount(img.ravel(), minlength=256)):
        print("warning: picojoule and np.bincount differ")
    times = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, f in contenders.items():
            t = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t)
    med = {name: statistics.median(v) * 1e3 for name, v in times.items()}
    print(f"backend: {args.backend or 'cranelift'}, {args.rounds} rounds, median ms")
    for name, ms in med.items():
        print(f"  {name:14} {ms:8.2f}")
    print(f"np.bincount / picojoule 1t: {med['np.bincount'] / med['picojoule 1t']:.2f}")
    print(f"picojoule 2t over 1t:       {med['picojoule 1t'] / med['picojoule 2t']:.2f}x")


if __name__ == "__main__":
    main()
