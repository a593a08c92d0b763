"""Metrics, as in ``keras.metrics``: per-sample functions, metric objects, and how
compile's ``metrics=[...]`` / ``weighted_metrics=[...]`` resolve (``'accuracy'`` by the
target and output shapes). In fit and evaluate the engine computes them; a metric
object also works alone (``update_state``, ``result``, ``reset_state``)."""
import numpy as np

from . import _reference, losses as _losses
from ._engine import MetricSpec


def sparse_categorical_accuracy(y_true, y_pred):
    y_pred = np.asarray(y_pred)
    labels = np.asarray(y_true).reshape(y_pred.shape[:-1])
    return (y_pred.argmax(axis=-1) == labels).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    y_pred = np.asarray(y_pred)
    return (y_pred.argmax(axis=-1) == np.asarray(y_true).argmax(axis=-1)).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true).reshape(y_pred.shape)
    return ((y_pred > threshold) == (y_true > 0.5)).mean(axis=-1).astype(np.float32)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1 where the target class (argmax of y_true) is among the k highest scores (ties
    count in, as Keras's in_top_k)."""
    y_pred = np.asarray(y_pred, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=np.float64).reshape(y_pred.shape)
    return _reference.metric(y_pred, "top_k_categorical_accuracy", t=y_true,
                             k=k).astype(np.float32)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1 where the label is among the k highest scores (ties count in)."""
    if from_sorted_ids:
        raise ValueError("sparse_top_k_categorical_accuracy(from_sorted_ids=True) is not "
                         "supported; pass the scores.")
    y_pred = np.asarray(y_pred, dtype=np.float64)
    labels = np.asarray(y_true).reshape(y_pred.shape[:-1]).astype(np.int64)
    return _reference.metric(y_pred, "sparse_top_k_categorical_accuracy", labels=labels,
                             k=k).astype(np.float32)


mean_squared_error = mse = _losses.mean_squared_error
mean_absolute_error = mae = _losses.mean_absolute_error

#: engine kind of each per-sample function
_KIND_OF_FUNCTION = {
    sparse_categorical_accuracy: "sparse_categorical_accuracy",
    categorical_accuracy: "categorical_accuracy",
    binary_accuracy: "binary_accuracy",
    top_k_categorical_accuracy: "top_k_categorical_accuracy",
    sparse_top_k_categorical_accuracy: "sparse_top_k_categorical_accuracy",
    mean_squared_error: "mse",
    mean_absolute_error: "mae",
}
_FUNCTION_OF_KIND = {kind: fn for fn, kind in _KIND_OF_FUNCTION.items()}
#: compile's metric names -> engine kind
_FUNCTIONS = {
    "sparse_categorical_accuracy": "sparse_categorical_accuracy",
    "categorical_accuracy": "categorical_accuracy",
    "binary_accuracy": "binary_accuracy",
    "top_k_categorical_accuracy": "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy": "sparse_top_k_categorical_accuracy",
    "mse": "mse", "mean_squared_error": "mse",
    "mae": "mae", "mean_absolute_error": "mae",
}
SUPPORTED = sorted(set(_FUNCTIONS) | {"accuracy", "acc"})


# ---------------------------------------------------------------- metric objects
class Metric:
    """A mean of a per-sample metric: ``update_state(y_true, y_pred, sample_weight)``
    adds Σ wᵢ·mᵢ and Σ wᵢ; ``result()`` is their ratio."""

    kind = None

    def __init__(self, name=None, dtype=None):
        self.name = name
        self.dtype = dtype or "float32"
        self.k = 5
        self.reset_state()

    def _rows(self, y_true, y_pred):
        return _FUNCTION_OF_KIND[self.kind](y_true, y_pred)

    def update_state(self, y_true, y_pred, sample_weight=None):
        rows = np.asarray(self._rows(y_true, y_pred), dtype=np.float64).reshape(-1)
        w = np.ones_like(rows) if sample_weight is None else \
            np.broadcast_to(np.asarray(sample_weight, dtype=np.float64).reshape(-1), rows.shape)
        self._total += float((rows * w).sum())
        self._count += float(w.sum())

    def result(self):
        return float(np.float32(self._total / self._count if self._count else 0.0))

    def reset_state(self):
        self._total = 0.0
        self._count = 0.0

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class CategoricalAccuracy(Metric):
    kind = "categorical_accuracy"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(name, dtype)


class SparseCategoricalAccuracy(Metric):
    kind = "sparse_categorical_accuracy"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(name, dtype)


class BinaryAccuracy(Metric):
    kind = "binary_accuracy"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        if threshold != 0.5:
            raise ValueError(f"BinaryAccuracy(threshold=...) supports only 0.5 in gradiente; "
                             f"received threshold={threshold!r}.")
        super().__init__(name, dtype)
        self.threshold = threshold

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


class _TopK(Metric):
    def __init__(self, k, name, dtype):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"{type(self).__name__}(k=...) expects a positive int; received "
                             f"k={k!r}.")
        super().__init__(name, dtype)
        self.k = int(k)

    def _rows(self, y_true, y_pred):
        return _FUNCTION_OF_KIND[self.kind](y_true, y_pred, k=self.k)

    def get_config(self):
        return {**super().get_config(), "k": self.k}


class TopKCategoricalAccuracy(_TopK):
    kind = "top_k_categorical_accuracy"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(k, name, dtype)


class SparseTopKCategoricalAccuracy(_TopK):
    kind = "sparse_top_k_categorical_accuracy"

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None,
                 from_sorted_ids=False):
        if from_sorted_ids:
            raise ValueError("SparseTopKCategoricalAccuracy(from_sorted_ids=True) is not "
                             "supported; pass from_sorted_ids=False.")
        super().__init__(k, name, dtype)
        self.from_sorted_ids = False

    def get_config(self):
        return {**super().get_config(), "from_sorted_ids": False}


class MeanSquaredError(Metric):
    kind = "mse"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(name, dtype)


class MeanAbsoluteError(Metric):
    kind = "mae"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(name, dtype)


# ---------------------------------------------------------------- compile's metrics
def _accuracy_kind(y_ndim, y_last, n_out):
    """Keras's choice for 'accuracy': binary for one output unit, sparse categorical
    when the targets have one axis fewer (or a trailing 1), else categorical."""
    if n_out == 1:
        return "binary_accuracy"
    if y_ndim == 1 or (y_ndim == 2 and y_last == 1):
        return "sparse_categorical_accuracy"
    return "categorical_accuracy"


def check(identifier, argument="metrics"):
    """Reject an unknown metric at compile time (resolution waits for the data)."""
    if isinstance(identifier, str) and (identifier in _FUNCTIONS
                                        or identifier.lower() in ("accuracy", "acc")):
        return identifier
    if isinstance(identifier, Metric) and identifier.kind in _FUNCTION_OF_KIND:
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric) \
            and identifier.kind in _FUNCTION_OF_KIND:
        return identifier()
    if callable(identifier) and identifier in _KIND_OF_FUNCTION:
        return identifier
    if isinstance(identifier, str):
        from ._validate import unknown_name

        raise ValueError(f"{argument}: " + unknown_name("metric", identifier, SUPPORTED))
    raise ValueError(
        f"{argument} expects names from {SUPPORTED}, gradiente.metrics objects "
        f"(CategoricalAccuracy(), TopKCategoricalAccuracy(k=3), ...) or functions of "
        f"gradiente.metrics; received {identifier!r}."
    )


def resolve(identifier, y_ndim, y_last, n_out, weighted=False):
    """A MetricSpec for one entry of compile's metrics, given the targets' shape."""
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return MetricSpec(identifier, _accuracy_kind(y_ndim, y_last, n_out),
                              weighted=weighted)
        return MetricSpec(identifier, _FUNCTIONS[identifier], weighted=weighted)
    if isinstance(identifier, Metric):
        return MetricSpec(identifier.name, identifier.kind, k=identifier.k, weighted=weighted)
    return MetricSpec(identifier.__name__, _KIND_OF_FUNCTION[identifier], weighted=weighted)


def resolve_all(metrics, weighted_metrics, y_ndim, y_last, n_out):
    """MetricSpecs of compile's metrics then weighted_metrics, with Keras's names: a
    repeated name gets '_1', '_2'...; a weighted metric whose name is taken becomes
    'weighted_<name>'."""
    specs, used = [], {}
    for identifier in metrics:
        spec = resolve(identifier, y_ndim, y_last, n_out)
        if spec.name in used:
            used[spec.name] += 1
            spec.name = f"{spec.name}_{used[spec.name] - 1}"
        else:
            used[spec.name] = 1
        specs.append(spec)
    for identifier in weighted_metrics:
        spec = resolve(identifier, y_ndim, y_last, n_out, weighted=True)
        if spec.name in used:
            name = f"weighted_{spec.name}"
            if name in used:
                used[name] += 1
                name = f"{name}_{used[name] - 1}"
            else:
                used[name] = 1
            spec.name = name
        else:
            used[spec.name] = 1
        specs.append(spec)
    return specs


_CLASSES = {cls.__name__: cls for cls in (
    CategoricalAccuracy, SparseCategoricalAccuracy, BinaryAccuracy, TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError)}


def get(identifier):
    """A metric function from its name, a metric object from its class name or config,
    or the identifier itself."""
    if isinstance(identifier, str) and identifier in _FUNCTIONS:
        return _FUNCTION_OF_KIND[_FUNCTIONS[identifier]]
    if isinstance(identifier, str) and identifier in _CLASSES:
        return _CLASSES[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]].from_config(identifier.get("config", {}))
    return check(identifier)


def serialize(metric):
    return {"module": "gradiente.metrics", "class_name": type(metric).__name__,
            "config": metric.get_config()}
