"""examples/unsharp.pj over a chunked 16384 x 16384 f32 image on a Dask
LocalCluster: picojoule on 2 worker processes against 1, and NumPy's
unsharp on the same cluster and chunks.

    python python/bench/dask_unsharp.py [--size 16384] [--chunk 4096] [--reps 5]

Each timing persists the result on the workers (nothing travels back to
the client) from an input already persisted there; medians of --reps.
Kernels run on one thread per worker (`set_threads(1)`): the workers are
the parallelism."""

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

import dask.array as da
import distributed

import picojoule as pj
import picojoule.dask  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


def numpy_unsharp(img, amount):
    """unsharp.pj in NumPy on a block whose one-pixel border Dask added."""
    bx = (img[:, :-2] + 2 * img[:, 1:-1] + img[:, 2:]) / np.float32(4)
    blurred = (bx[:-2] + 2 * bx[1:-1] + bx[2:]) / np.float32(4)
    inner = img[1:-1, 1:-1]
    out = np.clip(inner + np.float32(amount) * (inner - blurred), 0, 1).astype(np.float32)
    return np.pad(out, 1)  # the border map_overlap trims


def timed(make, reps, client):
    times = []
    for rep in range(reps):
        # another `amount` each time: Dask would otherwise find the result
        # of an identical graph still on the workers
        amount = 1.5 + rep * 1e-3
        t = time.perf_counter()
        y = make(amount).persist()
        distributed.wait(y)
        times.append(time.perf_counter() - t)
        del y
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=16384)
    ap.add_argument("--chunk", type=int, default=4096)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    unsharp = pj.compile(ROOT / "examples" / "unsharp.pj").unsharp
    print(f"unsharp {a.size} x {a.size} f32, chunks {a.chunk}, medians (min) of {a.reps}")
    for workers in (1, 2):
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      dashboard_address=None, memory_limit="10GiB") as cluster, \
                distributed.Client(cluster) as client:
            client.run(lambda: __import__("picojoule").set_threads(1))
            x = da.random.random((a.size, a.size), chunks=a.chunk).astype(np.float32).persist()
            distributed.wait(x)
            pj_t = timed(lambda amount: pj.dask.map(unsharp, x, amount=amount), a.reps, client)
            np_t = timed(lambda amount: x.map_overlap(numpy_unsharp, depth=1, boundary="reflect",
                                                      amount=amount, dtype=np.float32), a.reps, client)
            print(f"  {workers} worker{'s' if workers > 1 else ''}: picojoule {pj_t[0]:.3f} s ({pj_t[1]:.3f}), "
                  f"NumPy {np_t[0]:.3f} s ({np_t[1]:.3f})")


if __name__ == "__main__":
    main()
