"""Flatten: (batch, d1, d2, ...) -> (batch, d1·d2·...)."""
import numpy as np

from .layer import Layer


class Flatten(Layer):
    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"
        self._in_shape = None

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        if any(d is None for d in rest):
            return (input_shape[0], None)
        return (input_shape[0], int(np.prod(rest, dtype=np.int64)))

    def call(self, x):
        self._in_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self._in_shape)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}
