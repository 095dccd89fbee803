"""picojoule kernels over Dask arrays: each chunk is one kernel call, with
the neighbouring rows and columns it needs.

    import dask.array as da
    import picojoule as pj
    import picojoule.dask

    blur = pj.kernel("examples/blur.pj")
    x = da.random.random((16384, 16384), chunks=4096).astype("float32")
    y = pj.dask.map(blur, x)          # a dask array; y.compute() runs it

The compiler knows how far each result element reads into each input
(`Kernel.reaches()`, from its bounds inference): that is `map_overlap`'s
depth per dim, and each parameter's boundary mode (`clamp`, `zero`,
`wrap`, `mirror`) becomes Dask's (`nearest`, `0`, `periodic`, `reflect`)
at the array's outer edges, so a chunked run gives the bits of one call
on the whole array. Output chunks come from the kernel's shape function:
a kernel over the valid region returns fewer rows than it reads, and its
last chunks shrink. Where a result element reads a whole dim (a row
reduction, as softmax's) that dim must be one chunk; `map` says which
stage, which dim and the rechunk that works.
"""

import builtins

import numpy as np

import dask.array as da

__all__ = ["map"]

# picojoule's boundary modes as Dask's `boundary=` (numpy.pad's modes
# `edge`, `constant`, `wrap`, `symmetric`)
_DASK_BOUNDARY = {"clamp": "nearest", "zero": 0, "wrap": "periodic", "mirror": "reflect"}


def map(kernel, *args, **kwargs):
    """Runs `kernel` chunk by chunk over Dask arrays; returns a Dask array
    (a tuple of them for several results). Arguments as the kernel takes
    them: Dask or NumPy arrays for array parameters, numbers for scalars,
    by position or name."""
    values = _bind(kernel, args, kwargs)
    arrays = [(name, v) for (name, _, rank, _), v in zip(kernel.params, values) if rank is not None]
    if not arrays:
        raise ValueError(f"{kernel.name}(): has no array parameter to map over")
    arrays = [(name, v if isinstance(v, da.Array) else da.asarray(v)) for name, v in arrays]
    scalars = {name: v for (name, _, rank, _), v in zip(kernel.params, values) if rank is None}
    # the shapes of the results, from the shape function on stand-ins
    dummies = {name: np.broadcast_to(np.zeros((), a.dtype), a.shape) for name, a in arrays}
    shapes = kernel.result_shapes(**dummies, **scalars)
    reaches = kernel.reaches()
    outs = []
    for index, (reach, shape) in enumerate(zip(reaches, shapes)):
        outs.append(_map_result(kernel, index, reach, shape, arrays, scalars))
    return outs[0] if len(outs) == 1 else tuple(outs)


def _bind(kernel, args, kwargs):
    names = [p[0] for p in kernel.params]
    if len(args) > len(names):
        raise TypeError(f"{kernel.name}() takes {len(names)} arguments ({kernel.signature}), {len(args)} given")
    bound = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in names:
            raise TypeError(f"{kernel.name}() has no parameter `{k}`; its parameters: {', '.join(names)}")
        if k in bound:
            raise TypeError(f"{kernel.name}() got two values for argument `{k}`")
        bound[k] = v
    missing = [f"`{p[0]}` ({p[3]})" for p in kernel.params if p[0] not in bound]
    if missing:
        raise TypeError(f"{kernel.name}() is missing {', '.join(missing)}")
    return [bound[n] for n in names]


def _map_result(kernel, index, reach, shape, arrays, scalars):
    rank = reach["rank"]
    result = reach["result"]
    by_param = {p["param"]: p for p in reach["params"]}
    before, after, padded = [0] * rank, [0] * rank, [False] * rank
    for name, a in arrays:
        if a.ndim != rank:
            raise ValueError(
                f"{kernel.name}: `{name}` has {a.ndim} dims and result `{result}` {rank}; "
                "picojoule.dask.map maps arrays whose dims are the result's")
        p = by_param.get(name)
        if p is None:
            continue
        for d, r in enumerate(p["dims"]):
            if r is None:
                continue
            if r[0] == "whole":
                _, stage, why = r
                if len(a.chunks[d]) > 1:
                    where = f"stage `{stage}`" if stage not in ("", "let") else "the kernel"
                    raise ValueError(
                        f"{kernel.name}: {where} reads all of `{name}` along dim {d} ({why}), "
                        f"which is split into {len(a.chunks[d])} chunks; rechunk it into one "
                        f"along that dim: {name}.rechunk({{{d}: -1}})")
                continue
            _, dim, lo, hi = r
            if dim != d:
                raise ValueError(
                    f"{kernel.name}: reads `{name}` dim {d} along dim {dim} of result `{result}`; "
                    "picojoule.dask.map needs each array's dims in the result's order")
            before[d] = builtins.max(before[d], -lo)
            after[d] = builtins.max(after[d], hi)
            if p["boundary"] is not None and (lo < 0 or hi > 0):
                padded[d] = True
    # a dim padded for one parameter's boundary mode cannot also carry
    # another's reads that are only valid inside the array (the result
    # would be as long as one and shorter than the other)
    for name, _ in arrays:
        p = by_param.get(name)
        if p is None or p["boundary"] is not None:
            continue
        for d, r in enumerate(p["dims"]):
            if padded[d] and r is not None and r[0] == "along" and (r[2] != 0 or r[3] != 0):
                raise ValueError(
                    f"{kernel.name}: dim {d} reads `{name}` around each element without a boundary mode "
                    "while another parameter has one; picojoule.dask.map cannot split such a dim: "
                    f"give `{name}` a boundary mode, or keep dim {d} in one chunk")
    # one chunking for every array (the first one's, with chunks shorter
    # than the overlap merged into a neighbour: Dask cannot overlap them),
    # then the overlaps; a dim in one chunk needs none
    ref = arrays[0][1]
    for name, a in arrays[1:]:
        if a.shape != ref.shape:
            # the kernel's own size check would say it at compute time
            raise ValueError(f"{kernel.name}: `{name}` has shape {a.shape}, `{arrays[0][0]}` {ref.shape}")
    chunks = tuple(_merge_short(c, builtins.max(before[d], after[d])) for d, c in enumerate(ref.chunks))
    for d, c in enumerate(chunks):
        if len(c) == 1:
            before[d] = after[d] = 0
            padded[d] = False
    arrays = [(name, a.rechunk(chunks)) for name, a in arrays]
    ref = arrays[0][1]
    depth, boundary = [], []
    for name, a in arrays:
        mode = (by_param.get(name) or {}).get("boundary")
        dd, bb = {}, {}
        for d in range(rank):
            if padded[d]:
                dd[d] = builtins.max(before[d], after[d])
                bb[d] = _DASK_BOUNDARY[mode] if mode is not None else 0
            elif before[d] or after[d]:
                dd[d] = (builtins.max(before[d], 0), builtins.max(after[d], 0))
                bb[d] = "none"
            else:
                dd[d], bb[d] = 0, "none"
        depth.append(dd)
        boundary.append(bb)
    starts = [np.concatenate([[0], np.cumsum(c)]) for c in ref.chunks]
    out_chunks = []
    for d in range(rank):
        extent = shape[d]
        out_chunks.append(tuple(
            int(builtins.max(0, builtins.min(e, extent) - builtins.min(s, extent)))
            for s, e in zip(starts[d][:-1], starts[d][1:])))
    dtype = _dtype(kernel.results[index][1])
    several = len(kernel.results) > 1

    def block(*blocks, block_id=None):
        out = kernel(**dict(zip(names, blocks)), **scalars)
        if several:
            out = out[index]
        sl = []
        for d in range(rank):
            i = block_id[d]
            start = int(starts[d][i])
            if padded[d]:
                t0 = builtins.max(before[d], after[d])
            elif before[d] or after[d]:
                t0 = start - builtins.max(0, start - before[d])
            else:
                t0 = 0
            sl.append(slice(t0, t0 + out_chunks[d][i]))
        return out[tuple(sl)]

    names = [name for name, _ in arrays]
    return da.map_overlap(block, *[a for _, a in arrays], depth=depth, boundary=boundary, trim=False,
                          chunks=tuple(out_chunks), dtype=dtype, meta=np.empty((0,) * rank, dtype),
                          align_arrays=False)


def _merge_short(chunks, need):
    """`chunks` with every chunk shorter than `need` joined to the next
    (the last to the one before it)."""
    out = []
    for c in chunks:
        if out and out[-1] < need:
            out[-1] += c
        else:
            out.append(c)
    if len(out) > 1 and out[-1] < need:
        last = out.pop()
        out[-1] += last
    return tuple(out)


_NUMPY = {"bool": np.bool_, "i8": np.int8, "i16": np.int16, "i32": np.int32, "i64": np.int64,
          "u8": np.uint8, "u16": np.uint16, "u32": np.uint32, "f32": np.float32, "f64": np.float64,
          "f16": np.float16}


def _dtype(t):
    """The NumPy dtype of element type `t` (bf16: ml_dtypes', NumPy having none)."""
    if t == "bf16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(_NUMPY[t])
