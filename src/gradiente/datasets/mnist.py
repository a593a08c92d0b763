"""MNIST handwritten digits, in Keras's layout: ``mnist.load_data()``."""
import zipfile
import zlib

import numpy as np

from . import _files

#: Where Keras downloads mnist.npz, and the SHA-256 Keras's source publishes for it.
ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
FILE_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

#: Each array's shape and dtype.
LAYOUT = {
    "x_train": ((60000, 28, 28), np.uint8),
    "y_train": ((60000,), np.uint8),
    "x_test": ((10000, 28, 28), np.uint8),
    "y_test": ((10000,), np.uint8),
}


def load_data(path="mnist.npz"):
    """Load MNIST: ``(x_train, y_train), (x_test, y_test)``.

    Args:
        path: the ``.npz`` file. A relative path is looked up in the cache folder
            ``$GRADIENTE_HOME/datasets`` (default ``~/.gradiente/datasets``); an absolute
            one is used as it is. A missing file is downloaded from Keras's public copy
            and verified by its SHA-256 before it is moved into place.

    Returns:
        ``x_train`` uint8 ``(60000, 28, 28)``, ``y_train`` uint8 ``(60000,)``,
        ``x_test`` uint8 ``(10000, 28, 28)``, ``y_test`` uint8 ``(10000,)``; pixels
        0-255, labels 0-9.
    """
    target = _files.resolve(path)
    if not target.exists():
        _files.download(ORIGIN, target, FILE_HASH, what="MNIST (mnist.npz)",
                        check=lambda tmp: read_npz(tmp, LAYOUT))
    arrays = read_npz(target, LAYOUT)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def read_npz(path, layout, n_classes=10):
    """Read the arrays ``layout`` names from an ``.npz`` file, never unpickling, and
    check each one's shape, dtype and label range; ValueError names the file and fix."""
    fix = ("Delete it to download a fresh copy, or replace it with a good one.")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except IsADirectoryError:
        raise ValueError(f"{path} is a folder, not an .npz file.") from None
    if magic != b"PK\x03\x04":
        raise ValueError(f"{path} is not an .npz archive (it does not start like a zip "
                         f"file). {fix}")
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in layout if key not in data.files]
            if missing:
                raise ValueError(
                    f"{path} lacks the arrays {', '.join(missing)}: it has "
                    f"{', '.join(data.files) or 'none'}, expected "
                    f"{', '.join(layout)}. {fix}")
            for key, (shape, dtype) in layout.items():
                array = data[key]
                if array.dtype != dtype or array.shape != shape:
                    raise ValueError(
                        f"{path}: {key} is {array.dtype} {array.shape}; expected "
                        f"{np.dtype(dtype)} {shape}. {fix}")
                arrays[key] = array
    except ValueError as exc:
        if str(exc).startswith(str(path)):
            raise
        if "allow_pickle" in str(exc):
            raise ValueError(f"{path} holds pickled (object) arrays, which gradiente "
                             f"never loads. {fix}") from exc
        raise ValueError(f"{path} is damaged ({exc}). {fix}") from exc
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise ValueError(f"{path} is damaged or truncated ({exc}). {fix}") from exc
    for key, array in arrays.items():
        if key.startswith("y_") and array.size and array.max() >= n_classes:
            raise ValueError(f"{path}: {key} holds label {array.max()}; expected 0 to "
                             f"{n_classes - 1}. {fix}")
    return arrays
