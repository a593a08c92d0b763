"""Bad input at every public entry gets a clear ValueError / TypeError before any C runs,
and leaves the weights, the optimizer state and the history exactly as they were; odd
but valid arrays (lists, views, Fortran order, read-only, ints, float64) give the same
result as a contiguous float32 copy."""
import numpy as np
import pytest

import gradiente
from gradiente import activations, losses, metrics, optimizers
from gradiente.datasets import fashion_mnist, mnist
from gradiente.layers import Dense, Input
from gradiente.models import Sequential
from gradiente.utils import set_random_seed

BACKENDS = ["native", "numpy"]
N, D, K = 48, 6, 3


def make(loss="sparse_categorical_crossentropy", out_act="softmax", k=K):
    set_random_seed(5)
    model = Sequential([Input((D,)), Dense(8, activation="relu"), Dense(k, activation=out_act)])
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    return model


@pytest.fixture
def xy():
    rng = np.random.default_rng(0)
    return rng.standard_normal((N, D)).astype(np.float32), rng.integers(0, K, N)


@pytest.fixture(params=BACKENDS)
def trained(request, xy):
    gradiente.set_backend(request.param)
    model = make()
    model.fit(*xy, epochs=1, batch_size=16, verbose=0)
    return model


def snapshot(model):
    plan = model._plan
    return ([w.copy() for w in model.get_weights()],
            {k: v.copy() for k, v in plan.slots.items()}, plan.iterations.copy(),
            model.history, dict(model.history.history))


def assert_unchanged(model, snap):
    weights, slots, iterations, history, hist = snap
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    for k, v in slots.items():
        np.testing.assert_array_equal(model._plan.slots[k], v)
    np.testing.assert_array_equal(model._plan.iterations, iterations)
    assert model.history is history and model.history.history == hist


def _x(xy):
    return xy[0]


def _y(xy):
    return xy[1]


nan_x = lambda xy: np.where(np.arange(N * D).reshape(N, D) == 7, np.nan, xy[0])  # noqa: E731
inf_x = lambda xy: np.where(np.arange(N * D).reshape(N, D) == 9, np.inf, xy[0])  # noqa: E731

# (id, call(model, x, y), exception, words the message must hold)
CASES = [
    ("x_1d", lambda m, x, y: m.fit(x[:, 0], y, verbose=0), ValueError, "shape"),
    ("x_3d", lambda m, x, y: m.fit(x[:, :, None], y, verbose=0), ValueError, "(6,)"),
    ("x_features", lambda m, x, y: m.fit(x[:, :5], y, verbose=0), ValueError, "(6,)"),
    ("xy_lengths", lambda m, x, y: m.fit(x, y[:-1], verbose=0), ValueError, "same length"),
    ("x_object", lambda m, x, y: m.fit(x.astype(object), y, verbose=0), TypeError, "object"),
    ("x_str", lambda m, x, y: m.fit(x.astype(str), y, verbose=0), TypeError, "string"),
    ("x_complex", lambda m, x, y: m.fit(x.astype(complex), y, verbose=0), TypeError,
     "complex"),
    ("x_ragged_list", lambda m, x, y: m.fit([[1.0, 2.0], [3.0]], y, verbose=0), TypeError,
     "x"),
    ("x_none", lambda m, x, y: m.fit(None, y, verbose=0), ValueError, "None"),
    ("x_nan", lambda m, x, y: m.fit(nan_x((x, y)), y, verbose=0), ValueError, "NaN"),
    ("x_inf", lambda m, x, y: m.fit(inf_x((x, y)), y, verbose=0), ValueError, "infinity"),
    ("y_nan_float_labels", lambda m, x, y: m.fit(x, np.where(y == 0, np.nan, y), verbose=0),
     ValueError, "integer"),
    ("y_out_of_range", lambda m, x, y: m.fit(x, y + K, verbose=0), ValueError, "[0, 3)"),
    ("y_negative", lambda m, x, y: m.fit(x, y - 1, verbose=0), ValueError, "[0, 3)"),
    ("y_non_integer", lambda m, x, y: m.fit(x, y + 0.5, verbose=0), ValueError, "integer"),
    ("y_onehot_for_sparse", lambda m, x, y: m.fit(x, np.eye(K)[y], verbose=0), ValueError,
     "sparse_categorical_crossentropy"),
    ("y_str", lambda m, x, y: m.fit(x, y.astype(str), verbose=0), TypeError, "string"),
    ("y_missing", lambda m, x, y: m.fit(x, verbose=0), ValueError, "y"),
    ("x_empty", lambda m, x, y: m.fit(x[:0], y[:0], verbose=0), ValueError, "at least one"),
    ("batch_size_0", lambda m, x, y: m.fit(x, y, batch_size=0, verbose=0), ValueError,
     "batch_size=0"),
    ("batch_size_neg", lambda m, x, y: m.fit(x, y, batch_size=-4, verbose=0), ValueError,
     "positive int"),
    ("batch_size_float", lambda m, x, y: m.fit(x, y, batch_size=8.0, verbose=0), ValueError,
     "batch_size=8.0"),
    ("batch_size_str", lambda m, x, y: m.fit(x, y, batch_size="32", verbose=0), ValueError,
     "batch_size"),
    ("epochs_neg", lambda m, x, y: m.fit(x, y, epochs=-1, verbose=0), ValueError, "epochs"),
    ("epochs_float", lambda m, x, y: m.fit(x, y, epochs=2.5, verbose=0), ValueError,
     "epochs=2.5"),
    ("epochs_bool", lambda m, x, y: m.fit(x, y, epochs=True, verbose=0), ValueError,
     "epochs"),
    ("initial_epoch_neg", lambda m, x, y: m.fit(x, y, initial_epoch=-1, verbose=0),
     ValueError, "initial_epoch"),
    ("validation_split_1", lambda m, x, y: m.fit(x, y, validation_split=1.0, verbose=0),
     ValueError, "[0, 1)"),
    ("validation_split_neg", lambda m, x, y: m.fit(x, y, validation_split=-0.1, verbose=0),
     ValueError, "[0, 1)"),
    ("validation_split_str", lambda m, x, y: m.fit(x, y, validation_split="0.2", verbose=0),
     ValueError, "validation_split"),
    ("validation_data_shape", lambda m, x, y: m.fit(x, y, validation_data=(x[:, :4], y),
                                                    verbose=0), ValueError, "(6,)"),
    ("validation_data_nan", lambda m, x, y: m.fit(x, y, validation_data=(nan_x((x, y)), y),
                                                  verbose=0), ValueError, "NaN"),
    ("validation_data_type", lambda m, x, y: m.fit(x, y, validation_data=x, verbose=0),
     ValueError, "validation_data"),
    ("sample_weight_len", lambda m, x, y: m.fit(x, y, sample_weight=np.ones(N - 1),
                                                verbose=0), ValueError, "sample_weight"),
    ("sample_weight_nan", lambda m, x, y: m.fit(x, y, sample_weight=np.full(N, np.nan),
                                                verbose=0), ValueError, "NaN"),
    ("class_weight_type", lambda m, x, y: m.fit(x, y, class_weight=[1, 2], verbose=0),
     TypeError, "dict"),
    ("class_weight_key", lambda m, x, y: m.fit(x, y, class_weight={10 ** 9: 1.0}, verbose=0),
     ValueError, "class indices"),
    ("class_weight_value", lambda m, x, y: m.fit(x, y, class_weight={0: float("nan")},
                                                 verbose=0), ValueError, "finite"),
    ("verbose", lambda m, x, y: m.fit(x, y, verbose=5), ValueError, "verbose=5"),
    ("shuffle", lambda m, x, y: m.fit(x, y, shuffle="yes", verbose=0), ValueError, "shuffle"),
    ("callbacks", lambda m, x, y: m.fit(x, y, callbacks=[print], verbose=0), TypeError,
     "Callback"),
    ("evaluate_features", lambda m, x, y: m.evaluate(x[:, :2], y, verbose=0), ValueError,
     "(6,)"),
    ("evaluate_labels", lambda m, x, y: m.evaluate(x, y + 7, verbose=0), ValueError, "labels"),
    ("evaluate_batch", lambda m, x, y: m.evaluate(x, y, batch_size=0, verbose=0), ValueError,
     "batch_size"),
    ("predict_features", lambda m, x, y: m.predict(x[:, :2], verbose=0), ValueError, "(6,)"),
    ("predict_nan", lambda m, x, y: m.predict(nan_x((x, y)), verbose=0), ValueError, "NaN"),
    ("predict_empty", lambda m, x, y: m.predict(x[:0], verbose=0), ValueError,
     "at least one"),
    ("predict_batch", lambda m, x, y: m.predict(x, batch_size=-1, verbose=0), ValueError,
     "batch_size"),
    ("train_on_batch_lengths", lambda m, x, y: m.train_on_batch(x, y[:3]), ValueError,
     "same length"),
    ("train_on_batch_inf", lambda m, x, y: m.train_on_batch(inf_x((x, y)), y), ValueError,
     "infinity"),
    ("test_on_batch_labels", lambda m, x, y: m.test_on_batch(x, y - 5), ValueError, "labels"),
    ("predict_on_batch_dtype", lambda m, x, y: m.predict_on_batch(x.astype(object)),
     TypeError, "object"),
    ("set_weights_count", lambda m, x, y: m.set_weights(m.get_weights()[:-1]), ValueError,
     "expects 4 arrays"),
    ("set_weights_shape", lambda m, x, y: m.set_weights(
        [np.zeros((D, 9))] + m.get_weights()[1:]), ValueError, "shape (6, 8)"),
    ("set_weights_dtype", lambda m, x, y: m.set_weights(
        [w.astype(str) for w in m.get_weights()]), TypeError, "weights[0]"),
    ("set_weights_complex", lambda m, x, y: m.set_weights(
        m.get_weights()[:3] + [m.get_weights()[3].astype(complex)]), TypeError, "complex"),
    ("layer_set_weights_dtype", lambda m, x, y: m.layers[0].set_weights(
        [w.astype(complex) for w in m.layers[0].get_weights()]), TypeError, "complex"),
    ("layer_set_weights_shape", lambda m, x, y: m.layers[1].set_weights(
        [np.zeros((8, 4)), np.zeros(3)]), ValueError, "shape (8, 3)"),
    ("compile_optimizer", lambda m, x, y: m.compile(optimizer="adma", loss="mse"), ValueError,
     "did you mean 'adam'"),
    ("compile_loss", lambda m, x, y: m.compile(optimizer="adam",
                                               loss="sparse_categorical_crossentropi"),
     ValueError, "did you mean 'sparse_categorical_crossentropy'"),
    ("compile_metric", lambda m, x, y: m.compile(optimizer="adam", loss="mse",
                                                 metrics=["acuracy"]), ValueError,
     "did you mean 'accuracy'"),
    ("compile_metrics_str", lambda m, x, y: m.compile(optimizer="adam", loss="mse",
                                                      metrics="accuracy"), TypeError,
     "metrics"),
    ("compile_no_loss", lambda m, x, y: m.compile(optimizer="adam"), ValueError, "loss"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_changes_nothing(trained, xy, case):
    _, call, exc, words = case
    snap = snapshot(trained)
    with pytest.raises(exc) as info:
        call(trained, *xy)
    assert words.lower() in str(info.value).lower(), str(info.value)
    assert_unchanged(trained, snap)
    trained.fit(*xy, epochs=1, verbose=0)  # and it still trains


def test_one_hot_of_the_wrong_width(xy):
    model = make(loss="categorical_crossentropy")
    x, y = xy
    with pytest.raises(ValueError, match=r"\(48, 3\)"):
        model.fit(x, np.eye(K + 1)[y], verbose=0)
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        model.fit(x, y, verbose=0)


def test_regression_targets_nan(xy):
    model = make(loss="mse", out_act="linear", k=2)
    y = np.zeros((N, 2))
    y[3, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        model.fit(xy[0], y, verbose=0)


def test_fit_before_compile(xy):
    model = Sequential([Input((D,)), Dense(K)])
    for call in (lambda: model.fit(*xy, verbose=0), lambda: model.evaluate(*xy, verbose=0),
                 lambda: model.train_on_batch(*xy), lambda: model.test_on_batch(*xy)):
        with pytest.raises(ValueError, match="compile()"):
            call()
        with pytest.raises(RuntimeError):  # what earlier gradiente raised
            call()


CONSTRUCTORS = [
    (lambda: Dense(0), ValueError, "units=0"),
    (lambda: Dense(4.5), ValueError, "units"),
    (lambda: Dense(4, activation="rleu"), ValueError, "did you mean 'relu'"),
    (lambda: Dense(4, name=3), TypeError, "name"),
    (lambda: Dense(4, dtype="int8"), ValueError, "dtype"),
    (lambda: Input((0,)), ValueError, "positive"),
    (lambda: optimizers.Adam(learning_rate=-1.0), ValueError, "learning_rate"),
    (lambda: optimizers.Adam(learning_rate="fast"), TypeError, "learning_rate"),
    (lambda: optimizers.Adam(beta_1=1.0), ValueError, "beta_1"),
    (lambda: optimizers.Adam(epsilon=-1e-7), ValueError, "epsilon"),
    (lambda: optimizers.SGD(momentum=2.0), ValueError, "momentum"),
    (lambda: optimizers.SGD(nesterov=True, foo=1), TypeError, "foo"),
    (lambda: optimizers.get("sgdd"), ValueError, "did you mean 'sgd'"),
    (lambda: losses.get("mse2"), ValueError, "did you mean 'mse'"),
    (lambda: losses.MeanSquaredError(reduction="avg"), ValueError, "reduction"),
    (lambda: losses.SparseCategoricalCrossentropy(from_logits="yes"), TypeError,
     "from_logits"),
    (lambda: activations.get("softmaxx"), ValueError, "did you mean 'softmax'"),
    (lambda: metrics.check("mean_squared_eror"), ValueError, "did you mean"),
    (lambda: gradiente.utils.set_random_seed(-1), ValueError, "seed"),
    (lambda: mnist.load_data(path=3), TypeError, "path"),
]


@pytest.mark.parametrize("i", range(len(CONSTRUCTORS)))
def test_constructors(i):
    build, exc, words = CONSTRUCTORS[i]
    with pytest.raises(exc) as info:
        build()
    assert words.lower() in str(info.value).lower(), str(info.value)


def test_dataset_loader_bad_file(tmp_path):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not an .npz"):
        mnist.load_data(path=str(bad))
    assert callable(fashion_mnist.load_data)


# ---------------------------------------------------------------- odd but valid arrays

def _variants(x, y):
    xf = np.asfortranarray(x)
    wide = np.zeros((x.shape[0], 2 * x.shape[1]), np.float32)
    wide[:, ::2] = x
    ro_x, ro_y = x.copy(), y.astype(np.int32)
    ro_x.flags.writeable = False
    ro_y.flags.writeable = False
    return {
        "list": (x.tolist(), y.tolist()),
        "fortran": (xf, y),
        "strided": (wide[:, ::2], y[::1]),
        "read_only": (ro_x, ro_y),
        "float64": (x.astype(np.float64), y.astype(np.float64)),
        "int_labels_u8": (x, y.astype(np.uint8)),
    }


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", ["list", "fortran", "strided", "read_only", "float64",
                                     "int_labels_u8"])
def test_odd_arrays_same_result(backend, variant):
    gradiente.set_backend(backend)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, D)).astype(np.float32)
    y = rng.integers(0, K, N)
    ref = make()
    ref.fit(x, y, epochs=2, batch_size=8, verbose=0)
    ref_pred = ref.predict(x, verbose=0)
    ref_eval = ref.evaluate(x, y, verbose=0)
    vx, vy = _variants(x, y)[variant]
    model = make()
    model.fit(vx, vy, epochs=2, batch_size=8, verbose=0)
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(vx, verbose=0), ref_pred)
    assert model.evaluate(vx, vy, verbose=0) == ref_eval
    model.train_on_batch(vx, vy)
    ref.train_on_batch(x, y)
    np.testing.assert_array_equal(model.predict_on_batch(vx), ref.predict_on_batch(x))


def test_int_features_same_as_float32():
    rng = np.random.default_rng(2)
    xi = rng.integers(0, 5, (N, D))
    y = rng.integers(0, K, N)
    a = make()
    a.fit(xi, y, epochs=1, verbose=0)
    b = make()  # reseeds: same initial weights, same shuffle
    b.fit(xi.astype(np.float32), y, epochs=1, verbose=0)
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)
