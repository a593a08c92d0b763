"""Activations, as in ``keras.activations``: functions on arrays, and ``get``.

Each function with its default arguments runs on the backend's kernels and can be a
layer's ``activation``; other argument values (``leaky_relu(x, negative_slope=0.1)``)
are computed here with NumPy, as Keras computes them, and serve as plain functions.
"""
import numpy as np

from . import _ops, _reference


def linear(x):
    return _ops.act_fwd(x, "linear")


def relu(x):
    return _ops.act_fwd(x, "relu")


def sigmoid(x):
    return _ops.act_fwd(x, "sigmoid")


def tanh(x):
    return _ops.act_fwd(x, "tanh")


def softmax(x, axis=-1):
    if axis not in (-1, x.ndim - 1):
        raise ValueError(f"softmax(axis=...) supports only the last axis; received axis={axis}.")
    shape = x.shape
    return _ops.act_fwd(x.reshape(-1, shape[-1]), "softmax").reshape(shape)


def leaky_relu(x, negative_slope=0.2):
    """x if x > 0 else negative_slope · x (Keras 3's default slope is 0.2)."""
    if negative_slope == _reference.LEAKY_SLOPE:
        return _ops.act_fwd(x, "leaky_relu")
    x = np.asarray(x)
    return np.where(x > 0, x, x * np.asarray(negative_slope, x.dtype)).astype(x.dtype)


def elu(x, alpha=1.0):
    """x if x > 0 else alpha · (exp(x) - 1)."""
    if alpha == 1.0:
        return _ops.act_fwd(x, "elu")
    x = np.asarray(x)
    return np.where(x > 0, x, np.asarray(alpha, x.dtype) * np.expm1(x)).astype(x.dtype)


def selu(x):
    """scale · elu(x, alpha), alpha ≈ 1.67326324 and scale ≈ 1.05070098."""
    return _ops.act_fwd(x, "selu")


def gelu(x, approximate=False):
    """x · Φ(x) (Keras 3's default, approximate=False); the tanh form with
    approximate=True."""
    if not approximate:
        return _ops.act_fwd(x, "gelu")
    x = np.asarray(x)
    c = np.asarray(np.sqrt(2 / np.pi), x.dtype)
    return (0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x ** 3)))).astype(x.dtype)


def softplus(x):
    """log(1 + exp(x))."""
    return _ops.act_fwd(x, "softplus")


def softsign(x):
    """x / (|x| + 1)."""
    return _ops.act_fwd(x, "softsign")


def silu(x):
    """x · sigmoid(x); also named swish."""
    return _ops.act_fwd(x, "silu")


swish = silu


def hard_sigmoid(x):
    """relu6(x + 3) / 6 (Keras 3's definition)."""
    return _ops.act_fwd(x, "hard_sigmoid")


def relu6(x):
    """min(max(x, 0), 6)."""
    return _ops.act_fwd(x, "relu6")


def exponential(x):
    """exp(x)."""
    return _ops.act_fwd(x, "exponential")


_BY_NAME = {"linear": linear, "relu": relu, "sigmoid": sigmoid, "tanh": tanh,
            "softmax": softmax, "leaky_relu": leaky_relu, "elu": elu, "selu": selu,
            "gelu": gelu, "softplus": softplus, "softsign": softsign, "silu": silu,
            "hard_sigmoid": hard_sigmoid, "relu6": relu6, "exponential": exponential}
#: other names Keras accepts for the same functions
_ALIASES = {"swish": "silu"}


def get(identifier):
    """An activation function from its name, None (linear) or itself."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        name = _ALIASES.get(identifier, identifier)
        if name not in _BY_NAME:
            from ._validate import unknown_name

            raise ValueError(unknown_name("activation", identifier,
                                          sorted(set(_BY_NAME) | set(_ALIASES))))
        return _BY_NAME[name]
    if callable(identifier) and serialize(identifier) is not None:
        return identifier
    raise ValueError(
        f"activation expects one of {sorted(_BY_NAME)}, None or one of the functions in "
        f"gradiente.activations; received {identifier!r}."
    )


def serialize(activation):
    """The name of one of this module's activations (None for anything else)."""
    for name, fn in _BY_NAME.items():
        if fn is activation:
            return name
    return None
