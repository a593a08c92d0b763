"""Activation: applies an activation function as a layer of its own."""
import numpy as np

from .. import _ops, activations
from .layer import Layer


class Activation(Layer):
    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self._y = None

    @property
    def activation_name(self):
        return activations.serialize(self.activation)

    def call(self, x):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        y = _ops.act_fwd(x.reshape(-1, x.shape[-1]), self.activation_name)
        self._y = y
        return y.reshape(x.shape)

    def backward(self, dy):
        shape = dy.shape
        dy = np.ascontiguousarray(dy, dtype=self.dtype).reshape(self._y.shape)
        return _ops.act_bwd(self._y, dy, self.activation_name).reshape(shape)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation_name}
