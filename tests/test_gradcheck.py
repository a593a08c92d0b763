"""gradiente.gradcheck: finite differences against every kernel's backward, and the
checker's own failure reports."""
import numpy as np
import pytest

import gradiente
from gradiente import _ops
from gradiente import gradcheck as gc

ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh", "softmax"]


@pytest.fixture(params=["numpy", "native"])
def backend(request):
    try:
        gradiente.set_backend(request.param)
    except ImportError as exc:
        pytest.skip(f"backend {request.param!r} unavailable: {exc}")
    return request.param


def assert_passed(result):
    assert result.passed, repr(result)
    assert result.max_abs_error < 1e-6, repr(result)


# ---------------------------------------------------------------- every kernel passes


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_bwd(backend, activation, use_bias):
    assert_passed(gc.check_kernel("dense_bwd", activation=activation, use_bias=use_bias,
                                  shape=(4, 5, 3)))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_act_bwd(backend, activation):
    assert_passed(gc.check_kernel("act_bwd", activation=activation, shape=(3, 1, 4)))


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("sparse", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_xent(backend, from_logits, sparse, weighted):
    assert_passed(gc.check_kernel("softmax_xent", from_logits=from_logits, sparse=sparse,
                                  weighted=weighted, shape=(5, 1, 4)))


@pytest.mark.parametrize("kind", ["mse", "mae", "bce", "bce_logits", "cce"])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss(backend, kind, weighted):
    assert_passed(gc.check_kernel("loss", kind=kind, weighted=weighted, shape=(4, 1, 3)))


def test_five_point_is_tighter():
    central = gc.check_kernel("act_bwd", activation="tanh", eps=1e-3)
    five = gc.check_gradients(
        lambda xs: float(np.tanh(xs[0]).sum()), np.linspace(-1, 1, 7),
        1 - np.tanh(np.linspace(-1, 1, 7)) ** 2, eps=1e-3, method="five-point")
    assert five.passed and five.max_abs_error < 1e-9 < central.max_abs_error


def test_unknown_kernel():
    with pytest.raises(ValueError, match="check_kernel.*received name='gemm'"):
        gc.check_kernel("gemm")


# ---------------------------------------------------------------- failures are reported


def cube(xs):
    return float((xs[0] ** 3).sum())


def test_wrong_gradient_reports_worst_element():
    x = np.arange(6.0).reshape(2, 3) / 4
    grad = 3 * x ** 2
    grad[1, 2] += 0.01
    result = gc.check_gradients(cube, x, grad, names=["x"])
    assert not result.passed and not bool(result)
    w = result.worst
    assert (w.param, w.name, w.index, w.direction) == (0, "x", (1, 2), None)
    assert w.analytic == pytest.approx(3 * 1.25 ** 2 + 0.01)
    assert w.numeric == pytest.approx(3 * 1.25 ** 2, abs=1e-8)
    assert result.max_abs_error == pytest.approx(0.01, rel=1e-4)
    text = repr(result)
    assert "FAILED" in text and "element (1, 2)" in text and "numeric=4.6875" in text


def test_raise_exception():
    x = np.ones(3)
    with pytest.raises(gc.GradcheckError, match=r"worst: x0 \(param 0\) element \(0,\)") \
            as info:
        gc.check_gradients(cube, x, np.zeros(3), raise_exception=True)
    assert info.value.result.worst.numeric == pytest.approx(3.0)


def test_wrong_kernel_is_caught(monkeypatch):
    def tanh_bwd_wrong(y, dy, activation, x=None):
        return dy * (1 - y)  # should be 1 - y²

    monkeypatch.setattr(_ops, "act_bwd", tanh_bwd_wrong)
    result = gc.check_kernel("act_bwd", activation="tanh")
    assert not result.passed
    assert result.worst.name == "x" and result.worst.index is not None


def test_nan_gradient_fails():
    result = gc.check_gradients(cube, np.ones(2), np.array([3.0, np.nan]))
    assert not result.passed and result.worst.index == (1,)


def test_inputs_are_not_modified():
    x = np.linspace(0, 1, 5)
    before = x.copy()
    gc.check_gradients(cube, x, 3 * x ** 2)
    np.testing.assert_array_equal(x, before)


def test_random_directions_for_big_tensors():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(400)
    good = gc.check_gradients(cube, x, 3 * x ** 2, max_elements=8)
    assert good.passed and good.n_checked == 8
    bad_grad = 3 * x ** 2
    bad_grad[123] += 0.5
    bad = gc.check_gradients(cube, x, bad_grad, max_elements=8)
    assert not bad.passed
    assert bad.worst.index is None and 0 <= bad.worst.direction < 8
    assert "random direction" in repr(bad)


def test_shape_mismatch():
    with pytest.raises(ValueError, match=r"shape \(3,\) but its gradient has shape \(2,\)"):
        gc.check_gradients(cube, np.ones(3), np.ones(2))


def test_torch_style_gradcheck():
    def func(a, b):
        return a * b, np.sin(a)

    def backward(gouts, a, b):
        g1, g2 = gouts
        return [g1 * b + g2 * np.cos(a), g1 * a]

    a, b = np.linspace(-1, 1, 4), np.linspace(2, 3, 4)
    assert gc.gradcheck(func, [a, b], backward) is True
    with pytest.raises(gc.GradcheckError):
        gc.gradcheck(func, [a, b], lambda gouts, a, b: [gouts[0] * b, gouts[0] * a])
    assert gc.gradcheck(func, [a, b], lambda g, a, b: [g[0] * b, g[0] * a],
                        raise_exception=False) is False


# ---------------------------------------------------------------- layers and models


class ToyDense:
    """A float64 dense layer with the lifecycle the Keras layer follows."""

    def __init__(self, k, n, wrong=False):
        rng = np.random.default_rng(0)
        self.w, self.b = rng.standard_normal((k, n)), rng.standard_normal(n)
        self.wrong = wrong

    def get_weights(self):
        return [self.w.copy(), self.b.copy()]

    def set_weights(self, weights):
        self.w[...], self.b[...] = weights

    def call(self, x):
        self.x = x
        self.y = np.tanh(x @ self.w + self.b)
        return self.y

    def backward(self, dy):
        dz = dy * (1 - self.y ** 2)
        self.grads = [self.x.T @ dz, dz.sum(axis=0) * (2 if self.wrong else 1)]
        return dz @ self.w.T


class ToyModel:
    """The _loss_and_grads hook check_model relies on, around one ToyDense + MSE."""

    def __init__(self, wrong=False, dtype=np.float64):
        self.layer = ToyDense(3, 2, wrong)
        self.dtype = dtype

    def get_weights(self):
        return [w.astype(self.dtype) for w in self.layer.get_weights()]

    def set_weights(self, weights):
        self.layer.set_weights(weights)

    def _loss_and_grads(self, x, y, sample_weight=None):
        p = self.layer.call(x)
        loss = float(((p - y) ** 2).mean())
        self.layer.backward(2 * (p - y) / p.size)
        return loss, self.layer.grads


def test_check_layer():
    x = np.random.default_rng(1).standard_normal((4, 3))
    assert_passed(gc.check_layer(ToyDense(3, 2), x))
    result = gc.check_layer(ToyDense(3, 2, wrong=True), x)
    assert not result.passed and result.worst.name == "weight1"


def test_check_model_and_restore():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    model = ToyModel()
    before = model.get_weights()
    assert_passed(gc.check_model(model, x, y))
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    result = gc.check_model(ToyModel(wrong=True), x, y)
    assert not result.passed and result.worst.param == 1
    with pytest.raises(gc.GradcheckError, match=r"param 1"):
        gc.check_model(ToyModel(wrong=True), x, y, raise_exception=True)


def test_check_model_restores_after_an_error():
    model = ToyModel()
    before = model.get_weights()

    def broken(*args, **kwargs):
        model.layer.w[0, 0] += 1.0  # a half-done evaluation
        raise RuntimeError("boom")

    model._loss_and_grads = broken
    with pytest.raises(RuntimeError, match="boom"):
        gc.check_model(model, np.ones((1, 3)), np.ones((1, 2)))
    np.testing.assert_array_equal(model.get_weights()[0], before[0])


def test_check_model_needs_float64():
    with pytest.raises(ValueError, match=r"float32.*set_floatx\('float64'\)"):
        gc.check_model(ToyModel(dtype=np.float32), np.ones((1, 3)), np.ones((1, 2)))


@pytest.mark.parametrize("loss, activation", [
    ("sparse_categorical_crossentropy", "softmax"), ("mse", "linear")])
def test_sequential_model(backend, loss, activation):
    models = pytest.importorskip("gradiente.models")
    layers = pytest.importorskip("gradiente.layers")
    gradiente.set_floatx("float64")
    rng = np.random.default_rng(4)
    model = models.Sequential([layers.Dense(5, activation="tanh", input_shape=(4,)),
                               layers.Dense(3, activation=activation)])
    model.compile(optimizer="sgd", loss=loss)
    x = rng.standard_normal((6, 4))
    y = rng.integers(0, 3, 6) if loss.startswith("sparse") else rng.standard_normal((6, 3))
    before = model.get_weights()
    assert_passed(gc.check_model(model, x, y))
    assert_passed(gc.check_model(model, x, y, sample_weight=rng.uniform(0.5, 2, 6)))
    assert_passed(gc.check_model(model, x, y, max_elements=4))
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_sequential_float32_refused():
    models = pytest.importorskip("gradiente.models")
    layers = pytest.importorskip("gradiente.layers")
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"set_floatx\('float64'\)"):
        gc.check_model(model, np.ones((2, 3)), np.ones((2, 2)))
