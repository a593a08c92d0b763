"""Fashion-MNIST (Zalando's clothing images), in Keras's layout:
``fashion_mnist.load_data()``.

The four IDX files are looked for in ``$GRADIENTE_HOME/datasets/fashion-mnist``, then in
Debian's ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``); a file
in neither is downloaded from Keras's public copy, verified by its published SHA-256,
into the first.
"""
import pathlib

import numpy as np

from . import _files
from ._idx import read_idx

SUBDIR = "fashion-mnist"
ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
#: Debian's dataset-fashion-mnist package installs the files here.
SYSTEM_DIRS = (pathlib.Path("/usr/share/datasets/fashion-mnist"),)

#: file -> (shape, SHA-256 of the gzipped file as published with Keras's source).
FILES = {
    "train-labels-idx1-ubyte.gz": (
        (60000,), "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
    "train-images-idx3-ubyte.gz": (
        (60000, 28, 28), "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
    "t10k-labels-idx1-ubyte.gz": (
        (10000,), "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
    "t10k-images-idx3-ubyte.gz": (
        (10000, 28, 28), "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
}

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")


def load_data():
    """Load Fashion-MNIST: ``(x_train, y_train), (x_test, y_test)``.

    Returns:
        ``x_train`` uint8 ``(60000, 28, 28)``, ``y_train`` uint8 ``(60000,)``,
        ``x_test`` uint8 ``(10000, 28, 28)``, ``y_test`` uint8 ``(10000,)``; labels 0-9
        index ``CLASS_NAMES``.
    """
    arrays = [read_checked(_locate(name), shape) for name, (shape, _) in FILES.items()]
    y_train, x_train, y_test, x_test = arrays
    return (x_train, y_train), (x_test, y_test)


def _locate(name):
    cached = _files.resolve(name, subdir=SUBDIR)
    if cached.exists():
        return cached
    for folder in SYSTEM_DIRS:
        if (folder / name).exists():
            return folder / name
    shape, file_hash = FILES[name]
    return _files.download(
        ORIGIN + name, cached, file_hash, what=f"Fashion-MNIST ({name})",
        check=lambda tmp: read_checked(tmp, shape))


def read_checked(path, shape, n_classes=10):
    """An IDX file that must hold uint8 of ``shape`` (labels below ``n_classes``)."""
    array = read_idx(path)
    fix = "Delete it to download a fresh copy, or replace it with a good one."
    if array.dtype != np.uint8 or array.shape != tuple(shape):
        raise ValueError(f"{path} holds {array.dtype} {array.shape}; expected uint8 "
                         f"{tuple(shape)}. {fix}")
    if array.ndim == 1 and array.size and array.max() >= n_classes:
        raise ValueError(f"{path} holds label {array.max()}; expected 0 to "
                         f"{n_classes - 1}. {fix}")
    return array
