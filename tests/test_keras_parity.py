"""gradiente against Keras itself: same initial weights, same data, shuffle=False.

Skipped unless ``keras`` imports (KERAS_BACKEND defaults to torch here). Compares
predictions, per-epoch losses and metrics, evaluate, and the final weights for each
optimizer × each loss.
"""
import os
import re

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

import gradiente  # noqa: E402
from gradiente import layers as glayers, optimizers as goptimizers  # noqa: E402
from gradiente.models import Sequential  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _backends():
    out = ["numpy"]
    try:
        gradiente.set_backend("native")
        out.append("native")
    except ImportError:
        pass
    gradiente.set_backend("numpy")
    return out


@pytest.fixture(params=_backends())
def backend(request):
    gradiente.set_backend(request.param)
    return request.param


OPTIMIZERS = {
    "sgd": (lambda m: m.optimizers.SGD(learning_rate=0.1)),
    "momentum": (lambda m: m.optimizers.SGD(learning_rate=0.05, momentum=0.9)),
    "nesterov": (lambda m: m.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True)),
    "adam": (lambda m: m.optimizers.Adam(learning_rate=0.01)),
    "amsgrad": (lambda m: m.optimizers.Adam(learning_rate=0.01, amsgrad=True)),
    "rmsprop": (lambda m: m.optimizers.RMSprop(learning_rate=0.01)),
    "rmsprop_momentum_centered": (lambda m: m.optimizers.RMSprop(learning_rate=0.01,
                                                                 momentum=0.5, centered=True)),
    "adamw": (lambda m: m.optimizers.AdamW(learning_rate=0.01, weight_decay=0.1)),
    "adagrad": (lambda m: m.optimizers.Adagrad(learning_rate=0.1)),
    "nadam": (lambda m: m.optimizers.Nadam(learning_rate=0.01)),
    "adamax": (lambda m: m.optimizers.Adamax(learning_rate=0.01)),
    "adadelta": (lambda m: m.optimizers.Adadelta(learning_rate=1.0)),
    "sgd_clipnorm_decay": (lambda m: m.optimizers.SGD(learning_rate=0.1, clipnorm=0.1,
                                                      weight_decay=0.05)),
    "adam_global_clipnorm": (lambda m: m.optimizers.Adam(learning_rate=0.01,
                                                         global_clipnorm=0.1)),
    "rmsprop_clipvalue": (lambda m: m.optimizers.RMSprop(learning_rate=0.01, clipvalue=0.02)),
    "adamw_exclude_bias": (lambda m: _excluding(m.optimizers.AdamW(learning_rate=0.01,
                                                                   weight_decay=0.5),
                                                ["bias"])),
}


def _excluding(opt, names):
    opt.exclude_from_weight_decay(var_names=names)
    return opt

#: optimizers run with every loss; the others with a few
_ALL_LOSSES_OPTS = ("sgd", "momentum", "nesterov", "adam", "amsgrad")
_FEW_LOSSES = ("sparse_cce", "mse")

# loss name -> (output units, output activation, loss factory, target kind, metrics)
LOSSES = {
    "sparse_cce": (4, "softmax", lambda m: m.losses.SparseCategoricalCrossentropy(),
                   "labels", ["accuracy"]),
    "sparse_cce_logits": (4, "linear",
                          lambda m: m.losses.SparseCategoricalCrossentropy(from_logits=True),
                          "labels", ["accuracy"]),
    "cce": (4, "softmax", lambda m: "categorical_crossentropy", "onehot", ["accuracy"]),
    "cce_logits": (4, "linear", lambda m: m.losses.CategoricalCrossentropy(from_logits=True),
                   "onehot", ["accuracy"]),
    "bce": (1, "sigmoid", lambda m: "binary_crossentropy", "binary", ["accuracy"]),
    "bce_logits": (1, "linear", lambda m: m.losses.BinaryCrossentropy(from_logits=True),
                   "binary", ["accuracy"]),
    "mse": (2, "linear", lambda m: "mse", "regression", ["mae"]),
    "mae": (2, "linear", lambda m: "mae", "regression", ["mse"]),
}


def _data(kind, n=50, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5)).astype(np.float32)
    if kind == "labels":
        return x, rng.integers(0, 4, n)
    if kind == "onehot":
        return x, np.eye(4, dtype=np.float32)[rng.integers(0, 4, n)]
    if kind == "binary":
        return x, rng.integers(0, 2, (n, 1)).astype(np.float32)
    return x, rng.standard_normal((n, 2)).astype(np.float32)


def _pair(loss_name, opt_name):
    units, act, loss_factory, target_kind, metrics = LOSSES[loss_name]
    kmodel = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(8, activation="tanh"),
                               keras.layers.Dense(units, activation=act)])
    kmodel.compile(optimizer=OPTIMIZERS[opt_name](keras), loss=loss_factory(keras),
                   metrics=list(metrics))
    gmodel = Sequential([glayers.Input(shape=(5,)), glayers.Dense(8, activation="tanh"),
                         glayers.Dense(units, activation=act)])
    gmodel.compile(optimizer=OPTIMIZERS[opt_name](gradiente), loss=loss_factory(gradiente),
                   metrics=list(metrics))
    gmodel.set_weights(kmodel.get_weights())
    return kmodel, gmodel, target_kind


@pytest.mark.parametrize("loss_name,opt_name",
                         [(ls, o) for o in sorted(OPTIMIZERS) for ls in sorted(LOSSES)
                          if o in _ALL_LOSSES_OPTS or ls in _FEW_LOSSES])
def test_fit_matches_keras(backend, loss_name, opt_name):
    kmodel, gmodel, target_kind = _pair(loss_name, opt_name)
    x, y = _data(target_kind)
    np.testing.assert_allclose(gmodel.predict(x, verbose=0), kmodel.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    kh = kmodel.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history
    gh = gmodel.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history
    assert sorted(gh) == sorted(kh)
    for key in kh:
        np.testing.assert_allclose(gh[key], kh[key], rtol=2e-4, atol=2e-5, err_msg=key)
    for gw, kw in zip(gmodel.get_weights(), kmodel.get_weights()):
        np.testing.assert_allclose(gw, kw, rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(gmodel.evaluate(x, y, verbose=0), kmodel.evaluate(x, y, verbose=0),
                               rtol=2e-4, atol=2e-5)


def test_validation_split_and_sample_weight_match_keras(backend):
    kmodel, gmodel, target_kind = _pair("sparse_cce", "adam")
    x, y = _data(target_kind, n=60)
    w = np.linspace(0.2, 2.0, 60).astype(np.float32)
    kh = kmodel.fit(x, y, sample_weight=w, batch_size=16, epochs=2, shuffle=False, verbose=0,
                    validation_split=0.25).history
    gh = gmodel.fit(x, y, sample_weight=w, batch_size=16, epochs=2, shuffle=False, verbose=0,
                    validation_split=0.25).history
    assert sorted(gh) == sorted(kh)
    for key in kh:
        np.testing.assert_allclose(gh[key], kh[key], rtol=2e-4, atol=2e-5, err_msg=key)


def test_configs_match_keras():
    for name in ("sgd", "adam", "rmsprop", "adamw", "adagrad", "nadam", "adamax", "adadelta"):
        k = keras.optimizers.get(name).get_config()
        g = goptimizers.get(name).get_config()
        # Keras uniquifies names: 'sgd_3', 'rm_sprop_8'...
        assert re.sub(r"_\d+$", "", k.pop("name")) == g.pop("name")
        assert g == k, name
    k = keras.optimizers.SGD(clipnorm=1.5, weight_decay=0.01).get_config()
    g = goptimizers.SGD(clipnorm=1.5, weight_decay=0.01).get_config()
    k.pop("name"), g.pop("name")
    assert g == k
    assert gradiente.losses.SparseCategoricalCrossentropy().get_config() == \
        keras.losses.SparseCategoricalCrossentropy().get_config()
    assert gradiente.losses.MeanSquaredError().get_config() == \
        keras.losses.MeanSquaredError().get_config()
