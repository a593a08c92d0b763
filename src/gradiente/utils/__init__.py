"""Utilities, as in ``keras.utils``: to_categorical, set_random_seed, plot_history."""
from ._categorical import to_categorical  # noqa: F401
from ._plot import plot_history  # noqa: F401
from ._random import set_random_seed  # noqa: F401
