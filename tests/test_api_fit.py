"""fit / evaluate / predict on small data, on both backends."""
import numpy as np
import pytest

import gradiente
from gradiente.layers import Dense, Flatten, Input
from gradiente.models import Sequential
from gradiente.optimizers import Adam
from gradiente.utils import set_random_seed


@pytest.fixture(params=["numpy", "native"])
def backend(request):
    gradiente.set_backend(request.param)
    return request.param


def blobs(n=256, seed=0):
    """Three separable Gaussian blobs in 4-D."""
    rng = np.random.default_rng(seed)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], dtype=np.float32)
    y = rng.integers(0, 3, n)
    x = (centers[y] + 0.3 * rng.standard_normal((n, 4))).astype(np.float32)
    return x, y


def test_toy_fit_reaches_low_loss(backend):
    set_random_seed(1)
    x, y = blobs()
    model = Sequential([Input(shape=(4,)), Dense(8, activation="relu"),
                        Dense(3, activation="softmax")])
    model.compile(optimizer=Adam(learning_rate=0.02), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.1
    assert history.history["accuracy"][-1] > 0.97
    loss, acc = model.evaluate(x, y, verbose=0)
    assert loss < 0.1 and acc > 0.97
    p = model.predict(x, verbose=0)
    assert p.shape == (256, 3) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)


def test_founding_model_shapes(backend):
    model = Sequential()
    model.add(Flatten(input_shape=(28, 28)))
    model.add(Dense(128, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
                  metrics=["accuracy"])
    assert model.count_params() == 101_770
    x = np.random.default_rng(0).random((70, 28, 28), dtype=np.float32)
    y = np.arange(70) % 10
    history = model.fit(x, y, epochs=2, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss"]
    assert len(history.history["loss"]) == 2
    assert model.predict(x[:5], verbose=0).shape == (5, 10)
