"""picojoule.dask.map: chunked runs give the bits of one in-process call,
on a real LocalCluster of two worker processes and in-process."""

from pathlib import Path

import numpy as np
import pytest

import picojoule as pj

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
import dask  # noqa: E402
import picojoule.dask  # noqa: E402,F401

ROOT = Path(__file__).resolve().parents[2]
# the tests put NumPy arrays in the graph on purpose (the same bits as one call)
pytestmark = pytest.mark.filterwarnings("ignore:Sending large graph")
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def example(name):
    return getattr(pj.compile(EXAMPLES / f"{name}.pj", fast_math="off"), name)


def test_examples_on_two_worker_processes_match_one_call(client):
    rng = np.random.default_rng(0)
    img = rng.random((4096, 4096), dtype=np.float32)
    chunked = da.from_array(img, chunks=(1024, 1536))
    for name, kw in [("blur", {}), ("unsharp", {"amount": 1.5}), ("valid_blur", {})]:
        k = example(name)
        got = pj.dask.map(k, chunked, **kw).compute()
        np.testing.assert_array_equal(got, k(img, **kw), err_msg=name)
    chain = example("chain")
    v = rng.random(1 << 22, dtype=np.float32)
    got = pj.dask.map(chain, da.from_array(v, chunks=1 << 20), 1.5, b=0.25).compute()
    np.testing.assert_array_equal(got, chain(v, 1.5, 0.25))
    softmax = example("softmax")
    rows = da.from_array(img, chunks=(512, -1))
    np.testing.assert_array_equal(pj.dask.map(softmax, rows).compute(), softmax(img))
    # the workers ran the kernels: each compiled them once, from source
    assert all(n > 0 for n in client.run(lambda: len(__import__("picojoule")._cache)).values())


@pytest.mark.parametrize("mode", ["clamp", "zero", "wrap", "mirror"])
def test_each_boundary_mode_matches_at_the_outer_edges(mode):
    k = pj.kernel(f"""
kernel taps(x: f32[H, W] @boundary({mode})) -> y: f32[H, W] {{
    y[i, j] = x[i - 2, j] * 0.5 + x[i + 1, j + 2] - x[i, j - 1] * 0.25 + x[i, j];
}}
""", fast_math="off")
    x = np.random.default_rng(1).random((41, 53), dtype=np.float32)
    with dask.config.set(scheduler="synchronous"):
        # the last chunk of (10, 53) is one row, shorter than the overlap:
        # it is joined to the one before; chunks of (1, 1) join in pairs
        for chunks in [(7, 9), (41, 53), (10, 53), (3, 4), (1, 1)]:
            got = pj.dask.map(k, da.from_array(x, chunks=chunks)).compute()
            np.testing.assert_array_equal(got, k(x), err_msg=f"{mode} {chunks}")


def test_valid_region_kernels_shrink_their_last_chunks():
    k = pj.kernel("kernel v(x: f32[H, W]) -> y: f32[H - 3, W - 1] { y[i, j] = x[i + 3, j] - x[i, j + 1]; }",
                  fast_math="off")
    x = np.random.default_rng(2).random((50, 40), dtype=np.float32)
    with dask.config.set(scheduler="synchronous"):
        y = pj.dask.map(k, da.from_array(x, chunks=(12, 9)))
        assert y.shape == (47, 39)
        # input chunks (12, 12, 12, 12, 2) and (9, 9, 9, 9, 4): the 2 rows
        # are shorter than the 3 the kernel reads ahead, and join the chunk
        # before them
        assert y.chunks == ((12, 12, 12, 11), (9, 9, 9, 9, 3))
        np.testing.assert_array_equal(y.compute(), k(x))


def test_several_results_and_scalars_by_name():
    k = pj.kernel("""
kernel two(x: f32[N], s: f32) -> (a: f32[N], b: f32[N]) {
    a[i] = x[i] * s;
    b[i] = x[i] + s;
}""", fast_math="off")
    x = np.arange(100, dtype=np.float32)
    with dask.config.set(scheduler="synchronous"):
        a, b = pj.dask.map(k, da.from_array(x, chunks=30), s=2.0)
        np.testing.assert_array_equal(a.compute(), x * 2)
        np.testing.assert_array_equal(b.compute(), x + 2)


def test_reads_across_chunks_that_cannot_be_split_are_refused_with_the_rechunk():
    softmax = example("softmax")
    x = da.zeros((64, 64), chunks=(16, 16), dtype=np.float32)
    with pytest.raises(ValueError) as e:
        pj.dask.map(softmax, x)
    text = str(e.value)
    assert "stage `m`" in text and "dim 1" in text and "x.rechunk({1: -1})" in text, text
    t = pj.kernel("kernel t(x: f32[N, M]) -> y: f32[M, N] { y[i, j] = x[j, i]; }")
    with pytest.raises(ValueError, match="dims in the result's order"):
        pj.dask.map(t, da.zeros((8, 8), chunks=4, dtype=np.float32))
    mixed = pj.kernel("kernel m(x: f32[N] @boundary(clamp), v: f32[N]) -> y: f32[N - 1] "
                      "{ y[i] = x[i - 1] + v[i + 1]; }")
    with pytest.raises(ValueError, match="without a boundary mode while another parameter has one"):
        pj.dask.map(mixed, da.zeros(8, chunks=4, dtype=np.float32), da.zeros(8, chunks=4, dtype=np.float32))
    blur = example("blur")
    with pytest.raises(TypeError, match="missing `input`"):
        pj.dask.map(blur)


def test_short_chunks_join_their_neighbours():
    from picojoule.dask import _merge_short

    assert _merge_short((1,) * 7, 2) == (2, 2, 3)
    assert _merge_short((4, 0, 4), 1) == (4, 4)
    assert _merge_short((10, 10, 1), 2) == (10, 11)
    assert _merge_short((5,), 9) == (5,)
