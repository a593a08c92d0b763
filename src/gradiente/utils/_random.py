"""The one seeded source of randomness: initializers and shuffling draw from it.

It is a NumPy Generator, so the same seed gives the same numbers on every backend.
"""
import random

import numpy as np

_state = {"rng": np.random.default_rng()}


def set_random_seed(seed):
    """Seed every random draw gradiente makes (and Python's and NumPy's global ones,
    as ``keras.utils.set_random_seed`` does)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(
            f"set_random_seed(seed=...) expects an int; received {type(seed).__name__} "
            f"{seed!r}."
        )
    if seed < 0:
        raise ValueError(f"set_random_seed(seed=...) expects an int >= 0; received seed={seed}.")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    _state["rng"] = np.random.default_rng(seed)


def generator():
    """The library's Generator (reseeded by set_random_seed)."""
    return _state["rng"]
