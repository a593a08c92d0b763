"""Regularizers, as in ``keras.regularizers``: L1, L2 and L1L2 weight penalties.

A regularizer on a Dense layer's kernel or bias adds its penalty to each batch's loss
(so the epoch's loss is the size-weighted mean of batch loss + penalty, as Keras
reports it, in fit and in evaluate) and its gradient to the weight's gradient. Both
engines run them: the penalty is l1·Σ|w| + l2·Σw², its gradient l1·sign(w) + 2·l2·w.
"""
import math

import numpy as np

from . import _ops


def _factor(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or math.isnan(value) or math.isinf(value) or value < 0:
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative "
                         f"float. Received: {name}={value!r}")
    return float(value)


class Regularizer:
    """Base class: ``regularizer(w)`` returns the penalty of w."""

    l1 = 0.0
    l2 = 0.0

    def __call__(self, x):
        penalty, _ = _ops.l1l2_penalty(np.asarray(x), self.l1, self.l2)
        return penalty

    def gradient(self, x):
        """d penalty / d x."""
        x = np.asarray(x)
        return _ops.l1l2_penalty(x, self.l1, self.l2, np.zeros_like(x))[1]

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """l1·Σ|x| + l2·Σx² (Keras's defaults here are 0 and 0)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _factor(0.0 if l2 is None else l2, "l2")

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """l1·Σ|x| (default l1=0.01)."""

    def __init__(self, l1=0.01):
        self.l1 = _factor(l1, "l1")

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """l2·Σx² (default l2=0.01)."""

    def __init__(self, l2=0.01):
        self.l2 = _factor(l2, "l2")

    def get_config(self):
        return {"l2": self.l2}


# Keras's lower-case aliases of the classes
l1 = L1
l2 = L2
l1_l2 = L1L2

_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2, "l1": L1, "l2": L2, "l1l2": L1L2}


def serialize(regularizer):
    if regularizer is None:
        return None
    return {"module": "gradiente.regularizers", "class_name": type(regularizer).__name__,
            "config": regularizer.get_config()}


def deserialize(config):
    name = config.get("class_name")
    if name not in ("L1", "L2", "L1L2"):
        raise ValueError(f"Unknown regularizer class {name!r}; expected 'L1', 'L2' or "
                         "'L1L2'.")
    return _CLASSES[name].from_config(config.get("config", {}))


def get(identifier):
    """A regularizer from None, a name ('l1', 'l2', 'l1l2', or 'l1_l2', which Keras's
    docs describe as l1=0.01 and l2=0.01), a config dict, a class or an instance."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier == "l1_l2":
            return L1L2(l1=0.01, l2=0.01)
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        raise ValueError(f"Could not interpret regularizer identifier: {identifier!r}; "
                         "expected 'l1', 'l2', 'l1_l2' or a gradiente.regularizers object.")
    if isinstance(identifier, type) and issubclass(identifier, (L1, L2, L1L2)):
        return identifier()
    if isinstance(identifier, (L1, L2, L1L2)):
        return identifier
    raise ValueError(f"Could not interpret regularizer identifier: {identifier!r}; gradiente "
                     "runs L1, L2 and L1L2 (by name or object).")
