"""Resident memory does not grow over 1,000 repeated predict and train_on_batch calls
(read from /proc/self/statm), on both backends."""
import os
import time

import numpy as np
import pytest

import gradiente
from gradiente.layers import Dense, Input
from gradiente.models import Sequential

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/statm"),
                                reason="needs Linux's /proc/self/statm")

PAGE = os.sysconf("SC_PAGE_SIZE")
#: growth allowed over 1,000 calls: far below what a leak of one batch per call makes
#: (1,000 x 64 rows x 128 floats = 32 MB)
LIMIT = 4 << 20


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def growth(call, n=1000, warmup=200):
    for _ in range(warmup):
        call()
    before = rss()
    for _ in range(n):
        call()
    return rss() - before


@pytest.mark.parametrize("backend", ["native", "numpy"])
def test_no_growth(backend):
    gradiente.set_backend(backend)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 128)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    model = Sequential([Input((128,)), Dense(64, activation="relu"),
                        Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    t0 = time.perf_counter()
    grown = {"predict_all_threads": growth(lambda: model.predict(x, verbose=0), n=200,
                                           warmup=50)}
    # one thread for the long loops: OpenMP teams on a loaded machine make each tiny call
    # slow, and the memory a call takes does not depend on the team size
    gradiente.set_num_threads(1)
    grown |= {
        "predict": growth(lambda: model.predict(x, verbose=0)),
        "train_on_batch": growth(lambda: model.train_on_batch(x, y)),
        "evaluate": growth(lambda: model.evaluate(x, y, verbose=0), n=300, warmup=50),
        # a fresh float64 list each call: the conversions must not be kept either
        "predict_list": growth(lambda: model.predict(x.astype(np.float64).tolist(),
                                                     verbose=0), n=300, warmup=50),
    }
    print(f"RSS growth ({backend}, {time.perf_counter() - t0:.1f} s): "
          + ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in grown.items()))
    for what, grew in grown.items():
        assert grew < LIMIT, (what, grew)
