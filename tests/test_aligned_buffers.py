"""The flat buffers a model trains in (parameters, gradients, optimizer slots) and the
native engine's workspace start on cache lines, at the offsets modulo 4 KiB that
`_engine.aligned_array` promises, and hold what they held before (values, dtype)."""
import numpy as np
import pytest

import gradiente
from gradiente import _engine
from gradiente.layers import Dense, Input
from gradiente.models import Sequential


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
@pytest.mark.parametrize("offset", [0, 64, 512, 4032])
def test_aligned_array(dtype, offset):
    for n in (0, 1, 17, 100_000):
        a = _engine.aligned_array(n, dtype, 3, offset)
        assert a.shape == (n,) and a.dtype == np.dtype(dtype)
        assert a.flags.c_contiguous and a.flags.writeable
        if n:  # (an empty array has no address of its own)
            assert a.ctypes.data % 4096 == offset
        assert np.all(a == 3)
        a[...] = 7  # its own memory: writing it leaves a second buffer alone
        b = _engine.aligned_array(n, dtype, 0, offset)
        assert not np.any(b)


@pytest.mark.parametrize("offset", [-64, 8, 4096, 100])
def test_aligned_array_rejects_offset(offset):
    with pytest.raises(ValueError, match="offset"):
        _engine.aligned_array(10, "float32", 0, offset)


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_plan_buffers_aligned_and_apart(optimizer):
    gradiente.utils.set_random_seed(0)
    model = Sequential([Input((20,)), Dense(8, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    kernel_before = model.layers[0].get_weights()[0].copy()
    x = np.random.default_rng(0).random((64, 20), dtype=np.float32)
    y = np.arange(64) % 3
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    plan = model._plan
    arrays = [plan.params, plan.grads] + [a for a in plan.slots.values() if a is not None]
    offsets = [a.ctypes.data % 4096 for a in arrays]
    assert all(o % 64 == 0 for o in offsets)
    assert len(set(offsets)) == len(offsets)
    # the layers' weights are views of the aligned parameters, which fit trained
    kernel = model.layers[0].kernel
    assert np.shares_memory(np.asarray(kernel), plan.params)
    assert not np.array_equal(model.layers[0].get_weights()[0], kernel_before)
