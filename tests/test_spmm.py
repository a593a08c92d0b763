"""The products that skip zeros (gd_spmm_nn / gd_spmm_tn) and the nonzero count that
chooses them: bit for bit the dense GEMM's sums (tn; nn per k segment, finite B), the
reference within rounding, the same for any thread count, and in the dense layers and
the engine the same results as the dense path within rounding."""
import numpy as np
import pytest

from gradiente import _config, _reference
from conftest import THREADS, assert_close

DTYPES = [np.float32, np.float64]
# (m, k, n): empty, ones, register widths ±1, k across KC = 256 blocks, nn rows past a
# block of 256 and tn columns past one and two blocks of 128, n past one pass of 8
# registers, the MNIST shapes.
SHAPES = [
    (0, 5, 7), (5, 0, 7), (5, 7, 0), (1, 1, 1), (3, 5, 7), (15, 16, 17), (17, 65, 33),
    (33, 257, 129), (64, 300, 10), (70, 513, 131), (130, 70, 260), (32, 784, 128),
    (261, 300, 140),
]
DENSITIES = [0.0, 0.05, 0.3, 1.0]


def _ck():
    return _config._native()


def _sparse(rng, shape, density, dtype):
    a = rng.standard_normal(shape) * (rng.random(shape) < density)
    return a.astype(dtype)


def _gemm(a, b, trans_a, n_threads=1):
    m = a.shape[1] if trans_a else a.shape[0]
    c = np.full((m, b.shape[1]), np.nan, a.dtype)
    _ck().gemm(a, b, c, trans_a, False, 1.0, 0.0, n_threads)
    return c


def _cut(k):
    """gd_spmm_cut: where nn splits k (k itself below 128)."""
    cut = (k // 2 + 8) // 16 * 16
    return k if (k < 128 or cut <= 0 or cut >= k) else cut


def _expected(a, b, trans_a):
    """The GEMM's sums as spmm makes them: tn whole, nn per segment then added."""
    if trans_a:
        return _gemm(a, b, True)
    k = a.shape[1]
    cut = _cut(k)
    lo = _gemm(np.ascontiguousarray(a[:, :cut]), np.ascontiguousarray(b[:cut]), False)
    if cut == k:
        return lo
    hi = _gemm(np.ascontiguousarray(a[:, cut:]), np.ascontiguousarray(b[cut:]), False)
    return lo + hi


def _spmm(a, b, trans_a, n_threads=1):
    m = a.shape[1] if trans_a else a.shape[0]
    c = np.full((m, b.shape[1]), np.nan, a.dtype)
    _ck().spmm(a, b, c, trans_a, n_threads)
    return c


@pytest.mark.parametrize("trans_a", [False, True], ids=["nn", "tn"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_equals_gemm_sums_bitwise_every_thread_count(isa, dtype, trans_a):
    rng = np.random.default_rng(1)
    for m, k, n in SHAPES:
        for density in DENSITIES:
            a = _sparse(rng, (k, m) if trans_a else (m, k), density, dtype)
            b = rng.standard_normal((k, n)).astype(dtype)
            dense = _expected(a, b, trans_a)
            for t in THREADS:
                got = _spmm(a, b, trans_a, t)
                assert np.array_equal(got, dense), (
                    f"{isa} {m}x{k}x{n} density={density} threads={t}: "
                    f"max |diff| {np.nanmax(np.abs(got - dense))}")
                if t > 1:
                    assert np.array_equal(got.view(np.uint8), _spmm(a, b, trans_a).view(np.uint8))


@pytest.mark.parametrize("trans_a", [False, True], ids=["nn", "tn"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_reference(dtype, trans_a):
    rng = np.random.default_rng(2)
    m, k, n = 45, 300, 70
    a = _sparse(rng, (k, m) if trans_a else (m, k), 0.2, dtype)
    b = (rng.standard_normal((k, n)) / 4).astype(dtype)
    expected = _reference.spmm(a.astype(np.float64), b.astype(np.float64), trans_a)
    assert_close(_spmm(a, b, trans_a, 2), expected.astype(dtype), dtype, k=k)
    assert_close(_reference.spmm(a, b, trans_a), expected.astype(dtype), dtype, k=k)


@pytest.mark.parametrize("n", [5, 128, 256])
@pytest.mark.parametrize("trans_a", [False, True], ids=["nn", "tn"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_in_a_propagates_inf_in_b_is_skipped(isa, dtype, trans_a, n):
    # NaN is not zero: it reaches its row of C. A zero element of A skips its row of B,
    # inf included (documented: the dense GEMM gives NaN there), also when the row goes
    # through a pass shared with a row whose element there is not zero (pairs of rows
    # sharing at least half of their nonzeros, n a whole number of passes).
    a = np.zeros((5, 4), dtype)
    a[1, 2] = np.nan
    a[2, :3] = 1.0
    a[3, :3] = 1.0
    a[3, 3] = 2.0  # the pair (2, 3) shares 3 of 4: row 2 skips b[3] = inf, row 3 takes it
    a[4, 1] = 1.0
    b = np.ones((4, n), dtype)
    b[3, :] = np.inf
    if trans_a:
        got = _spmm(np.ascontiguousarray(a.T), b, True)
    else:
        got = _spmm(a, b, False)
    assert np.all(got[0] == 0) and np.all(np.isnan(got[1])) and np.all(got[2] == 3)
    assert np.all(got[3] == np.inf) and np.all(got[4] == 1)


@pytest.mark.parametrize("trans_a", [False, True], ids=["nn", "tn"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_rows_paired_in_some_panels_alone_in_others(isa, dtype, trans_a):
    # A row's sums wait in memory between 64-row panels of B, and each panel decides
    # afresh whether two rows share a pass: here rows 2i and 2i+1 have the same
    # nonzeros in the first 64 columns of each k segment (paired) and independent ones
    # after (alone), with long rows of B (copied to a panel) and a partial last pass.
    rng = np.random.default_rng(5)
    m, k, n = 70, 600, 300
    a = _sparse(rng, (m, k), 0.3, dtype)
    for lo in (0, _cut(k)):
        a[1::2, lo:lo + 64] = np.where(a[0::2, lo:lo + 64] != 0,
                                       rng.standard_normal((m // 2, 64)), 0)
    if trans_a:
        a = np.ascontiguousarray(a.T)
    b = rng.standard_normal((k, n)).astype(dtype)
    dense = _expected(a, b, trans_a)
    for t in THREADS:
        assert np.array_equal(_spmm(a, b, trans_a, t), dense), f"{isa} threads={t}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_count_nonzero(isa, dtype):
    rng = np.random.default_rng(3)
    for n in (0, 1, 15, 16, 17, 63, 64, 65, 1000):
        x = _sparse(rng, (n,), 0.4, dtype)
        if n > 3:
            x[0], x[1], x[2] = np.nan, -0.0, np.inf
        assert _ck().count_nonzero(x) == np.count_nonzero(x) == _reference.count_nonzero(x)


@pytest.fixture
def sparse_density():
    """Set gd_sparse_max_density for a test, restoring the default after."""
    old = _ck().sparse_max_density()
    yield lambda d: _ck().sparse_max_density(d)
    _ck().sparse_max_density(old)


@pytest.mark.parametrize("act", ["relu", "linear", "tanh"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_layer_sparse_path_matches_dense_path(isa, sparse_density, dtype, act):
    from gradiente._reference import ACTIVATIONS

    a_id = ACTIVATIONS[act]
    rng = np.random.default_rng(4)
    m, k, n = 40, 300, 70
    x = _sparse(rng, (m, k), 0.2, dtype)
    w = rng.standard_normal((k, n)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    dy = rng.standard_normal((m, n)).astype(dtype)
    outs = []
    for density, n_threads in ((0.0, 2), (1.0, 1), (1.0, 2), (1.0, 3)):  # dense; sparse
        sparse_density(density)
        y, z = np.empty((m, n), dtype), np.empty((m, n), dtype)
        _ck().dense_fwd(x, w, b, y, a_id, n_threads, z)
        dz = dy.copy()
        dx, dw, db = np.empty((m, k), dtype), np.empty((k, n), dtype), np.empty(n, dtype)
        _ck().dense_bwd(x, w, y, dz, dx, dw, db, a_id, n_threads, z)
        outs.append((z, y, dx, dw, db))
    # the sparse path: X·W as its two segments' sums, the rest the dense path's bits
    seg = _expected(x, w, False) + b
    np.testing.assert_array_equal(outs[1][0], seg)
    tol = 1e-4 if dtype == np.float32 else 1e-12  # rounding of sums of about 60 terms
    for first, second in zip(outs[0], outs[1]):
        np.testing.assert_allclose(second, first, rtol=tol, atol=tol)
    for other in outs[2:]:
        for first, second in zip(outs[1], other):
            np.testing.assert_array_equal(first, second)


def test_training_sparse_path_any_threads_close_to_dense(mnist_path, sparse_density):
    # A first layer on MNIST pixels and ReLU hidden layers, two epochs: the products
    # that skip zeros give the same bits on 1, 2 and 3 threads, and weights within
    # float32 rounding of the dense products'.
    import gradiente
    from gradiente import layers, models
    from gradiente.utils import set_random_seed

    with np.load(mnist_path) as d:
        x = (d["x_train"][:1500].reshape(-1, 784) / 255.0).astype(np.float32)
        y = d["y_train"][:1500]
    runs = []
    gradiente.set_backend("native")
    old_threads = gradiente.get_num_threads()
    try:
        for density, n_threads in ((0.0, 2), (1.0, 1), (1.0, 2), (0.25, 3)):
            sparse_density(density)
            gradiente.set_num_threads(n_threads)
            set_random_seed(5)
            model = models.Sequential([
                layers.Input((784,)), layers.Dense(64, activation="relu"),
                layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            model.fit(x, y, batch_size=32, epochs=2, verbose=0)
            assert type(model._engine).__name__ == "NativeEngine"
            runs.append(model.get_weights() + [model.predict(x[:300], verbose=0)])
    finally:
        gradiente.set_num_threads(old_threads)
    for first, second in zip(runs[0], runs[1]):
        np.testing.assert_allclose(second, first, rtol=2e-3, atol=2e-4)
    assert not all(np.array_equal(a, b) for a, b in zip(runs[0], runs[1])), (
        "the sparse path did not run")
    for other in runs[2:]:
        for first, second in zip(runs[1], other):
            np.testing.assert_array_equal(first, second)
