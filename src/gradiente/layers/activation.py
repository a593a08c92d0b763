"""Activation: applies an activation function as a layer of its own."""
import numpy as np

from .. import _ops, activations
from .layer import Layer


class Activation(Layer):
    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self._x = self._y = None

    @property
    def activation_name(self):
        return activations.serialize(self.activation)

    def call(self, x):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        self._x = x.reshape(-1, x.shape[-1])
        y = _ops.act_fwd(self._x, self.activation_name)
        self._y = y
        return y.reshape(x.shape)

    def backward(self, dy):
        shape = dy.shape
        dy = np.ascontiguousarray(dy, dtype=self.dtype).reshape(self._y.shape)
        return _ops.act_bwd(self._y, dy, self.activation_name, x=self._x).reshape(shape)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation_name}
