"""gradiente against Keras itself on the layers of issue 6: every activation (in Dense
and as an Activation layer), L1/L2 regularizers and Dropout.

Skipped unless ``keras`` imports (KERAS_BACKEND defaults to torch). Same initial
weights, same data, shuffle=False. Dropout's generators differ, so Dropout is
compared at rate 0 (exactly the model without it) and by its statistics.
"""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

import gradiente  # noqa: E402
from gradiente import layers as glayers, regularizers as gregularizers  # noqa: E402
from gradiente.models import Sequential  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ACTS = ["leaky_relu", "elu", "selu", "gelu", "softplus", "softsign", "silu", "swish",
        "hard_sigmoid", "relu6", "exponential"]


@pytest.fixture(params=["numpy", "native"])
def backend(request):
    gradiente.set_backend(request.param)
    return request.param


def _data(n=48, seed=3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 5)).astype(np.float32), rng.integers(0, 3, n)


def _pair(build):
    kmodel = keras.Sequential(build(keras))
    kmodel.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                   loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    gmodel = Sequential(build(gradiente))
    gmodel.compile(optimizer=gradiente.optimizers.Adam(learning_rate=0.01),
                   loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    gmodel.set_weights(kmodel.get_weights())
    return kmodel, gmodel


def _compare(kmodel, gmodel, rtol=2e-4, atol=2e-5):
    x, y = _data()
    np.testing.assert_allclose(gmodel.predict(x, verbose=0), kmodel.predict(x, verbose=0),
                               rtol=rtol, atol=atol)
    kh = kmodel.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history
    gh = gmodel.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history
    for key in kh:
        np.testing.assert_allclose(gh[key], kh[key], rtol=rtol, atol=atol, err_msg=key)
    for gw, kw in zip(gmodel.get_weights(), kmodel.get_weights()):
        np.testing.assert_allclose(gw, kw, rtol=rtol * 5, atol=atol * 5)
    np.testing.assert_allclose(gmodel.evaluate(x, y, verbose=0), kmodel.evaluate(x, y, verbose=0),
                               rtol=rtol, atol=atol)


@pytest.mark.parametrize("act", ACTS)
def test_activation_values_match_keras(act):
    x = np.linspace(-8, 8, 161).astype(np.float32)
    expect = keras.ops.convert_to_numpy(keras.activations.get(act)(x))
    got = gradiente.activations.get(act)(x)
    # torch's float32 gelu loses digits to cancellation for x << 0 (1 + erf(x/√2))
    np.testing.assert_allclose(got, expect, rtol=2e-3 if act == "gelu" else 1e-6, atol=1e-6)


@pytest.mark.parametrize("act", ACTS)
def test_activation_training_matches_keras(backend, act):
    def build(m):
        return [m.layers.Input(shape=(5,)), m.layers.Dense(6, activation=act),
                m.layers.Activation(act if act != "exponential" else "linear"),
                m.layers.Dense(3, activation="softmax")]

    _compare(*_pair(build))


def test_regularizers_match_keras(backend):
    def build(m):
        r = m.regularizers
        return [m.layers.Input(shape=(5,)),
                m.layers.Dense(6, activation="relu", kernel_regularizer=r.L1L2(0.01, 0.02),
                               bias_regularizer="l1"),
                m.layers.Dense(4, activation="tanh", kernel_regularizer="l2",
                               bias_regularizer=r.L2(0.1)),
                m.layers.Dense(3, activation="softmax", kernel_regularizer=r.L1(0.005))]

    _compare(*_pair(build))


def test_regularizer_configs_match_keras():
    for name in ("l1", "l2"):
        k = keras.regularizers.get(name).get_config()
        g = gregularizers.get(name).get_config()
        assert g.keys() == k.keys()
        for key in k:
            assert g[key] == pytest.approx(k[key], rel=1e-7)
    assert gregularizers.L1L2().get_config() == keras.regularizers.L1L2().get_config()
    assert gregularizers.L1L2(0.3, 0.4).get_config() == \
        keras.regularizers.L1L2(0.3, 0.4).get_config()


def test_dropout_rate_zero_matches_keras(backend):
    def build(m):
        return [m.layers.Input(shape=(5,)), m.layers.Dense(8, activation="relu"),
                m.layers.Dropout(0.0), m.layers.Dense(3, activation="softmax")]

    _compare(*_pair(build))


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_dropout_statistics_match_keras(backend, rate):
    x = np.ones((200, 100), np.float32)
    k_out = keras.ops.convert_to_numpy(keras.layers.Dropout(rate, seed=1)(x, training=True))
    g_out = glayers.Dropout(rate, seed=1)(x, training=True)
    for out in (k_out, g_out):
        kept = (out != 0).mean()
        assert abs(kept - (1 - rate)) < 5 * np.sqrt(rate * (1 - rate) / x.size)
        np.testing.assert_allclose(out[out != 0], 1 / (1 - rate), rtol=1e-6)
    # and both are the identity outside training
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(keras.layers.Dropout(rate)(x)), x)
    np.testing.assert_array_equal(glayers.Dropout(rate)(x), x)
    assert glayers.Dropout(rate, seed=2).get_config().keys() - {"dtype"} == \
        keras.layers.Dropout(rate, seed=2).get_config().keys() - {"dtype"}
