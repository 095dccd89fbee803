"""Compare builds of one kernel by alternating their calls in one process.

Each shared library is a `pj build` object linked with the runtime
(`cc -shared k.o libpj_runtime.a -lpthread -ldl -lm -o libk.so`); the same
kernel is built in several ways (another commit, a schedule, a developer
variable such as `PJ_LLVM_ARGS`). Every round calls each library once, in
order, on the same inputs, so all of them see the same machine: on a VM
whose speed drifts by 10-20% from minute to minute, separate runs cannot
tell apart changes of a few percent, alternation can. Results must agree
bit for bit (the builds compute the same thing), or the script says so.

    python bench/alternate.py --kernel matmul --arg a=1024x1024:f32 \\
        --arg b=1024x1024:f32 --out c=1024x1024:f32 --rounds 30 \\
        old/libmatmul.so new/libmatmul.so

Arguments are the kernel's parameters in order (`--arg`, random uniform in
[-1, 1) for floats, the type's full range for 8-bit integers), then its
results (`--out`). `--flush` writes 64 MiB between calls, as the peers of
`../shared/anchors` do. `--offsets 0,16` places every array that many
bytes past a page boundary and runs each library at each offset (NumPy's
large arrays start 16 bytes past one, so a 64-byte vector straddles two
cache lines; the default is wherever NumPy puts them). Threads:
`PJ_THREADS`. Needs NumPy.
"""

import argparse
import ctypes
import time

import numpy as np

# pj_buffer.elem_type codes (runtime/src/abi.rs)
ELEM = {"i8": (1, np.int8), "i32": (3, np.int32), "i64": (4, np.int64), "u8": (5, np.uint8),
        "f32": (8, np.float32), "f64": (9, np.float64)}


class Buf(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("shape", ctypes.c_int64 * 8),
                ("strides", ctypes.c_int64 * 8), ("elem_type", ctypes.c_int32),
                ("rank", ctypes.c_int32)]


def buf(a, code):
    b = Buf()
    b.data = a.ctypes.data
    for i, (n, s) in enumerate(zip(a.shape, a.strides)):
        b.shape[i] = n
        b.strides[i] = s // a.itemsize
    b.elem_type = code
    b.rank = a.ndim
    return b


def parse(spec):
    name, rest = spec.split("=", 1)
    dims, ty = rest.split(":")
    return name, tuple(int(d) for d in dims.split("x")), ty


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--arg", action="append", default=[], help="NAME=DxD:TYPE")
    ap.add_argument("--out", action="append", default=[], help="NAME=DxD:TYPE")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--flush", action="store_true")
    ap.add_argument("--offsets", help="comma-separated byte offsets from a page boundary")
    ap.add_argument("libs", nargs="+")
    a = ap.parse_args()
    rng = np.random.default_rng(42)
    inputs = []
    for spec in a.arg:
        _, shape, ty = parse(spec)
        code, dt = ELEM[ty]
        if np.issubdtype(dt, np.floating):
            x = rng.uniform(-1, 1, shape).astype(dt)
        else:
            info = np.iinfo(dt)
            x = rng.integers(info.min, info.max + 1, shape).astype(dt)
        inputs.append((x, code))
    offsets = [int(o) for o in a.offsets.split(",")] if a.offsets else [None]
    configs = [(p, o) for p in a.libs for o in offsets]
    names = [p if o is None else f"{p} @{o}" for p, o in configs]
    outs = [[(placed(np.zeros(parse(s)[1], ELEM[parse(s)[2]][1]), o), ELEM[parse(s)[2]][0])
             for s in a.out] for _, o in configs]
    calls = []
    for (path, o), out in zip(configs, outs):
        fn = getattr(ctypes.CDLL(path), a.kernel)
        fn.restype = ctypes.c_int32
        # the arrays must outlive the calls: a `Buf` holds only their address
        arrays = [(placed(x, o), c) for x, c in inputs] + out
        bufs = [buf(x, c) for x, c in arrays]
        calls.append((fn, [ctypes.byref(b) for b in bufs], bufs, arrays))
    junk = np.ones(16 << 20, np.float32)
    times = [[] for _ in configs]
    for _ in range(a.rounds):
        for i, (fn, args, _, _) in enumerate(calls):
            if a.flush:
                junk += 1.0
            t = time.perf_counter()
            status = fn(*args)
            times[i].append(time.perf_counter() - t)
            if status != 0:
                raise SystemExit(f"{names[i]}: status {status}")
    for path, ts in zip(names, times):
        ms = 1e3 * np.array(ts)
        print(f"{path:40s} median {np.median(ms):8.3f} ms  p25 {np.percentile(ms, 25):8.3f}  "
              f"min {ms.min():8.3f}")
    for path, out in zip(names[1:], outs[1:]):
        for (x, _), (y, _) in zip(outs[0], out):
            if not np.array_equal(x, y):
                print(f"warning: {path} computes other bits than {names[0]}")


def placed(x, offset):
    """`x`, or a copy of it starting `offset` bytes past a page boundary."""
    if offset is None:
        return x
    raw = np.zeros(x.nbytes + 2 * 4096, np.uint8)
    start = (-raw.ctypes.data) % 4096 + offset
    y = raw[start:start + x.nbytes].view(x.dtype).reshape(x.shape)
    y[...] = x
    return y


if __name__ == "__main__":
    main()
