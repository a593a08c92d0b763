"""Initializers: Keras 3's formulas (checked statistically), orthogonality, seeding on
both backends, names and configs."""
import json

import numpy as np
import pytest

import gradiente
from gradiente import initializers
from gradiente.layers import Dense, Input
from gradiente.models import Sequential
from gradiente.utils import set_random_seed

SHAPE = (400, 300)  # fan_in 400, fan_out 300: 120,000 draws


def _truncated_std():
    """stddev of a unit normal truncated to [-2, 2]."""
    from math import erf, exp, pi, sqrt

    phi = exp(-2.0) / sqrt(2 * pi)
    mass = erf(2 / sqrt(2))
    return sqrt(1 - 2 * 2 * phi / mass)


@pytest.mark.parametrize("name, std, bound", [
    ("glorot_uniform", np.sqrt(2 / 700), np.sqrt(6 / 700)),
    ("he_uniform", np.sqrt(2 / 400), np.sqrt(6 / 400)),
    ("lecun_uniform", np.sqrt(1 / 400), np.sqrt(3 / 400)),
    ("glorot_normal", np.sqrt(2 / 700), 2 * np.sqrt(2 / 700) / 0.87962566103423978),
    ("he_normal", np.sqrt(2 / 400), 2 * np.sqrt(2 / 400) / 0.87962566103423978),
    ("lecun_normal", np.sqrt(1 / 400), 2 * np.sqrt(1 / 400) / 0.87962566103423978),
])
def test_variance_scaling_presets(name, std, bound):
    set_random_seed(0)
    w = initializers.get(name)(SHAPE)
    assert w.shape == SHAPE and w.dtype == np.float32
    assert abs(w.mean()) < 4 * std / np.sqrt(w.size)
    assert w.std() == pytest.approx(std, rel=0.01)  # Keras's scaling keeps variance scale/n
    assert np.abs(w).max() <= bound * (1 + 1e-6)
    assert np.abs(w).max() > 0.97 * bound


def test_truncated_normal_and_plain_distributions():
    set_random_seed(1)
    w = initializers.TruncatedNormal(mean=1.0, stddev=0.5)(SHAPE, dtype="float64")
    assert w.dtype == np.float64
    assert np.all(np.abs(w - 1.0) <= 1.0)
    assert w.mean() == pytest.approx(1.0, abs=0.01)
    assert w.std() == pytest.approx(0.5 * _truncated_std(), rel=0.01)
    w = initializers.RandomNormal(mean=-0.5, stddev=2.0)(SHAPE)
    assert w.mean() == pytest.approx(-0.5, abs=0.03) and w.std() == pytest.approx(2.0, rel=0.01)
    w = initializers.RandomUniform(minval=0.0, maxval=3.0)(SHAPE)
    assert w.min() >= 0 and w.max() < 3 and w.mean() == pytest.approx(1.5, abs=0.02)
    w = initializers.VarianceScaling(scale=3.0, mode="fan_out",
                                     distribution="untruncated_normal")(SHAPE)
    assert w.std() == pytest.approx(np.sqrt(3.0 / 300), rel=0.01)
    assert np.abs(w).max() > 3 * np.sqrt(3.0 / 300)  # untruncated: tails are there
    np.testing.assert_array_equal(initializers.Zeros()((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(initializers.Ones()(4), np.ones(4))
    np.testing.assert_array_equal(initializers.Constant(2.5)((2,)), [2.5, 2.5])
    np.testing.assert_array_equal(initializers.Identity(2.0)((2, 3)), 2 * np.eye(2, 3))


@pytest.mark.parametrize("shape", [(50, 20), (20, 50), (3, 4, 30), (16, 16)])
def test_orthogonal(shape):
    set_random_seed(2)
    w = initializers.Orthogonal(gain=1.5)(shape, dtype="float64")
    assert w.shape == shape
    m = w.reshape(-1, shape[-1])
    small = min(m.shape)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, 1.5 ** 2 * np.eye(small), atol=1e-10)
    with pytest.raises(ValueError, match="at least 2"):
        initializers.Orthogonal()((5,))


def test_fans_of_conv_shapes():
    set_random_seed(3)
    w = initializers.HeUniform()((3, 3, 40, 60))  # fan_in = 9 * 40
    assert np.abs(w).max() <= np.sqrt(6 / 360) * (1 + 1e-6)
    assert w.std() == pytest.approx(np.sqrt(2 / 360), rel=0.02)


def test_seeds():
    set_random_seed(7)
    a = initializers.GlorotNormal()((30, 20))
    b = initializers.GlorotNormal()((30, 20))
    assert not np.array_equal(a, b)  # the shared source moves on
    set_random_seed(7)
    np.testing.assert_array_equal(initializers.GlorotNormal()((30, 20)), a)
    c = initializers.HeNormal(seed=5)((30, 20))
    np.testing.assert_array_equal(initializers.HeNormal(seed=5)((30, 20)), c)
    np.testing.assert_array_equal(initializers.HeNormal(seed=5)((30, 20)), c)
    with pytest.raises(TypeError, match="seed"):
        initializers.HeNormal(seed=1.5)


@pytest.mark.parametrize("init", ["he_normal", "orthogonal", "lecun_uniform",
                                  initializers.TruncatedNormal(stddev=0.1)])
def test_same_weights_and_training_on_both_backends(init):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    results = []
    for backend in ("numpy", "native"):
        gradiente.set_backend(backend)
        set_random_seed(11)
        model = Sequential([Input((6,)), Dense(8, activation="relu", kernel_initializer=init,
                                               bias_initializer="ones"),
                            Dense(3, activation="softmax", kernel_initializer=init)])
        w0 = model.get_weights()
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        history = model.fit(x, y, epochs=2, verbose=0, shuffle=True)
        results.append((w0, history.history["loss"]))
    for a, b in zip(results[0][0], results[1][0]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-5)
    np.testing.assert_array_equal(results[0][0][1], np.ones(8))


@pytest.mark.parametrize("name", sorted(initializers._ALIASES))
def test_names_and_config_round_trip(name):
    init = initializers.get(name)
    config = json.loads(json.dumps(initializers.serialize(init)))
    again = initializers.get(config)
    assert type(again) is type(init) and again.get_config() == init.get_config()
    assert initializers.get(type(init).__name__).get_config() == init.get_config()


def test_configs_match_keras_fields():
    assert initializers.HeNormal(seed=3).get_config() == {"seed": 3}
    assert initializers.VarianceScaling().get_config() == {
        "scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal", "seed": None}
    assert initializers.VarianceScaling(distribution="normal").distribution == "truncated_normal"
    assert initializers.TruncatedNormal().get_config() == {"mean": 0.0, "stddev": 0.05,
                                                           "seed": None}
    assert initializers.Orthogonal().get_config() == {"gain": 1.0, "seed": None}
    with pytest.raises(ValueError, match="mode"):
        initializers.VarianceScaling(mode="fan")
    with pytest.raises(ValueError, match="distribution"):
        initializers.VarianceScaling(distribution="cauchy")
    with pytest.raises(ValueError, match="scale"):
        initializers.VarianceScaling(scale=0)
    with pytest.raises(ValueError, match="Unknown initializer"):
        initializers.get("glorot")
    layer = Dense(3, kernel_initializer="he_normal")
    assert layer.get_config()["kernel_initializer"]["class_name"] == "HeNormal"
