"""Dropout: in training, zero a random fraction ``rate`` of the inputs and scale the
rest by 1 / (1 - rate); in predict and evaluate, the identity.

Masks come from a counter-based generator: element (i, j) of the mask at training
step t is a pure function of (seed, t, the layer's index in the model, the element's
index), computed the same way in C and in NumPy, so both backends and every thread
count draw the same masks. ``seed=None`` takes a seed from Python's ``random``, which
``gradiente.utils.set_random_seed`` seeds.
"""
import random

import numpy as np

from .. import _ops
from .layer import Layer


class Dropout(Layer):
    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer,
                                                             np.floating)) \
                or not 0 <= rate <= 1:
            raise ValueError(
                f"Dropout(rate=...) expects a float in [0, 1]; received rate={rate!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or seed < 0):
            raise ValueError(f"Dropout(seed=...) expects an int >= 0 or None; received "
                             f"seed={seed!r}.")
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(
            None if d is None else int(d) for d in noise_shape)
        self.seed = seed
        # the generator's seed: the given one, else one from Python's random (as Keras)
        self._seed = int(seed) if seed is not None else random.randint(1, int(1e9))
        self._calls = 0
        self._mask = None

    def _shares(self, input_shape):
        """(share_rows, share_cols) for the engine, from noise_shape on 2-D inputs."""
        ns = self.noise_shape
        if ns is None:
            return False, False
        if len(input_shape) != 2 or len(ns) != 2:
            raise ValueError(
                f"Dropout layer {self.name!r}: noise_shape={ns} is supported on 2-D inputs "
                f"(batch, features); received inputs of shape {tuple(input_shape)}. Put a "
                "Flatten() before it.")
        share_rows = ns[0] == 1
        share_cols = ns[1] == 1 and input_shape[1] != 1
        return share_rows, share_cols

    def __call__(self, x, training=False):
        x = np.asarray(x)
        if not self.built:
            self.build((None,) + x.shape[1:])
        return self.call(x, training=training)

    def call(self, x, training=False):
        """Identity unless training; in training each call draws a new mask (the
        engine keys its masks by the optimizer's step instead)."""
        x = np.ascontiguousarray(x, dtype=self.dtype)
        if not training or self.rate == 0:
            self._mask = None
            return x
        share_rows, share_cols = self._shares((None,) + x.shape[1:]) \
            if self.noise_shape is not None else (False, False)
        x2 = x.reshape(x.shape[0], -1)
        key = _ops.dropout_key(self._seed, self._calls, 0)
        self._calls += 1
        y, self._mask = _ops.dropout_fwd(x2, self.rate, key, share_rows, share_cols)
        return y.reshape(x.shape)

    def backward(self, dy):
        if self._mask is None:
            return dy
        shape = dy.shape
        dy = np.ascontiguousarray(dy, dtype=self.dtype).reshape(self._mask.shape)
        return _ops.dropout_bwd(self._mask, dy, self.rate).reshape(shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": self.noise_shape}
