"""Python threads: long calls release the GIL; predict from 4 threads at once on one
model gives the serial result (the engine serialises calls on its one workspace); two
models train concurrently in two threads and give what they give alone."""
import threading
import time

import numpy as np
import pytest

import gradiente
from gradiente.layers import Dense, Input
from gradiente.models import Sequential
from gradiente.utils import set_random_seed

BACKENDS = ["native", "numpy"]


def make(seed, n_in=32):
    set_random_seed(seed)
    model = Sequential([Input((n_in,)), Dense(64, activation="relu"),
                        Dense(5, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def run_threads(targets):
    errors = []

    def wrap(fn):
        def go():
            try:
                fn()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
        return go

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


@pytest.mark.parametrize("backend", BACKENDS)
def test_predict_from_four_threads(backend):
    gradiente.set_backend(backend)
    rng = np.random.default_rng(0)
    model = make(1)
    model.fit(rng.standard_normal((256, 32)), rng.integers(0, 5, 256), epochs=1, verbose=0)
    inputs = [rng.standard_normal((3000 + 101 * i, 32)).astype(np.float32) for i in range(4)]
    serial = [model.predict(x, batch_size=32 + i, verbose=0) for i, x in enumerate(inputs)]
    results = [None] * 4

    def job(i):
        def go():
            for _ in range(3):
                results[i] = model.predict(inputs[i], batch_size=32 + i, verbose=0)
                np.testing.assert_array_equal(results[i], serial[i])
        return go

    run_threads([job(i) for i in range(4)])
    for got, want in zip(results, serial):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_models_train_concurrently(backend):
    gradiente.set_backend(backend)
    rng = np.random.default_rng(1)
    data = [(rng.standard_normal((600, 32)).astype(np.float32), rng.integers(0, 5, 600))
            for _ in range(2)]

    def alone(i):
        model = make(10 + i)
        model.fit(*data[i], epochs=2, batch_size=16, shuffle=False, verbose=0)
        return model.get_weights()

    expected = [alone(0), alone(1)]
    models = [make(10), make(11)]
    run_threads([lambda i=i: models[i].fit(*data[i], epochs=2, batch_size=16, shuffle=False,
                                           verbose=0) for i in range(2)])
    for model, want in zip(models, expected):
        for a, b in zip(model.get_weights(), want):
            np.testing.assert_array_equal(a, b)


def test_predict_releases_the_gil():
    """A Python thread keeps counting while the main thread is inside one long C call
    (a held GIL would stop it for the whole call, past one 5 ms switch interval)."""
    gradiente.set_backend("native")
    gradiente.set_num_threads(1)  # leave a core to the counting thread
    set_random_seed(2)
    model = Sequential([Input((256,)), Dense(512, activation="relu"), Dense(5)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(2).standard_normal((20000, 256)).astype(np.float32)
    model.predict(x[:64], verbose=0)
    count = [0]
    stop = threading.Event()

    def counter():
        while not stop.is_set():
            count[0] += 1

    t = threading.Thread(target=counter)
    t.start()
    try:
        time.sleep(0.2)
        c0 = count[0]
        time.sleep(0.2)
        rate = (count[0] - c0) / 0.2
        c0 = count[0]
        t0 = time.perf_counter()
        model.predict(x, batch_size=len(x), verbose=0)  # one batch: one C call
        elapsed = time.perf_counter() - t0
        during = count[0] - c0
    finally:
        stop.set()
        t.join()
    assert elapsed > 0.05, elapsed
    assert during > 0.1 * rate * elapsed, (during, rate, elapsed)
