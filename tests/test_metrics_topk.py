"""Top-k metrics: the C kernel (gd_metric) against ``_reference.metric``, the engines
on both backends, metric names and objects in compile."""
import numpy as np
import pytest

import gradiente
from gradiente import _reference, metrics
from gradiente.layers import Dense, Input
from gradiente.models import Sequential
from gradiente.utils import set_random_seed

from conftest import THREADS

KINDS = ["top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
         "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy", "mse",
         "mae"]


@pytest.fixture(params=["numpy", "native"])
def backend(request):
    gradiente.set_backend(request.param)
    return request.param


def _inputs(m, n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    p = np.round(rng.uniform(0, 1, (m, n)), 1).astype(dtype)  # many ties
    labels = rng.integers(0, max(n, 1), m).astype(np.int32)
    t = np.zeros((m, n), dtype=dtype)
    if n:
        t[np.arange(m), labels] = 1
    return p, labels, t


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m, n", [(0, 5), (1, 1), (7, 3), (300, 10), (33, 17)])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n_threads", THREADS)
def test_c_metric_matches_reference(dtype, m, n, kind, n_threads):
    from gradiente import _ckernels

    p, labels, t = _inputs(m, n, dtype)
    for k in (1, 2, 5, n + 1):
        out = np.full(m, np.nan, dtype=dtype)
        _ckernels.metric(p, labels, t, _reference.METRICS[kind], k, out, n_threads)
        expected = _reference.metric(p, kind, labels=labels, t=t, k=k)
        np.testing.assert_allclose(out, expected, rtol=1e-6, err_msg=f"k={k}")


def test_reference_top_k_counts_ties_in():
    p = np.array([[0.5, 0.5, 0.5, 0.1], [0.9, 0.5, 0.5, 0.1], [0.1, 0.2, 0.3, 0.4]])
    labels = np.array([2, 2, 0])
    np.testing.assert_array_equal(
        _reference.metric(p, "sparse_top_k_categorical_accuracy", labels=labels, k=1),
        [1, 0, 0])
    np.testing.assert_array_equal(
        _reference.metric(p, "sparse_top_k_categorical_accuracy", labels=labels, k=2),
        [1, 1, 0])
    assert metrics.top_k_categorical_accuracy(np.eye(4)[labels], p, k=4).tolist() == [1, 1, 1]


def _data(n=120, classes=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5)).astype(np.float32)
    y = rng.integers(0, classes, n)
    return x, y


@pytest.mark.parametrize("sparse", [True, False])
def test_engine_top_k_equals_prediction_counts(backend, sparse):
    x, y = _data()
    set_random_seed(4)
    model = Sequential([Input((5,)), Dense(8, activation="tanh"),
                        Dense(6, activation="softmax")])
    loss = "sparse_categorical_crossentropy" if sparse else "categorical_crossentropy"
    model.compile(optimizer="adam", loss=loss,
                  metrics=["top_k_categorical_accuracy" if not sparse
                           else "sparse_top_k_categorical_accuracy",
                           metrics.SparseTopKCategoricalAccuracy(k=2, name="top2") if sparse
                           else metrics.TopKCategoricalAccuracy(k=2, name="top2"),
                           metrics.TopKCategoricalAccuracy(k=1, name="top1")])
    yt = y if sparse else np.eye(6, dtype=np.float32)[y]
    logs = model.evaluate(x, yt, batch_size=32, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)
    for name, k in (("top2", 2), ("top1", 1)):
        expected = _reference.metric(p.astype(np.float64), "sparse_top_k_categorical_accuracy",
                                     labels=y, k=k).mean()
        assert logs[name] == pytest.approx(expected, abs=1e-6), name
    key = "sparse_top_k_categorical_accuracy" if sparse else "top_k_categorical_accuracy"
    if sparse:
        assert logs[key] == pytest.approx(
            _reference.metric(p, "sparse_top_k_categorical_accuracy", labels=y, k=5).mean())
    history = model.fit(x, yt, epochs=2, verbose=0)
    assert set(history.history) == {"loss", key, "top2", "top1"}


def test_top_k_with_sparse_labels_and_a_non_fused_loss(backend):
    """Labels one-hot encoded for a loss that is not fused: top-k still sees them."""
    x, y = _data()
    set_random_seed(5)
    model = Sequential([Input((5,)), Dense(6, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="mse",
                  metrics=[metrics.TopKCategoricalAccuracy(k=3)])
    yt = np.eye(6, dtype=np.float32)[y]
    logs = model.evaluate(x, yt, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)
    assert logs["top_k_categorical_accuracy"] == pytest.approx(
        _reference.metric(p, "top_k_categorical_accuracy", t=yt, k=3).mean(), abs=1e-6)


def test_metric_objects_alone_and_configs():
    m = metrics.SparseTopKCategoricalAccuracy(k=2)
    p = np.array([[0.1, 0.5, 0.4], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5]])
    m.update_state([2, 2, 0], p)  # row 1: its 0.1 ties for second place, which counts
    assert m.result() == pytest.approx(2 / 3)
    m.update_state([1], p[:1], sample_weight=[3.0])
    assert m.result() == pytest.approx(5 / 6)
    m.reset_state()
    assert m.result() == 0.0
    assert m.get_config() == {"name": "sparse_top_k_categorical_accuracy", "dtype": "float32",
                              "k": 2, "from_sorted_ids": False}
    again = metrics.get(metrics.serialize(metrics.TopKCategoricalAccuracy(k=4, name="t4")))
    assert again.k == 4 and again.name == "t4"
    assert metrics.get("top_k_categorical_accuracy") is metrics.top_k_categorical_accuracy
    acc = metrics.CategoricalAccuracy()
    acc.update_state(np.eye(3), p)
    assert acc.result() == pytest.approx(1 / 3)
    mse = metrics.MeanSquaredError()
    mse.update_state(np.zeros((2, 2)), np.ones((2, 2)))
    assert mse.result() == 1.0 and mse.name == "mean_squared_error"
    with pytest.raises(ValueError, match="k=..."):
        metrics.TopKCategoricalAccuracy(k=0)
    with pytest.raises(ValueError, match="threshold"):
        metrics.BinaryAccuracy(threshold=0.7)


def test_compile_rejects_unknown_metrics():
    model = Sequential([Input((5,)), Dense(3, activation="softmax")])
    with pytest.raises(ValueError, match="compile\\(weighted_metrics=...\\)"):
        model.compile(optimizer="sgd", loss="categorical_crossentropy",
                      weighted_metrics=["f1"])
    with pytest.raises(ValueError, match="(?i)did you mean 'accuracy'"):
        model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["acuracy"])
    with pytest.raises(TypeError, match="expects a list"):
        model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics="accuracy")
    model.compile(optimizer="sgd", loss="categorical_crossentropy",
                  metrics=[metrics.CategoricalAccuracy, metrics.mean_absolute_error])
    x = np.zeros((4, 5), np.float32)
    logs = model.evaluate(x, np.eye(3, dtype=np.float32)[[0, 1, 2, 0]], verbose=0,
                          return_dict=True)
    assert set(logs) == {"loss", "categorical_accuracy", "mean_absolute_error"}


def test_compile_config_round_trip_keeps_objects_and_schedules():
    import json

    from gradiente.optimizers import SGD, schedules

    model = Sequential([Input((5,)), Dense(3, activation="softmax")])
    assert model.get_compile_config() is None
    model.compile(optimizer=SGD(schedules.ExponentialDecay(0.1, 10, 0.5), momentum=0.5),
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", metrics.SparseTopKCategoricalAccuracy(k=2, name="t2")],
                  weighted_metrics=[metrics.sparse_categorical_accuracy])
    config = json.loads(json.dumps(model.get_compile_config()))
    other = Sequential([Input((5,)), Dense(3, activation="softmax")])
    other.compile_from_config(config)
    assert other.get_compile_config() == config
    assert isinstance(other.optimizer._learning_rate, schedules.ExponentialDecay)
    assert other._metric_ids[1].k == 2 and other._metric_ids[1].name == "t2"
    x = np.zeros((6, 5), np.float32)
    logs = other.evaluate(x, np.array([0, 1, 2, 0, 1, 2]), verbose=0, return_dict=True)
    assert set(logs) == {"loss", "accuracy", "t2", "sparse_categorical_accuracy"}
