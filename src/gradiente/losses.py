"""Losses, as in ``keras.losses``: functions (per-sample values) and classes
(``sum_over_batch_size`` reduction), resolvable by Keras's string names."""
import numpy as np

from . import _ops


def _as2d(a, dtype):
    a = np.asarray(a, dtype=dtype)
    return a.reshape(-1, 1) if a.ndim == 1 else a.reshape(a.shape[0], -1)


def _onehot(labels, n, dtype):
    t = np.zeros((labels.shape[0], n), dtype=dtype)
    t[np.arange(labels.shape[0]), labels] = 1
    return t


def _labels(y_true, n):
    labels = np.asarray(y_true)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    labels = labels.reshape(-1).astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= n):
        raise ValueError(
            f"sparse categorical labels must lie in [0, {n}); received labels from "
            f"{int(labels.min())} to {int(labels.max())}."
        )
    return labels


# ---------------------------------------------------------------- functions
# Each returns one loss value per sample (the last axis reduced), as Keras's do.


def _dtype_of(y_pred):
    y_pred = np.asarray(y_pred)
    return y_pred.dtype if y_pred.dtype in (np.float32, np.float64) else np.float32


def mean_squared_error(y_true, y_pred):
    dt = _dtype_of(y_pred)
    p = _as2d(y_pred, dt)
    return _ops.loss(p, _as2d(y_true, dt).reshape(p.shape), "mse", grad_scale=1.0)[0]


def mean_absolute_error(y_true, y_pred):
    dt = _dtype_of(y_pred)
    p = _as2d(y_pred, dt)
    return _ops.loss(p, _as2d(y_true, dt).reshape(p.shape), "mae", grad_scale=1.0)[0]


def binary_crossentropy(y_true, y_pred, from_logits=False):
    dt = _dtype_of(y_pred)
    p = _as2d(y_pred, dt)
    kind = "bce_logits" if from_logits else "bce"
    return _ops.loss(p, _as2d(y_true, dt).reshape(p.shape), kind, grad_scale=1.0)[0]


def categorical_crossentropy(y_true, y_pred, from_logits=False):
    dt = _dtype_of(y_pred)
    p = _as2d(y_pred, dt)
    t = _as2d(y_true, dt).reshape(p.shape)
    if from_logits:
        return _ops.softmax_xent(p, targets=t, from_logits=True, grad_scale=1.0)[0]
    return _ops.loss(p, t, "cce", grad_scale=1.0)[0]


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    dt = _dtype_of(y_pred)
    p = _as2d(y_pred, dt)
    labels = _labels(y_true, p.shape[1])
    if from_logits:
        return _ops.softmax_xent(p, labels=labels, from_logits=True, grad_scale=1.0)[0]
    return _ops.loss(p, _onehot(labels, p.shape[1], dt), "cce", grad_scale=1.0)[0]


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


# ---------------------------------------------------------------- classes


class Loss:
    """Base class: ``loss(y_true, y_pred, sample_weight=None)`` returns
    Σ wᵢ·lᵢ / batch_size (Keras's ``sum_over_batch_size``)."""

    #: the engine's loss kind: 'sparse_cce', 'cce', 'bce', 'mse', 'mae'
    kind = None

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in ("sum_over_batch_size", "sum", "mean", "none", None):
            raise ValueError(
                f"{type(self).__name__}(reduction=...) expects 'sum_over_batch_size', "
                f"'sum', 'mean' or 'none'; received reduction={reduction!r}."
            )
        self.name = name
        self.reduction = reduction
        self.dtype = dtype
        self.from_logits = False

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        values = np.asarray(self.call(y_true, y_pred), dtype=np.float64)
        if sample_weight is not None:
            values = values * np.asarray(sample_weight, dtype=np.float64).reshape(values.shape)
        if self.reduction in ("none", None):
            return values.astype(_dtype_of(y_pred))
        if self.reduction == "sum":
            return _dtype_of(y_pred).type(values.sum())
        if self.reduction == "mean" and sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64).sum()
            return _dtype_of(y_pred).type(values.sum() / w if w else 0.0)
        return _dtype_of(y_pred).type(values.sum() / max(values.size, 1))

    def _rows_and_grad(self, y_true, y_pred, sample_weight=None):
        """(wᵢ·lᵢ per row, ∂(Σ wᵢ lᵢ / m)/∂y_pred) on a 2-D y_pred; the layer-by-layer
        training path and the gradient checks use it."""
        p = np.ascontiguousarray(y_pred)
        kind = self.kind
        if kind in ("sparse_cce", "cce"):
            if kind == "sparse_cce":
                labels = _labels(y_true, p.shape[1])
                t = None
            else:
                labels, t = None, _as2d(y_true, p.dtype).reshape(p.shape)
            if self.from_logits:
                rows, dp, _ = _ops.softmax_xent(p, labels=labels, targets=t,
                                                sample_weight=sample_weight, from_logits=True)
                return rows, dp
            if t is None:
                t = _onehot(labels, p.shape[1], p.dtype)
            return _ops.loss(p, t, "cce", sample_weight=sample_weight)
        t = _as2d(y_true, p.dtype).reshape(p.shape)
        if kind == "bce":
            kind = "bce_logits" if self.from_logits else "bce"
        return _ops.loss(p, t, kind, sample_weight=sample_weight)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _CrossEntropy(Loss):
    def __init__(self, from_logits=False, name=None, reduction="sum_over_batch_size",
                 dtype=None):
        if not isinstance(from_logits, (bool, np.bool_)):
            raise TypeError(f"{type(self).__name__}(from_logits=...) expects a bool; "
                            f"received {from_logits!r}.")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = bool(from_logits)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


class SparseCategoricalCrossentropy(_CrossEntropy):
    kind = "sparse_cce"

    def __init__(self, from_logits=False, ignore_class=None, name="sparse_categorical_crossentropy",
                 reduction="sum_over_batch_size", dtype=None):
        if ignore_class is not None:
            raise ValueError("SparseCategoricalCrossentropy(ignore_class=...) is not supported "
                             f"yet; received ignore_class={ignore_class!r}. Pass None.")
        super().__init__(from_logits=from_logits, name=name, reduction=reduction, dtype=dtype)
        self.ignore_class = None

    def call(self, y_true, y_pred):
        return sparse_categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits)

    def get_config(self):
        return {**super().get_config(), "ignore_class": self.ignore_class}


class CategoricalCrossentropy(_CrossEntropy):
    kind = "cce"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 name="categorical_crossentropy", reduction="sum_over_batch_size", dtype=None):
        if label_smoothing or axis != -1:
            raise ValueError("CategoricalCrossentropy supports label_smoothing=0.0 and axis=-1 "
                             f"only; received label_smoothing={label_smoothing!r}, axis={axis!r}.")
        super().__init__(from_logits=from_logits, name=name, reduction=reduction, dtype=dtype)
        self.label_smoothing, self.axis = 0.0, -1

    def call(self, y_true, y_pred):
        return categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing,
                "axis": self.axis}


class BinaryCrossentropy(_CrossEntropy):
    kind = "bce"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 name="binary_crossentropy", reduction="sum_over_batch_size", dtype=None):
        if label_smoothing or axis != -1:
            raise ValueError("BinaryCrossentropy supports label_smoothing=0.0 and axis=-1 "
                             f"only; received label_smoothing={label_smoothing!r}, axis={axis!r}.")
        super().__init__(from_logits=from_logits, name=name, reduction=reduction, dtype=dtype)
        self.label_smoothing, self.axis = 0.0, -1

    def call(self, y_true, y_pred):
        return binary_crossentropy(y_true, y_pred, from_logits=self.from_logits)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing,
                "axis": self.axis}


class MeanSquaredError(Loss):
    kind = "mse"

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return mean_squared_error(y_true, y_pred)


class MeanAbsoluteError(Loss):
    kind = "mae"

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return mean_absolute_error(y_true, y_pred)


_BY_NAME = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
}
_FUNCTIONS = {
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    binary_crossentropy: BinaryCrossentropy,
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
}
_CLASSES = {c.__name__: c for c in set(_BY_NAME.values())}


def get(identifier):
    """A Loss object from a Keras name ('mse', 'sparse_categorical_crossentropy'), one of
    this module's functions or classes, a config dict, or a Loss."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier in _BY_NAME:
            return _BY_NAME[identifier]()
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
    elif isinstance(identifier, type) and identifier in _CLASSES.values():
        return identifier()
    elif callable(identifier) and identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]()
    elif isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]].from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        from ._validate import unknown_name

        raise ValueError(unknown_name("loss", identifier, list(_BY_NAME) + list(_CLASSES)))
    raise ValueError(
        f"loss expects one of {sorted(_BY_NAME)}, a gradiente.losses class or function; "
        f"received {identifier!r}."
    )


def serialize(loss):
    return {"module": "gradiente.losses", "class_name": type(loss).__name__,
            "config": loss.get_config()}


deserialize = get
