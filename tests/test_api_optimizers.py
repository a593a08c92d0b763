"""The optimizers' Keras surface: names, configs, the shared arguments, and training
with each on the C engine."""
import numpy as np
import pytest

import gradiente
from gradiente import optimizers
from gradiente._engine_native import NativeEngine
from gradiente.layers import Dense, Input
from gradiente.models import Sequential
from gradiente.utils import set_random_seed

NAMES = ["sgd", "adam", "rmsprop", "adamw", "adagrad", "nadam", "adamax", "adadelta"]


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trip(name):
    opt = optimizers.get(name)
    config = opt.get_config()
    again = type(opt).from_config(config)
    assert again.get_config() == config
    ser = optimizers.serialize(opt)
    assert type(optimizers.deserialize(ser)) is type(opt)


def test_shared_arguments():
    opt = optimizers.RMSprop(clipnorm=1.0, weight_decay=0.01)
    config = opt.get_config()
    assert config["clipnorm"] == 1.0 and config["weight_decay"] == 0.01
    assert config["clipvalue"] is None and config["global_clipnorm"] is None
    assert optimizers.AdamW().get_config()["weight_decay"] == 0.004
    assert optimizers.AdamW().name == "adam_w" and optimizers.RMSprop().name == "rm_sprop"
    with pytest.raises(ValueError, match="only one of `clipnorm`"):
        optimizers.SGD(clipnorm=1.0, clipvalue=0.5)
    with pytest.raises(ValueError, match="clipnorm=-1"):
        optimizers.Adam(clipnorm=-1)
    with pytest.raises(TypeError, match="weight_decay"):
        optimizers.Nadam(weight_decay="lots")
    with pytest.raises(ValueError, match="weight_decay=None"):
        optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="rho"):
        optimizers.Adadelta(rho=1.5)


def _fit(optimizer, backend, epochs=2):
    gradiente.set_backend(backend)
    set_random_seed(5)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 6)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    model = Sequential([Input(shape=(6,)), Dense(7, activation="relu"),
                        Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    hist = model.fit(x, y, batch_size=8, epochs=epochs, verbose=0)
    return model, hist


@pytest.mark.parametrize("name", NAMES)
def test_compile_by_name_trains_on_the_c_engine(name):
    model, hist = _fit(name, "native")
    assert isinstance(model._engine, NativeEngine)
    assert np.isfinite(hist.history["loss"]).all()
    assert model.optimizer.iterations == 10


def test_adagrad_accumulator_starts_at_initial_value():
    gradiente.set_backend("native")
    model = Sequential([Input(shape=(2,)), Dense(1)])
    model.compile(optimizer=optimizers.Adagrad(initial_accumulator_value=0.25), loss="mse")
    np.testing.assert_array_equal(model._plan.slots["accumulator"], 0.25)


def test_nadam_product_survives_between_fits():
    """Two fits of one epoch give the trajectory of one fit of two epochs."""
    one, _ = _fit(optimizers.Nadam(learning_rate=0.01), "native", epochs=2)
    gradiente.set_backend("native")
    set_random_seed(5)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 6)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    two = Sequential([Input(shape=(6,)), Dense(7, activation="relu"),
                      Dense(3, activation="softmax")])
    two.compile(optimizer=optimizers.Nadam(learning_rate=0.01),
                loss="sparse_categorical_crossentropy")
    two.fit(x, y, batch_size=8, epochs=1, verbose=0)
    two._plan.opt_state[:] = (0.0, 1.0)  # a lost cache is recomputed from iterations
    two.fit(x, y, batch_size=8, epochs=1, verbose=0)
    for a, b in zip(one.get_weights(), two.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_clipnorm_is_per_variable_and_global_clipnorm_is_not():
    """With lr = 1 and SGD, one step moves each variable by its clipped gradient."""
    gradiente.set_backend("numpy")
    steps = {}
    for kw in ({"clipnorm": 1e-3}, {"global_clipnorm": 1e-3}):
        model, _ = _fit(optimizers.SGD(learning_rate=1.0, **kw), "numpy", epochs=0)
        before = model.get_weights()
        x = np.ones((4, 6), np.float32)
        model.train_on_batch(x, np.array([0, 1, 2, 0]))
        steps[next(iter(kw))] = [np.linalg.norm(a - b) for a, b in
                                 zip(model.get_weights(), before)]
    np.testing.assert_allclose(steps["clipnorm"], 1e-3, rtol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(steps["global_clipnorm"]), 1e-3, rtol=1e-4)


def test_exclude_from_weight_decay():
    """With lr = 1, SGD and weight_decay = 0.5 on zero gradients, decayed variables
    halve each step and excluded ones stay."""
    for backend in ("numpy", "native"):
        gradiente.set_backend(backend)
        opt = optimizers.SGD(learning_rate=1.0, weight_decay=0.5)
        opt.exclude_from_weight_decay(var_names=["bias"])
        model = Sequential([Input(shape=(2,)), Dense(3, bias_initializer="ones")])
        model.compile(optimizer=opt, loss="mse")
        kernel, bias = [w.copy() for w in model.get_weights()]
        x = np.zeros((4, 2), np.float32)
        model.fit(x, model.predict(x, verbose=0), batch_size=4, verbose=0)  # zero gradients
        got_kernel, got_bias = model.get_weights()
        np.testing.assert_allclose(got_kernel, 0.5 * kernel, rtol=1e-6)
        np.testing.assert_array_equal(got_bias, bias)
        with pytest.raises(ValueError, match="before the model is compiled"):
            opt.exclude_from_weight_decay(var_names=["kernel"])
    with pytest.raises(ValueError, match="var_list"):
        optimizers.AdamW().exclude_from_weight_decay(var_list=[np.zeros(2)])


@pytest.mark.parametrize("backend", ["numpy", "native"])
def test_rmsprop_momentum_turned_on_after_compile_asks_for_compile(backend):
    gradiente.set_backend(backend)
    model = Sequential([Input(shape=(2,)), Dense(1)])
    opt = optimizers.RMSprop()
    model.compile(optimizer=opt, loss="mse")
    opt.momentum = 0.5
    with pytest.raises(ValueError, match="compile the model again"):
        model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0)
