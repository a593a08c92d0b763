"""Saving and loading models: ``model.save(path)``, ``load_model(path)``,
``model.save_weights(path)``, ``model.load_weights(path)``.

The format is gradiente's own (Keras's ``.keras`` files hold HDF5 weights; ours hold
``.npz``), one zip archive:

- ``model.save(path)`` (suffix ``.keras`` by convention; any suffix is accepted) writes
  ``metadata.json`` (format and library version), ``config.json`` (the architecture from
  ``get_config``, and the compile settings: loss, optimizer config, metrics),
  ``model.weights.npz`` (the weights in ``get_weights`` order) and, for a compiled
  model, ``optimizer.npz`` (the optimizer's slots and its iteration counter).
- ``model.save_weights(path)`` (suffix ``.weights.npz`` by convention) writes
  ``metadata.json`` and ``model.weights.npz`` only.

Reading never unpickles and validates before it allocates: the archive's entry names
(an exact list; no folders, no ``..``), each entry's declared size against a hard cap
(:data:`MAX_TOTAL_BYTES` in all) and its compression ratio (zip bombs), each array's
``.npy`` header (dtype among float32/float64/int64, no objects, the shape the model
expects, the size the entry declares) — and only then reads the data. A damaged,
truncated, oversized or hostile file raises ValueError and leaves the model as it was.

Writing is atomic: the archive is written to a temporary file beside the target,
flushed and fsynced, then renamed over it (``os.replace``), so a process killed in the
middle of a save leaves the previous file intact.

Randomness: loading restores the library's generator (``gradiente.utils``) to its state
before the load, although building the model draws initial weights from it. So
``set_random_seed(s); fit(1 epoch); save; load; fit(1 epoch)`` shuffles exactly as
``set_random_seed(s); fit(2 epochs)`` and gives the same weights bit for bit: the
shuffling state belongs to the generator, not to the file.
"""
import io
import json
import os
import tempfile
import zipfile
import zlib

import numpy as np

FORMAT = "gradiente.keras"
FORMAT_VERSION = 1
#: the most a file may hold, uncompressed, in all its entries together
MAX_TOTAL_BYTES = 4 << 30
#: the most config.json and metadata.json may hold
MAX_JSON_BYTES = 16 << 20
#: the largest ratio of uncompressed to compressed size accepted for an entry
MAX_RATIO = 100
#: .npy headers are small; a longer one is rejected before it is read
MAX_NPY_HEADER = 1 << 16

_MODEL_MEMBERS = ("metadata.json", "config.json", "model.weights.npz", "optimizer.npz")
_WEIGHTS_MEMBERS = ("metadata.json", "model.weights.npz")
_DTYPES = (np.dtype("<f4"), np.dtype("<f8"), np.dtype("<i8"))


def _version():
    from . import __version__

    return __version__


# ---------------------------------------------------------------- writing


def _npz_bytes(arrays):
    """An .npz (stored, not compressed) of name -> array, as bytes; no pickles."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, arr in arrays.items():
            arr = np.ascontiguousarray(arr)
            if arr.dtype.newbyteorder("<") not in _DTYPES:
                raise TypeError(f"cannot save array {name!r} of dtype {arr.dtype}.")
            arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
            member = io.BytesIO()
            np.lib.format.write_array(member, arr, allow_pickle=False)
            zf.writestr(name + ".npy", member.getvalue())
    return buf.getvalue()


def _write_fully(f, data):
    """Write data in pieces (a test slows this down to kill a save half-way)."""
    view = memoryview(data)
    step = 1 << 20
    for lo in range(0, len(view), step):
        f.write(view[lo:lo + step])


def _atomic_write(path, members):
    """Write a zip of name -> bytes to path through a temporary file beside it."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save to {path!r}: folder {folder!r} does not exist.")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save to {path!r}: it is a folder.")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            kind = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
            zf.writestr(name, data, compress_type=kind)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_fully(f, buf.getbuffer())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def _metadata(kind):
    return json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind,
                       "gradiente_version": _version()}).encode()


def _weight_arrays(model):
    return {f"weight_{i:04d}": w for i, w in enumerate(model.get_weights())}


def _compile_config(model):
    if not getattr(model, "compiled", False):
        return None
    config = model.get_compile_config()  # metric objects and schedules as their configs
    lr = getattr(model.optimizer, "_learning_rate", None)
    if isinstance(lr, float):
        config["optimizer"]["config"]["learning_rate"] = lr  # exact (get_config: float32)
    return config


def _optimizer_arrays(model):
    plan = getattr(model, "_plan", None)
    if plan is None:
        return None
    arrays = {"iterations": np.asarray(plan.iterations, dtype=np.int64).reshape(1)}
    for name in model.optimizer._slot_names():
        if name in plan.slots:
            arrays["slot_" + name] = plan.slots[name]
    return arrays


def save_model(model, filepath, overwrite=True):
    """Write model (architecture, compile settings, weights, optimizer state) to one
    file; see the module's docstring for the format."""
    path = _check_path(filepath, "save")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save(filepath={path!r}, overwrite=False): the file exists.")
    model._require_built("save()")
    config = {"class_name": type(model).__name__, "config": model.get_config(),
              "compile_config": _compile_config(model)}
    members = {"metadata.json": _metadata("model"),
               "config.json": json.dumps(config, allow_nan=False).encode(),
               "model.weights.npz": _npz_bytes(_weight_arrays(model))}
    opt = _optimizer_arrays(model)
    if opt is not None:
        members["optimizer.npz"] = _npz_bytes(opt)
    _atomic_write(path, members)


def save_weights(model, filepath, overwrite=True):
    """Write the model's weights (get_weights order) to one file."""
    path = _check_path(filepath, "save_weights")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save_weights(filepath={path!r}, overwrite=False): the file "
                              "exists.")
    model._require_built("save_weights()")
    _atomic_write(path, {"metadata.json": _metadata("weights"),
                         "model.weights.npz": _npz_bytes(_weight_arrays(model))})


def _check_path(filepath, fn):
    if not isinstance(filepath, (str, os.PathLike)):
        raise TypeError(f"{fn}(filepath=...) expects a str or os.PathLike; received "
                        f"{type(filepath).__name__}: {filepath!r}.")
    path = os.fspath(filepath)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        raise ValueError(f"{fn}(filepath=...) expects a file path; received ''.")
    return path


# ---------------------------------------------------------------- reading


def _bad(path, why):
    return ValueError(f"{path!r} is not a valid gradiente file: {why}. Nothing was loaded.")


def _check_entries(zf, path, allowed, cap):
    """Names, sizes and ratios of a zip's entries, before any is read."""
    infos = zf.infolist()
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise _bad(path, "an entry name appears twice")
    total = 0
    for info in infos:
        name = info.filename
        if (name not in allowed or "/" in name or "\\" in name or ".." in name
                or name.startswith(("/", "~")) or "\x00" in name):
            raise _bad(path, f"unexpected entry {name!r} (expected only {list(allowed)})")
        if info.is_dir() or info.flag_bits & 0x1:
            raise _bad(path, f"entry {name!r} is a folder or encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _bad(path, f"entry {name!r} uses an unsupported compression")
        if info.file_size < 0 or info.compress_size < 0:
            raise _bad(path, f"entry {name!r} declares a negative size")
        if info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > 1 << 20 \
                and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise _bad(path, f"entry {name!r} expands {info.file_size} bytes from "
                             f"{info.compress_size} (a zip bomb?)")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise _bad(path, f"entry {name!r} has inconsistent sizes")
        total += info.file_size
        if total > cap:
            raise _bad(path, f"its entries hold more than {cap} bytes")
    return {i.filename: i for i in infos}


def _read_member(zf, info, path, limit):
    if info.file_size > limit:
        raise _bad(path, f"entry {info.filename!r} is {info.file_size} bytes, more than "
                         f"{limit}")
    try:
        with zf.open(info) as f:
            data = f.read(info.file_size + 1)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as exc:
        raise _bad(path, f"entry {info.filename!r} is damaged ({exc})") from None
    if len(data) != info.file_size:
        raise _bad(path, f"entry {info.filename!r} is truncated")
    return data


def _read_json(zf, infos, name, path):
    if name not in infos:
        raise _bad(path, f"it has no {name}")
    data = _read_member(zf, infos[name], path, MAX_JSON_BYTES)

    def no_constants(token):
        raise ValueError(f"{token} is not allowed")

    try:
        value = json.loads(data.decode("utf-8"), parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _bad(path, f"{name} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise _bad(path, f"{name} does not hold an object")
    return value


def _npz_headers(zf, info, path):
    """name -> (shape, dtype, offset, nbytes) of the arrays inside an .npz entry, read
    from their headers only (the entry itself is an uncompressed zip)."""
    blob = _read_member(zf, info, path, MAX_TOTAL_BYTES)
    where = info.filename
    try:
        inner = zipfile.ZipFile(io.BytesIO(blob))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _bad(path, f"{where} is damaged ({exc})") from None
    headers = {}
    with inner:
        names = [i.filename for i in inner.infolist()]
        if len(set(names)) != len(names):
            raise _bad(path, f"{where} names an array twice")
        for sub in inner.infolist():
            name = sub.filename
            if not name.endswith(".npy") or "/" in name or "\\" in name or ".." in name:
                raise _bad(path, f"{where} holds an unexpected entry {name!r}")
            if sub.compress_type != zipfile.ZIP_STORED or sub.file_size != sub.compress_size:
                raise _bad(path, f"{where}: array {name!r} is compressed")
            try:
                with inner.open(sub) as f:
                    version = np.lib.format.read_magic(f)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(
                            f, max_header_size=MAX_NPY_HEADER)
                    elif version in ((2, 0), (3, 0)):
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(
                            f, max_header_size=MAX_NPY_HEADER)
                    else:
                        raise ValueError(f"unknown .npy version {version}")
                    offset = f.tell()
            except (ValueError, OSError, SyntaxError, zipfile.BadZipFile) as exc:
                raise _bad(path, f"{where}: array {name!r} has a bad header ({exc})") from None
            if dtype.hasobject or dtype.fields is not None or dtype not in _DTYPES:
                raise _bad(path, f"{where}: array {name!r} has dtype {dtype} (expected one of "
                                 f"{[str(d) for d in _DTYPES]}; pickled objects are refused)")
            if fortran:
                raise _bad(path, f"{where}: array {name!r} is in Fortran order")
            count = 1
            for d in shape:
                if not isinstance(d, int) or d < 0:
                    raise _bad(path, f"{where}: array {name!r} has shape {shape}")
                count *= d
            nbytes = count * dtype.itemsize
            if offset + nbytes != sub.file_size:
                raise _bad(path, f"{where}: array {name!r} declares {nbytes} bytes of data "
                                 f"but its entry holds {sub.file_size - offset}")
            headers[name[:-4]] = (tuple(shape), dtype, sub)
    return blob, headers


def _npz_read(blob, headers, names):
    """The arrays (copies, native byte order) of an .npz whose headers were checked."""
    out = {}
    with zipfile.ZipFile(io.BytesIO(blob)) as inner:
        for name in names:
            shape, dtype, sub = headers[name]
            with inner.open(sub) as f:
                arr = np.lib.format.read_array(f, allow_pickle=False,
                                               max_header_size=MAX_NPY_HEADER)
            if arr.shape != shape or arr.dtype != dtype:
                raise ValueError(f"array {name!r} changed while it was read.")
            out[name] = np.ascontiguousarray(arr, dtype=dtype.newbyteorder("="))
    return out


class _Archive:
    """An opened, checked archive: entries, JSON members and array headers."""

    def __init__(self, filepath, allowed, fn):
        path = _check_path(filepath, fn)
        self.path = path
        if not os.path.exists(path):
            raise FileNotFoundError(f"{fn}(filepath=...): no file at {path!r}.")
        if os.path.isdir(path):
            raise IsADirectoryError(f"{fn}(filepath=...): {path!r} is a folder.")
        size = os.path.getsize(path)
        if size > MAX_TOTAL_BYTES:
            raise _bad(path, f"it is {size} bytes, more than {MAX_TOTAL_BYTES}")
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise _bad(path, f"it is not a zip archive, or it is truncated ({exc})") from None
        try:
            self.infos = _check_entries(self.zf, path, allowed, MAX_TOTAL_BYTES)
            self.metadata = _read_json(self.zf, self.infos, "metadata.json", path)
            if self.metadata.get("format") != FORMAT:
                raise _bad(path, f"metadata.json names format "
                                 f"{self.metadata.get('format')!r}, not {FORMAT!r}")
            if self.metadata.get("format_version") != FORMAT_VERSION:
                raise _bad(path, f"format_version {self.metadata.get('format_version')!r} "
                                 f"is not {FORMAT_VERSION} (saved by a newer gradiente?)")
        except BaseException:
            self.zf.close()
            raise

    def json(self, name):
        return _read_json(self.zf, self.infos, name, self.path)

    def headers(self, name):
        if name not in self.infos:
            raise _bad(self.path, f"it has no {name}")
        try:
            return _npz_headers(self.zf, self.infos[name], self.path)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as exc:
            if isinstance(exc, ValueError) and "not a valid gradiente file" in str(exc):
                raise
            raise _bad(self.path, f"{name} is damaged ({exc})") from None

    def read(self, blob, headers, names, what):
        try:
            return _npz_read(blob, headers, names)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as exc:
            raise _bad(self.path, f"{what} is damaged ({exc})") from None

    def close(self):
        self.zf.close()


def _check_weights(archive, model, blob, headers):
    """The weight arrays, after their names, shapes and dtypes matched the model's."""
    own = model.weights
    expected = [f"weight_{i:04d}" for i in range(len(own))]
    if sorted(headers) != expected:
        raise _bad(archive.path, f"model.weights.npz holds {len(headers)} arrays named "
                                 f"{sorted(headers)[:4]}...; the model has {len(own)} weights")
    for name, w in zip(expected, own):
        shape, dtype, _ = headers[name]
        if shape != tuple(w.shape) or dtype.kind != "f":
            raise _bad(archive.path, f"weight {name} has shape {shape} and dtype {dtype}; the "
                                     f"model expects shape {tuple(w.shape)}, a float dtype")
    arrays = archive.read(blob, headers, expected, "model.weights.npz")
    out = []
    for name in expected:
        a = arrays[name]
        if not np.isfinite(a).all():
            raise _bad(archive.path, f"weight {name} holds NaN or infinity")
        out.append(a)
    return out


def load_weights(model, filepath):
    """Read weights saved by save_weights (or by save) into model; the model is left
    as it was when anything is wrong."""
    allowed = set(_MODEL_MEMBERS)
    archive = _Archive(filepath, allowed, "load_weights")
    try:
        model._require_built("load_weights()")
        blob, headers = archive.headers("model.weights.npz")
        arrays = _check_weights(archive, model, blob, headers)
    finally:
        archive.close()
    model.set_weights(arrays)


def _deserialize_checked(archive, config, weight_elements):
    """Build the model from config, refusing sizes the weights file cannot match."""
    from . import models
    from .utils._random import generator

    if config.get("class_name") != "Sequential" or not isinstance(config.get("config"), dict):
        raise _bad(archive.path, f"config.json describes {config.get('class_name')!r}; "
                                 "expected a Sequential model")
    from .layers import deserialize as deserialize_layer

    # Construct the layers without building them, and bound the weights the Dense-like
    # ones will allocate by the number the file holds (no allocation from a hostile
    # config).
    layer_configs = config["config"].get("layers", [])
    if not isinstance(layer_configs, list):
        raise _bad(archive.path, "config.json's layers is not a list")
    shape = None
    budget = 0
    for lc in layer_configs:
        if not isinstance(lc, dict):
            raise _bad(archive.path, "config.json holds a layer that is not an object")
        try:
            layer = deserialize_layer(lc)
        except (TypeError, ValueError, KeyError) as exc:
            raise _bad(archive.path, f"config.json holds a bad layer ({exc})") from None
        if type(layer).__name__ == "InputLayer":
            shape = tuple(layer.shape)
            continue
        if shape is None and layer._input_shape_arg is not None:
            shape = (None,) + tuple(layer._input_shape_arg)
        if shape is None:
            continue
        if any(d is not None and (not isinstance(d, int) or d <= 0 or d > 1 << 31)
               for d in shape[1:]):
            raise _bad(archive.path, f"config.json gives a layer the input shape {shape}")
        units = getattr(layer, "units", None)
        if isinstance(units, int) and shape[-1] is not None:
            budget += int(shape[-1]) * units
            if budget > weight_elements:
                raise _bad(archive.path, "config.json describes more weights than "
                                         "model.weights.npz holds")
        try:
            shape = tuple(layer.compute_output_shape(shape))
        except (TypeError, ValueError) as exc:
            raise _bad(archive.path, f"config.json's layers do not fit together ({exc})") \
                from None
    rng = generator()
    state = rng.bit_generator.state
    try:
        model = models.Sequential.from_config(config["config"])
    except (TypeError, ValueError, KeyError) as exc:
        raise _bad(archive.path, f"config.json does not describe a model ({exc})") from None
    finally:
        rng.bit_generator.state = state  # building drew initial weights; give them back
    return model


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model saved by ``model.save``: architecture, weights, compile settings and the
    optimizer's state, so that training continues where it stopped."""
    if custom_objects:
        raise ValueError("load_model(custom_objects=...) is not supported; pass None.")
    archive = _Archive(filepath, set(_MODEL_MEMBERS), "load_model")
    try:
        if archive.metadata.get("kind") != "model":
            raise _bad(archive.path, "it holds weights only (written by save_weights); build "
                                     "the model and call load_weights")
        config = archive.json("config.json")
        blob, headers = archive.headers("model.weights.npz")
        elements = sum(int(np.prod(h[0])) for h in headers.values())
        opt_blob = opt_headers = None
        if compile and "optimizer.npz" in archive.infos:
            opt_blob, opt_headers = archive.headers("optimizer.npz")
        model = _deserialize_checked(archive, config, elements)
        if not model.built:
            raise _bad(archive.path, "config.json has no input shape")
        weights = _check_weights(archive, model, blob, headers)
        model.set_weights(weights)
        compile_config = config.get("compile_config")
        if compile and compile_config:
            _compile_from_config(archive, model, compile_config)
            if opt_headers is not None:
                _restore_optimizer(archive, model, opt_blob, opt_headers)
    finally:
        archive.close()
    return model


def _compile_from_config(archive, model, cc):
    if not isinstance(cc, dict) or not isinstance(cc.get("metrics", []), list) \
            or not isinstance(cc.get("weighted_metrics") or [], list):
        raise _bad(archive.path, "config.json's compile_config is malformed")
    try:
        model.compile_from_config(cc)
    except (TypeError, ValueError, KeyError) as exc:
        raise _bad(archive.path, f"config.json's compile settings are invalid ({exc})") \
            from None


def _restore_optimizer(archive, model, blob, headers):
    plan = model._ensure_plan()
    names = ["iterations"] + ["slot_" + s for s in model.optimizer._slot_names()
                              if s in plan.slots]
    if sorted(headers) != sorted(names):
        raise _bad(archive.path, f"optimizer.npz holds {sorted(headers)}; the optimizer "
                                 f"expects {sorted(names)}")
    if headers["iterations"][0] != (1,) or headers["iterations"][1].kind != "i":
        raise _bad(archive.path, "optimizer.npz's iterations is not one int64")
    for name in names[1:]:
        shape, dtype, _ = headers[name]
        if shape != (plan.n_params,) or dtype != np.dtype(plan.dtype):
            raise _bad(archive.path, f"optimizer slot {name} has shape {shape} and dtype "
                                     f"{dtype}; expected ({plan.n_params},) {plan.dtype}")
    arrays = archive.read(blob, headers, names, "optimizer.npz")
    if arrays["iterations"][0] < 0:
        raise _bad(archive.path, "optimizer.npz's iterations is negative")
    for name in names[1:]:
        if not np.isfinite(arrays[name]).all():
            raise _bad(archive.path, f"optimizer slot {name} holds NaN or infinity")
    for name in names[1:]:
        plan.slots[name[5:]][...] = arrays[name]
    plan.iterations[...] = arrays["iterations"]
