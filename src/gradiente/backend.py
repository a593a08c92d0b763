"""Backend selection and runtime settings (Keras's ``keras.config`` equivalents)."""
from ._config import (  # noqa: F401
    available_isas,
    effective_n_threads,
    epsilon,
    floatx,
    get_backend,
    get_num_threads,
    set_backend,
    set_floatx,
    set_isa,
    set_num_threads,
    show_config,
    threads,
)
