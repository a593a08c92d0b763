"""Model structure: summary, weights, configs, errors."""
import numpy as np
import pytest

import gradiente
from gradiente import layers, losses, optimizers
from gradiente.layers import Dense, Flatten, Input
from gradiente.models import Sequential
from gradiente.utils import set_random_seed, to_categorical


def founding_model():
    model = Sequential()
    model.add(Flatten(input_shape=(28, 28)))
    model.add(Dense(128, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    return model


def test_summary_text(capsys):
    model = founding_model()
    model.summary()
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith('Model: "sequential')
    assert out[2] == "┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃"
    assert out[4].startswith("│ flatten") and "(None, 784)" in out[4] and out[4].endswith(
        "             0 │")
    assert "(None, 128)" in out[6] and out[6].endswith("       100,480 │")
    assert "(None, 10)" in out[8] and out[8].endswith("         1,290 │")
    assert out[-3:] == [" Total params: 101,770 (397.54 KB)",
                        " Trainable params: 101,770 (397.54 KB)",
                        " Non-trainable params: 0 (0.00 B)"]
    assert all(len(line) == 76 for line in out[1:10])


def test_summary_unbuilt_raises():
    with pytest.raises(ValueError, match="not yet been built"):
        Sequential([Dense(3)]).summary()


def test_layer_names_and_layers_property():
    model = Sequential([Input(shape=(3,)), Dense(2, name="a"), Dense(1)])
    assert [layer.name for layer in model.layers][0] == "a"
    assert len(model.layers) == 2
    popped = model.pop()
    assert isinstance(popped, Dense) and len(model.layers) == 1


def test_get_set_weights():
    set_random_seed(0)
    model = Sequential([Input(shape=(4,)), Dense(3, activation="relu"), Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(4, 3), (3,), (3, 2), (2,)]
    assert all(w.dtype == np.float32 for w in weights)
    assert not np.any(weights[1]) and not np.any(weights[3])  # zeros bias
    limit = np.sqrt(6 / 7)
    assert np.abs(weights[0]).max() <= limit
    weights[0][...] = 7  # a copy: the model is unchanged
    assert not np.any(model.get_weights()[0] == 7)
    new = [np.full(w.shape, i, np.float64) for i, w in enumerate(weights)]
    model.set_weights(new)
    got = model.get_weights()
    assert all(np.array_equal(g, n) and g.dtype == np.float32 for g, n in zip(got, new))
    new[0][...] = 99  # set_weights copied
    assert model.get_weights()[0][0, 0] == 0
    with pytest.raises(ValueError, match="expects 4 arrays"):
        model.set_weights(got[:3])
    with pytest.raises(ValueError, match=r"shape \(4, 3\)"):
        model.set_weights([np.zeros((3, 4))] + got[1:])
    # the plan sees set_weights: predictions follow the new weights
    model.set_weights([np.zeros((4, 3)), np.ones(3), np.ones((3, 2)), np.zeros(2)])
    np.testing.assert_allclose(model.predict(np.zeros((2, 4)), verbose=0), 3)


def test_config_round_trips():
    model = founding_model()
    clone = Sequential.from_config(model.get_config())
    assert [type(layer) for layer in clone.layers] == [type(layer) for layer in model.layers]
    assert clone.count_params() == 101_770
    assert clone.get_config()["layers"][2]["config"]["units"] == 128
    for layer in model.layers:
        again = type(layer).from_config(layer.get_config())
        assert again.get_config() == layer.get_config()
    for opt in (optimizers.SGD(0.1, momentum=0.9, nesterov=True), optimizers.Adam(amsgrad=True)):
        again = type(opt).from_config(opt.get_config())
        assert again.get_config() == opt.get_config()
    for loss in (losses.SparseCategoricalCrossentropy(from_logits=True),
                 losses.CategoricalCrossentropy(), losses.BinaryCrossentropy(),
                 losses.MeanSquaredError(), losses.MeanAbsoluteError()):
        again = type(loss).from_config(loss.get_config())
        assert again.get_config() == loss.get_config()


def test_string_names_resolve():
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)
    assert isinstance(losses.get("mae"), losses.MeanAbsoluteError)
    assert isinstance(losses.get(losses.binary_crossentropy), losses.BinaryCrossentropy)
    assert isinstance(optimizers.get("adam"), optimizers.Adam)
    assert gradiente.activations.get("relu") is gradiente.activations.relu
    assert isinstance(gradiente.initializers.get("glorot_uniform"),
                      gradiente.initializers.GlorotUniform)
    for name, cls in [("rmsprop", "RMSprop"), ("adamw", "AdamW"), ("adagrad", "Adagrad"),
                      ("nadam", "Nadam"), ("adamax", "Adamax"), ("adadelta", "Adadelta"),
                      ("RMSprop", "RMSprop")]:
        assert type(optimizers.get(name)).__name__ == cls
    with pytest.raises(ValueError, match="not supported yet"):
        optimizers.get("lion")
    with pytest.raises(ValueError, match="Unknown activation"):
        layers.Dense(3, activation="swishy")


def test_loss_functions_and_classes():
    y = np.array([0, 2])
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
    per_sample = losses.sparse_categorical_crossentropy(y, p)
    np.testing.assert_allclose(per_sample, -np.log([0.7, 0.8]), rtol=1e-6)
    value = losses.SparseCategoricalCrossentropy()(y, p)
    np.testing.assert_allclose(value, per_sample.mean(), rtol=1e-6)
    np.testing.assert_allclose(losses.CategoricalCrossentropy()(to_categorical(y, 3), p), value,
                               rtol=1e-6)
    np.testing.assert_allclose(losses.MeanSquaredError()(np.zeros((2, 3)), p),
                               (p ** 2).mean(), rtol=1e-6)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="units"):
        Dense(0)
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.SGD(learning_rate=-1)
    with pytest.raises(ValueError, match="beta_1"):
        optimizers.Adam(beta_1=1.5)
    model = Sequential([Input(shape=(4,)), Dense(3, activation="softmax")])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.zeros((2, 4)), np.zeros(2))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"labels in \[0, 3\)"):
        model.fit(np.zeros((2, 4)), np.array([0, 3]), verbose=0)
    with pytest.raises(ValueError, match=r"samples of shape \(4,\)"):
        model.fit(np.zeros((2, 5)), np.array([0, 1]), verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(np.zeros((2, 4)), np.array([0, 1]), batch_size=0)
    with pytest.raises(ValueError, match="one target per sample"):
        model.fit(np.zeros((2, 4)), np.array([0, 1, 1]), verbose=0)
    with pytest.raises(ValueError, match="NaN"):
        model.fit(np.full((2, 4), np.nan), np.array([0, 1]), verbose=0)
    with pytest.raises(TypeError, match="numbers"):
        model.predict(np.array([["a"] * 4]), verbose=0)
    with pytest.raises(ValueError, match="verbose"):
        model.evaluate(np.zeros((2, 4)), np.array([0, 1]), verbose=3)


def test_to_categorical():
    out = to_categorical([1, 0, 2])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.eye(3)[[1, 0, 2]])
    assert to_categorical(np.array([[1], [2]]), 4).shape == (2, 4)
