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


# ---------------------------------------------------------------- inside a team
#
# The training engine calls every kernel from all threads of one enclosing parallel
# region; each kernel must then share its loops with that team and open none. A
# small C harness (built here when a C compiler with OpenMP is available) opens the
# region and calls the kernels of the installed extension, whose gd_* symbols it
# resolves at load time.

TEAM_HARNESS = r"""
#include <stdint.h>
#include "gradiente/gd_kernels.h"
#define TEAM(T, S)                                                                    \
int team_dense_fwd_##S(int nt, int64_t m, int64_t k, int64_t n, const T *x,           \
                       const T *w, const T *b, int act, T *y, T *z, T *scratch) {     \
    int st = 0;                                                                       \
    _Pragma("omp parallel num_threads(nt)")                                           \
    { int s = gd_dense_fwd_##S(m, k, n, x, w, b, act, y, z, scratch, nt);             \
      _Pragma("omp master") st = s; }                                                 \
    return st;                                                                        \
}                                                                                     \
int team_dense_bwd_##S(int nt, int64_t m, int64_t k, int64_t n, const T *x,           \
                       const T *w, const T *y, const T *z, T *dy, int act, T *dx,     \
                       T *dw, T *db) {                                                \
    int st = 0;                                                                       \
    _Pragma("omp parallel num_threads(nt)")                                           \
    { int s = gd_dense_bwd_##S(m, k, n, x, w, y, z, dy, act, dx, dw, db, nt);         \
      _Pragma("omp master") st = s; }                                                 \
    return st;                                                                        \
}                                                                                     \
void team_act_##S(int nt, int64_t m, int64_t n, int act, const T *x, T *y,           \
                  const T *dy, T *dx) {                                               \
    _Pragma("omp parallel num_threads(nt)")                                           \
    { gd_act_fwd_##S(m, n, act, x, y, nt);                                            \
      gd_act_bwd_##S(m, n, act, x, y, dy, dx, nt); }                                  \
}                                                                                     \
void team_softmax_xent_##S(int nt, int64_t m, int64_t n, const T *z,                 \
                           const int32_t *labels, const T *sw, int from_logits,       \
                           T *dz, T *row_loss, int32_t *row_hit) {                    \
    _Pragma("omp parallel num_threads(nt)")                                           \
    gd_softmax_xent_##S(m, n, z, labels, 0, sw, from_logits, (T)0.5, dz, row_loss,    \
                        row_hit, nt);                                                 \
}                                                                                     \
void team_loss_##S(int nt, int64_t m, int64_t n, int loss, const T *p, const T *t,   \
                   T *dp, T *row_loss) {                                              \
    _Pragma("omp parallel num_threads(nt)")                                           \
    gd_loss_##S(m, n, loss, p, t, 0, (T)0.5, dp, row_loss, nt);                       \
}                                                                                     \
void team_optim_##S(int nt, int64_t n, T *w, const T *g, T *v, T *m, T *v2) {        \
    _Pragma("omp parallel num_threads(nt)")                                           \
    { gd_sgd_step_##S(n, w, g, v, (T)0.01, (T)0.9, 1, nt);                            \
      gd_adam_step_##S(n, w, g, m, v2, 0, (T)1e-3, (T)0.9, (T)0.999, (T)1e-7, nt); }  \
}                                                                                     \
void team_dropout_##S(int nt, int64_t m, int64_t n, const T *x, T *y, T *mask,        \
                      T *dx, double *pen, T *g, double *partials) {                   \
    _Pragma("omp parallel num_threads(nt)")                                           \
    { gd_dropout_fwd_##S(m, n, 0.3, 12345, 0, 0, x, y, mask, nt);                     \
      gd_dropout_bwd_##S(m, n, 0.3, mask, x, dx, nt);                                 \
      double p = gd_l1l2_penalty_##S(m * n, x, 0.01, 0.02, g, partials, nt);          \
      _Pragma("omp master") *pen = p; }                                               \
}
TEAM(float, f32)
TEAM(double, f64)
"""


@pytest.fixture(scope="module")
def team_lib(tmp_path_factory):
    import ctypes
    import os
    import pathlib
    import shutil
    import subprocess

    cc = shutil.which(os.environ.get("CC", "cc"))
    if cc is None:
        pytest.skip("no C compiler to build the team harness")
    include = pathlib.Path(__file__).resolve().parents[1] / "csrc" / "include"
    d = tmp_path_factory.mktemp("team")
    (d / "team.c").write_text(TEAM_HARNESS)
    lib = d / "libteam.so"
    r = subprocess.run([cc, "-std=c99", "-O1", "-fopenmp", "-shared", "-fPIC", f"-I{include}",
                        str(d / "team.c"), "-o", str(lib)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot build the team harness: {r.stderr[-300:]}")
    # make the extension's gd_* symbols global so the harness binds to them
    ctypes.CDLL(ck.__file__, mode=ctypes.RTLD_GLOBAL)
    try:
        return ctypes.CDLL(str(lib))
    except OSError as exc:
        pytest.skip(f"cannot load the team harness: {exc}")


def _p(a):
    import ctypes
    return None if a is None else ctypes.c_void_p(a.ctypes.data)


def _i(v):
    import ctypes
    return ctypes.c_int64(v)


@pytest.mark.parametrize("sparse_x", [False, True], ids=["dense_x", "sparse_x"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("team", [2, 3])
def test_kernels_share_an_enclosing_team(team_lib, rng, dtype, team, sparse_x):
    # sparse_x: 15% nonzeros, k past one segment, so the dense layer multiplies
    # through gd_spmm_* (its two k segments split across the team)
    sfx = "f32" if dtype == np.float32 else "f64"
    fn = lambda name: getattr(team_lib, f"team_{name}_{sfx}")  # noqa: E731
    m, k, n = (301, 200, 263) if sparse_x else (301, 67, 263)
    x = rng.standard_normal((m, k)).astype(dtype)
    if sparse_x:
        x *= rng.random((m, k)) < 0.15
    w = rng.standard_normal((k, n)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    dy = rng.standard_normal((m, n)).astype(dtype)
    for act in ref.ACTIVATIONS.values():
        y1, y2 = np.empty((m, n), dtype), np.full((m, n), np.nan, dtype)
        z1, z2 = np.empty((m, n), dtype), np.full((m, n), np.nan, dtype)
        ck.dense_fwd(x, w, b, y1, act, 1, z1)
        scratch = np.full((m, n), np.nan, dtype)
        assert fn("dense_fwd")(team, _i(m), _i(k), _i(n), _p(x), _p(w), _p(b), act, _p(y2),
                               _p(z2), _p(scratch)) == 0
        np.testing.assert_array_equal(y1, y2)
        np.testing.assert_array_equal(z1, z2)
        # dX and dW skip their closing barriers when db's column sums follow (one
        # barrier for the three); without db, dW keeps its own
        for with_db in (True, False):
            dz1, dz2 = dy.copy(), dy.copy()
            out1 = [np.empty(s, dtype) for s in ((m, k), (k, n), (n,))]
            out2 = [np.full(s, np.nan, dtype) for s in ((m, k), (k, n), (n,))]
            if not with_db:
                out1[2] = out2[2] = None
            ck.dense_bwd(x, w, y1, dz1, *out1, act, 1, z1)
            assert fn("dense_bwd")(team, _i(m), _i(k), _i(n), _p(x), _p(w), _p(y1), _p(z1),
                                   _p(dz2), act, *map(_p, out2)) == 0
            for u, v in zip([dz1] + out1[:2 + with_db], [dz2] + out2[:2 + with_db]):
                np.testing.assert_array_equal(u, v)
        ya, dxa = np.empty_like(dy), np.empty_like(dy)
        yb, dxb = np.full_like(dy, np.nan), np.full_like(dy, np.nan)
        ck.act_fwd(dy, ya, act, 1)
        ck.act_bwd(ya, y1, dxa, act, 1, dy)
        fn("act")(team, _i(m), _i(n), act, _p(dy), _p(yb), _p(y1), _p(dxb))
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(dxa, dxb)
    labels = rng.integers(0, n, m).astype(np.int32)
    sw = rng.uniform(0, 2, m).astype(dtype)
    for from_logits in (1, 0):
        r1 = (np.empty((m, n), dtype), np.empty(m, dtype), np.empty(m, np.int32))
        r2 = (np.full((m, n), np.nan, dtype), np.full(m, np.nan, dtype), np.full(m, -1, np.int32))
        ck.softmax_xent(dy, labels, None, sw, from_logits, 0.5, *r1, 1)
        fn("softmax_xent")(team, _i(m), _i(n), _p(dy), _p(labels), _p(sw), from_logits,
                           *map(_p, r2))
        for u, v in zip(r1, r2):
            np.testing.assert_array_equal(u, v)
    p, t = rng.uniform(0, 1, (m, n)).astype(dtype), rng.uniform(0, 1, (m, n)).astype(dtype)
    for kind in ref.LOSSES.values():
        r1 = (np.empty((m, n), dtype), np.empty(m, dtype))
        r2 = (np.full((m, n), np.nan, dtype), np.full(m, np.nan, dtype))
        ck.loss(p, t, None, kind, 0.5, *r1, 1)
        fn("loss")(team, _i(m), _i(n), kind, _p(p), _p(t), *map(_p, r2))
        for u, v in zip(r1, r2):
            np.testing.assert_array_equal(u, v)
    size = 70_001
    g = rng.standard_normal(size).astype(dtype)
    state = [rng.uniform(0, 1, size).astype(dtype) for _ in range(4)]
    s1, s2 = [a.copy() for a in state], [a.copy() for a in state]
    ck.sgd_step(s1[0], g, s1[1], 0.01, 0.9, True, 1)
    ck.adam_step(s1[0], g, s1[2], s1[3], None, 1e-3, 0.9, 0.999, 1e-7, 1)
    fn("optim")(team, _i(size), *map(_p, [s2[0], g, s2[1], s2[2], s2[3]]))
    for u, v in zip(s1, s2):
        np.testing.assert_array_equal(u, v)
    # dropout and the L1/L2 penalty
    y1, mask1, dx1 = np.empty_like(x), np.empty_like(x), np.empty_like(x)
    ck.dropout_fwd(x, y1, mask1, 0.3, 12345, False, False, 1)
    ck.dropout_bwd(mask1, x, dx1, 0.3, 1)
    g1 = np.zeros(x.size, dtype)
    pen1 = ck.l1l2_penalty(x.reshape(-1), 0.01, 0.02, g1, 1)
    y2, mask2, dx2 = (np.full_like(x, np.nan) for _ in range(3))
    g2 = np.zeros(x.size, dtype)
    pen2 = np.zeros(1)
    partials = np.zeros(2 * (x.size // 4096 + 1))
    fn("dropout")(team, _i(m), _i(k), _p(x), _p(y2), _p(mask2), _p(dx2), _p(pen2), _p(g2),
                  _p(partials))
    for u, v in zip((y1, mask1, dx1, g1), (y2, mask2, dx2, g2)):
        np.testing.assert_array_equal(u, v)
    assert pen1 == pen2[0]
