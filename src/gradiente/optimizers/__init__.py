"""Optimizers, as in ``keras.optimizers``."""
from .adadelta import Adadelta  # noqa: F401
from .adagrad import Adagrad  # noqa: F401
from .adam import Adam  # noqa: F401
from .adamax import Adamax  # noqa: F401
from .adamw import AdamW  # noqa: F401
from .nadam import Nadam  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from .rmsprop import RMSprop  # noqa: F401
from .sgd import SGD  # noqa: F401
from . import schedules  # noqa: F401

_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adamw": AdamW,
            "adagrad": Adagrad, "nadam": Nadam, "adamax": Adamax, "adadelta": Adadelta}


def get(identifier):
    """An optimizer from its name ('adam', 'rmsprop', ...), a config dict, or an
    Optimizer."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in _BY_NAME:
            return _BY_NAME[key]()
        if key in ("ftrl", "lion", "lamb", "loss_scale_optimizer", "muon"):
            raise ValueError(
                f"optimizer {identifier!r} is not supported yet; use one of "
                f"{sorted(_BY_NAME)}."
            )
    if isinstance(identifier, dict) and str(identifier.get("class_name", "")).lower() in _BY_NAME:
        return _BY_NAME[identifier["class_name"].lower()].from_config(
            identifier.get("config", {}))
    if isinstance(identifier, str):
        from .._validate import unknown_name

        raise ValueError(unknown_name("optimizer", identifier, _BY_NAME))
    raise ValueError(
        f"optimizer expects one of {sorted(_BY_NAME)} or a gradiente.optimizers.Optimizer; "
        f"received {identifier!r}."
    )


def serialize(optimizer):
    return {"module": "gradiente.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config()}


deserialize = get
