"""The Optimizer base class: hyperparameters, Keras's config fields, state access."""
import numpy as np

from . import schedules
from .schedules import LearningRateSchedule

_UNSUPPORTED = ("weight_decay", "clipnorm", "global_clipnorm", "clipvalue", "loss_scale_factor",
                "gradient_accumulation_steps")


def _f32(value):
    """Keras stores hyperparameters in float32 variables; configs report them so."""
    return float(np.float32(value))


def check_unit_interval(cls, name, value, closed_low=True):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{cls}({name}=...) expects a float; received {value!r}.")
    ok = (0 <= value < 1) if closed_low else (0 < value < 1)
    if not ok:
        low = "0 <=" if closed_low else "0 <"
        raise ValueError(f"{cls}({name}=...) expects {low} {name} < 1; received {name}={value!r}.")
    return float(value)


class Optimizer:
    """Base: ``learning_rate``, ``iterations`` and Keras 3's common config fields.

    The state (slots, iteration counter) lives in the compiled model's plan; an
    optimizer compiled into a model reads it from there.
    """

    #: the engine's optimizer kind ('sgd' or 'adam')
    kind = None

    def __init__(self, learning_rate, name=None, weight_decay=None, clipnorm=None,
                 global_clipnorm=None, clipvalue=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, **kwargs):
        cls = type(self).__name__
        if kwargs:
            raise TypeError(f"{cls}() got unexpected keyword argument(s) {sorted(kwargs)}.")
        self.learning_rate = learning_rate
        self.name = name or cls.lower()
        given = dict(weight_decay=weight_decay, clipnorm=clipnorm,
                     global_clipnorm=global_clipnorm, clipvalue=clipvalue,
                     loss_scale_factor=loss_scale_factor,
                     gradient_accumulation_steps=gradient_accumulation_steps)
        for key in _UNSUPPORTED:
            if given[key] is not None:
                raise ValueError(
                    f"{cls}({key}=...) is not supported yet; received {key}={given[key]!r}. "
                    "Pass None."
                )
        if use_ema:
            raise ValueError(f"{cls}(use_ema=True) is not supported yet; pass use_ema=False.")
        self.weight_decay = self.clipnorm = self.global_clipnorm = self.clipvalue = None
        self.loss_scale_factor = self.gradient_accumulation_steps = None
        self.use_ema = False
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self._plan = None

    @property
    def learning_rate(self):
        """The current rate: the constant, or the schedule's value at ``iterations``."""
        if isinstance(self._learning_rate, LearningRateSchedule):
            return float(self._learning_rate(self.iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        cls = type(self).__name__
        if isinstance(value, LearningRateSchedule):
            self._learning_rate = value
            return
        if isinstance(getattr(self, "_learning_rate", None), LearningRateSchedule):
            raise TypeError(
                f"This {cls} optimizer was created with a LearningRateSchedule as its "
                "learning_rate, so its learning rate is not settable; create it with a float "
                "learning_rate to set the rate (e.g. from a callback)."
            )
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            raise TypeError(f"{cls}(learning_rate=...) expects a float or a "
                            f"LearningRateSchedule; received {value!r}.")
        if not np.isfinite(value) or value < 0:
            raise ValueError(
                f"{cls}(learning_rate=...) expects a finite float >= 0; received "
                f"learning_rate={value!r}."
            )
        self._learning_rate = float(value)

    def _lr_steps(self, count):
        """The rates of the next count steps (float64 [count]), or None when constant."""
        if not isinstance(self._learning_rate, LearningRateSchedule):
            return None
        lr = self._learning_rate._steps(self.iterations, count)
        if not np.all(np.isfinite(lr)) or np.any(lr < 0):
            raise ValueError(f"The learning-rate schedule {type(self._learning_rate).__name__} "
                             f"gave a rate that is not a finite float >= 0: {lr!r}.")
        return lr

    @property
    def iterations(self):
        """Optimizer steps taken so far."""
        return 0 if self._plan is None else int(self._plan.iterations[0])

    def _spec(self):
        raise NotImplementedError

    def _slot_names(self):
        """Names of the per-parameter state buffers the engine keeps."""
        return ()

    def _n_state_params(self, n_params):
        """What Keras's summary counts as 'Optimizer params' once built."""
        return 2

    def get_config(self):
        return {
            "name": self.name,
            "learning_rate": (schedules.serialize(self._learning_rate)
                              if isinstance(self._learning_rate, LearningRateSchedule)
                              else _f32(self._learning_rate)),
            "weight_decay": None,
            "clipnorm": None,
            "global_clipnorm": None,
            "clipvalue": None,
            "use_ema": False,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": None,
            "gradient_accumulation_steps": None,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)
