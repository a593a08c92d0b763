"""sample_weight, class_weight and weighted_metrics, on both backends: the loss is
Σ wᵢ·lᵢ / N, ``metrics=`` ignore the weights, ``weighted_metrics=`` are Σ wᵢ·mᵢ / Σ wᵢ."""
import numpy as np
import pytest

import gradiente
from gradiente import _reference
from gradiente.layers import Dense, Input
from gradiente.models import Sequential
from gradiente.utils import set_random_seed


@pytest.fixture(params=["numpy", "native"])
def backend(request):
    gradiente.set_backend(request.param)
    return request.param


def _data(n=100, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5)).astype(np.float32)
    y = rng.integers(0, 4, n)
    w = rng.uniform(0, 3, n).astype(np.float32)
    return x, y, w


def _model(**compile_args):
    set_random_seed(8)
    model = Sequential([Input((5,)), Dense(7, activation="relu"),
                        Dense(4, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", **compile_args)
    return model


def test_evaluate_weights(backend):
    x, y, w = _data()
    model = _model(metrics=["accuracy", "sparse_top_k_categorical_accuracy"],
                   weighted_metrics=["accuracy", "mae"])
    logs = model.evaluate(x, y, sample_weight=w, batch_size=16, verbose=0, return_dict=True)
    assert sorted(logs) == ["accuracy", "loss", "mae", "sparse_top_k_categorical_accuracy",
                            "weighted_accuracy"]
    p = model.predict(x, verbose=0).astype(np.float64)
    onehot = np.eye(4)[y]
    rows_loss = -np.log(np.clip(p[np.arange(100), y], 1e-7, 1 - 1e-7))
    hits = (p.argmax(axis=1) == y).astype(np.float64)
    mae_rows = np.abs(p - onehot).mean(axis=1)
    assert logs["loss"] == pytest.approx((w * rows_loss).sum() / 100, rel=1e-5)
    assert logs["accuracy"] == pytest.approx(hits.mean(), abs=1e-6)
    assert logs["weighted_accuracy"] == pytest.approx((w * hits).sum() / w.sum(), rel=1e-5)
    assert logs["mae"] == pytest.approx((w * mae_rows).sum() / w.sum(), rel=1e-5)
    plain = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    assert plain["weighted_accuracy"] == pytest.approx(plain["accuracy"], abs=1e-6)
    assert plain["mae"] == pytest.approx(mae_rows.mean(), rel=1e-5)
    values = model.evaluate(x, y, sample_weight=w, verbose=0)
    assert values == pytest.approx([logs["loss"], logs["accuracy"],
                                    logs["sparse_top_k_categorical_accuracy"],
                                    logs["weighted_accuracy"], logs["mae"]], rel=1e-6)


def test_zero_weights_give_zero_weighted_metrics(backend):
    x, y, _ = _data(n=20)
    model = _model(weighted_metrics=["accuracy"])
    logs = model.evaluate(x, y, sample_weight=np.zeros(20, np.float32), verbose=0,
                          return_dict=True)
    assert logs == {"loss": 0.0, "accuracy": 0.0}


def test_class_weight_is_a_sample_weight_by_label(backend):
    x, y, _ = _data()
    table = {0: 2.0, 1: 0.5, 2: 1.0, 3: 3.0}
    a = _model(metrics=["accuracy"], weighted_metrics=["accuracy"])
    ha = a.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0, class_weight=table)
    b = _model(metrics=["accuracy"], weighted_metrics=["accuracy"])
    sw = np.array([table[int(c)] for c in y], dtype=np.float32)
    hb = b.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0, sample_weight=sw)
    for key in ("loss", "accuracy", "weighted_accuracy"):
        np.testing.assert_allclose(ha.history[key], hb.history[key], rtol=1e-6)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    # weights and class weights multiply
    c = _model()
    hc = c.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0,
               sample_weight=np.full(100, 2.0, np.float32), class_weight=table)
    d = _model()
    hd = d.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0, sample_weight=2 * sw)
    assert hc.history["loss"] == pytest.approx(hd.history["loss"], rel=1e-6)


def test_weighted_metrics_in_fit_history_use_the_weights(backend):
    x, y, w = _data()
    model = _model(weighted_metrics=[gradiente.metrics.SparseTopKCategoricalAccuracy(k=2)])
    model.optimizer.learning_rate = 0.0  # the weights stay put: compare with predict
    history = model.fit(x, y, epochs=1, batch_size=16, verbose=0, sample_weight=w,
                        validation_data=(x, y, w))
    p = model.predict(x, verbose=0)
    rows = _reference.metric(p.astype(np.float64), "sparse_top_k_categorical_accuracy",
                             labels=y, k=2)
    expected = (w * rows).sum() / w.sum()
    key = "sparse_top_k_categorical_accuracy"
    assert history.history[key][0] == pytest.approx(expected, rel=1e-5)
    assert history.history["val_" + key][0] == pytest.approx(expected, rel=1e-5)


def test_save_and_load_keep_metric_objects_and_weighted_metrics(backend, tmp_path):
    from gradiente.saving import load_model

    x, y, w = _data()
    model = _model(metrics=["accuracy", gradiente.metrics.SparseTopKCategoricalAccuracy(k=2)],
                   weighted_metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0, sample_weight=w)
    model.save(str(tmp_path / "m.keras"))
    loaded = load_model(str(tmp_path / "m.keras"))
    assert loaded.get_compile_config() == model.get_compile_config()
    a = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    b = loaded.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    assert a == b and "weighted_accuracy" in a


def test_evaluate_weighted_sums_do_not_race_with_the_next_batch(monkeypatch):
    """The thread that sums a batch's weighted metrics reads its sample weights while
    the others go on: evaluation waits for it before the next batch's gather overwrites
    them (once, the weighted accuracy of the first evaluate on 2 threads came out
    0.1224 for 0.1215)."""
    from gradiente import _engine_native

    x, y, w = _data(n=400, seed=3)
    model = _model(weighted_metrics=["accuracy"])
    monkeypatch.setattr(_engine_native._ThreadChooser, "pick", lambda self, key, n: 1)
    want = model.evaluate(x, y, sample_weight=w, batch_size=8, verbose=0, return_dict=True)
    monkeypatch.setattr(_engine_native._ThreadChooser, "pick", lambda self, key, n: 2)
    for _ in range(300):
        got = model.evaluate(x, y, sample_weight=w, batch_size=8, verbose=0,
                             return_dict=True)
        assert got == want
