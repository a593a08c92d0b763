"""gradiente: Keras-compatible deep learning on the CPU, with C and OpenMP kernels."""
from ._config import (  # noqa: F401
    epsilon,
    floatx,
    get_backend,
    get_num_threads,
    set_backend,
    set_floatx,
    set_num_threads,
    show_config,
    threads,
)

from . import datasets, gradcheck  # noqa: E402,F401

__version__ = "0.1.0"
