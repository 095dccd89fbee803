"""Ctrl-C stops a long kernel call between its parallel chunks, and Python
raises KeyboardInterrupt as usual."""

import os
import signal
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import picojoule as pj

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to oneself")
def test_sigint_stops_a_running_kernel_part_way():
    matmul = pj.compile(ROOT / "examples" / "matmul.pj").matmul
    a = np.ones((2048, 2048), np.float32)
    b = np.ones((2048, 2048), np.float32)
    out = np.zeros((2048, 2048), np.float32)
    # the signal comes 50 ms into a call of a few hundred: the kernel has
    # written some of its result and not all
    timer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        matmul(a, b, out=out)
    timer.join()
    written = np.count_nonzero(out) / out.size
    assert 0 < written < 1, written
    # the next call runs to its end
    np.testing.assert_array_equal(matmul(a[:64], b[:, :64]), np.full((64, 64), 2048, np.float32))
