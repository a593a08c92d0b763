"""Learning-rate schedules: Keras 3's formulas, vectorised evaluation, configs, and the
per-step rates the engines apply (both backends)."""
import json
import math

import numpy as np
import pytest

import gradiente
from gradiente.layers import Dense, Input
from gradiente.models import Sequential
from gradiente.optimizers import SGD, Adam, schedules
from gradiente.utils import set_random_seed

import _keras_peer


@pytest.fixture(params=["numpy", "native"])
def backend(request):
    gradiente.set_backend(request.param)
    return request.param


def _schedules():
    return [
        schedules.ExponentialDecay(0.1, decay_steps=7, decay_rate=0.5),
        schedules.ExponentialDecay(0.1, decay_steps=7, decay_rate=0.5, staircase=True),
        schedules.PiecewiseConstantDecay([5, 12], [0.1, 0.05, 0.01]),
        schedules.InverseTimeDecay(0.2, decay_steps=4, decay_rate=0.3),
        schedules.InverseTimeDecay(0.2, decay_steps=4, decay_rate=0.3, staircase=True),
        schedules.CosineDecay(0.1, decay_steps=20, alpha=0.1),
        schedules.CosineDecay(0.0, decay_steps=15, warmup_target=0.1, warmup_steps=6),
        schedules.PolynomialDecay(0.1, decay_steps=10, end_learning_rate=0.01, power=2.0),
        schedules.PolynomialDecay(0.1, decay_steps=10, power=0.5, cycle=True),
    ]


def _scalar_formula(s, step):
    """Keras's documented formulas, one step at a time in plain Python."""
    c = s.get_config()
    if isinstance(s, schedules.ExponentialDecay):
        p = step / c["decay_steps"]
        p = math.floor(p) if c["staircase"] else p
        return c["initial_learning_rate"] * c["decay_rate"] ** p
    if isinstance(s, schedules.PiecewiseConstantDecay):
        for b, v in zip(c["boundaries"], c["values"]):
            if step <= b:
                return v
        return c["values"][-1]
    if isinstance(s, schedules.InverseTimeDecay):
        p = step / c["decay_steps"]
        p = math.floor(p) if c["staircase"] else p
        return c["initial_learning_rate"] / (1 + c["decay_rate"] * p)
    if isinstance(s, schedules.CosineDecay):
        lr0, d, a = c["initial_learning_rate"], c["decay_steps"], c["alpha"]
        if c["warmup_target"] is None:
            t = min(step, d)
            return lr0 * ((1 - a) * 0.5 * (1 + math.cos(math.pi * t / d)) + a)
        w, target = c["warmup_steps"], c["warmup_target"]
        t = min(step, d + w)
        if t < w:
            return (target - lr0) * t / w + lr0
        t -= w
        return target * ((1 - a) * 0.5 * (1 + math.cos(math.pi * t / d)) + a)
    if isinstance(s, schedules.PolynomialDecay):
        d = c["decay_steps"]
        if c["cycle"]:
            d = d * (1 if step == 0 else math.ceil(step / d))
            t = step
        else:
            t = min(step, d)
        return (c["initial_learning_rate"] - c["end_learning_rate"]) * (1 - t / d) \
            ** c["power"] + c["end_learning_rate"]
    raise AssertionError(s)


@pytest.mark.parametrize("index", range(9))
def test_vectorised_equals_per_step_formula(index):
    s = _schedules()[index]
    steps = np.arange(40)
    vec = s(steps)
    assert vec.dtype == np.float64 and vec.shape == (40,)
    expected = [_scalar_formula(s, int(i)) for i in steps]
    np.testing.assert_allclose(vec, expected, rtol=1e-12, atol=1e-15)
    assert isinstance(s(3), float)
    np.testing.assert_allclose(s._steps(10, 5), vec[10:15], rtol=0)


@pytest.mark.parametrize("index", range(9))
def test_config_round_trip(index):
    s = _schedules()[index]
    config = json.loads(json.dumps(schedules.serialize(s)))
    s2 = schedules.deserialize(config)
    assert type(s2) is type(s) and s2.get_config() == s.get_config()
    np.testing.assert_array_equal(s2(np.arange(30)), s(np.arange(30)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="one more value"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="warmup_steps"):
        schedules.CosineDecay(0.1, 10, warmup_steps=-1)


def test_optimizer_takes_a_schedule_and_reports_its_rate():
    s = schedules.ExponentialDecay(0.1, 10, 0.5)
    opt = SGD(learning_rate=s)
    assert opt.learning_rate == pytest.approx(0.1)
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.01
    config = opt.get_config()
    assert config["learning_rate"]["class_name"] == "ExponentialDecay"
    opt2 = SGD.from_config(config)
    assert isinstance(opt2._learning_rate, schedules.ExponentialDecay)
    assert opt2._lr_steps(3) is not None and SGD(0.1)._lr_steps(3) is None


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5)).astype(np.float32)
    y = (x @ rng.standard_normal((5, 2))).astype(np.float32)
    return x, y


def _model(opt):
    set_random_seed(3)
    model = Sequential([Input((5,)), Dense(6, activation="tanh"), Dense(2)])
    model.compile(optimizer=opt, loss="mse")
    return model


def _optimizer_classes():
    from gradiente import optimizers

    names = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Nadam", "Adamax", "Adadelta"]
    return [getattr(optimizers, n) for n in names if hasattr(optimizers, n)]


@pytest.mark.parametrize("opt_cls", _optimizer_classes())
def test_engine_applies_the_rate_of_every_step(backend, opt_cls):
    """fit with a schedule (runs of many steps in one engine call) gives the weights of
    one train_on_batch per step with the schedule's rate set as a constant."""
    s = schedules.PiecewiseConstantDecay([2, 5, 9], [0.05, 0.02, 0.01, 0.002])
    x, y = _data()
    model = _model(opt_cls(learning_rate=s))
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert model.optimizer.iterations == 24
    ref = _model(opt_cls(learning_rate=0.05))
    for step in range(24):
        ref.optimizer.learning_rate = s(step)
        lo = (step % 12) * 8
        ref.train_on_batch(x[lo:lo + 8], y[lo:lo + 8])
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert model.optimizer.learning_rate == pytest.approx(0.002)


class StepDown(schedules.LearningRateSchedule):
    """A user's schedule, written for one int step at a time."""

    def __call__(self, step):
        return 0.05 if step < 7 else 0.01

    def get_config(self):
        return {}


def test_user_schedule_gets_one_step_at_a_time(backend):
    x, y = _data()
    model = _model(SGD(learning_rate=StepDown()))
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    ref = _model(SGD(learning_rate=0.05))
    for step in range(12):
        ref.optimizer.learning_rate = 0.05 if step < 7 else 0.01
        ref.train_on_batch(x[step * 8:step * 8 + 8], y[step * 8:step * 8 + 8])
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert StepDown()._steps(5, 4).tolist() == [0.05, 0.05, 0.01, 0.01]


def test_schedule_moves_training_differently_from_constant(backend):
    x, y = _data()
    a = _model(SGD(learning_rate=schedules.ExponentialDecay(0.05, 1, 0.1)))
    b = _model(SGD(learning_rate=0.05))
    a.fit(x, y, batch_size=8, epochs=1, verbose=0)
    b.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert not np.allclose(a.get_weights()[0], b.get_weights()[0])


def _keras_configs():
    configs = []
    for s in _schedules():
        c = schedules.serialize(s)
        c["config"].pop("name")
        configs.append(c)
    return configs


VALUES_SCRIPT = r"""
import json, sys, os
os.environ.setdefault("KERAS_BACKEND", "torch")
import keras
out = {}
for i, cfg in enumerate(json.loads(CONFIGS)):
    s = getattr(keras.optimizers.schedules, cfg["class_name"]).from_config(cfg["config"])
    out[i] = [float(keras.ops.convert_to_numpy(s(step))) for step in range(40)]
print(json.dumps(out))
""".replace("CONFIGS", repr(json.dumps(_keras_configs())))


def test_matches_keras_per_step_values():
    """Keras evaluates a schedule one step at a time in float32; ours is vectorised."""
    keras_values = _keras_peer.keras_result("schedule_values", VALUES_SCRIPT)
    for i, s in enumerate(_schedules()):
        np.testing.assert_allclose(s(np.arange(40)), keras_values[str(i)], rtol=2e-6,
                                   atol=1e-9, err_msg=type(s).__name__)

FIT_SCRIPT = _keras_peer.PREAMBLE + r'''
S = lib.optimizers.schedules
rng = np.random.default_rng(2)
x = rng.standard_normal((80, 4)).astype("float32")
y = (np.sin(x @ rng.standard_normal((4, 2)))).astype("float32")
weights = [rng.standard_normal((4, 8)).astype("float32") * 0.5, np.zeros(8, "float32"),
           rng.standard_normal((8, 2)).astype("float32") * 0.5, np.zeros(2, "float32")]
out = {}
cases = {
    "sgd_exp": lambda: lib.optimizers.SGD(S.ExponentialDecay(0.2, 3, 0.7, staircase=True), momentum=0.9),
    "adam_cos": lambda: lib.optimizers.Adam(S.CosineDecay(0.0, 10, alpha=0.1, warmup_target=0.02, warmup_steps=5)),
    "sgd_piece": lambda: lib.optimizers.SGD(S.PiecewiseConstantDecay([4, 9], [0.3, 0.1, 0.01])),
    "adamw_inv": lambda: lib.optimizers.AdamW(S.InverseTimeDecay(0.02, 5, 0.5), weight_decay=0.1),
    "rms_poly": lambda: lib.optimizers.RMSprop(S.PolynomialDecay(0.01, 12, 0.001, power=2.0),
                                               momentum=0.5),
}
for name, make in cases.items():
    model = Sequential([Input((4,)), Dense(8, activation="tanh"), Dense(2)])
    model.set_weights(weights)
    model.compile(optimizer=make(), loss="mse")
    h = model.fit(x, y, batch_size=16, epochs=4, shuffle=False, verbose=0)
    out[name] = {"loss": [float(v) for v in h.history["loss"]],
                 "weights": [np.asarray(w).tolist() for w in model.get_weights()],
                 "iterations": int(np.asarray(model.optimizer.iterations)),
                 "lr": float(np.asarray(model.optimizer.learning_rate))}
print(json.dumps(out))
'''


def test_fit_with_schedules_matches_keras():
    """SGD (momentum) with a staircase ExponentialDecay, Adam with a warmed-up
    CosineDecay, SGD with PiecewiseConstantDecay, AdamW (its decay at the scheduled
    rate) with InverseTimeDecay, RMSprop with PolynomialDecay: 20 steps in runs, on both
    backends, against Keras's step-by-step training."""
    keras_result = _keras_peer.keras_result("schedule_fit", FIT_SCRIPT)
    for backend in ("numpy", "native"):
        ours = _keras_peer.run(FIT_SCRIPT, backend)
        for case, k in keras_result.items():
            g = ours[case]
            assert g["iterations"] == k["iterations"] == 20
            assert g["lr"] == pytest.approx(k["lr"], rel=1e-6)
            np.testing.assert_allclose(g["loss"], k["loss"], rtol=1e-4, err_msg=case)
            for a, b in zip(g["weights"], k["weights"]):
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5, err_msg=case)


def test_save_and_load_keep_the_schedule(backend, tmp_path):
    from gradiente.saving import load_model

    x, y = _data()
    s = schedules.CosineDecay(0.05, decay_steps=30, warmup_target=0.1, warmup_steps=4)
    model = _model(Adam(learning_rate=s))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save(str(tmp_path / "m.keras"))
    loaded = load_model(str(tmp_path / "m.keras"))
    assert isinstance(loaded.optimizer._learning_rate, schedules.CosineDecay)
    assert loaded.optimizer._learning_rate.get_config() == s.get_config()
    assert loaded.optimizer.iterations == 12
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    loaded.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_terminate_on_nan_replays_a_run_with_each_step_rate(backend):
    """TerminateOnNaN takes a diverged run's steps again one at a time: each must get
    its own scheduled rate, as per-batch runs do."""
    from gradiente.callbacks import Callback, TerminateOnNaN

    class PerBatch(Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 10)).astype(np.float32)
    y = (x @ rng.standard_normal((10, 1))).astype(np.float32)
    results = []
    for callbacks in ([TerminateOnNaN(), PerBatch()], [TerminateOnNaN()]):
        set_random_seed(1)
        model = Sequential([Input((10,)), Dense(32, activation="relu"), Dense(1)])
        rising = schedules.ExponentialDecay(0.01, decay_steps=20, decay_rate=3.0)
        model.compile(optimizer=SGD(rising), loss="mse")
        model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=callbacks)
        results.append(model)
    slow, fast = results
    assert 1 < slow.optimizer.iterations == fast.optimizer.iterations < 250
    for a, b in zip(fast.get_weights(), slow.get_weights()):
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))
