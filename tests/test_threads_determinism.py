"""Every kernel gives the same bits on 1, 2 and 3 threads (STYLE §7).

Shapes are above each kernel's parallel threshold, so the threads really split the
work, and odd, so the splits fall at different places for each team size."""
import numpy as np
import pytest

from gradiente import _ckernels as ck
from gradiente import _reference as ref

from conftest import isas

DTYPES = [np.float32, np.float64]
ACTS = list({i: a for a, i in reversed(ref.ACTIVATIONS.items())}.values())  # one name per id
CORE_ACTS = ("linear", "relu", "sigmoid", "tanh", "softmax")


def same_bits(run):
    """run(n_threads) -> tuple of arrays; equal bits for every team size."""
    first = run(1)
    for n_threads in (2, 3):
        for a, b in zip(first, run(n_threads)):
            np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8),
                                          err_msg=f"n_threads={n_threads}")


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
def test_act(rng, dtype, act):
    x = rng.standard_normal((301, 257)).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    a = ref.ACTIVATIONS[act]

    def run(nt):
        y, dx = np.empty_like(x), np.empty_like(x)
        ck.act_fwd(x, y, a, nt)
        ck.act_bwd(y, dy, dx, a, nt, x)
        return y, dx

    same_bits(run)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
def test_dense(isa, rng, dtype, act):
    if act not in CORE_ACTS and isas() and isa != isas()[-1]:
        pytest.skip("the dense epilogue of this activation runs under one ISA")
    m, k, n = 301, 67, 263
    x = rng.standard_normal((m, k)).astype(dtype)
    w = rng.standard_normal((k, n)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    dy = rng.standard_normal((m, n)).astype(dtype)
    a = ref.ACTIVATIONS[act]

    def run(nt):
        y, z = np.empty((m, n), dtype), np.empty((m, n), dtype)
        ck.dense_fwd(x, w, b, y, a, nt, z)
        dz = dy.copy()
        dx, dw, db = np.empty((m, k), dtype), np.empty((k, n), dtype), np.empty(n, dtype)
        ck.dense_bwd(x, w, y, dz, dx, dw, db, a, nt, z)
        return y, z, dz, dx, dw, db

    same_bits(run)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("use_labels", [True, False])
def test_softmax_xent(rng, dtype, from_logits, use_labels):
    m, n = 1001, 13
    z = (8 * rng.standard_normal((m, n))).astype(dtype)
    labels = rng.integers(0, n, m).astype(np.int32)
    targets = None if use_labels else rng.uniform(0, 1, (m, n)).astype(dtype)
    sw = rng.uniform(0, 2, m).astype(dtype)

    def run(nt):
        rl, dz, hit = np.empty(m, dtype), np.empty((m, n), dtype), np.empty(m, np.int32)
        ck.softmax_xent(z, labels if use_labels else None, targets, sw, from_logits, 1 / m,
                        dz, rl, hit, nt)
        return rl, dz, hit

    same_bits(run)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", list(ref.LOSSES))
def test_loss(rng, dtype, kind):
    m, n = 701, 21
    p = rng.uniform(0, 1, (m, n)).astype(dtype)
    t = rng.uniform(0, 1, (m, n)).astype(dtype)
    sw = rng.uniform(0, 2, m).astype(dtype)

    def run(nt):
        rl, dp = np.empty(m, dtype), np.empty((m, n), dtype)
        ck.loss(p, t, sw, ref.LOSSES[kind], 1 / m, dp, rl, nt)
        return rl, dp

    same_bits(run)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd(rng, dtype, momentum, nesterov):
    size = 300_001
    w, g, v = (rng.standard_normal(size).astype(dtype) for _ in range(3))

    def run(nt):
        cw, cv = w.copy(), v.copy()
        ck.sgd_step(cw, g, cv, 0.01, momentum, nesterov, nt)
        return cw, cv

    same_bits(run)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam(rng, dtype, amsgrad):
    size = 101_771
    w, g, m = (rng.standard_normal(size).astype(dtype) for _ in range(3))
    v, vhat = (rng.uniform(0, 1, size).astype(dtype) for _ in range(2))

    def run(nt):
        cw, cm, cv, cvh = w.copy(), m.copy(), v.copy(), vhat.copy()
        ck.adam_step(cw, g, cm, cv, cvh if amsgrad else None, 1e-3, 0.9, 0.999, 1e-7, nt)
        return cw, cm, cv, cvh

    same_bits(run)
