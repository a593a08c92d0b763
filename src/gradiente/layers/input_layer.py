"""Input and InputLayer: declare a model's input shape."""
from .._config import floatx
from .layer import Layer, _shape_tuple, unique_name


class InputLayer(Layer):
    """Holds the input shape (batch dimension excluded in ``shape``)."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, **kwargs):
        if shape is None:
            raise ValueError("InputLayer(shape=...) is required; received shape=None.")
        shape = _shape_tuple(shape, "Input(shape=...)")
        super().__init__(name=name or unique_name("input_layer"), dtype=dtype, **kwargs)
        self.shape = (batch_size,) + shape
        self.batch_size = batch_size
        self.build(self.shape)

    def call(self, x):
        return x

    def backward(self, dy):
        return dy

    def get_config(self):
        return {"batch_shape": self.shape, "dtype": self.dtype, "name": self.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        batch_shape = config.pop("batch_shape")
        return cls(shape=batch_shape[1:], batch_size=batch_shape[0], **config)


class KerasTensor:
    """What ``Input`` returns: a symbolic placeholder with a shape and dtype."""

    def __init__(self, layer):
        self._layer = layer
        self.shape = layer.shape
        self.dtype = layer.dtype
        self.name = layer.name

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


def Input(shape=None, batch_size=None, dtype=None, name=None):
    """``Input(shape=(28, 28))``: the first element of a Sequential model."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype or floatx(), name=name)
    return KerasTensor(layer)


__all__ = ["Input", "InputLayer", "KerasTensor"]
