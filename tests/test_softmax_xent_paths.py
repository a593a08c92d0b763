"""The fused softmax + cross-entropy's two paths: integer labels go through blocks of
16 rows in the vector lanes (at most 32 classes), one-hot targets row by row. Both do
the same operations on each element, so they give the same dz and hits bit for bit,
and the loss within 1 ulp (2 once weighted): where p is clipped, the compiler folds
log(1 - 1e-7) to the correctly rounded constant in one path while libm's logf, 1 ulp
off there, runs in the other. For any number of rows, with sample weights or without,
in place or not, on any thread count."""
import numpy as np
import pytest

from gradiente import _config, _reference
from conftest import THREADS, assert_close


def _run(z, labels, targets, sw, from_logits, n_threads, in_place=False):
    ck = _config._native()
    m = z.shape[0]
    dz = z.copy() if in_place else np.full_like(z, np.nan)
    row_loss = np.full(m, np.nan, z.dtype)
    row_hit = np.full(m, -1, np.int32)
    src = dz if in_place else z
    ck.softmax_xent(src, labels, targets, sw, from_logits, 0.25, dz, row_loss, row_hit,
                    n_threads)
    return dz, row_loss, row_hit


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("from_logits", [False, True])
def test_labels_and_one_hot_targets_give_the_same_bits(dtype, from_logits):
    rng = np.random.default_rng(11)
    for m, n in [(1, 1), (5, 2), (16, 10), (33, 10), (40, 32), (7, 33), (50, 3)]:
        z = (rng.standard_normal((m, n)) * 6).astype(dtype)
        z[0, 0] = 120 if n > 1 else z[0, 0]  # the others' exps underflow to 0 or below
        labels = rng.integers(0, n, m).astype(np.int32)
        targets = np.eye(n, dtype=dtype)[labels]
        for sw in (None, rng.random(m).astype(dtype)):
            for t in THREADS:
                a = _run(z, labels, None, sw, from_logits, t)
                b = _run(z, None, targets, sw, from_logits, t)
                c = _run(z, labels, None, sw, from_logits, t, in_place=True)
                for k in (0, 2):  # dz, hits
                    assert a[k].tobytes() == b[k].tobytes() == c[k].tobytes(), (m, n, t)
                assert a[1].tobytes() == c[1].tobytes()
                np.testing.assert_array_max_ulp(a[1], b[1], maxulp=2)  # 1, times a weight
                if t > 1:
                    first = _run(z, labels, None, sw, from_logits, 1)
                    assert all(x.tobytes() == y.tobytes() for x, y in zip(a, first))
            ref_loss = _reference.softmax_xent(z, labels, None, sw, from_logits, 0.25)[0]
            assert_close(a[1], ref_loss, dtype)
