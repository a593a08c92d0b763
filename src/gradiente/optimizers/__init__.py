"""Optimizers, as in ``keras.optimizers``."""
from .adam import Adam  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from .sgd import SGD  # noqa: F401

_BY_NAME = {"sgd": SGD, "adam": Adam}


def get(identifier):
    """An optimizer from 'sgd' / 'adam', a config dict, or an Optimizer."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in _BY_NAME:
            return _BY_NAME[key]()
        if key in ("rmsprop", "adamw", "adagrad", "adadelta", "adamax", "nadam", "ftrl", "lion"):
            raise ValueError(
                f"optimizer {identifier!r} is not supported yet; use 'adam' or 'sgd' "
                "(gradiente.optimizers.Adam / SGD)."
            )
    if isinstance(identifier, dict) and str(identifier.get("class_name", "")).lower() in _BY_NAME:
        return _BY_NAME[identifier["class_name"].lower()].from_config(
            identifier.get("config", {}))
    if isinstance(identifier, str):
        from .._validate import unknown_name

        raise ValueError(unknown_name("optimizer", identifier, _BY_NAME))
    raise ValueError(
        f"optimizer expects 'adam', 'sgd' or a gradiente.optimizers.Optimizer; received "
        f"{identifier!r}."
    )


def serialize(optimizer):
    return {"module": "gradiente.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config()}


deserialize = get
