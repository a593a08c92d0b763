"""Checks at the public boundary: clear errors, then arrays the engine can use as they
are (contiguous, the model's dtype, 2-D x, int32 labels)."""
import difflib
import numbers

import numpy as np


class NotCompiledError(ValueError, RuntimeError):
    """fit / evaluate / train_on_batch before compile(): a ValueError, as Keras 3 raises
    (and a RuntimeError, as gradiente raised before)."""


def weight_arrays(own, weights, call="set_weights"):
    """The arrays for set_weights, each checked against the weight it replaces (count,
    numeric dtype, shape) before any is copied; call names the method in messages."""
    weights = list(weights)
    name = f"{call}(weights=...)"
    if len(weights) != len(own):
        raise ValueError(f"{name} expects {len(own)} arrays; received {len(weights)}.")
    arrays = []
    for i, (w, new) in enumerate(zip(own, weights)):
        new = _array(new, f"{call}(weights[{i}])")
        if new.shape != w.shape:
            raise ValueError(f"{name} expects weight {i} of shape {w.shape}; received shape "
                             f"{new.shape}.")
        arrays.append(new)
    return arrays


def _typo_distance(a, b):
    """Edits (insert, delete, substitute, swap two neighbours) turning a into b."""
    prev2, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def unknown_name(what, received, options):
    """'Unknown optimizer 'adma'; did you mean 'adam'? Expected one of [...].'"""
    options = sorted(set(options))
    close = []
    if isinstance(received, str):
        word = received.lower()
        close = difflib.get_close_matches(word, options, n=4, cutoff=0.6)
        # the fewest typing slips first ('adma' is 'adam' with two letters swapped)
        close.sort(key=lambda option: _typo_distance(word, option))
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"Unknown {what} {received!r}.{hint} Expected one of {options}."


def _writable(arr):
    """The engine writes nothing into the data, but its buffers are typed writable: a
    read-only array (a memmap, a frozen view) is copied once."""
    return arr if arr.flags.writeable else arr.copy()


def _array(value, name):
    if value is None:
        raise ValueError(f"{name} is required; received None.")
    if isinstance(value, (list, tuple)) and value and not np.isscalar(value[0]) \
            and not isinstance(value[0], (list, tuple, np.ndarray)):
        raise TypeError(f"{name} expects a NumPy array; received a {type(value).__name__} of "
                        f"{type(value[0]).__name__}.")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} expects a NumPy array (or array-like); received "
                        f"{type(value).__name__}: {exc}") from None
    if arr.dtype.kind not in "biuf":
        what = {"c": "complex numbers (take .real or abs() first)",
                "O": "Python objects (ragged lists or None?)",
                "U": "strings", "S": "bytes"}.get(arr.dtype.kind, f"dtype {arr.dtype}")
        raise TypeError(f"{name} expects an array of real numbers (int, float or bool); "
                        f"received an array of {what}, dtype {arr.dtype}.")
    return arr


def non_negative_int(value, fn, arg):
    """``fn(arg=...)`` must be an int >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{fn}({arg}=...) expects an int >= 0; received {arg}={value!r}.")
    return int(value)


def positive_int(value, fn, arg):
    """``fn(arg=...)`` must be a positive int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{fn}({arg}=...) expects a positive int; received {arg}={value!r}.")
    return int(value)


def features(x, name, dtype, input_shape=None, check_finite=True):
    """x as a C-contiguous [N, features] array of dtype; input_shape (without the batch
    axis) is checked when given; check_finite=False leaves NaN and inf to the caller
    (the C engine checks them as it reads the rows: see nonfinite_error)."""
    arr = _array(x, name)
    if arr.ndim < 2:
        raise ValueError(
            f"{name} expects an array of shape (samples, features...); received shape "
            f"{arr.shape}. Reshape a single sample with x[None] or a 1-D feature vector "
            "with x.reshape(-1, 1)."
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} expects at least one sample; received an empty array of "
                         f"shape {arr.shape}.")
    if input_shape is not None:
        want = tuple(input_shape)
        got = arr.shape[1:]
        if len(want) != len(got) or any(w is not None and w != g for w, g in zip(want, got)):
            raise ValueError(
                f"{name} expects samples of shape {want} (the model's input shape); received "
                f"an array of shape {arr.shape}."
            )
    if check_finite and arr.dtype.kind == "f" and arr.size and not _all_finite(arr):
        raise nonfinite_error(arr, name)
    return _writable(np.ascontiguousarray(arr.reshape(arr.shape[0], -1), dtype=dtype))


def nonfinite_error(arr, name):
    """The ValueError for an x that holds NaN or infinity."""
    return ValueError(f"{name} contains NaN or infinity ({_count_bad(arr)} values); clean "
                      "the data before training.")


def _all_finite(arr, chunk=1 << 20):
    """Whether every value is finite, checked in slices: no temporary the size of the
    data (a float32 MNIST is 188 MB; its mask would be 47 MB more)."""
    if arr.ndim == 0:
        return bool(np.isfinite(arr))
    rows = max(1, chunk // max(1, arr[0].size))
    return all(np.isfinite(arr[i:i + rows]).all() for i in range(0, arr.shape[0], rows))


def _count_bad(arr):
    return int(arr.size - np.count_nonzero(np.isfinite(arr)))


def targets(y, name, n, sparse, n_out, dtype):
    """y as int32 labels [N] in [0, n_out) (sparse) or a [N, n_out] array of dtype."""
    arr = _array(y, name)
    if arr.ndim == 0 or arr.shape[0] != n:
        raise ValueError(
            f"{name} expects one target per sample of x ({n} samples); received an array of "
            f"shape {arr.shape}. x and y must have the same length."
        )
    if sparse:
        if arr.ndim > 2 or (arr.ndim == 2 and arr.shape[1] != 1):
            raise ValueError(
                f"{name} expects integer class labels of shape ({n},) for "
                f"sparse_categorical_crossentropy; received shape {arr.shape}. For one-hot "
                "targets use categorical_crossentropy."
            )
        arr = arr.reshape(n)
        if arr.dtype.kind == "f":
            if not np.isfinite(arr).all() or not np.array_equal(arr, np.round(arr)):
                raise ValueError(f"{name} expects integer class labels; received non-integer "
                                 "values.")
        if arr.dtype.kind == "b":
            raise TypeError(f"{name} expects integer class labels; received booleans.")
        if n and (arr.min() < 0 or arr.max() >= n_out):
            raise ValueError(
                f"{name} expects class labels in [0, {n_out}) for a model with {n_out} "
                f"outputs; received labels from {arr.min()} to {arr.max()}."
            )
        return _writable(np.ascontiguousarray(arr, dtype=np.int32))
    arr = arr.reshape(n, -1) if arr.ndim != 1 else arr.reshape(n, 1)
    if arr.shape[1] != n_out:
        hint = ""
        if arr.shape[1] == 1 and n_out > 1:
            hint = (" For integer class labels use loss='sparse_categorical_crossentropy', "
                    "or one-hot encode them with gradiente.utils.to_categorical.")
        raise ValueError(
            f"{name} expects targets of shape ({n}, {n_out}) to match the model's output; "
            f"received shape {np.shape(y)}.{hint}"
        )
    if arr.size and arr.dtype.kind == "f" and not _all_finite(arr):
        raise ValueError(f"{name} contains NaN or infinity ({_count_bad(arr)} values).")
    return _writable(np.ascontiguousarray(arr, dtype=dtype))


def sample_weights(w, name, n, dtype):
    if w is None:
        return None
    arr = _array(w, name)
    if arr.shape != (n,) and arr.shape != (n, 1):
        raise ValueError(f"{name} expects shape ({n},), one weight per sample; received shape "
                         f"{arr.shape}.")
    arr = arr.reshape(n)
    if arr.size and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    return _writable(np.ascontiguousarray(arr, dtype=dtype))


def verbose(value, name):
    if value == "auto":
        return 1
    if isinstance(value, bool) or value not in (0, 1, 2):
        raise ValueError(f"{name} expects 0, 1, 2 or 'auto'; received verbose={value!r}.")
    return int(value)
