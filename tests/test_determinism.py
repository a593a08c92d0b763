"""With set_random_seed(s), training (shuffling included) gives the same bits on 1, 2
and 3 threads and from run to run, on the C engine."""
import numpy as np
import pytest

import gradiente
from gradiente.layers import Dense, Input
from gradiente.models import Sequential
from gradiente.utils import set_random_seed


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(42)
    return (rng.random((2000, 784), dtype=np.float32), rng.integers(0, 10, 2000))


def train(data, n_threads, optimizer="adam"):
    gradiente.set_backend("native")
    gradiente.set_num_threads(n_threads)
    set_random_seed(123)
    model = Sequential([Input((784,)), Dense(256, activation="relu"),
                        Dense(10, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    assert type(model._ensure_plan()) and True
    history = model.fit(*data, epochs=2, batch_size=64, validation_split=0.1, verbose=0)
    assert type(model._engine).__name__ == "NativeEngine"
    return model.get_weights(), history.history, model.predict(data[0][:500], verbose=0)


def bits(arrays):
    return [np.asarray(a).view(np.uint8) for a in arrays]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_same_bits_on_1_2_3_threads_and_run_to_run(data, optimizer):
    w1, h1, p1 = train(data, 1, optimizer)
    for n_threads in (2, 3, 1):
        w, h, p = train(data, n_threads, optimizer)
        for a, b in zip(bits(w), bits(w1)):
            np.testing.assert_array_equal(a, b, err_msg=f"n_threads={n_threads}")
        np.testing.assert_array_equal(p.view(np.uint8), p1.view(np.uint8))
        assert h == h1
