"""The Layer base class: naming, build, weights, config (Keras 3's lifecycle)."""
import re

import numpy as np

from .._config import floatx

_NAME_COUNTS = {}


def unique_name(prefix):
    """'dense', then 'dense_1', 'dense_2'... as Keras names layers and models."""
    n = _NAME_COUNTS.get(prefix, 0)
    _NAME_COUNTS[prefix] = n + 1
    return prefix if n == 0 else f"{prefix}_{n}"


def snake_case(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _shape_tuple(shape, what):
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        shape = tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{what} expects a tuple of ints; received {shape!r}.") from None
    if any(d is not None and d <= 0 for d in shape):
        raise ValueError(f"{what} expects positive dimensions; received {shape!r}.")
    return shape


class Layer:
    """Base of every layer: ``build(input_shape)`` creates weights, ``call(x)``
    computes, ``backward(dy)`` returns dx and fills the weight gradients."""

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None,
                 input_dim=None, **kwargs):
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}() got unexpected keyword argument(s) {sorted(kwargs)}."
            )
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}(name=...) expects a str; received {name!r}.")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.trainable = bool(trainable)
        self.dtype = np.dtype(dtype or floatx()).name
        if self.dtype not in ("float32", "float64"):
            raise ValueError(
                f"{type(self).__name__}(dtype=...) expects 'float32' or 'float64'; "
                f"received dtype={dtype!r}."
            )
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self._input_shape_arg = (None if input_shape is None
                                 else _shape_tuple(input_shape, f"{type(self).__name__}"
                                                   "(input_shape=...)"))
        self.built = False
        self.input_shape = None
        self.output_shape = None

    # ---- lifecycle
    def build(self, input_shape):
        self.input_shape = tuple(input_shape)
        self.output_shape = self.compute_output_shape(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def __call__(self, x):
        x = np.asarray(x)
        if not self.built:
            self.build((None,) + x.shape[1:])
        return self.call(x)

    def call(self, x):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    # ---- weights
    @property
    def weights(self):
        return []

    @property
    def trainable_weights(self):
        return self.weights if self.trainable else []

    @property
    def non_trainable_weights(self):
        return [] if self.trainable else self.weights

    @property
    def gradients(self):
        """The last backward's weight gradients, in weights order."""
        return []

    def get_weights(self):
        return [np.array(w, copy=True) for w in self.weights]

    def set_weights(self, weights):
        from .._validate import weight_arrays

        own = self.weights
        arrays = weight_arrays(own, weights, f"Layer {self.name!r} set_weights")
        for w, new in zip(own, arrays):
            w[...] = new

    def count_params(self):
        return int(sum(w.size for w in self.weights))

    # ---- config
    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"
