"""Keras 3's documented defaults, pinned against a literal table."""
import inspect

import pytest

import gradiente
from gradiente import callbacks, layers, losses, models, optimizers

DEFAULTS = [
    (layers.Dense.__init__, {"activation": None, "use_bias": True,
                             "kernel_initializer": "glorot_uniform",
                             "bias_initializer": "zeros"}),
    (optimizers.SGD.__init__, {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}),
    (optimizers.Adam.__init__, {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999,
                                "epsilon": 1e-7, "amsgrad": False}),
    (optimizers.RMSprop.__init__, {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0,
                                   "epsilon": 1e-7, "centered": False}),
    (optimizers.AdamW.__init__, {"learning_rate": 0.001, "weight_decay": 0.004, "beta_1": 0.9,
                                 "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}),
    (optimizers.Adagrad.__init__, {"learning_rate": 0.001, "initial_accumulator_value": 0.1,
                                   "epsilon": 1e-7}),
    (optimizers.Nadam.__init__, {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999,
                                 "epsilon": 1e-7}),
    (optimizers.Adamax.__init__, {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999,
                                  "epsilon": 1e-7}),
    (optimizers.Adadelta.__init__, {"learning_rate": 0.001, "rho": 0.95, "epsilon": 1e-7}),
    (models.Sequential.__init__, {"layers": None, "name": None}),
    (models.Sequential.compile, {"optimizer": "rmsprop", "loss": None, "metrics": None}),
    (models.Sequential.fit, {"batch_size": None, "epochs": 1, "verbose": "auto",
                             "validation_split": 0.0, "validation_data": None, "shuffle": True,
                             "class_weight": None, "sample_weight": None, "initial_epoch": 0,
                             "callbacks": None}),
    (models.Sequential.evaluate, {"batch_size": None, "verbose": "auto", "sample_weight": None,
                                  "return_dict": False}),
    (models.Sequential.predict, {"batch_size": None, "verbose": "auto"}),
    (losses.SparseCategoricalCrossentropy.__init__, {"from_logits": False,
                                                     "reduction": "sum_over_batch_size"}),
    (losses.CategoricalCrossentropy.__init__, {"from_logits": False}),
    (losses.BinaryCrossentropy.__init__, {"from_logits": False}),
    (layers.Flatten.__init__, {"data_format": None}),
    (callbacks.ProgbarLogger.__init__, {"count_mode": "steps"}),
]


@pytest.mark.parametrize("fn,expected", DEFAULTS, ids=lambda v: getattr(v, "__qualname__", ""))
def test_signature_defaults(fn, expected):
    params = inspect.signature(fn).parameters
    for name, value in expected.items():
        assert params[name].default == value, name


def test_instance_defaults():
    d = layers.Dense(3)
    assert type(d.kernel_initializer).__name__ == "GlorotUniform"
    assert type(d.bias_initializer).__name__ == "Zeros"
    assert gradiente.activations.serialize(d.activation) == "linear"
    adam = optimizers.get("adam")
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (0.001, 0.9, 0.999,
                                                                            1e-7)
    assert optimizers.get("sgd").learning_rate == 0.01
    assert gradiente.floatx() == "float32"
    assert gradiente.epsilon() == 1e-7
