"""Metrics, as in ``keras.metrics``: per-sample functions, and how compile's
``metrics=[...]`` names resolve (``'accuracy'`` by the target and output shapes)."""
import numpy as np

from . import losses as _losses
from ._engine import MetricSpec


def sparse_categorical_accuracy(y_true, y_pred):
    y_pred = np.asarray(y_pred)
    labels = np.asarray(y_true).reshape(y_pred.shape[:-1])
    return (y_pred.argmax(axis=-1) == labels).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    y_pred = np.asarray(y_pred)
    return (y_pred.argmax(axis=-1) == np.asarray(y_true).argmax(axis=-1)).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true).reshape(y_pred.shape)
    return ((y_pred > threshold) == (y_true > 0.5)).mean(axis=-1).astype(np.float32)


mean_squared_error = mse = _losses.mean_squared_error
mean_absolute_error = mae = _losses.mean_absolute_error

_FUNCTIONS = {
    "sparse_categorical_accuracy": "sparse_categorical_accuracy",
    "categorical_accuracy": "categorical_accuracy",
    "binary_accuracy": "binary_accuracy",
    "mse": "mse", "mean_squared_error": "mse",
    "mae": "mae", "mean_absolute_error": "mae",
}
_BY_FUNCTION = {
    sparse_categorical_accuracy: "sparse_categorical_accuracy",
    categorical_accuracy: "categorical_accuracy",
    binary_accuracy: "binary_accuracy",
    mean_squared_error: "mse",
    mean_absolute_error: "mae",
}
SUPPORTED = sorted(set(_FUNCTIONS) | {"accuracy", "acc"})


def _accuracy_kind(y_ndim, y_last, n_out):
    """Keras's choice for 'accuracy': binary for one output unit, sparse categorical
    when the targets have one axis fewer (or a trailing 1), else categorical."""
    if n_out == 1:
        return "binary_accuracy"
    if y_ndim == 1 or (y_ndim == 2 and y_last == 1):
        return "sparse_categorical_accuracy"
    return "categorical_accuracy"


def check(identifier):
    """Reject an unknown metric at compile time (resolution waits for the data)."""
    if isinstance(identifier, str) and (identifier in _FUNCTIONS
                                        or identifier.lower() in ("accuracy", "acc")):
        return identifier
    if callable(identifier) and identifier in _BY_FUNCTION:
        return identifier
    if isinstance(identifier, str):
        from ._validate import unknown_name

        raise ValueError(unknown_name("metric", identifier, SUPPORTED))
    raise ValueError(
        f"metrics expects names from {SUPPORTED} or functions of gradiente.metrics; "
        f"received {identifier!r}."
    )


def resolve(identifier, y_ndim, y_last, n_out):
    """A MetricSpec for one entry of compile's metrics, given the targets' shape."""
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return MetricSpec(identifier, _accuracy_kind(y_ndim, y_last, n_out))
        return MetricSpec(identifier, _FUNCTIONS[identifier])
    return MetricSpec(identifier.__name__, _BY_FUNCTION[identifier])


def get(identifier):
    """A metric function from its name."""
    if isinstance(identifier, str) and identifier in _FUNCTIONS:
        return {v: k for k, v in _BY_FUNCTION.items()}[_FUNCTIONS[identifier]]
    check(identifier)
    return identifier
