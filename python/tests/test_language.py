"""The newer constructs from Python, on every backend, against NumPy:
recurrences, updates (a histogram), argmax and size constraints."""

import numpy as np
import pytest

import picojoule as pj

SOURCE = """
kernel cumsum(x: f32[N]) -> c: f32[N] {
    c[i] = c[i - 1] + x[i] init 0.0;
}
kernel hist(img: u8[H, W]) -> h: i32[256] {
    h[b] = 0;
    h[i32(img[y, x])] += 1 for y, x;
}
kernel best(x: f32[R, C]) -> i: i64[R] {
    i[r] = argmax(c) x[r, c];
}
kernel first4(x: f32[N, C]) -> y: f32[N] where C >= 4 {
    y[n] = x[n, 0] + x[n, 1] + x[n, 2] + x[n, 3];
}
"""


@pytest.fixture(scope="module", params=pj.backends())
def m(request):
    return pj.compile(SOURCE, backend=request.param)


def test_a_cumulative_sum_is_numpys_in_f32(m):
    x = np.random.default_rng(0).standard_normal(1001).astype(np.float32)
    np.testing.assert_array_equal(m.cumsum(x), np.cumsum(x, dtype=np.float32))


def test_a_histogram_counts_as_bincount_on_any_threads(m):
    img = np.random.default_rng(1).integers(0, 256, (300, 700), dtype=np.uint8)
    want = np.bincount(img.ravel(), minlength=256)
    for n in (1, 2):
        with pj.threads(n):
            np.testing.assert_array_equal(m.hist(img), want)


def test_argmax_is_numpys_first_index(m):
    x = np.array([[1, 3, 3, -2], [np.nan, 0, np.nan, 9]], dtype=np.float32)
    np.testing.assert_array_equal(m.best(x), np.argmax(x, axis=1))


def test_a_broken_size_constraint_is_a_value_error_naming_it(m):
    np.testing.assert_array_equal(m.first4(np.ones((2, 5), np.float32)), [4, 4])
    with pytest.raises(ValueError, match=r"size constraint `C >= 4` does not hold: C = 3"):
        m.first4(np.ones((2, 3), np.float32))
