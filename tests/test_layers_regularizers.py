"""Regularizers: Keras's names, defaults and configs; the L1/L2 penalty kernel against
the reference; the penalty in the reported loss (once per batch) and its gradient, on
both engines."""
import numpy as np
import pytest

import gradiente
from gradiente import _ckernels as ck
from gradiente import _ops
from gradiente import _reference as ref
from gradiente import gradcheck, regularizers
from gradiente.layers import Dense, Input
from gradiente.models import Sequential
from gradiente.optimizers import SGD
from gradiente.utils import set_random_seed


def test_names_defaults_and_config():
    assert regularizers.L1().get_config() == {"l1": 0.01}
    assert regularizers.L2().get_config() == {"l2": 0.01}
    assert regularizers.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert type(regularizers.get("l1")) is regularizers.L1
    assert type(regularizers.get("l2")) is regularizers.L2
    assert regularizers.get("l1l2").get_config() == {"l1": 0.0, "l2": 0.0}
    assert regularizers.get("l1_l2").get_config() == {"l1": 0.01, "l2": 0.01}
    assert regularizers.get(None) is None
    r = regularizers.L1L2(l1=0.1, l2=0.2)
    assert regularizers.get(r) is r
    assert regularizers.get(regularizers.serialize(r)).get_config() == r.get_config()
    assert regularizers.l1_l2 is regularizers.L1L2
    with pytest.raises(ValueError, match="non-negative"):
        regularizers.L2(-1.0)
    with pytest.raises(ValueError, match="interpret"):
        regularizers.get("l3")
    d = Dense(3, kernel_regularizer="l2", bias_regularizer=regularizers.L1(0.5))
    cfg = d.get_config()
    assert cfg["kernel_regularizer"]["class_name"] == "L2"
    d2 = Dense.from_config(cfg)
    assert d2.kernel_regularizer.get_config() == {"l2": 0.01}
    assert d2.bias_regularizer.get_config() == {"l1": 0.5}
    with pytest.raises(ValueError, match="activity_regularizer"):
        Dense(3, activity_regularizer="l2")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 17, 4096, 4097, 20000])
@pytest.mark.parametrize("l1,l2", [(0.01, 0.0), (0.0, 0.03), (0.02, 0.05)])
def test_penalty_kernel_matches_reference(dtype, n, l1, l2):
    rng = np.random.default_rng(n)
    w = rng.standard_normal(n).astype(dtype)
    if n > 3:
        w[3] = 0  # sign(0) = 0
    g = rng.standard_normal(n).astype(dtype)
    epen, eg = ref.l1l2_penalty(w, l1, l2, g)
    results = []
    for nt in (1, 2, 3):
        g2 = g.copy()
        pen = ck.l1l2_penalty(w, l1, l2, g2, nt)
        np.testing.assert_allclose(pen, epen, rtol=1e-12)
        np.testing.assert_allclose(g2, eg, rtol=1e-6 if dtype == np.float32 else 1e-14)
        results.append((pen, g2))
    for pen, g2 in results[1:]:  # bitwise for any thread count
        assert pen == results[0][0] and np.array_equal(g2, results[0][1])
    gradiente.set_backend("native")
    pen, g3 = _ops.l1l2_penalty(w, l1, l2, g)
    assert pen == results[0][0] and np.array_equal(g3, results[0][1])


def test_regularizer_call_and_gradient():
    w = np.array([[-2.0, 0.0], [0.5, 3.0]])
    r = regularizers.L1L2(0.1, 0.2)
    assert r(w) == pytest.approx(0.1 * 5.5 + 0.2 * 13.25)
    np.testing.assert_allclose(r.gradient(w), 0.1 * np.sign(w) + 0.4 * w)


def _model(backend, dtype="float64", opt=None):
    gradiente.set_backend(backend)
    gradiente.set_floatx(dtype)
    set_random_seed(6)
    model = Sequential([Input((5,)),
                        Dense(7, activation="tanh", kernel_regularizer=regularizers.L1L2(0.01, 0.02),
                              bias_regularizer="l1"),
                        Dense(4, activation="elu", kernel_regularizer="l2"),
                        Dense(3, activation="softmax", bias_regularizer=regularizers.L2(0.1))])
    model.compile(opt or "adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _data():
    rng = np.random.default_rng(4)
    return rng.standard_normal((45, 5)), rng.integers(0, 3, 45)


def test_gradients_finite_differences():
    x, y = _data()
    for backend in ("numpy", "native"):
        model = _model(backend)
        model.build((None, 5))
        result = gradcheck.check_model(model, x[:9], y[:9])
        assert result.passed, repr(result)


def test_both_engines_same_trajectory():
    x, y = _data()
    runs = {}
    for backend in ("numpy", "native"):
        model = _model(backend)
        h = model.fit(x, y, batch_size=8, epochs=3, verbose=0, validation_split=0.2)
        runs[backend] = (model, h)
    (m_np, h_np), (m_c, h_c) = runs["numpy"], runs["native"]
    assert type(m_c._engine).__name__ == "NativeEngine"
    for a, b in zip(m_c.get_weights(), m_np.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    for key in h_np.history:
        np.testing.assert_allclose(h_c.history[key], h_np.history[key], rtol=1e-9)


@pytest.mark.parametrize("backend", ["numpy", "native"])
def test_penalty_added_once_per_batch(backend):
    """With learning_rate=0 the weights stay put: every batch's loss is its mean loss +
    the penalty, so the epoch loss (size-weighted) is the plain loss + penalty, in fit,
    in evaluate and in train_on_batch."""
    x, y = _data()
    model = _model(backend, opt=SGD(learning_rate=0.0))
    penalty = sum(sum(layer.losses) for layer in model.layers)
    assert penalty > 0.05
    plain = Sequential([Input((5,)), Dense(7, activation="tanh"), Dense(4, activation="elu"),
                        Dense(3, activation="softmax")])
    plain.compile("sgd", "sparse_categorical_crossentropy")
    plain.set_weights(model.get_weights())
    base = plain.evaluate(x, y, verbose=0, batch_size=8)
    h = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(h.history["loss"][0], base + penalty, rtol=1e-6)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0, batch_size=8)[0], base + penalty,
                               rtol=1e-6)  # logs are float32, as Keras's
    loss = model.train_on_batch(x[:8], y[:8])[0]
    np.testing.assert_allclose(loss, plain.evaluate(x[:8], y[:8], verbose=0) + penalty,
                               rtol=1e-6)
    loss_grads, _ = model._loss_and_grads(x[:8], y[:8])
    np.testing.assert_allclose(loss_grads, plain.evaluate(x[:8], y[:8], verbose=0) + penalty,
                               rtol=1e-6)


def test_frozen_layer_is_not_regularized():
    """Keras adds the penalties of trainable weights only."""
    gradiente.set_backend("native")
    dense = Dense(3, kernel_regularizer=regularizers.L2(1.0))
    model = Sequential([Input((2,)), dense, Dense(1)])
    assert dense.losses
    dense.trainable = False
    assert dense.losses == []
    model.compile(SGD(learning_rate=0.0), "mse")
    x = np.ones((4, 2))
    plain = Sequential([Input((2,)), Dense(3), Dense(1)])
    plain.compile("sgd", "mse")
    plain.set_weights(model.get_weights())
    np.testing.assert_allclose(model.evaluate(x, x[:, :1], verbose=0),
                               plain.evaluate(x, x[:, :1], verbose=0), rtol=1e-6)
