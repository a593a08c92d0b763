"""Layers, as in ``keras.layers``."""
from .activation import Activation  # noqa: F401
from .dense import Dense  # noqa: F401
from .dropout import Dropout  # noqa: F401
from .flatten import Flatten  # noqa: F401
from .input_layer import Input, InputLayer  # noqa: F401
from .layer import Layer  # noqa: F401


def serialize(layer):
    return {"module": "gradiente.layers", "class_name": type(layer).__name__,
            "config": layer.get_config()}


def deserialize(config):
    classes = {c.__name__: c for c in (Activation, Dense, Dropout, Flatten, InputLayer)}
    name = config.get("class_name")
    if name not in classes:
        raise ValueError(f"Unknown layer class {name!r}; expected one of {sorted(classes)}.")
    return classes[name].from_config(config.get("config", {}))
