"""to_categorical: integer labels to one-hot rows."""
import numpy as np


def to_categorical(x, num_classes=None):
    """One-hot encode integer class labels, as ``keras.utils.to_categorical``.

    A trailing axis of size 1 is dropped first; the result has one more axis of
    size ``num_classes`` (default: max label + 1) and dtype ``floatx()``.
    """
    from .._config import floatx

    labels = np.asarray(x)
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.equal(np.mod(labels, 1), 0)):
            raise ValueError(
                "to_categorical(x=...) expects integer class labels; received values "
                f"such as {labels.ravel()[:3].tolist()}."
            )
    labels = labels.astype(np.int64)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    labels = labels.reshape(-1)
    if labels.size and labels.min() < 0:
        raise ValueError(
            f"to_categorical(x=...) expects labels >= 0; received {int(labels.min())}."
        )
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    elif labels.size and labels.max() >= num_classes:
        raise ValueError(
            f"to_categorical(num_classes={num_classes}) is too small for label "
            f"{int(labels.max())}; pass num_classes > the largest label."
        )
    out = np.zeros((labels.size, num_classes), dtype=floatx())
    out[np.arange(labels.size), labels] = 1
    return out.reshape(shape + (num_classes,))
