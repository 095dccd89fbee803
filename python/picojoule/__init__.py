"""picojoule: compile array pipeline kernels written in `.pj` and call them
on NumPy arrays, in this process, without copies.

    import numpy as np
    import picojoule as pj

    blur = pj.kernel('''
    kernel blur(x: f32[H, W]) -> y: f32[H - 2, W - 2] {
        y[i, j] = (x[i, j] + x[i + 1, j + 1] + x[i + 2, j + 2]) / 3.0;
    }
    ''')
    y = blur(np.random.rand(512, 512).astype(np.float32))

The tutorial is docs/python.md in the repository.
"""

import os as _os
import threading as _threading
from contextlib import contextmanager as _contextmanager

from . import _native
from ._native import CompileError, KernelError, Kernel, Module, backends, get_threads, set_threads

__all__ = [
    "compile", "kernel", "Module", "Kernel", "CompileError", "KernelError",
    "backends", "set_threads", "get_threads", "threads", "__version__",
]
__version__ = _native.__version__


def compile(source, *, backend=None, target="host", fast_math="reassoc", opt_level=2, tier="optimizing",
            quantize=None, tolerance=None, sizes=None):
    """Compiles `.pj` source text, or the file at a path, into a `Module`
    whose kernels are its attributes.

    - ``backend``: ``"cranelift"`` (the default: compiles in milliseconds)
      or ``"llvm"`` (the best code, when the package was built with it).
    - ``fast_math``: ``"reassoc"`` (float sums may be reassociated into
      vector partial sums, the default), ``"contract"`` (that, and fused
      multiply-adds) or ``"off"`` (the interpreter's bits exactly).
    - ``opt_level``: 2 (the optimizer), 1, or 0 (no optimizer).
    - ``tier``: ``"optimizing"`` or ``"quick"`` (shorter compiles).
    - ``quantize``: ``"int8"``, ``"int16"``, ``"bf16"`` or ``"auto"``: 8-bit
      fixed point for sums of products where the error bound the compiler
      proves meets each result's ``@tolerance``; float arithmetic over
      integers (an 8-bit image blurred in f32) as exact 16-bit integer
      arithmetic; f32 stages stored to memory as bfloat16 within the
      tolerance; ``"auto"``, each where it pays (docs/quantization.md). What
      it chose, or why not, is ``Module.quantization``.
    - ``tolerance``: for results that declare none: ``"abs=1e-2"``,
      ``"rel=1e-3"``, both comma-separated, or a number (absolute).
    - ``sizes``: the sizes ``quantize="auto"`` weighs its choices at, as
      ``{"M": 512, "K": 512}`` (a module is compiled before it sees data);
      else the source's ``// bench:`` line's, else 1024 each.

    A source with errors raises `CompileError` with the diagnostics.
    """
    text, filename = _read_source(source)
    if tolerance is not None and not isinstance(tolerance, str):
        tolerance = f"abs={float(tolerance)!r}"
    m = _native.compile(text, filename, backend=backend, target=target, fast_math=fast_math,
                        opt_level=opt_level, tier=tier, quantize=quantize, tolerance=tolerance,
                        sizes=sizes)
    if m.warnings:
        import warnings
        warnings.warn(m.warnings, stacklevel=2)
    return m


def kernel(source, **options):
    """The one kernel of `source` (text or a path), compiled with
    `compile`'s options. A source with several kernels is an error: use
    `compile` and pick one by name."""
    m = compile(source, **options)
    if len(m.kernels) != 1:
        raise ValueError(f"the source has {len(m.kernels)} kernels ({', '.join(m.kernels)}); "
                         "picojoule.kernel takes one: use picojoule.compile(...).NAME")
    return getattr(m, m.kernels[0])


def _read_source(source):
    if isinstance(source, _os.PathLike) or (isinstance(source, str) and "\n" not in source
                                            and source.endswith(".pj")):
        path = _os.fspath(source)
        try:
            with open(path, encoding="utf-8") as f:
                return f.read(), path
        except OSError as e:
            raise FileNotFoundError(f"cannot read `{path}`: {e.strerror}") from None
    if not isinstance(source, str):
        raise TypeError(f"compile() expects .pj source text or a path, got {type(source).__name__}")
    return source, "<string>"


@_contextmanager
def threads(n):
    """``with picojoule.threads(n):`` runs the kernels this thread calls
    inside it on ``n`` threads (the process's other threads keep theirs);
    ``set_threads(n)`` changes the process's default."""
    _native._push_threads(n)
    try:
        yield
    finally:
        _native._pop_threads()


# Kernels unpickle by compiling their source again, once per process and
# options: a Dask worker compiles a kernel the first time a task needs it.
_cache = {}
_cache_lock = _threading.Lock()


def _rebuild(source, filename, options, name):
    # (`sizes` is a dict: keyed by its items)
    key = (source, filename, tuple(sorted(
        (k, tuple(sorted(v.items())) if isinstance(v, dict) else v) for k, v in options.items())))
    with _cache_lock:
        m = _cache.get(key)
    if m is None:
        m = _native.compile(source, filename, **options)
        with _cache_lock:
            m = _cache.setdefault(key, m)
    return getattr(m, name)
