"""The Optimizer base class: hyperparameters, Keras's config fields, state access."""
import re

import numpy as np

from .._engine import OptimizerSpec
from . import schedules
from .schedules import LearningRateSchedule

_UNSUPPORTED = ("loss_scale_factor", "gradient_accumulation_steps")


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


def _snake_case(name):
    """Keras's default object names: 'RMSprop' -> 'rm_sprop', 'AdamW' -> 'adam_w'."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _nonneg_or_none(cls, name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{cls}({name}=...) expects a float or None; received {value!r}.")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{cls}({name}=...) expects a finite float >= 0 or None; received "
                         f"{name}={value!r}.")
    return float(value)


def check_epsilon(cls, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
            or not value >= 0:
        raise ValueError(f"{cls}(epsilon=...) expects a float >= 0; received "
                         f"epsilon={value!r}.")
    return float(value)


class Optimizer:
    """Base: ``learning_rate``, ``iterations`` and Keras 3's common config fields.

    The state (slots, iteration counter) lives in the compiled model's plan; an
    optimizer compiled into a model reads it from there.
    """

    #: the engine's optimizer kind (a key of _engine.SLOTS)
    kind = None

    def __init__(self, learning_rate, name=None, weight_decay=None, clipnorm=None,
                 global_clipnorm=None, clipvalue=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, **kwargs):
        cls = type(self).__name__
        if kwargs:
            raise TypeError(f"{cls}() got unexpected keyword argument(s) {sorted(kwargs)}.")
        self.learning_rate = learning_rate
        self.name = name or _snake_case(cls)
        given = dict(loss_scale_factor=loss_scale_factor,
                     gradient_accumulation_steps=gradient_accumulation_steps)
        for key in _UNSUPPORTED:
            if given[key] is not None:
                raise ValueError(
                    f"{cls}({key}=...) is not supported yet; received {key}={given[key]!r}. "
                    "Pass None."
                )
        if use_ema:
            raise ValueError(f"{cls}(use_ema=True) is not supported yet; pass use_ema=False.")
        self.weight_decay = _nonneg_or_none(cls, "weight_decay", weight_decay)
        self.clipnorm = _nonneg_or_none(cls, "clipnorm", clipnorm)
        self.global_clipnorm = _nonneg_or_none(cls, "global_clipnorm", global_clipnorm)
        self.clipvalue = _nonneg_or_none(cls, "clipvalue", clipvalue)
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                f"{cls}: only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
                f"set. Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}. Keep one, pass None for the others."
            )
        self.loss_scale_factor = self.gradient_accumulation_steps = None
        self.use_ema = False
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self._plan = None
        self._decay_exclude = None

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

    def _make_spec(self, kind, **fields):
        """The engine's OptimizerSpec: this optimizer's fields and the shared ones."""
        return OptimizerSpec(kind=kind, learning_rate=self.learning_rate,
                             weight_decay=self.weight_decay or 0.0, clipnorm=self.clipnorm,
                             global_clipnorm=self.global_clipnorm, clipvalue=self.clipvalue,
                             decay_exclude=self._decay_exclude, **fields)

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exclude variables from weight decay, as Keras: ``var_names`` is a list of
        strings, and a variable whose name ('kernel', 'bias') contains a match of any
        of them (a regular expression search) is not decayed. Call it before the model
        is compiled. ``var_list`` (variables themselves) is not supported: name them."""
        cls = type(self).__name__
        if self._plan is not None:
            raise ValueError(f"{cls}.exclude_from_weight_decay() can only be configured "
                             "before the model is compiled with this optimizer.")
        if var_list:
            raise ValueError(f"{cls}.exclude_from_weight_decay(var_list=...) is not supported; "
                             "pass var_names=['bias'] or ['kernel'].")
        if var_names:
            if isinstance(var_names, str) or not all(isinstance(v, str) for v in var_names):
                raise TypeError(f"{cls}.exclude_from_weight_decay(var_names=...) expects a "
                                f"list of strings; received {var_names!r}.")
            self._decay_exclude = "|".join(sorted(set(var_names)))
        else:
            self._decay_exclude = None

    def _slot_initial(self, name):
        """The value a state buffer starts at."""
        return 0.0

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
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
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
