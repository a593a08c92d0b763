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

from . import (  # noqa: F401,E402
    activations,
    callbacks,
    datasets,
    gradcheck,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    regularizers,
    saving,
    utils,
)
from .models import Sequential  # noqa: F401,E402

__version__ = "0.1.0"
