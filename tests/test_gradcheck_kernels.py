"""float64 central finite differences against each native kernel's analytic gradient.

Each check builds a scalar L from a forward kernel, differentiates it numerically,
and compares with what the backward kernel returns (through ``_ops``, on the native
backend and on the numpy reference). The last test shows the check catches a wrong gradient."""
import numpy as np
import pytest

import gradiente
from gradiente import _ops
from gradiente import _reference as ref

EPS = 1e-6
ACTS = list({i: a for a, i in reversed(ref.ACTIVATIONS.items())}.values())  # one name per id
TOL = 1e-6


@pytest.fixture(autouse=True, params=["native", "numpy"])
def backend(request):
    """The native kernels, and the reference they are tested against elsewhere."""
    gradiente.set_backend(request.param)
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(99)


def numeric_grad(f, x):
    """Central differences of the scalar f() with respect to every element of x."""
    g = np.empty_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + EPS
        up = f()
        flat[i] = old - EPS
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * EPS)
    return g


def rel_error(analytic, numeric):
    scale = max(1.0, np.abs(numeric).max(initial=0), np.abs(analytic).max(initial=0))
    return np.abs(analytic - numeric).max(initial=0) / scale


def check(f, x, analytic):
    err = rel_error(analytic, numeric_grad(f, x))
    assert err < TOL, f"gradient error {err:.3g}"


#: activations with kinks (where the finite difference straddles two slopes)
KINKED = ("relu", "leaky_relu", "relu6", "hard_sigmoid", "elu", "selu")


@pytest.mark.parametrize("act", ACTS)
def test_act_bwd(rng, act):
    x = rng.standard_normal((4, 6))
    r = rng.standard_normal(x.shape)
    if act in KINKED:
        x = np.where(np.abs(x) < 1e-3, 0.5, x)  # keep away from the kinks
        x = np.where(np.abs(x - 3) < 1e-3, 2.5, x)
        x = np.where(np.abs(x + 3) < 1e-3, -2.5, x)
    analytic = _ops.act_bwd(_ops.act_fwd(x, act), r, act, x=x)
    check(lambda: float((r * _ops.act_fwd(x, act)).sum()), x, analytic)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_bwd(rng, act, use_bias):
    m, k, n = 5, 4, 3
    x = rng.standard_normal((m, k))
    w = rng.standard_normal((k, n))
    b = rng.standard_normal(n) if use_bias else None
    r = rng.standard_normal((m, n))

    def f():
        return float((r * _ops.dense_fwd(x, w, b, act)).sum())

    y, z = _ops.dense_fwd(x, w, b, act, with_z=True)
    if act in KINKED:
        assert np.abs(z).min() > 1e-4 and np.abs(np.abs(z) - 3).min() > 1e-4
    dx, dw, db = _ops.dense_bwd(x, w, y, r, act, need_db=use_bias, z=z)
    check(f, x, dx)
    check(f, w, dw)
    if use_bias:
        check(f, b, db)


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("mode", ["labels", "soft"])
@pytest.mark.parametrize("scale", [1.0, 25.0])
def test_softmax_xent(rng, from_logits, mode, scale):
    m, n = 4, 5
    z = scale * rng.standard_normal((m, n))
    labels = rng.integers(0, n, m).astype(np.int32)
    targets = None
    if mode == "soft":
        targets = rng.uniform(0, 1, (m, n))
        targets /= targets.sum(axis=1, keepdims=True)
        labels = None
    sw = rng.uniform(0.5, 2, m)
    if not from_logits:
        # the clip is a kink: stay clear of it (scale 25 puts some p deep inside it)
        p = ref.softmax(z)
        assert np.abs(np.log(p) - np.log(1e-7)).min() > 1e-3
        assert np.abs(np.log1p(-p) - np.log(1e-7)).min() > 1e-3

    def f():
        return float(_ops.softmax_xent(z, labels, targets, sw, from_logits, 1.0)[0].sum())

    _, dz, _ = _ops.softmax_xent(z, labels, targets, sw, from_logits, 1.0)
    check(f, z, dz)


@pytest.mark.parametrize("kind", list(ref.LOSSES))
def test_loss(rng, kind):
    m, n = 4, 5
    if kind == "bce_logits":
        p = 3 * rng.standard_normal((m, n))
    else:
        p = rng.uniform(0.05, 0.95, (m, n))
    t = rng.uniform(0, 1, (m, n))
    if kind == "cce":
        t = np.eye(n)[rng.integers(0, n, m)]
    if kind == "mae":
        p = t + rng.choice([-1, 1], (m, n)) * rng.uniform(0.01, 1, (m, n))
    sw = rng.uniform(0.5, 2, m)

    def f():
        return float(_ops.loss(p, t, kind, sw, 1.0)[0].sum())

    check(f, p, _ops.loss(p, t, kind, sw, 1.0)[1])


def test_loss_gradient_zero_where_clipped():
    p = np.array([[0.0, 1.0, 0.5], [1e-9, 0.3, 1.0]])
    t = np.array([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    dp = _ops.loss(p, t, "bce", None, 1.0)[1]
    assert dp[0, 0] == 0 and dp[0, 1] == 0 and dp[1, 0] == 0 and dp[1, 2] == 0
    assert dp[0, 2] != 0 and dp[1, 1] != 0


def test_check_catches_a_wrong_gradient(rng):
    x = rng.standard_normal((3, 4))
    w = rng.standard_normal((4, 5))
    r = rng.standard_normal((3, 5))
    y = _ops.dense_fwd(x, w, None, "tanh")

    def f():
        return float((r * _ops.dense_fwd(x, w, None, "tanh")).sum())

    # the sigmoid derivative in place of tanh's: a plausible, wrong backward
    _, dw_wrong, _ = _ops.dense_bwd(x, w, y, r, "sigmoid", need_db=False)
    with pytest.raises(AssertionError, match="gradient error"):
        check(f, w, dw_wrong)
    # and a gradient off by 1 %
    _, dw, _ = _ops.dense_bwd(x, w, y, r, "tanh", need_db=False)
    with pytest.raises(AssertionError, match="gradient error"):
        check(f, w, dw * 1.01)
    check(f, w, dw)
