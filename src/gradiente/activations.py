"""Activations, as in ``keras.activations``: functions on arrays, and ``get``."""
from . import _ops


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


_BY_NAME = {"linear": linear, "relu": relu, "sigmoid": sigmoid, "tanh": tanh,
            "softmax": softmax}


def get(identifier):
    """An activation function from its name, None (linear) or itself."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            from ._validate import unknown_name

            raise ValueError(unknown_name("activation", identifier, _BY_NAME))
        return _BY_NAME[identifier]
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
