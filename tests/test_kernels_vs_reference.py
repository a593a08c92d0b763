"""Every non-GEMM kernel against its ``_reference`` twin, through ``_ops`` (native
backend) and through ``_ckernels`` directly with NaN-filled outputs."""
import numpy as np
import pytest

import gradiente
from gradiente import _ckernels as ck
from gradiente import _ops
from gradiente import _reference as ref

from conftest import THREADS, assert_close, isas

DTYPES = [np.float32, np.float64]
ACTS = list({i: a for a, i in reversed(ref.ACTIVATIONS.items())}.values())  # one name per id
#: the first activations run the whole matrix in the dense tests; the others share its
#: epilogue code and run a corner of it (one ISA, 1 and 3 threads, three shapes)
CORE_ACTS = ("linear", "relu", "sigmoid", "tanh", "softmax")
LOSSES = list(ref.LOSSES)
# (m, k, n): empty batch, one, odd, vector width -1/0/+1, non-square
SHAPES = [(0, 5, 3), (1, 1, 1), (7, 3, 5), (15, 16, 17), (16, 17, 15), (17, 15, 16),
          (33, 70, 9)]
# Y spans two of dense_fwd's row blocks (1 MiB or 256 rows), and db several column
# blocks per thread
BIG_SHAPE = (260, 3, 1100)


#: (act, mkn, n_threads) for the dense tests
DENSE_CASES = ([(a, s, t) for a in CORE_ACTS for s in SHAPES for t in THREADS]
               + [(a, s, t) for a in ACTS if a not in CORE_ACTS
                  for s in (SHAPES[0], SHAPES[2], SHAPES[-1]) for t in (1, 3)])


def corner_only(act, isa):
    if act not in CORE_ACTS and isas() and isa != isas()[-1]:
        pytest.skip("the dense epilogue of this activation runs under one ISA")


def rand(rng, shape, dtype, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(dtype)


def nan(shape, dtype):
    return np.full(shape, np.nan, dtype=dtype)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def native():
    """_ops must reach the C kernels here, whatever GRADIENTE_BACKEND says."""
    gradiente.set_backend("native")


def act_input(rng, act, shape, dtype):
    """y for act_bwd: a valid output of the activation."""
    return ref.act_fwd(rand(rng, shape, dtype, 2.0), act)


# ---------------------------------------------------------------- activations


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(0, 4), (1, 1), (3, 15), (5, 16), (2, 17), (40, 300)])
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("n_threads", THREADS)
def test_act_fwd_bwd(rng, dtype, shape, act, n_threads):
    x = rand(rng, shape, dtype, 3.0)
    y = nan(shape, dtype)
    ck.act_fwd(x, y, ref.ACTIVATIONS[act], n_threads)
    assert_close(y, ref.act_fwd(x, act), dtype)
    dy = rand(rng, shape, dtype)
    dx = nan(shape, dtype)
    ck.act_bwd(y, dy, dx, ref.ACTIVATIONS[act], n_threads, x)
    expect = ref.act_bwd(y, dy, act, x=x)
    assert_close(dx, expect, dtype, k=shape[1] if act == "softmax" else 1)
    with gradiente.threads(n_threads):
        assert_close(_ops.act_fwd(x, act), ref.act_fwd(x, act), dtype)
        assert_close(_ops.act_bwd(y, dy, act, x=x), expect, dtype, k=shape[1])


@pytest.mark.parametrize("act", ref.NEEDS_INPUT)
def test_act_bwd_needs_input(rng, act):
    x = rand(rng, (3, 4), np.float64)
    y = ref.act_fwd(x, act)
    assert ck.act_needs_input(ref.ACTIVATIONS[act])
    with pytest.raises(ValueError, match="needs"):
        ck.act_bwd(y, y, np.empty_like(y), ref.ACTIVATIONS[act], 1)
    with pytest.raises(ValueError, match="needs"):
        _ops.act_bwd(y, y, act)
    with pytest.raises(ValueError, match="needs"):
        _ops.dense_bwd(x, np.eye(4), y, y, act)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
def test_act_special_values(dtype, act):
    """Large, tiny, signed zero, inf and NaN inputs: the same as the reference."""
    x = np.array([[-1e4, -100, -20, -3, -1e-30, -0.0, 0.0, 1e-30, 2.9999999, 3, 6, 20,
                   100, 1e4, np.inf, -np.inf, np.nan]], dtype=dtype)
    with np.errstate(all="ignore"):
        expect = ref.act_fwd(x, act)
        y = nan(x.shape, dtype)
        ck.act_fwd(x, y, ref.ACTIVATIONS[act], 1)
        np.testing.assert_allclose(y, expect, rtol=1e-6 if dtype == np.float32 else 1e-14)
        dy = np.ones_like(x)
        dx = nan(x.shape, dtype)
        ck.act_bwd(y, dy, dx, ref.ACTIVATIONS[act], 1, x)
        np.testing.assert_allclose(dx, ref.act_bwd(y, dy, act, x=x),
                                   rtol=1e-6 if dtype == np.float32 else 1e-14)


@pytest.mark.parametrize("act", ACTS)
def test_act_in_place(rng, act):
    x = rand(rng, (9, 17), np.float64)
    expect = ref.act_fwd(x, act)
    ck.act_fwd(x, x, ref.ACTIVATIONS[act], 2)
    assert_close(x, expect, np.float64)
    dy = rand(rng, x.shape, np.float64)
    x0 = rand(rng, x.shape, np.float64)  # the input, for the activations that need it
    expect = ref.act_bwd(x, dy, act, x=x0)
    ck.act_bwd(x, dy, dy, ref.ACTIVATIONS[act], 2, x0)
    assert_close(dy, expect, np.float64)


def test_ops_act_nd_and_softmax(rng):
    x = rand(rng, (2, 3, 5), np.float32)
    assert_close(_ops.act_fwd(x, "softmax"), ref.act_fwd(x, "softmax"), np.float32)
    assert_close(_ops.softmax(x[0]), ref.softmax(x[0]), np.float32)
    with pytest.raises(ValueError, match="unknown activation"):
        _ops.act_fwd(x, "swish2")
    with pytest.raises(TypeError, match="float32 or float64"):
        _ops.act_fwd(x.astype(np.int64), "relu")


# ---------------------------------------------------------------- dense


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act,mkn,n_threads", DENSE_CASES)
def test_dense_fwd(isa, rng, dtype, mkn, act, n_threads):
    corner_only(act, isa)
    check_dense_fwd(rng, dtype, mkn, act, n_threads)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ["relu", "softmax", "gelu"])
@pytest.mark.parametrize("n_threads", [1, 3])
def test_dense_fwd_bwd_big(rng, dtype, act, n_threads):
    check_dense_fwd(rng, dtype, BIG_SHAPE, act, n_threads)
    check_dense_bwd(rng, dtype, BIG_SHAPE, act, n_threads)


def check_dense_fwd(rng, dtype, mkn, act, n_threads):
    m, k, n = mkn
    x, w, b = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype), rand(rng, n, dtype)
    for bias in (b, None):
        y = nan((m, n), dtype)
        ck.dense_fwd(x, w, bias, y, ref.ACTIVATIONS[act], n_threads)
        assert_close(y, ref.dense_fwd(x, w, bias, act), dtype, k=k)
        y, z = nan((m, n), dtype), nan((m, n), dtype)
        ck.dense_fwd(x, w, bias, y, ref.ACTIVATIONS[act], n_threads, z)
        ey, ez = ref.dense_fwd(x, w, bias, act, with_z=True)
        assert_close(y, ey, dtype, k=k)
        assert_close(z, ez, dtype, k=k)
    with gradiente.threads(n_threads):
        assert_close(_ops.dense_fwd(x, w, b, act), ref.dense_fwd(x, w, b, act), dtype, k=k)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act,mkn,n_threads", DENSE_CASES)
def test_dense_bwd(isa, rng, dtype, mkn, act, n_threads):
    corner_only(act, isa)
    check_dense_bwd(rng, dtype, mkn, act, n_threads)


def check_dense_bwd(rng, dtype, mkn, act, n_threads):
    m, k, n = mkn
    x, w = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype, 1 / np.sqrt(max(k, 1)))
    y, z = ref.dense_fwd(x, w, rand(rng, n, dtype), act, with_z=True)
    dy = rand(rng, (m, n), dtype)
    kk = max(m, k, n, 1)
    edx, edw, edb = ref.dense_bwd(x, w, y, dy, act, z=z)
    dz = dy.copy()
    dx, dw, db = nan((m, k), dtype), nan((k, n), dtype), nan(n, dtype)
    ck.dense_bwd(x, w, y, dz, dx, dw, db, ref.ACTIVATIONS[act], n_threads, z)
    assert_close(dz, ref.act_bwd(y, dy, act, x=z), dtype, k=n)
    assert_close(dx, edx, dtype, k=kk)
    assert_close(dw, edw, dtype, k=kk)
    assert_close(db, edb, dtype, k=kk)
    # first layer without bias: dx and db are not asked for
    dz = dy.copy()
    dw = nan((k, n), dtype)
    ck.dense_bwd(x, w, y, dz, None, dw, None, ref.ACTIVATIONS[act], n_threads, z)
    assert_close(dw, edw, dtype, k=kk)
    with gradiente.threads(n_threads):
        dy_before = dy.copy()
        got = _ops.dense_bwd(x, w, y, dy, act, z=z)
        np.testing.assert_array_equal(dy, dy_before)  # _ops never modifies its inputs
        for g, e in zip(got, (edx, edw, edb)):
            assert_close(g, e, dtype, k=kk)
        got = _ops.dense_bwd(x, w, y, dy, act, need_dx=False, need_db=False, z=z)
        assert got[0] is None and got[2] is None
        assert_close(got[1], edw, dtype, k=kk)


def test_ops_dense_leading_axes(rng):
    x, w, b = rand(rng, (2, 3, 4), np.float64), rand(rng, (4, 5), np.float64), rand(rng, 5, np.float64)
    y = _ops.dense_fwd(x, w, b, "tanh")
    assert_close(y, ref.dense_fwd(x, w, b, "tanh"), np.float64)
    with pytest.raises(ValueError, match="expected x"):
        _ops.dense_fwd(x, w.T, b)


# ---------------------------------------------------------------- softmax + CE


def xent_case(rng, m, n, dtype, mode, scale=3.0):
    z = rand(rng, (m, n), dtype, scale)
    labels = rng.integers(0, n, m).astype(np.int32)
    if mode == "labels":
        return z, labels, None
    if mode == "onehot":
        return z, None, np.eye(n, dtype=dtype)[labels]
    t = rng.uniform(0, 1, (m, n)).astype(dtype)
    return z, None, (t / t.sum(axis=1, keepdims=True)).astype(dtype)


def check_xent(z, labels, targets, sw, from_logits, grad_scale, n_threads, dtype):
    m, n = z.shape
    el, edz, eh = ref.softmax_xent(z, labels, targets, sw, from_logits, grad_scale)
    rl, dz, hit = nan(m, dtype), nan((m, n), dtype), np.full(m, -7, np.int32)
    gs = 1.0 / max(m, 1) if grad_scale is None else grad_scale
    ck.softmax_xent(z, labels, targets, sw, from_logits, gs, dz, rl, hit, n_threads)
    assert_close(rl, el, dtype, k=n)
    assert_close(dz, edz, dtype, k=n)
    np.testing.assert_array_equal(hit, eh)
    with gradiente.threads(n_threads):
        ol, odz, oh = _ops.softmax_xent(z, labels, targets, sw, from_logits, grad_scale)
    assert_close(ol, el, dtype, k=n)
    assert_close(odz, edz, dtype, k=n)
    np.testing.assert_array_equal(oh, eh)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mn", [(0, 3), (1, 1), (1, 10), (7, 15), (16, 16), (17, 17), (260, 33)])
@pytest.mark.parametrize("mode", ["labels", "onehot", "soft"])
@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_threads", THREADS)
def test_softmax_xent(rng, dtype, mn, mode, from_logits, weighted, n_threads):
    m, n = mn
    # scale 12: some probabilities fall below 1e-7, so the clip is exercised
    z, labels, targets = xent_case(rng, m, n, dtype, mode, scale=12.0)
    sw = rng.uniform(0, 2, m).astype(dtype) if weighted else None
    check_xent(z, labels, targets, sw, from_logits, None, n_threads, dtype)
    check_xent(z, labels, targets, sw, from_logits, 0.5, n_threads, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["labels", "soft"])
@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("big", [1e4, 80.0])
def test_softmax_xent_large_logits(rng, dtype, mode, from_logits, big):
    z, labels, targets = xent_case(rng, 9, 17, dtype, mode)
    z = np.where(rng.uniform(size=z.shape) < 0.5, big, -big).astype(dtype) + z
    z[0] = big  # a row of ties
    el, edz, eh = ref.softmax_xent(z, labels, targets, None, from_logits)
    rl, dz, hit = _ops.softmax_xent(z, labels, targets, None, from_logits)
    assert np.isfinite(rl).all() and np.isfinite(dz).all()
    assert_close(rl, el, dtype, k=17)
    assert_close(dz, edz, dtype, k=17)
    np.testing.assert_array_equal(hit, eh)


def test_softmax_xent_in_place_and_loss_only(rng):
    z, labels, _ = xent_case(rng, 11, 7, np.float64, "labels")
    el, edz, eh = ref.softmax_xent(z, labels=labels)
    rl = nan(11, np.float64)
    ck.softmax_xent(z, labels, None, None, True, 1 / 11, None, rl, None, 2)
    assert_close(rl, el, np.float64)
    zz = z.copy()
    ck.softmax_xent(zz, labels, None, None, True, 1 / 11, zz, rl, None, 2)
    assert_close(zz, edz, np.float64)


def test_ops_softmax_xent_errors(rng):
    z = rand(rng, (4, 3), np.float32)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        _ops.softmax_xent(z, labels=np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match="labels=... or targets"):
        _ops.softmax_xent(z)
    with pytest.raises(ValueError, match="sample_weight"):
        _ops.softmax_xent(z, labels=np.zeros(4, np.int32), sample_weight=np.ones(3))


# ---------------------------------------------------------------- losses


def loss_case(rng, kind, m, n, dtype):
    if kind == "bce_logits":
        p = rand(rng, (m, n), dtype, 4.0)
    elif kind == "cce":
        p = rng.uniform(0, 1, (m, n)).astype(dtype)
        p[:, : n // 3] *= 1e-9  # some q under the clip
    elif kind == "bce":
        p = rng.uniform(0, 1, (m, n)).astype(dtype)
        p.flat[::7] = 0  # clipped
        p.flat[3::11] = 1
    else:
        p = rand(rng, (m, n), dtype)
    if kind in ("mse", "mae"):
        t = rand(rng, (m, n), dtype)
        t.flat[::5] = p.flat[::5]  # d == 0: mae's gradient is 0 there
    elif kind == "cce":
        t = np.eye(n, dtype=dtype)[rng.integers(0, n, m)] if n else np.zeros((m, n), dtype)
    else:
        t = rng.uniform(0, 1, (m, n)).astype(dtype)
    return p, t


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mn", [(0, 3), (1, 1), (7, 15), (16, 16), (17, 17), (130, 40)])
@pytest.mark.parametrize("kind", LOSSES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_threads", THREADS)
def test_loss(rng, dtype, mn, kind, weighted, n_threads):
    m, n = mn
    p, t = loss_case(rng, kind, m, n, dtype)
    sw = rng.uniform(0, 2, m).astype(dtype) if weighted else None
    for gs in (None, 0.25):
        el, edp = ref.loss(p, t, kind, sw, gs)
        rl, dp = nan(m, dtype), nan((m, n), dtype)
        ck.loss(p, t, sw, ref.LOSSES[kind], 1.0 / max(m, 1) if gs is None else gs, dp, rl,
                n_threads)
        assert_close(rl, el, dtype, k=n)
        assert_close(dp, edp, dtype, k=n)
        with gradiente.threads(n_threads):
            ol, odp = _ops.loss(p, t, kind, sw, gs)
        assert_close(ol, el, dtype, k=n)
        assert_close(odp, edp, dtype, k=n)
    rl = nan(m, dtype)
    ck.loss(p, t, sw, ref.LOSSES[kind], 1.0, None, rl, n_threads)  # loss only
    assert_close(rl, ref.loss(p, t, kind, sw)[0], dtype, k=n)


def test_ops_loss_errors(rng):
    p = rand(rng, (3, 2), np.float64)
    with pytest.raises(ValueError, match="unknown loss"):
        _ops.loss(p, p, "hinge")
    with pytest.raises(ValueError, match="expects shape"):
        _ops.loss(p, p[:2], "mse")


# ---------------------------------------------------------------- optimizers


OPT_SIZES = [0, 1, 15, 16, 17, 2047, 2049, 70001]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", OPT_SIZES)
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
@pytest.mark.parametrize("n_threads", THREADS)
def test_sgd_step(rng, dtype, size, momentum, nesterov, n_threads):
    w, g, v = rand(rng, size, dtype), rand(rng, size, dtype), rand(rng, size, dtype)
    ew, ev = ref.sgd_step(w, g, v, 0.01, momentum, nesterov)
    cw, cv = w.copy(), v.copy()
    ck.sgd_step(cw, g, cv if momentum else None, 0.01, momentum, nesterov, n_threads)
    assert_close(cw, ew, dtype)
    assert_close(cv, ev, dtype)
    with gradiente.threads(n_threads):
        ow, ov = _ops.sgd_step(w, g, v, 0.01, momentum, nesterov)
    assert_close(ow, ew, dtype)
    assert_close(ov, ev, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", OPT_SIZES)
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("n_threads", THREADS)
def test_adam_step(rng, dtype, size, amsgrad, n_threads):
    w, g, m = rand(rng, size, dtype), rand(rng, size, dtype), rand(rng, size, dtype)
    v = rng.uniform(0, 1, size).astype(dtype)
    vhat = rng.uniform(0, 1, size).astype(dtype)
    alpha = ref.adam_alpha(0.001, 0.9, 0.999, 3)
    ew, em, ev, evh = ref.adam_step(w, g, m, v, vhat, alpha, amsgrad=amsgrad)
    cw, cm, cv, cvh = w.copy(), m.copy(), v.copy(), vhat.copy()
    ck.adam_step(cw, g, cm, cv, cvh if amsgrad else None, alpha, 0.9, 0.999, 1e-7, n_threads)
    for got, exp in ((cw, ew), (cm, em), (cv, ev), (cvh, evh)):
        assert_close(got, exp, dtype)
    with gradiente.threads(n_threads):
        out = _ops.adam_step(w, g, m, v, vhat, alpha, amsgrad=amsgrad)
    for got, exp in zip(out, (ew, em, ev, evh)):
        assert_close(got, exp, dtype)


def test_ops_optim_shapes_and_backend(rng):
    w, g = rand(rng, (3, 4), np.float32), rand(rng, (3, 4), np.float32)
    w2, v2 = _ops.sgd_step(w, g, None, 0.1)
    assert w2.shape == (3, 4) and v2 is None
    assert_close(w2, w - np.float32(0.1) * g, np.float32)
    gradiente.set_backend("numpy")
    w3, _ = _ops.sgd_step(w, g, None, 0.1)
    assert_close(w3, w2, np.float32)


# ---------------------------------------------------------------- GEMM via _ops


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta,tb", [(False, False), (False, True), (True, False), (True, True)])
def test_ops_gemm(rng, dtype, ta, tb):
    a = rand(rng, (17, 9) if not ta else (9, 17), dtype)
    b = rand(rng, (9, 16) if not tb else (16, 9), dtype)
    c = rand(rng, (17, 16), dtype)
    assert_close(_ops.gemm(a, b, c, ta, tb, 0.5, 2.0), ref.gemm(a, b, c, ta, tb, 0.5, 2.0),
                 dtype, k=9)
    assert_close(_ops.gemm(a, b, None, ta, tb), ref.gemm(a, b, None, ta, tb), dtype, k=9)
