"""Library-wide settings: backend, thread count, floatx, instruction set, show_config."""
import contextlib
import os
import platform
import sys

import numpy as np

_ISA_NAMES = ("generic", "avx2", "avx512")
_BACKENDS = ("native", "numpy")

_state = {
    "backend": None,
    "n_threads": None,  # None: OMP_NUM_THREADS, else the cores available
    "floatx": "float32",
}

_ck = None  # the compiled module, once imported


def _native():
    """The compiled kernels module; a clear ImportError when it cannot load."""
    global _ck
    if _ck is None:
        try:
            from . import _ckernels
        except ImportError as exc:  # pragma: no cover - depends on the build
            raise ImportError(
                "gradiente's compiled kernels (gradiente._ckernels) could not be imported: "
                f"{exc}. Reinstall with `pip install .` from a source checkout, or run on "
                "the pure-NumPy backend with gradiente.set_backend('numpy') or "
                "GRADIENTE_BACKEND=numpy."
            ) from exc
        _ck = _ckernels
        _init_isa()
    return _ck


def _init_isa():
    cap_name = os.environ.get("GRADIENTE_ISA", "").strip().lower()
    cap = len(_ISA_NAMES) - 1
    if cap_name:
        if cap_name not in _ISA_NAMES:
            import warnings

            warnings.warn(
                f"GRADIENTE_ISA={cap_name!r} is not one of {', '.join(_ISA_NAMES)}; ignored.",
                RuntimeWarning,
                stacklevel=3,
            )
        else:
            cap = _ISA_NAMES.index(cap_name)
            if cap > _ck.cpu_isa():
                import warnings

                warnings.warn(
                    f"GRADIENTE_ISA={cap_name!r} is not supported by this CPU; using "
                    f"{_ISA_NAMES[_ck.cpu_isa()]!r}.",
                    RuntimeWarning,
                    stacklevel=3,
                )
    _ck.dispatch_init(cap)


def set_isa(name):
    """Cap the instruction set the native kernels use ('generic', 'avx2', 'avx512').

    Returns the ISA actually selected for GEMM (lower when the CPU lacks ``name``).
    Meant for tests and benchmarks; GRADIENTE_ISA does the same at import.
    """
    if name not in _ISA_NAMES:
        raise ValueError(f"set_isa(name=...) expects one of {_ISA_NAMES}; received name={name!r}.")
    return _ISA_NAMES[_native().dispatch_init(_ISA_NAMES.index(name))]


def available_isas():
    """The instruction sets this CPU can run, from 'generic' up."""
    return list(_ISA_NAMES[: _native().cpu_isa() + 1])


# ---------------------------------------------------------------- backend


def set_backend(name):
    """Run the whole library on 'native' (the C kernels) or 'numpy' (the reference)."""
    if name not in _BACKENDS:
        raise ValueError(
            f"set_backend(name=...) expects 'native' or 'numpy'; received name={name!r}."
        )
    if name == "native":
        _native()
    _state["backend"] = name


def get_backend():
    """The backend in use: 'native' or 'numpy'."""
    if _state["backend"] is None:
        env = os.environ.get("GRADIENTE_BACKEND", "native").strip().lower() or "native"
        if env not in _BACKENDS:
            raise ValueError(
                f"GRADIENTE_BACKEND expects 'native' or 'numpy'; received {env!r}."
            )
        set_backend(env)
    return _state["backend"]


# ---------------------------------------------------------------- threads


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env:
        try:
            n = int(env)
            if n >= 1:
                return n
        except ValueError:
            pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def effective_n_threads(n=None):
    """Resolve a thread request: None -> the library setting; -1 -> all cores."""
    if n is None:
        n = _state["n_threads"]
        if n is None:
            return _default_threads()
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n_threads expects an int >= 1 or -1; received {n!r}.")
    n = int(n)
    if n == -1:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except (AttributeError, OSError):  # pragma: no cover
            return max(1, os.cpu_count() or 1)
    if n < 1:
        raise ValueError(f"n_threads expects an int >= 1 or -1; received n_threads={n}.")
    return n


def set_num_threads(n):
    """Threads the kernels use: an int >= 1, -1 for all cores, None for the default
    (OMP_NUM_THREADS if set, else the cores available to this process)."""
    if n is not None:
        effective_n_threads(n)
    _state["n_threads"] = n


def get_num_threads():
    """The number of threads the kernels will use."""
    return effective_n_threads(None)


@contextlib.contextmanager
def threads(n):
    """``with gradiente.threads(n):`` runs the block on n threads."""
    old = _state["n_threads"]
    set_num_threads(n)
    try:
        yield
    finally:
        _state["n_threads"] = old


# ---------------------------------------------------------------- floatx


def floatx():
    """The default float type name, as Keras's ``keras.config.floatx()``."""
    return _state["floatx"]


def set_floatx(value):
    """Set the default float type: 'float32' (default) or 'float64'."""
    if value not in ("float32", "float64"):
        raise ValueError(
            f"set_floatx(value=...) expects 'float32' or 'float64'; received value={value!r}."
        )
    _state["floatx"] = value


def epsilon():
    """Keras's fuzz factor for cross-entropy on probabilities."""
    return 1e-7


# ---------------------------------------------------------------- show_config


def config_info():
    """What show_config prints, as a dict."""
    info = {
        "gradiente": _version(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "numpy": np.__version__,
        "backend": get_backend(),
        "n_threads": get_num_threads(),
        "floatx": floatx(),
    }
    try:
        ck = _native()
    except ImportError as exc:
        info["native"] = f"unavailable ({exc})"
        return info
    info["compiler"] = ck.compiler()
    info["openmp"] = ck.openmp_enabled()
    if not info["openmp"]:
        info["n_threads"] = "1 (built without OpenMP: thread settings are ignored)"
    info["cpu_isa"] = _ISA_NAMES[ck.cpu_isa()]
    info["isa"] = {}
    for slot in ck.dispatch_slots():
        info["isa"][slot] = _ISA_NAMES[ck.dispatch_isa(slot)]
    return info


def show_config(file=None):
    """Print the build and runtime configuration: compiler, OpenMP, ISA per kernel,
    threads, backend."""
    info = config_info()
    out = file or sys.stdout
    for key, value in info.items():
        if key == "isa":
            for slot, isa in value.items():
                print(f"  isa[{slot}]: {isa}", file=out)
        else:
            print(f"{key}: {value}", file=out)


def _version():
    try:
        from importlib.metadata import version

        return version("gradiente")
    except Exception:  # pragma: no cover
        return "unknown"
