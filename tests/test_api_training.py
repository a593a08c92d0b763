"""Keras's training-loop semantics, on both backends."""
import math

import numpy as np
import pytest

import gradiente
from gradiente import callbacks, losses
from gradiente.layers import Dense, Input
from gradiente.models import Sequential
from gradiente.optimizers import SGD, Adam
from gradiente.utils import set_random_seed


@pytest.fixture(params=["numpy", "native"])
def backend(request):
    gradiente.set_backend(request.param)
    return request.param


def data(n=50, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)).astype(np.float32), rng.integers(0, 3, n)


def classifier(optimizer="adam", metrics=("accuracy",)):
    set_random_seed(0)
    model = Sequential([Input(shape=(4,)), Dense(6, activation="tanh"),
                        Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=list(metrics))
    return model


def test_epoch_loss_is_sample_mean_with_short_last_batch(backend):
    x, y = data(10)
    model = classifier(optimizer=SGD(learning_rate=0.0))
    per_sample = losses.sparse_categorical_crossentropy(y, model.predict(x, verbose=0))
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], per_sample.mean(), rtol=1e-5)
    batch_means = [per_sample[i:i + 4].mean() for i in range(0, 10, 4)]
    assert not np.isclose(np.mean(batch_means), per_sample.mean(), rtol=1e-5)
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=4, verbose=0)[0],
                               per_sample.mean(), rtol=1e-5)


def test_validation_split_takes_last_fraction(backend):
    x, y = data(50)
    model = classifier()
    history = model.fit(x, y, validation_split=0.2, batch_size=8, epochs=2, verbose=0)
    assert history.params == {"verbose": 0, "epochs": 2, "steps": math.ceil(40 / 8)}
    val_loss, val_acc = model.evaluate(x[40:], y[40:], verbose=0)
    np.testing.assert_allclose(history.history["val_loss"][-1], val_loss, rtol=1e-6)
    np.testing.assert_allclose(history.history["val_accuracy"][-1], val_acc, rtol=1e-6)


def test_history_keys_and_validation_data(backend):
    x, y = data(40)
    model = classifier()
    history = model.fit(x, y, validation_data=(x[:10], y[:10]), epochs=3, verbose=0)
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history.epoch == [0, 1, 2]
    assert all(len(v) == 3 and all(isinstance(e, float) for e in v)
               for v in history.history.values())
    assert model.history is history


def test_evaluate_return_formats(backend):
    x, y = data(20)
    model = classifier()
    out = model.evaluate(x, y, verbose=0)
    assert isinstance(out, list) and len(out) == 2
    as_dict = model.evaluate(x, y, verbose=0, return_dict=True)
    assert as_dict == {"accuracy": out[1], "loss": out[0]}
    bare = classifier(metrics=())
    assert isinstance(bare.evaluate(x, y, verbose=0), float)
    loss = bare.train_on_batch(x, y)
    assert isinstance(loss, float)
    assert isinstance(bare.test_on_batch(x, y), float)
    assert model.predict_on_batch(x).shape == (20, 3)


def test_determinism_with_seed(backend):
    x, y = data(60)
    runs = []
    for _ in range(2):
        model = classifier()
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        runs.append((history.history["loss"], model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


def test_float64_models(backend):
    gradiente.set_floatx("float64")
    x, y = data(30)
    model = classifier()
    model.fit(x, y, epochs=1, verbose=0)
    assert all(w.dtype == np.float64 for w in model.get_weights())
    assert model.predict(x, verbose=0).dtype == np.float64


def test_per_batch_callbacks_only_when_overridden(backend, monkeypatch):
    x, y = data(64)
    model = classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, verbose=0)
    calls = []
    real = model._engine.train_steps

    def spy(*args):
        calls.append(args[5])
        return real(*args)

    monkeypatch.setattr(model._engine, "train_steps", spy)

    class Batches(callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_train_batch_end(self, batch, logs=None):
            self.seen.append((batch, sorted(logs)))

    cb = Batches()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[cb])
    assert [b for b, _ in cb.seen] == list(range(8)) * 2
    assert cb.seen[0][1] == ["loss"] and set(calls) == {1}
    calls.clear()

    class EpochsOnly(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = epoch == 1

    history = model.fit(x, y, batch_size=8, epochs=5, verbose=0, callbacks=[EpochsOnly()])
    assert len(history.epoch) == 2  # stop_training honoured
    assert sum(calls) == 16 and max(calls) > 1  # runs of several steps


def test_binary_and_regression_losses(backend):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    set_random_seed(0)
    model = Sequential([Input(shape=(3,)), Dense(1, activation="sigmoid")])
    model.compile(optimizer=Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    target = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    reg = Sequential([Input(shape=(3,)), Dense(1)])
    reg.compile(optimizer=SGD(0.1), loss="mse", metrics=["mae"])
    history = reg.fit(x, target, epochs=30, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 1e-3
    assert list(history.history) == ["loss", "mae"]


def test_class_weight_is_a_per_sample_weight(backend):
    x, y = data(24)
    a, b = classifier(optimizer=SGD(0.1)), classifier(optimizer=SGD(0.1))
    ha = a.fit(x, y, class_weight={0: 2.0, 1: 0.5, 2: 1.0}, shuffle=False, verbose=0, epochs=2)
    table = np.array([2.0, 0.5, 1.0])
    hb = b.fit(x, y, sample_weight=table[y], shuffle=False, verbose=0, epochs=2)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-6)


def test_deferred_build_from_data(backend):
    x, y = data(20)
    model = Sequential([Dense(5, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert not model.built
    model.fit(x, y, verbose=0)
    assert model.built and model.count_params() == 4 * 5 + 5 + 5 * 3 + 3
    assert model.predict(x, verbose=0).shape == (20, 3)


def test_adding_a_layer_after_compile_keeps_weights(backend):
    x, y = data(20)
    model = classifier()
    model.fit(x, y, verbose=0)
    first = model.layers[0].get_weights()
    model.pop()
    model.add(Dense(3, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    for a, b in zip(model.layers[0].get_weights(), first):
        np.testing.assert_array_equal(a, b)
    model.fit(x, y, verbose=0)


def test_same_seed_same_model_on_both_backends():
    x, y = data(40)
    results = []
    for name in ("numpy", "native"):
        gradiente.set_backend(name)
        model = classifier()  # seeds 0
        initial = model.get_weights()
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        results.append((initial, history.history["loss"]))
    for a, b in zip(results[0][0], results[1][0]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-5)
