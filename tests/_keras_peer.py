"""Keras parity without Keras in the test run: a script runs the same program on Keras
(in the venv at /work/venv-peers) and on gradiente; Keras's answers are stored in
tests/data/keras_<name>.json. ``GRADIENTE_KERAS_LIVE=1 pytest ...`` runs Keras again
and rewrites the stored answers; otherwise the stored ones are compared against."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

PEERS_PYTHON = pathlib.Path(os.environ.get("GRADIENTE_KERAS_PYTHON",
                                           "/work/venv-peers/bin/python"))
DATA = pathlib.Path(__file__).resolve().parent / "data"

#: The head of every parity script: ``lib`` is keras or gradiente on the backend named
#: by argv[1], with Sequential, Input and Dense imported from it.
PREAMBLE = r'''
import json, os, sys
import numpy as np
LIB = sys.argv[1]
if LIB == "keras":
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras as lib
    from keras import Sequential, Input
    from keras.layers import Dense
else:
    import gradiente as lib
    lib.set_backend(LIB)
    from gradiente.models import Sequential
    from gradiente.layers import Dense, Input
'''


def run(script, lib, python=None):
    """The JSON the script prints on its last line, run as ``python -c script lib``."""
    python = python or sys.executable
    env = dict(os.environ, KERAS_BACKEND="torch", OMP_NUM_THREADS="1")
    if lib == "keras":
        env.pop("PYTHONPATH", None)
    res = subprocess.run([str(python), "-c", script, lib], capture_output=True, text=True,
                         timeout=300, env=env)
    if res.returncode != 0:
        raise AssertionError(f"{lib} run failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def keras_result(name, script):
    """Keras's answer to script: live with GRADIENTE_KERAS_LIVE=1, else stored."""
    path = DATA / f"keras_{name}.json"
    if os.environ.get("GRADIENTE_KERAS_LIVE") == "1":
        if not PEERS_PYTHON.exists():
            pytest.skip(f"GRADIENTE_KERAS_LIVE=1 but no Keras python at {PEERS_PYTHON}")
        result = run(script, "keras", PEERS_PYTHON)
        path.write_text(json.dumps(result, indent=0) + "\n")
        return result
    if not path.exists():
        pytest.skip(f"no stored Keras answers at {path}; run with GRADIENTE_KERAS_LIVE=1")
    return json.loads(path.read_text())
