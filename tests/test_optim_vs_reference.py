"""The optimizer kernels beyond SGD and Adam (RMSprop, Adagrad, Nadam, Adamax, Adadelta),
weight decay and gradient clipping, against their ``_reference`` twins: through
``_ckernels`` on every ISA the CPU has (every thread count gives the same bits) and
through ``_ops``."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradiente
from gradiente import _ckernels as ck
from gradiente import _ops
from gradiente import _reference as ref

from conftest import THREADS, assert_close

DTYPES = [np.float32, np.float64]
SIZES = [0, 1, 17, 2049, 70001]


def _arrays(size, dtype, n_pos, seed=7):
    """w, g and n_pos non-negative state arrays (accumulators of squares)."""
    rng = np.random.default_rng(seed + size)
    w = rng.standard_normal(size).astype(dtype)
    g = rng.standard_normal(size).astype(dtype)
    pos = [rng.uniform(0, 1, size).astype(dtype) for _ in range(n_pos)]
    return w, g, pos


def _rmsprop(momentum, centered):
    def run(size, dtype, n_threads):
        w, g, (v, mom) = _arrays(size, dtype, 2)
        v += dtype(0.01)  # a valid centered state: v ≥ avg²
        avg = (0.05 * np.tanh(g[::-1])).astype(dtype)
        exp = ref.rmsprop_step(w, g, v, mom, avg, 0.01, 0.9, momentum, 1e-7, centered)
        got = [w.copy(), v.copy(), mom.copy(), avg.copy()]
        ck.rmsprop_step(got[0], g, got[1], got[2] if momentum > 0 else None,
                        got[3] if centered else None, 0.01, 0.9, momentum, 1e-7, n_threads)
        with gradiente.threads(n_threads):
            ops = _ops.rmsprop_step(w, g, v, mom, avg, 0.01, 0.9, momentum, 1e-7, centered)
        return exp, got, ops
    return run


def _adagrad(size, dtype, n_threads):
    w, g, (acc,) = _arrays(size, dtype, 1)
    exp = ref.adagrad_step(w, g, acc, 0.01, 1e-7)
    got = [w.copy(), acc.copy()]
    ck.adagrad_step(got[0], g, got[1], 0.01, 1e-7, n_threads)
    with gradiente.threads(n_threads):
        ops = _ops.adagrad_step(w, g, acc, 0.01, 1e-7)
    return exp, got, ops


def _adamax(size, dtype, n_threads):
    w, g, (u,) = _arrays(size, dtype, 1)
    m = (0.5 * w[::-1]).copy()
    bias_1 = 1 - 0.9 ** 3
    exp = ref.adamax_step(w, g, m, u, 0.002, bias_1, 0.9, 0.999, 1e-7)
    got = [w.copy(), m.copy(), u.copy()]
    ck.adamax_step(got[0], g, got[1], got[2], 0.002, bias_1, 0.9, 0.999, 1e-7, n_threads)
    with gradiente.threads(n_threads):
        ops = _ops.adamax_step(w, g, m, u, 0.002, bias_1, 0.9, 0.999, 1e-7)
    return exp, got, ops


def _nadam(size, dtype, n_threads):
    w, g, (v,) = _arrays(size, dtype, 1)
    m = (0.5 * w[::-1]).copy()
    c_m, c_g, bias_2, _ = ref.nadam_coefficients(0.9, 0.999, 4)
    exp = ref.nadam_step(w, g, m, v, 0.001, c_m, c_g, bias_2, 0.9, 0.999, 1e-7)
    got = [w.copy(), m.copy(), v.copy()]
    ck.nadam_step(got[0], g, got[1], got[2], 0.001, c_m, c_g, bias_2, 0.9, 0.999, 1e-7,
                  n_threads)
    with gradiente.threads(n_threads):
        ops = _ops.nadam_step(w, g, m, v, 0.001, c_m, c_g, bias_2, 0.9, 0.999, 1e-7)
    return exp, got, ops


def _adadelta(size, dtype, n_threads):
    w, g, (ag, ad) = _arrays(size, dtype, 2)
    exp = ref.adadelta_step(w, g, ag, ad, 0.5, 0.95, 1e-7)
    got = [w.copy(), ag.copy(), ad.copy()]
    ck.adadelta_step(got[0], g, got[1], got[2], 0.5, 0.95, 1e-7, n_threads)
    with gradiente.threads(n_threads):
        ops = _ops.adadelta_step(w, g, ag, ad, 0.5, 0.95, 1e-7)
    return exp, got, ops


def _scale(size, dtype, n_threads):
    w, _, _ = _arrays(size, dtype, 0)
    exp = [ref.scale(w, 1 - 0.01 * 0.004)]
    got = [w.copy()]
    ck.scale(got[0], 1 - 0.01 * 0.004, n_threads)
    with gradiente.threads(n_threads):
        ops = [_ops.scale(w, 1 - 0.01 * 0.004)]
    return exp, got, ops


def _segments(size):
    """Variables of uneven sizes covering [0, size)."""
    cuts = sorted({0, size, size // 3, size // 3 + 1, (2 * size) // 3})
    return [(a, b - a) for a, b in zip(cuts, cuts[1:])]


def _clip(mode, clip):
    def run(size, dtype, n_threads):
        _, g, _ = _arrays(size, dtype, 0)
        segs = _segments(size)
        exp = [ref.clip_grads(g, segs, mode, clip)]
        got = [g.copy()]
        blocks = _ops.clip_blocks(segs, grain=1000)
        scratch = np.zeros(max(len(blocks), 1))
        ck.clip_grads(got[0], blocks, ref.CLIP_MODES[mode], clip, scratch, n_threads)
        with gradiente.threads(n_threads):
            ops = [_ops.clip_grads(g, segs, mode, clip)]
        return exp, got, ops
    return run


CASES = {
    "rmsprop": _rmsprop(0.0, False),
    "rmsprop_momentum": _rmsprop(0.9, False),
    "rmsprop_centered": _rmsprop(0.0, True),
    "rmsprop_centered_momentum": _rmsprop(0.5, True),
    "adagrad": _adagrad,
    "adamax": _adamax,
    "nadam": _nadam,
    "adadelta": _adadelta,
    "weight_decay": _scale,
    "clipvalue": _clip("value", 0.5),
    "clipnorm": _clip("norm", 3.0),
    "clipnorm_loose": _clip("norm", 1e6),
    "global_clipnorm": _clip("global_norm", 5.0),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", list(CASES))
def test_optim_kernel(isa, case, size, dtype):
    first = None
    for n_threads in THREADS:
        exp, got, ops = CASES[case](size, dtype, n_threads)
        for e, c, o in zip(exp, got, ops):
            assert_close(c, e, dtype, err_msg=f"{case} C, {n_threads} threads")
            assert_close(o, e, dtype, err_msg=f"{case} _ops")
        if first is None:
            first = got
        else:
            for a, b in zip(first, got):
                assert a.tobytes() == b.tobytes(), f"{case}: {n_threads} threads differ"


def test_clip_nan_and_empty():
    g = np.array([1.0, np.nan, 2.0, 3.0])
    out = _ops.clip_grads(g, [(0, 2), (2, 2)], "norm", 1.0)
    assert np.isnan(out[:2]).all() and np.isfinite(out[2:]).all()
    np.testing.assert_allclose(np.linalg.norm(out[2:]), 1.0)
    out = _ops.clip_grads(g, [(0, 2), (2, 2)], "global_norm", 1.0)
    assert np.isnan(out).all()
    assert _ops.clip_grads(g[:0], [], "global_norm", 1.0).shape == (0,)
    with pytest.raises(ValueError, match="clip mode"):
        _ops.clip_grads(g, [(0, 4)], "bogus", 1.0)


def test_nadam_coefficients_running_product():
    prod = None
    for t in range(1, 30):
        c = ref.nadam_coefficients(0.9, 0.999, t, prod)
        full = ref.nadam_coefficients(0.9, 0.999, t)
        np.testing.assert_allclose(c, full, rtol=1e-14)
        prod = c[3]
    u1 = 0.9 * (1 - 0.5 * 0.96)
    assert ref.nadam_coefficients(0.9, 0.999, 1)[3] == pytest.approx(u1)


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(0, 3000), min_size=1, max_size=5),
       clip=st.floats(1e-3, 1e3), scale=st.floats(1e-3, 1e3), seed=st.integers(0, 2**16))
def test_clipped_norms_are_bounded(sizes, clip, scale, seed):
    """After clipnorm each variable's norm is ≤ clip (after global_clipnorm all of them
    together), directions are kept, and gradients already inside are unchanged."""
    rng = np.random.default_rng(seed)
    g = (scale * rng.standard_normal(sum(sizes))).astype(np.float32)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    segs = [(int(o), int(n)) for o, n in zip(offsets, sizes)]
    out = _ops.clip_grads(g, segs, "norm", clip)
    for o, n in segs:
        before = np.linalg.norm(g[o:o + n].astype(np.float64))
        after = np.linalg.norm(out[o:o + n].astype(np.float64))
        assert after <= clip * (1 + 1e-5)
        if before <= clip:
            assert np.array_equal(out[o:o + n], g[o:o + n])
        else:
            np.testing.assert_allclose(out[o:o + n] * (before / after), g[o:o + n],
                                       rtol=1e-4, atol=1e-6 * scale)
    out = _ops.clip_grads(g, segs, "global_norm", clip)
    assert np.linalg.norm(out.astype(np.float64)) <= clip * (1 + 1e-5)
