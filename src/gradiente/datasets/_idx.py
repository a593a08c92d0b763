"""IDX files (the MNIST family's format): a careful reader and a small writer.

Layout: two zero bytes, a type code, the number of dimensions, then each dimension as a
big-endian uint32, then the values in C order, big-endian. Files may be gzipped.
"""
import gzip
import math
import os
import struct

import numpy as np

#: IDX type code -> NumPy dtype (big-endian, as stored).
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


def read_idx(path):
    """Read an IDX file (plain or gzipped) into a native-endian NumPy array.

    Raises ValueError naming the file when the magic number, type code, dimensions or
    data size are wrong (a truncated file, trailing bytes, a damaged gzip stream).
    """
    path = os.fspath(path)
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rb") as f:
            return _read_stream(f, path)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"IDX file {path} is damaged: {exc}.") from exc


def _read_exact(f, n, path, what):
    parts = []
    left = n
    while left > 0:
        chunk = f.read(min(left, _CHUNK))
        if not chunk:
            raise ValueError(
                f"IDX file {path} is truncated: {what} needs {n} bytes, found {n - left}."
            )
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _read_stream(f, path):
    head = _read_exact(f, 4, path, "the header")
    if head[0] != 0 or head[1] != 0:
        raise ValueError(
            f"{path} is not an IDX file: its magic number starts with "
            f"{head[:2].hex()} instead of 0000."
        )
    code, ndim = head[2], head[3]
    if code not in IDX_DTYPES:
        raise ValueError(
            f"IDX file {path} has unknown type code 0x{code:02x}; expected one of "
            + ", ".join(f"0x{c:02x}" for c in IDX_DTYPES) + "."
        )
    if ndim == 0:
        raise ValueError(f"IDX file {path} declares 0 dimensions; expected at least 1.")
    dims = struct.unpack(f">{ndim}I", _read_exact(f, 4 * ndim, path, "the dimensions"))
    dtype = IDX_DTYPES[code]
    nbytes = math.prod(dims) * dtype.itemsize
    data = _read_exact(f, nbytes, path, f"data of shape {dims}")
    if f.read(1):
        raise ValueError(
            f"IDX file {path} has bytes after the {nbytes} its shape {dims} declares."
        )
    array = np.frombuffer(data, dtype=dtype).reshape(dims)
    return array.astype(dtype.newbyteorder("="))


def write_idx(path, array, compress=None):
    """Write ``array`` as an IDX file; gzip it when ``compress`` is true or, when None,
    when the name ends in ``.gz``."""
    array = np.asarray(array)
    key = array.dtype.newbyteorder("=")
    if key not in _CODES:
        raise TypeError(
            f"write_idx(array=...) expects one of uint8, int8, int16, int32, float32, "
            f"float64; received dtype={array.dtype}."
        )
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"write_idx(array=...) expects 1 to 255 dimensions; got {array.ndim}.")
    code = _CODES[key]
    payload = (bytes([0, 0, code, array.ndim])
               + struct.pack(f">{array.ndim}I", *array.shape)
               + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes())
    path = os.fspath(path)
    if compress is None:
        compress = path.endswith(".gz")
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(payload)
