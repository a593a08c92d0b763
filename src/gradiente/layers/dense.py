"""Dense: y = activation(x · kernel + bias)."""
import numpy as np

from .. import _ops, _reference, activations, initializers, regularizers
from .layer import Layer


class Dense(Layer):
    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 **kwargs):
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense(units=...) expects a positive int; received units={units!r}.")
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        if activity_regularizer is not None:
            raise ValueError("Dense(activity_regularizer=...) is not supported yet; pass "
                             "None (kernel_regularizer and bias_regularizer are).")
        self.activity_regularizer = None
        self.kernel = None
        self.bias = None
        self._dkernel = None
        self._dbias = None
        self._x = self._y = self._z = None

    @property
    def activation_name(self):
        return activations.serialize(self.activation)

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                f"Dense layer {self.name!r} needs a known last input dimension; received "
                f"input_shape={tuple(input_shape)}."
            )
        k = int(input_shape[-1])
        self.kernel = np.ascontiguousarray(self.kernel_initializer((k, self.units), self.dtype),
                                           dtype=self.dtype)
        if self.use_bias:
            self.bias = np.ascontiguousarray(self.bias_initializer((self.units,), self.dtype),
                                             dtype=self.dtype)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    @property
    def weights(self):
        if not self.built:
            return []
        return [self.kernel, self.bias] if self.use_bias else [self.kernel]

    @property
    def gradients(self):
        return [self._dkernel, self._dbias] if self.use_bias else [self._dkernel]

    def call(self, x):
        x = np.ascontiguousarray(x, dtype=self.dtype)
        lead = x.shape[:-1]
        x2 = x.reshape(-1, x.shape[-1])
        if self.activation_name in _reference.NEEDS_INPUT:
            y, self._z = _ops.dense_fwd(x2, self.kernel, self.bias, self.activation_name,
                                        with_z=True)
        else:
            y = _ops.dense_fwd(x2, self.kernel, self.bias, self.activation_name)
            self._z = None
        self._x, self._y = x2, y
        return y.reshape(lead + (self.units,))

    def backward(self, dy):
        dy = np.ascontiguousarray(dy, dtype=self.dtype).reshape(self._y.shape)
        dx, dw, db = _ops.dense_bwd(self._x, self.kernel, self._y, dy, self.activation_name,
                                    need_dx=True, need_db=self.use_bias, z=self._z)
        self._dkernel, self._dbias = dw, db
        return dx

    def _penalties(self):
        """(regularizer, weight index) pairs of the regularized weights (none when the
        layer is frozen: Keras regularizes trainable weights only)."""
        out = []
        if not self.trainable:
            return out
        if self.kernel_regularizer is not None:
            out.append((self.kernel_regularizer, 0))
        if self.use_bias and self.bias_regularizer is not None:
            out.append((self.bias_regularizer, 1))
        return out

    @property
    def losses(self):
        """The regularization penalties of the current weights (as Keras's layer.losses)."""
        if not self.built:
            return []
        return [reg(self.weights[i]) for reg, i in self._penalties()]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation_name,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": None,
        }
