"""Dropout: the counter-based masks (C against NumPy, bit for bit, any thread count),
their statistics, the scaling, the gradient, and the layer in training and inference."""
import numpy as np
import pytest

import gradiente
from gradiente import _ckernels as ck
from gradiente import _ops
from gradiente import _reference as ref
from gradiente.layers import Dense, Dropout, Flatten, Input
from gradiente.models import Sequential
from gradiente.utils import set_random_seed

DTYPES = [np.float32, np.float64]


def test_key_matches_reference():
    for seed, step, layer in [(0, 0, 0), (1, 2, 3), (2**63 + 5, 10**9, 255), (42, 7, 1)]:
        assert ck.dropout_key(seed, step, layer) == ref.dropout_key(seed, step, layer)
    keys = {ref.dropout_key(1, t, l) for t in range(50) for l in range(4)}
    assert len(keys) == 200


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(0, 3), (1, 1), (7, 5), (301, 257)])
@pytest.mark.parametrize("share", [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize("rate", [0.0, 0.3, 0.5, 1.0])
def test_fwd_bwd_match_reference_bitwise(dtype, shape, share, rate):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    key = ref.dropout_key(123, 4, 2)
    ey, emask = ref.dropout_fwd(x, rate, key, *share)
    edx = ref.dropout_bwd(emask, dy, rate)
    for nt in (1, 2, 3):
        y, mask = np.full(shape, np.nan, dtype), np.full(shape, np.nan, dtype)
        ck.dropout_fwd(x, y, mask, rate, key, share[0], share[1], nt)
        dx = np.full(shape, np.nan, dtype)
        ck.dropout_bwd(mask, dy, dx, rate, nt)
        np.testing.assert_array_equal(mask, emask)
        np.testing.assert_array_equal(y.view(np.uint8), ey.view(np.uint8))
        np.testing.assert_array_equal(dx.view(np.uint8), edx.view(np.uint8))
    gradiente.set_backend("native")
    y2, m2 = _ops.dropout_fwd(x, rate, key, *share)
    np.testing.assert_array_equal(y2, ey)
    np.testing.assert_array_equal(_ops.dropout_bwd(m2, dy, rate), edx)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_statistics(rate):
    """Keep fraction within 5 standard deviations of 1 - rate; kept values scaled by
    1 / (1 - rate); masks independent across steps and layers."""
    x = np.ones((400, 250))
    n = x.size
    masks = []
    for step, layer in [(0, 0), (1, 0), (0, 1)]:
        y, mask = _ops.dropout_fwd(x, rate, ref.dropout_key(9, step, layer))
        kept = mask.mean()
        assert abs(kept - (1 - rate)) < 5 * np.sqrt(rate * (1 - rate) / n)
        np.testing.assert_allclose(y[mask == 1], 1 / (1 - rate), rtol=1e-15)
        assert (y[mask == 0] == 0).all()
        masks.append(mask.astype(bool))
    for a, b in [(masks[0], masks[1]), (masks[0], masks[2])]:
        both = (a & b).mean()  # independent: P(both kept) = (1 - rate)²
        assert abs(both - (1 - rate) ** 2) < 5 * np.sqrt(0.25 / n)
    # column means have no pattern: every column keeps about 1 - rate
    col = masks[0].mean(axis=0)
    assert abs(col.mean() - (1 - rate)) < 0.01


def test_noise_shape_shares():
    x = np.ones((6, 40))
    _, m_rows = _ops.dropout_fwd(x, 0.5, 77, share_rows=True)
    assert (m_rows == m_rows[0]).all() and 0 < m_rows[0].sum() < 40
    _, m_cols = _ops.dropout_fwd(x, 0.5, 77, share_cols=True)
    assert (m_cols == m_cols[:, :1]).all()


def test_gradient_finite_differences():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 7))
    r = rng.standard_normal(x.shape)
    key = ref.dropout_key(3, 1, 0)
    for backend in ("numpy", "native"):
        gradiente.set_backend(backend)
        _, mask = _ops.dropout_fwd(x, 0.4, key)
        dx = _ops.dropout_bwd(mask, r, 0.4)
        eps = 1e-6
        num = np.empty_like(x)
        for i in range(x.size):
            xp, xm = x.copy(), x.copy()
            xp.flat[i] += eps
            xm.flat[i] -= eps
            num.flat[i] = ((r * _ops.dropout_fwd(xp, 0.4, key)[0]).sum()
                           - (r * _ops.dropout_fwd(xm, 0.4, key)[0]).sum()) / (2 * eps)
        np.testing.assert_allclose(dx, num, rtol=1e-7, atol=1e-8)


def test_layer_call_training_and_inference():
    set_random_seed(5)
    layer = Dropout(0.5)
    x = np.ones((20, 30), np.float32)
    np.testing.assert_array_equal(layer(x), x)
    y = layer(x, training=True)
    assert set(np.unique(y)) == {0.0, 2.0}
    dy = np.ones_like(x)
    np.testing.assert_array_equal(layer.backward(dy), y)
    assert not np.array_equal(layer(x, training=True), y)  # a new mask each call
    set_random_seed(5)
    again = Dropout(0.5)
    np.testing.assert_array_equal(again(x, training=True), y)  # seeded


def test_layer_validation_and_config():
    with pytest.raises(ValueError, match=r"rate=.*\[0, 1\]"):
        Dropout(1.5)
    with pytest.raises(ValueError, match="seed"):
        Dropout(0.5, seed=-1)
    d = Dropout(0.25, noise_shape=(None, 1), seed=3, name="drop")
    cfg = d.get_config()
    assert cfg["rate"] == 0.25 and cfg["seed"] == 3 and cfg["noise_shape"] == (None, 1)
    d2 = Dropout.from_config(cfg)
    assert (d2.rate, d2.seed, d2.noise_shape, d2._seed) == (0.25, 3, (None, 1), 3)
    model = Sequential([Input((4,)), Dense(3), Dropout(0.5, seed=1)])
    again = Sequential.from_config(model.get_config())
    assert type(again.layers[1]).__name__ == "Dropout" and again.layers[1].rate == 0.5


def _fit(backend, threads=None, dtype="float64", rate=0.5, noise_shape=None):
    gradiente.set_backend(backend)
    gradiente.set_floatx(dtype)
    if threads:
        gradiente.set_num_threads(threads)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((60, 2, 3))
    y = rng.integers(0, 3, 60)
    set_random_seed(8)
    model = Sequential([Input((2, 3)), Flatten(), Dropout(0.2), Dense(16, activation="relu"),
                        Dropout(rate, noise_shape=noise_shape), Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=8, epochs=2, verbose=0, validation_split=0.2)
    return model, hist, x, y


@pytest.mark.parametrize("noise_shape", [None, (1, 16), (None, 1)])
def test_both_engines_same_masks_and_trajectory(noise_shape):
    m_np, h_np, x, y = _fit("numpy", noise_shape=noise_shape)
    m_c, h_c, _, _ = _fit("native", noise_shape=noise_shape)
    assert type(m_c._engine).__name__ == "NativeEngine"
    for a, b in zip(m_c.get_weights(), m_np.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    for key in h_np.history:
        np.testing.assert_allclose(h_c.history[key], h_np.history[key], rtol=1e-9)


def test_native_bitwise_across_threads():
    runs = [_fit("native", threads=t, dtype="float32")[0].get_weights() for t in (1, 2, 3)]
    for weights in runs[1:]:
        for a, b in zip(weights, runs[0]):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("backend", ["numpy", "native"])
def test_identity_in_predict_and_evaluate(backend):
    model, _, x, y = _fit(backend)
    gradiente.set_backend(backend)
    # the same model without its Dropout layers gives the same outputs and loss
    plain = Sequential([Input((2, 3)), Flatten(), Dense(16, activation="relu"),
                        Dense(3, activation="softmax")])
    plain.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    plain.set_weights(model.get_weights())
    np.testing.assert_allclose(model.predict(x, verbose=0), plain.predict(x, verbose=0),
                               rtol=1e-12)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), plain.evaluate(x, y, verbose=0),
                               rtol=1e-12)
    np.testing.assert_allclose(model.predict_on_batch(x), plain.predict(x, verbose=0),
                               rtol=1e-12)


def test_rate_zero_is_exactly_no_dropout():
    outs = []
    for layers in ([Dropout(0.0)], []):
        gradiente.set_backend("native")
        set_random_seed(3)
        model = Sequential([Input((5,)), Dense(4, activation="tanh"), *layers, Dense(2)])
        model.compile("sgd", "mse")
        rng = np.random.default_rng(0)
        x = rng.standard_normal((16, 5)).astype(np.float32)
        model.set_weights([np.full(w.shape, 0.1, np.float32) for w in model.get_weights()])
        h = model.fit(x, x[:, :2], batch_size=4, epochs=2, verbose=0, shuffle=False)
        outs.append((model.get_weights(), h.history["loss"]))
    for a, b in zip(outs[0][0], outs[1][0]):
        assert np.array_equal(a, b)
    assert outs[0][1] == outs[1][1]
