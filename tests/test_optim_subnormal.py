"""Adam's float32 kernel where moments and updates underflow: the ISAs with FMA
compute those lanes without underflowing products (gd_optim_impl.h says how), and must
give the plain loop's bits. The plain loop's bits are the NumPy twin's
(``_reference.adam_step`` with float32 hyper-parameters) and the generic ISA's;
compared here on every ISA and 1-3 threads, over moments, gradients and weights chosen
at and around the limits the kernel derives, and over a long decay through the
subnormal range."""
import numpy as np
import pytest

from gradiente import _ckernels as ck
from gradiente import _reference as ref

from conftest import THREADS

F = np.float32
TINY = np.finfo(F).tiny  # 2^-126


def _same(got, exp, what):
    """Equal bits, any NaN equal to any NaN (which payload an operation keeps when both
    operands are NaN is the compiler's choice of operand order)."""
    g, e = np.asarray(got), np.asarray(exp)
    nan = np.isnan(e)
    assert np.array_equal(np.isnan(g), nan), f"{what}: NaN positions differ"
    gb, eb = g.view(np.uint32)[~nan], e.view(np.uint32)[~nan]
    bad = np.flatnonzero(gb != eb)
    assert bad.size == 0, (f"{what}: {bad.size} elements differ, first got "
                           f"{g[~nan][bad[0]]!r} expected {e[~nan][bad[0]]!r}")


def _around(x, k=3):
    """x and its k neighbours on each side, both signs."""
    x = F(x)
    out = [x]
    lo = hi = x
    for _ in range(k):
        lo = np.nextafter(lo, F(0))
        hi = np.nextafter(hi, F(np.inf))
        out += [lo, hi]
    out = np.array(out, dtype=F)
    return np.concatenate([out, -out])


def _state(alpha, c1, eps, n=60_000, seed=0):
    """w, g, m, v with the lanes the kernel treats apart, mixed with ordinary ones."""
    rng = np.random.default_rng(seed)
    sub = (rng.integers(1, 1 << 23, n, dtype=np.uint32)).view(F)  # every subnormal size
    sub = np.where(rng.random(n) < 0.5, -sub, sub)
    special = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, TINY, -TINY, 1.0, -1.0],
                       dtype=F)
    limits = [2.0 ** -127 / c1 if 0 < c1 <= 1 else 1e-38,
              2.0 ** -126 / abs(alpha) if 0 < abs(alpha) < np.inf else 1e-38,
              (2.0 ** -126 / eps) * 2.0 ** 26 if 0 < eps < np.inf else 1e-20,
              2.0 ** -100, 2.0 ** -99, TINY, 2.0 ** -127]
    near = np.concatenate([_around(min(x, 3e38)) for x in limits] + [special])

    def pick(choices):
        """n values: a third subnormal, a third from choices, a third ordinary."""
        k = rng.integers(0, 3, n)
        ordinary = (rng.standard_normal(n) * 10.0 ** rng.integers(-40, 3, n)).astype(F)
        return np.where(k == 0, sub, np.where(k == 1, rng.choice(choices, n), ordinary))

    m = pick(near)
    g = np.where(rng.random(n) < 0.5, F(0), pick(near))
    g = np.where(rng.random(n) < 0.1, m, g)  # g - m == 0
    g = np.where(rng.random(n) < 0.1, np.nextafter(m, F(np.inf)), g)  # one ulp apart
    w = pick(np.concatenate([near, 2.0 ** np.arange(-110, 3, dtype=F)]))
    v = np.abs(pick(near))
    v = np.where(rng.random(n) < 0.02, F(-1), v)  # a negative slot: sqrt gives NaN
    # vhat >= v, NaN where v is (the state a run reaches: the kernel's max keeps v's NaN)
    vhat = np.where(np.isnan(v), v, np.fmax(v, np.abs(pick(near))))
    # every pair of signed zeros and the smallest subnormals as (m, g): where g·c1
    # rounds to a zero, its sign shows in m + (g - m)·c1 when m is -0
    few = np.arange(5, dtype=np.uint32).view(F)  # 0, 2^-149, ..., 4·2^-149
    few = np.concatenate([few, -few])
    mm, gg = (a.ravel() for a in np.meshgrid(few, few))
    k = mm.size
    w[:k], m[:k], g[:k], v[:k], vhat[:k] = F(0.5), mm, gg, F(1e-8), F(1e-8)
    return w, g, m, v, vhat


# alpha, beta_1, beta_2, epsilon: Keras's defaults, then each limit's premise broken
PARAMS = [
    (1e-3, 0.9, 0.999, 1e-7),
    (3.2e-2, 0.5, 0.9, 1e-7),
    (1e-30, 0.9, 0.999, 1e-7),     # tiny alpha: most lanes' alpha·m underflows
    (-1e-3, 0.9, 0.999, 1e-7),     # a negative rate
    (0.0, 0.9, 0.999, 1e-7),       # alpha 0: no lane is tiny
    (np.inf, 0.9, 0.999, 1e-7),
    (np.nan, 0.9, 0.999, 1e-7),
    (1e-3, 0.0, 0.999, 1e-7),      # c1 = 1
    (1e-3, 1.0, 0.999, 1e-7),      # c1 = 0
    (1e-3, 1.5, 0.999, 1e-7),      # c1 < 0
    (1e-3, -0.5, 0.999, 1e-7),     # c1 > 1
    (1e-3, 0.9, 0.999, 0.0),       # epsilon 0: den may be 0
    (1e-3, 0.9, 0.999, -1e-7),     # den may be 0 or negative
    (1e-3, 0.9, 0.999, 1e-40),     # subnormal epsilon
    (1e-3, 0.9, 0.999, 1.0),
    (1e-3, 0.9, 0.999, np.inf),
]


def _run_ref(w, g, m, v, vhat, alpha, b1, b2, eps, amsgrad):
    with np.errstate(all="ignore"):
        return ref.adam_step(w, g, m, v, vhat, F(alpha), F(b1), F(b2), F(eps), amsgrad)


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("params", PARAMS, ids=lambda p: ",".join(map(str, p)))
def test_adam_float32_bits_at_the_limits(isa, params, amsgrad):
    alpha, b1, b2, eps = params
    c1 = float(F(1) - F(b1))
    w, g, m, v, vhat = _state(alpha, c1, eps)
    exp = _run_ref(w, g, m, v, vhat, alpha, b1, b2, eps, amsgrad)
    for n_threads in THREADS:
        got = [a.copy() for a in (w, m, v, vhat)]
        ck.adam_step(got[0], g, got[1], got[2], got[3] if amsgrad else None, alpha, b1, b2,
                     eps, n_threads)
        for name, a, e in zip(("w", "m", "v"), got, exp):
            _same(a, e, f"{isa}, {n_threads} threads, {name}")
        if amsgrad:
            _same(got[3], exp[3], f"{isa}, {n_threads} threads, vhat")


def test_adam_float32_decay_through_the_subnormals(isa):
    """Moments whose gradient is zero from some step on decay by beta_1 until they
    reach zero (some 900 steps from 1e-38): every step's bits as the twin's."""
    rng = np.random.default_rng(1)
    n = 4096
    w = (rng.standard_normal(n) * 0.05).astype(F)
    w[:64] = 2.0 ** rng.integers(-90, -60, 64)  # weights small enough for updates to show
    m = (rng.standard_normal(n) * 10.0 ** rng.uniform(-40, -30, n)).astype(F)
    v = (rng.random(n) * 1e-20).astype(F)
    g = np.zeros(n, F)
    g[::7] = (rng.standard_normal(g[::7].size) * 1e-3).astype(F)  # a few live lanes
    got = [w.copy(), m.copy(), v.copy()]
    exp = [w.copy(), m.copy(), v.copy()]
    for step in range(1, 1201):
        alpha = 1e-3 * np.sqrt(1 - 0.999 ** step) / (1 - 0.9 ** step)
        ck.adam_step(got[0], g, got[1], got[2], None, alpha, 0.9, 0.999, 1e-7, 2)
        exp = list(_run_ref(exp[0], g, exp[1], exp[2], None, alpha, 0.9, 0.999, 1e-7,
                            False)[:3])
        if step % 100 == 0:
            for name, a, e in zip(("w", "m", "v"), got, exp):
                _same(a, e, f"{isa}, step {step}, {name}")
    assert np.count_nonzero(exp[1][1::7]) < n // 2  # the dead lanes' moments died out
