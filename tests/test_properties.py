"""Property tests (hypothesis) of the native kernels (STYLE §10)."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gradiente import _ckernels as ck
from gradiente import _reference as ref

SETTINGS = settings(max_examples=40, deadline=None)
dtypes = st.sampled_from([np.float32, np.float64])
seeds = st.integers(0, 2**32 - 1)


def logits(seed, m, n, dtype, scale):
    return (scale * np.random.default_rng(seed).standard_normal((m, n))).astype(dtype)


@SETTINGS
@given(seed=seeds, m=st.integers(1, 40), n=st.integers(1, 40), dtype=dtypes,
       scale=st.sampled_from([0.1, 3.0, 50.0, 1e4]), n_threads=st.integers(1, 3))
def test_softmax_rows_sum_to_one(seed, m, n, dtype, scale, n_threads):
    z = logits(seed, m, n, dtype, scale)
    p = np.full_like(z, np.nan)
    ck.act_fwd(z, p, ref.ACTIVATIONS["softmax"], n_threads)
    assert np.isfinite(p).all() and (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=1, dtype=np.float64), 1.0,
                               rtol=0, atol=n * np.finfo(dtype).eps)


@SETTINGS
@given(seed=seeds, m=st.integers(1, 40), n=st.integers(1, 40), dtype=dtypes,
       scale=st.sampled_from([0.1, 3.0, 50.0, 1e4]), use_labels=st.booleans(),
       n_threads=st.integers(1, 3))
def test_xent_gradient_rows_sum_to_zero(seed, m, n, dtype, scale, use_labels, n_threads):
    rng = np.random.default_rng(seed)
    z = logits(seed, m, n, dtype, scale)
    labels = rng.integers(0, n, m).astype(np.int32)
    targets = None if use_labels else np.eye(n, dtype=dtype)[labels]
    dz = np.full_like(z, np.nan)
    rl = np.full(m, np.nan, dtype)
    ck.softmax_xent(z, labels if use_labels else None, targets, None, True, 1.0, dz, rl,
                    None, n_threads)
    assert np.isfinite(dz).all() and np.isfinite(rl).all() and (rl >= 0).all()
    np.testing.assert_allclose(dz.sum(axis=1, dtype=np.float64), 0.0,
                               rtol=0, atol=4 * n * np.finfo(dtype).eps)


@SETTINGS
@given(seed=seeds, size=st.integers(0, 5000), dtype=dtypes,
       momentum=st.sampled_from([0.0, 0.5, 0.9]), nesterov=st.booleans(),
       n_threads=st.integers(1, 3))
def test_sgd_zero_learning_rate_is_identity(seed, size, dtype, momentum, nesterov, n_threads):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(size).astype(dtype)
    g = rng.standard_normal(size).astype(dtype)
    v = np.zeros(size, dtype)  # no velocity yet: a zero step must not move w
    cw = w.copy()
    ck.sgd_step(cw, g, v, 0.0, momentum, nesterov, n_threads)
    np.testing.assert_array_equal(cw, w)


# sizes reach past every parallel threshold, so the teams really split the work
@SETTINGS
@given(seed=seeds, m=st.integers(0, 400), k=st.integers(0, 40), n=st.integers(1, 300),
       dtype=dtypes, act=st.sampled_from(list(ref.ACTIVATIONS)),
       kind=st.sampled_from(list(ref.LOSSES)))
def test_bitwise_equal_across_threads(seed, m, k, n, dtype, act, kind):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, k)).astype(dtype)
    w = (rng.standard_normal((k, n)) / np.sqrt(k + 1)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    dy = rng.standard_normal((m, n)).astype(dtype)
    t = rng.uniform(0, 1, (m, n)).astype(dtype)
    labels = rng.integers(0, n, m).astype(np.int32)
    a = ref.ACTIVATIONS[act]

    def run(nt):
        y, z = np.full((m, n), np.nan, dtype), np.full((m, n), np.nan, dtype)
        ck.dense_fwd(x, w, b, y, a, nt, z)
        dz = dy.copy()
        dx, dw, db = (np.full(s, np.nan, dtype) for s in ((m, k), (k, n), (n,)))
        ck.dense_bwd(x, w, y, dz, dx, dw, db, a, nt, z)
        rl, g = np.full(m, np.nan, dtype), np.full((m, n), np.nan, dtype)
        ck.softmax_xent(y, labels, None, None, False, 0.5, g, rl, None, nt)
        rl2, dp = np.full(m, np.nan, dtype), np.full((m, n), np.nan, dtype)
        ck.loss(np.abs(y), t, None, ref.LOSSES[kind], 0.5, dp, rl2, nt)
        return y, dz, dx, dw, db, rl, g, rl2, dp

    one = run(1)
    for arr in one[:5]:
        assert not np.isnan(arr).any()  # NaN-filled outputs come back written
    for nt in (2, 3):
        for u, v in zip(one, run(nt)):
            np.testing.assert_array_equal(u.view(np.uint8), v.view(np.uint8))
