"""The engine (flat buffers, fused softmax + CE) against the layers' own call/backward."""
import numpy as np
import pytest

import gradiente
from gradiente import losses
from gradiente.layers import Activation, Dense, Flatten, Input
from gradiente.models import Sequential
from gradiente.optimizers import SGD
from gradiente.utils import set_random_seed, to_categorical

CASES = {
    # name: (output units, last activation, extra Activation layer, loss, targets)
    "softmax_sparse": (4, "softmax", None, losses.SparseCategoricalCrossentropy(), "labels"),
    "softmax_layer_sparse": (4, None, "softmax", "sparse_categorical_crossentropy", "labels"),
    "logits_sparse": (4, None, None, losses.SparseCategoricalCrossentropy(from_logits=True),
                      "labels"),
    "softmax_cce": (4, "softmax", None, "categorical_crossentropy", "onehot"),
    "logits_cce": (4, "relu", None, losses.CategoricalCrossentropy(from_logits=True), "onehot"),
    "sigmoid_bce": (1, "sigmoid", None, "binary_crossentropy", "binary"),
    "logits_bce": (1, None, None, losses.BinaryCrossentropy(from_logits=True), "binary"),
    "mse": (3, "tanh", None, "mse", "regression"),
    "mae": (3, None, "sigmoid", "mae", "regression"),
}


@pytest.fixture(params=["numpy", "native"])
def backend(request):
    gradiente.set_backend(request.param)
    return request.param


def _targets(kind, n, rng, units):
    if kind == "labels":
        return rng.integers(0, units, n)
    if kind == "onehot":
        return to_categorical(rng.integers(0, units, n), units)
    if kind == "binary":
        return rng.integers(0, 2, (n, 1)).astype(np.float32)
    return rng.standard_normal((n, units))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_engine_matches_layers(backend, case, dtype):
    gradiente.set_floatx(dtype)
    units, act, extra, loss, kind = CASES[case]
    set_random_seed(4)
    stack = [Input(shape=(2, 3)), Flatten(), Dense(5, activation="relu"),
             Dense(units, activation=act)]
    if extra:
        stack.append(Activation(extra))
    model = Sequential(stack)
    model.compile(optimizer=SGD(learning_rate=0.0), loss=loss)
    rng = np.random.default_rng(1)
    n = 7
    x = rng.standard_normal((n, 2, 3))
    y = _targets(kind, n, rng, units)
    w = rng.random(n)
    before = model.get_weights()
    loss_value, grads = model._loss_and_grads(x, y, sample_weight=w)
    assert [g.shape for g in grads] == [b.shape for b in before]
    assert all(g.dtype == np.dtype(dtype) for g in grads)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)  # _loss_and_grads leaves the weights alone
    x2, y2, w2 = model._prepare(x, y, w, "test")
    sums = model._engine.train_steps(x2, y2, w2, np.arange(n, dtype=np.int64), 0, 1, n)
    plan = model._plan
    rtol = 1e-10 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(sums[0] / n, loss_value, rtol=rtol)
    flat = np.concatenate([g.ravel() for g in grads])
    np.testing.assert_allclose(plan.grads, flat, rtol=rtol, atol=rtol * 1e-2)
    assert sums[-1] == n


def test_flat_buffer_holds_weights_in_get_weights_order(backend):
    model = Sequential([Input(shape=(3,)), Dense(4), Dense(2, use_bias=False), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    plan = model._plan
    flat = np.concatenate([w.ravel() for w in model.get_weights()])
    np.testing.assert_array_equal(plan.params, flat)
    assert plan.params.flags.c_contiguous and plan.params.dtype == np.float32
    assert sorted(plan.slots) == ["m", "v", "vhat"]
    assert [r.w_offset for r in plan.layers] == [0, 16, 24]
    assert [r.b_offset for r in plan.layers] == [12, -1, 26]
    for layer in model.layers:
        assert np.shares_memory(layer.kernel, plan.params)


@pytest.mark.parametrize("case", sorted(CASES))
def test_loss_and_grads_pass_gradcheck(backend, case):
    from gradiente import gradcheck

    gradiente.set_floatx("float64")
    units, act, extra, loss, kind = CASES[case]
    set_random_seed(2)
    stack = [Input(shape=(3,)), Dense(4, activation="tanh"), Dense(units, activation=act)]
    if extra:
        stack.append(Activation(extra))
    model = Sequential(stack)
    model.compile(optimizer="adam", loss=loss)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 3))
    y = _targets(kind, 6, rng, units)
    result = gradcheck.check_model(model, x, y, sample_weight=rng.random(6))
    assert result.passed, result
