"""Shared test fixtures and the one tolerance table (STYLE.md §10)."""
import os
import pathlib

import numpy as np
import pytest

import gradiente
from gradiente import _config

ROOT = pathlib.Path(__file__).resolve().parents[1]
MNIST_PATH = ROOT.parent / "shared" / "datasets" / "mnist.npz"

#: rtol per dtype; GEMM-like results scale float32's by sqrt(k).
RTOL = {np.float64: 1e-12, np.float32: 1e-5}
ATOL = {np.float64: 1e-12, np.float32: 1e-6}


def tol(dtype, k=1):
    """(rtol, atol) for a result of dtype summed over k terms."""
    dtype = np.dtype(dtype).type
    scale = max(1.0, float(np.sqrt(max(k, 1))))
    return RTOL[dtype] * scale, ATOL[dtype] * scale


def assert_close(actual, expected, dtype, k=1, err_msg=""):
    rtol, atol = tol(dtype, k)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=err_msg)


THREADS = [1, 2, 3]


def isas():
    try:
        return _config.available_isas()
    except ImportError:
        return []


@pytest.fixture(params=isas() or ["generic"])
def isa(request):
    """Run a test under each instruction set this CPU has, restoring the best after."""
    _config.set_isa(request.param)
    yield request.param
    _config.set_isa(isas()[-1])


@pytest.fixture
def mnist_path():
    if not MNIST_PATH.exists():
        pytest.skip(f"real MNIST not found at {MNIST_PATH}")
    return MNIST_PATH


@pytest.fixture(autouse=True)
def _restore_settings():
    """Every test starts on the native backend, default threads and float32."""
    state = dict(_config._state)
    yield
    _config._state.update(state)


def pytest_report_header(config):
    try:
        info = _config.config_info()
    except Exception as exc:  # pragma: no cover
        return f"gradiente config unavailable: {exc}"
    isa = ", ".join(f"{k}={v}" for k, v in info.get("isa", {}).items())
    return (f"gradiente {info['gradiente']} | openmp={info.get('openmp')} | "
            f"cpu_isa={info.get('cpu_isa')} | {isa} | threads={info['n_threads']}")
