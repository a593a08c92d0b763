"""GEMM (nn, nt, tn; float32, float64) against gradiente._reference.gemm, on every ISA
the CPU has, with 1, 2 and 3 threads (bitwise equal across thread counts)."""
import numpy as np
import pytest

from gradiente import _config, _reference
from conftest import THREADS, assert_close

LAYOUTS = {"nn": (False, False), "nt": (False, True), "tn": (True, False)}
DTYPES = [np.float32, np.float64]

# (m, k, n): empty, ones, odd, vector widths ±1, small-m training shapes.
SMALL = [
    (0, 5, 7), (5, 0, 7), (5, 7, 0), (1, 1, 1), (1, 17, 1), (3, 5, 7),
    (15, 16, 17), (16, 33, 15), (17, 31, 16), (31, 64, 33), (32, 63, 65),
    (33, 65, 64), (7, 3, 129), (130, 2, 9), (64, 37, 10), (45, 300, 3),
]
# Above the threading threshold; larger than the cache blocks (k > KC, n > NC, m > MC).
LARGE = [(67, 300, 131), (150, 520, 600), (1100, 200, 10)]

# (alpha, beta): beta == 0 runs with C pre-filled with NaN.
SCALES = [(1.0, 0.0), (-0.75, 1.0), (2.0, -0.5)]


def _ck():
    return _config._native()


def _operands(layout, m, k, n, dtype, seed):
    rng = np.random.default_rng(seed)
    ta, tb = LAYOUTS[layout]
    # Scaled so that every element of op(A)·op(B) is O(1) whatever k is: the float32
    # tolerance is then about rounding, not about cancellation in large sums.
    s = max(k, 1) ** -0.25
    a = (s * rng.standard_normal((k, m) if ta else (m, k))).astype(dtype)
    b = (s * rng.standard_normal((n, k) if tb else (k, n))).astype(dtype)
    c = rng.standard_normal((m, n)).astype(dtype)
    return a, b, c


def _run(layout, a, b, c0, alpha, beta, n_threads):
    ta, tb = LAYOUTS[layout]
    c = c0.copy() if beta != 0 else np.full_like(c0, np.nan)
    _ck().gemm(a, b, c, ta, tb, alpha, beta, n_threads)
    return c


def _check(layout, m, k, n, dtype, alpha, beta, threads, seed=0):
    a, b, c0 = _operands(layout, m, k, n, dtype, seed)
    ta, tb = LAYOUTS[layout]
    # The reference in float64 on the same inputs, rounded once to dtype.
    expected = _reference.gemm(a.astype(np.float64), b.astype(np.float64),
                               c0.astype(np.float64), ta, tb, alpha, beta).astype(dtype)
    results = [_run(layout, a, b, c0, alpha, beta, t) for t in threads]
    for t, got in zip(threads, results):
        assert got.dtype == dtype
        assert np.all(np.isfinite(got))
        assert_close(got, expected, dtype, k=k, err_msg=f"{layout} {m}x{k}x{n} threads={t}")
    for t, got in zip(threads[1:], results[1:]):
        assert np.array_equal(got.view(np.uint8), results[0].view(np.uint8)), (
            f"{layout} {m}x{k}x{n}: threads={t} differs bitwise from threads={threads[0]}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_small_shapes(isa, layout, dtype):
    for i, (m, k, n) in enumerate(SMALL):
        alpha, beta = SCALES[i % len(SCALES)]
        _check(layout, m, k, n, dtype, alpha, beta, [1, 2], seed=i)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_large_shapes_threads_bitwise(isa, layout, dtype, scale):
    for m, k, n in LARGE:
        _check(layout, m, k, n, dtype, scale[0], scale[1], THREADS)


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_training_shapes(isa, layout):
    # The MNIST batch-32 shapes, as the dense layer calls them (float32).
    shape = {"nn": (32, 784, 128), "tn": (784, 32, 128), "nt": (32, 128, 784)}[layout]
    _check(layout, *shape, np.float32, 1.0, 0.0, THREADS)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_leading_dimensions(isa, layout, dtype):
    # Row-strided views: lda, ldb, ldc larger than the column counts.
    m, k, n = 37, 70, 45
    a, b, c0 = _operands(layout, m, k, n, dtype, 7)
    ta, tb = LAYOUTS[layout]
    big = lambda x: np.full((x.shape[0], x.shape[1] + 11), np.nan, dtype)  # noqa: E731
    A, B, C = big(a), big(b), big(c0)
    A[:, :a.shape[1]] = a
    B[:, :b.shape[1]] = b
    for beta in (0.0, 0.5):
        C[:] = np.nan
        if beta:
            C[:, :n] = c0
        _ck().gemm(A[:, :a.shape[1]], B[:, :b.shape[1]], C[:, :n], ta, tb, 1.25, beta, 2)
        assert_close(C[:, :n], _reference.gemm(a, b, c0, ta, tb, 1.25, beta), dtype, k=k)
        assert np.all(np.isnan(C[:, n:])), "gemm wrote outside C's columns"


def test_k_zero_scales_c(isa):
    c = np.full((4, 5), 2.0, np.float32)
    a = np.empty((4, 0), np.float32)
    b = np.empty((0, 5), np.float32)
    _ck().gemm(a, b, c, False, False, 1.0, 0.5, 1)
    assert np.all(c == 1.0)
    c[:] = np.nan
    _ck().gemm(a, b, c, False, False, 1.0, 0.0, 1)
    assert np.all(c == 0.0)


def test_isas_agree_within_tolerance():
    # Every ISA gives the reference result; only the rounding order may differ.
    a, b, c0 = _operands("nn", 40, 90, 70, np.float64, 3)
    expected = _reference.gemm(a, b, c0, False, False, 1.0, 0.0)
    try:
        for name in _config.available_isas():
            _config.set_isa(name)
            assert_close(_run("nn", a, b, c0, 1.0, 0.0, 2), expected, np.float64, k=90)
    finally:
        _config.set_isa(_config.available_isas()[-1])


def test_concurrent_python_threads(isa):
    # Two OS threads calling GEMM at once (the wrapper releases the GIL) each pack into
    # their own workspace: every result is the single-caller result, bit for bit.
    import threading

    jobs = []
    for i, layout in enumerate(["nn", "nt", "tn", "nn"]):
        a, b, c0 = _operands(layout, 150, 300, 200, np.float32, 20 + i)
        jobs.append((layout, a, b, c0, _run(layout, a, b, c0, 1.0, 0.0, 1)))
    errors = []

    def work(job):
        layout, a, b, c0, expected = job
        for _ in range(10):
            got = _run(layout, a, b, c0, 1.0, 0.0, 2)
            if not np.array_equal(got, expected):
                errors.append(layout)
                return

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, f"concurrent callers disagree: {errors}"
