"""Learning-rate schedules, as in ``keras.optimizers.schedules``.

A schedule maps the optimizer's step count (``iterations`` before the step, as Keras
does) to a learning rate. ``schedule(step)`` takes an int or an array of ints and is
vectorised, so the trainer evaluates a whole run of steps at once
(``schedule(np.arange(i, i + k))``) and hands the engine one rate per step.
"""
import math

import numpy as np


def _positive(cls, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{cls}({name}=...) expects a number; received {value!r}.")
    if not value > 0:
        raise ValueError(f"{cls}({name}=...) expects a value > 0; received {name}={value!r}.")
    return value


def _number(cls, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{cls}({name}=...) expects a number; received {value!r}.")
    return value


def _result(step, values):
    """A float for a scalar step, a float64 array for an array of steps."""
    values = np.asarray(values, dtype=np.float64)
    return float(values) if np.ndim(step) == 0 else values


class LearningRateSchedule:
    """Base class: subclasses implement ``__call__(step)`` and ``get_config()``.

    A subclass's ``__call__`` is called with one int step at a time (the trainer then
    asks for each step of a run in turn); the schedules here take whole arrays of
    steps (``_vectorised``) and cost one NumPy call per run.
    """

    #: __call__ accepts an array of steps and returns the array of rates
    _vectorised = False

    def __call__(self, step):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(step).")

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} must implement get_config().")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _steps(self, first, count):
        """The rates of the count steps first, first + 1, ... (float64 [count])."""
        if not self._vectorised:
            return np.array([float(self(step)) for step in range(first, first + count)],
                            dtype=np.float64)
        steps = np.arange(first, first + count, dtype=np.float64)
        return np.ascontiguousarray(np.broadcast_to(self(steps), (count,)), dtype=np.float64)


class _RateDecay(LearningRateSchedule):
    """A rate decayed by ``decay_rate`` over ``step / decay_steps`` (that ratio floored
    when ``staircase``): the arguments ExponentialDecay and InverseTimeDecay share."""

    _vectorised = True

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name=None):
        cls = type(self).__name__
        self.initial_learning_rate = _number(cls, "initial_learning_rate",
                                             initial_learning_rate)
        self.decay_steps = _positive(cls, "decay_steps", decay_steps)
        self.decay_rate = _number(cls, "decay_rate", decay_rate)
        self.staircase = bool(staircase)
        self.name = cls if name is None else name

    def _progress(self, step):
        p = np.asarray(step, dtype=np.float64) / self.decay_steps
        return np.floor(p) if self.staircase else p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_RateDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (the exponent
    floored when ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return _result(step, self.initial_learning_rate
                       * np.power(float(self.decay_rate), self._progress(step)))


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` up to ``boundaries[0]`` (inclusive), ``values[i]`` for
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after the last."""

    _vectorised = True

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "PiecewiseConstantDecay(boundaries=..., values=...) expects one more value "
                f"than boundaries; received {len(boundaries)} boundaries and {len(values)} "
                "values."
            )
        if any(b2 < b1 for b1, b2 in zip(boundaries, boundaries[1:])):
            raise ValueError(f"PiecewiseConstantDecay(boundaries=...) expects increasing "
                             f"boundaries; received {boundaries!r}.")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        idx = np.searchsorted(np.asarray(self.boundaries, dtype=np.float64),
                              np.asarray(step, dtype=np.float64), side="left")
        return _result(step, np.asarray(self.values, dtype=np.float64)[idx])

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) * (1 - step / decay_steps) ** power + end``, the step held at
    ``decay_steps`` (or, with ``cycle``, decay_steps stretched to the next multiple)."""

    _vectorised = True

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001,
                 power=1.0, cycle=False, name="PolynomialDecay"):
        cls = type(self).__name__
        self.initial_learning_rate = _number(cls, "initial_learning_rate",
                                             initial_learning_rate)
        self.decay_steps = _positive(cls, "decay_steps", decay_steps)
        self.end_learning_rate = _number(cls, "end_learning_rate", end_learning_rate)
        self.power = _number(cls, "power", power)
        self.cycle = bool(cycle)
        self.name = name

    def __call__(self, step):
        s = np.asarray(step, dtype=np.float64)
        if self.cycle:
            decay_steps = self.decay_steps * np.where(s == 0, 1.0, np.ceil(s / self.decay_steps))
        else:
            decay_steps = float(self.decay_steps)
            s = np.minimum(s, decay_steps)
        p = s / decay_steps
        lr = (self.initial_learning_rate - self.end_learning_rate) * np.power(1 - p, self.power)
        return _result(step, lr + self.end_learning_rate)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class InverseTimeDecay(_RateDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (the ratio
    floored when ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return _result(step, self.initial_learning_rate
                       / (1.0 + self.decay_rate * self._progress(step)))


class CosineDecay(LearningRateSchedule):
    """Cosine decay from the initial rate (or, after a linear warmup of
    ``warmup_steps`` to ``warmup_target``, from the target) down to ``alpha`` times
    it over ``decay_steps``; held there after."""

    _vectorised = True

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        cls = type(self).__name__
        self.initial_learning_rate = _number(cls, "initial_learning_rate",
                                             initial_learning_rate)
        self.decay_steps = _positive(cls, "decay_steps", decay_steps)
        self.alpha = _number(cls, "alpha", alpha)
        self.name = name
        if warmup_target is not None:
            warmup_target = _number(cls, "warmup_target", warmup_target)
        self.warmup_target = warmup_target
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, (int, np.integer)) \
                or warmup_steps < 0:
            raise ValueError(f"CosineDecay(warmup_steps=...) expects an int >= 0; received "
                             f"warmup_steps={warmup_steps!r}.")
        self.warmup_steps = warmup_steps

    def _decay(self, s, start_lr):
        fraction = s / float(self.decay_steps)
        cosine = 0.5 * (1.0 + np.cos(math.pi * fraction))
        return start_lr * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        s = np.asarray(step, dtype=np.float64)
        if self.warmup_target is None:
            s = np.minimum(s, float(self.decay_steps))
            return _result(step, self._decay(s, self.initial_learning_rate))
        warm = float(self.warmup_steps)
        s = np.minimum(s, self.decay_steps + warm)
        with np.errstate(divide="ignore", invalid="ignore"):
            rising = (self.warmup_target - self.initial_learning_rate) * (s / warm) \
                + self.initial_learning_rate
        lr = np.where(s < warm, rising, self._decay(s - warm, self.warmup_target))
        return _result(step, lr)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


_CLASSES = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay,
                                          PolynomialDecay, InverseTimeDecay, CosineDecay)}


def serialize(schedule):
    """A schedule as Keras's config dict ({'class_name', 'config', ...})."""
    return {"module": "gradiente.optimizers.schedules", "class_name": type(schedule).__name__,
            "config": schedule.get_config(), "registered_name": None}


def deserialize(config):
    """A schedule from serialize()'s dict (or a schedule itself)."""
    if isinstance(config, LearningRateSchedule):
        return config
    if not isinstance(config, dict) or config.get("class_name") not in _CLASSES:
        raise ValueError(f"deserialize expects a schedule's config dict with a class_name in "
                         f"{sorted(_CLASSES)}; received {config!r}.")
    return _CLASSES[config["class_name"]].from_config(config.get("config", {}))
