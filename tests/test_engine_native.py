"""The C engine against the NumPy engine: same plan, same data, same trajectory.

The NumPy engine on the numpy backend is the executable spec of a training step; the
C engine runs whole runs of steps. They must agree on weights, optimizer state,
losses, metrics and outputs, for every loss, activation, optimizer and dtype, and the
C engine must give the same bits on 1, 2 and 3 threads.
"""
import numpy as np
import pytest

import gradiente
from gradiente import _engine, losses
from gradiente._engine_native import NativeEngine, _ThreadChooser
from gradiente.layers import Activation, Dense, Flatten, Input
from gradiente.models import Sequential
from gradiente.optimizers import (SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, Nadam,
                                  RMSprop)
from gradiente.utils import set_random_seed, to_categorical

CASES = {
    # name: (output units, last activation, extra Activation layer, loss, targets, metrics)
    "softmax_sparse": (4, "softmax", None, "sparse_categorical_crossentropy", "labels",
                       ["accuracy"]),
    "softmax_layer_sparse": (4, None, "softmax", "sparse_categorical_crossentropy", "labels",
                             ["accuracy", "mse"]),
    "logits_sparse": (4, None, None, losses.SparseCategoricalCrossentropy(from_logits=True),
                      "labels", ["accuracy"]),
    "softmax_cce": (4, "softmax", None, "categorical_crossentropy", "onehot",
                    ["accuracy", "mae"]),
    "logits_cce": (4, "tanh", None, losses.CategoricalCrossentropy(from_logits=True), "onehot",
                   ["accuracy"]),
    "sigmoid_bce": (1, "sigmoid", None, "binary_crossentropy", "binary", ["accuracy"]),
    "logits_bce": (2, None, None, losses.BinaryCrossentropy(from_logits=True), "binary",
                   ["accuracy"]),
    "mse": (3, "tanh", None, "mse", "regression", ["mae"]),
    "mae": (3, None, "sigmoid", "mae", "regression", ["mse"]),
    "sigmoid_sparse_unfused": (4, "sigmoid", None, "sparse_categorical_crossentropy", "labels",
                               ["accuracy"]),
}

OPTIMIZERS = {
    "sgd": lambda: SGD(learning_rate=0.05),
    "momentum": lambda: SGD(learning_rate=0.05, momentum=0.9),
    "nesterov": lambda: SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
    "adam": lambda: Adam(learning_rate=0.01),
    "amsgrad": lambda: Adam(learning_rate=0.01, amsgrad=True),
    "rmsprop": lambda: RMSprop(learning_rate=0.01),
    "rmsprop_momentum_centered": lambda: RMSprop(learning_rate=0.01, momentum=0.5,
                                                 centered=True),
    "adamw": lambda: AdamW(learning_rate=0.01, weight_decay=0.1),
    "adagrad": lambda: Adagrad(learning_rate=0.05),
    "nadam": lambda: Nadam(learning_rate=0.01),
    "adamax": lambda: Adamax(learning_rate=0.01),
    "adadelta": lambda: Adadelta(learning_rate=1.0),
    "sgd_clipnorm_decay": lambda: SGD(learning_rate=0.1, momentum=0.9, clipnorm=0.05,
                                      weight_decay=0.01),
    "adam_global_clipnorm": lambda: Adam(learning_rate=0.01, global_clipnorm=0.05),
    "rmsprop_clipvalue": lambda: RMSprop(learning_rate=0.01, clipvalue=0.01),
    "adamw_exclude_bias": lambda: _excluding(AdamW(learning_rate=0.01, weight_decay=0.5),
                                             ["bias"]),
}


def _excluding(opt, names):
    opt.exclude_from_weight_decay(var_names=names)
    return opt

#: the optimizers every case runs with; the others run on a few cases
_ALL_CASES_OPTS = ("sgd", "momentum", "nesterov", "adam", "amsgrad")
_FEW_CASES = ("softmax_sparse", "mse", "logits_bce")
ENGINE_PAIRS = [(c, o) for o in sorted(OPTIMIZERS) for c in sorted(CASES)
                if o in _ALL_CASES_OPTS or c in _FEW_CASES]


def _targets(kind, n, rng, units):
    if kind == "labels":
        return rng.integers(0, units, n)
    if kind == "onehot":
        return to_categorical(rng.integers(0, units, n), units)
    if kind == "binary":
        return rng.integers(0, 2, (n, units)).astype(np.float32)
    return rng.standard_normal((n, units))


def _data(case, n=45):
    units, _, _, _, kind, _ = CASES[case]
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, 2, 3))
    y = _targets(kind, n, rng, units)
    w = rng.random(n) + 0.5
    return x, y, w


def _model(case, opt, dtype):
    gradiente.set_floatx(dtype)
    units, act, extra, loss, _, metrics = CASES[case]
    set_random_seed(11)
    stack = [Input(shape=(2, 3)), Flatten(), Dense(6, activation="relu"),
             Dense(5, activation="tanh"), Dense(units, activation=act)]
    if extra:
        stack.append(Activation(extra))
    model = Sequential(stack)
    model.compile(optimizer=OPTIMIZERS[opt](), loss=loss, metrics=metrics)
    return model


def _train(backend, case, opt, dtype, sample_weight=False, threads=None):
    gradiente.set_backend(backend)
    if threads is not None:
        gradiente.set_num_threads(threads)
    x, y, w = _data(case)
    model = _model(case, opt, dtype)
    hist = model.fit(x, y, batch_size=8, epochs=2, verbose=0, validation_split=0.2,
                     sample_weight=w if sample_weight else None)
    return model, hist, x, y


@pytest.mark.parametrize("case,opt", ENGINE_PAIRS)
def test_native_engine_matches_numpy_engine_float64(case, opt):
    m_np, h_np, x, y = _train("numpy", case, opt, "float64")
    m_c, h_c, _, _ = _train("native", case, opt, "float64")
    assert isinstance(m_c._engine, NativeEngine)
    assert isinstance(m_np._engine, _engine.NumpyEngine)
    for a, b in zip(m_c.get_weights(), m_np.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert h_c.history.keys() == h_np.history.keys()
    for key in h_np.history:
        np.testing.assert_allclose(h_c.history[key], h_np.history[key], rtol=1e-6, atol=1e-7,
                                   err_msg=key)
    np.testing.assert_allclose(m_c._plan.iterations, m_np._plan.iterations)
    for name, slot in m_np._plan.slots.items():
        np.testing.assert_allclose(m_c._plan.slots[name], slot, rtol=1e-9, atol=1e-12,
                                   err_msg=name)
    np.testing.assert_allclose(m_c._plan.opt_state, m_np._plan.opt_state, rtol=1e-12)
    gradiente.set_backend("native")
    p_c = m_c.predict(x, verbose=0)
    gradiente.set_backend("numpy")
    p_np = m_np.predict(x, verbose=0)
    np.testing.assert_allclose(p_c, p_np, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case,opt", [(c, "adam") for c in ("softmax_sparse", "softmax_cce",
                                                              "sigmoid_bce", "mse")] +
                         [("softmax_sparse", o) for o in ("rmsprop_momentum_centered", "adamw",
                                                          "adagrad", "nadam", "adamax",
                                                          "adadelta", "sgd_clipnorm_decay",
                                                          "adam_global_clipnorm")])
def test_native_engine_matches_numpy_engine_float32(case, opt):
    m_np, h_np, _, _ = _train("numpy", case, opt, "float32", sample_weight=True)
    m_c, h_c, _, _ = _train("native", case, opt, "float32", sample_weight=True)
    for a, b in zip(m_c.get_weights(), m_np.get_weights()):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
    for key in h_np.history:
        np.testing.assert_allclose(h_c.history[key], h_np.history[key], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", ["softmax_sparse", "mae", "logits_bce"])
def test_sample_weights_native(case):
    m_np, h_np, x, y = _train("numpy", case, "momentum", "float64", sample_weight=True)
    m_c, h_c, _, _ = _train("native", case, "momentum", "float64", sample_weight=True)
    for a, b in zip(m_c.get_weights(), m_np.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    for key in h_np.history:
        np.testing.assert_allclose(h_c.history[key], h_np.history[key], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", ["softmax_sparse", "mse"])
def test_evaluate_native_matches_numpy(case):
    m_np, _, x, y = _train("numpy", case, "adam", "float64")
    gradiente.set_backend("numpy")
    ev_np = m_np.evaluate(x, y, verbose=0, batch_size=7)
    m_c, _, _, _ = _train("native", case, "adam", "float64")
    ev_c = m_c.evaluate(x, y, verbose=0, batch_size=7)
    np.testing.assert_allclose(ev_c, ev_np, rtol=1e-6)


def test_bitwise_identical_across_threads():
    results = []
    for threads in (1, 2, 3):
        model, hist, x, _ = _train("native", "softmax_sparse", "adam", "float32",
                                   threads=threads)
        results.append((model.get_weights(), hist.history["loss"], model.predict(x, verbose=0)))
    for weights, losses_, pred in results[1:]:
        for a, b in zip(weights, results[0][0]):
            assert np.array_equal(a, b)
        assert losses_ == results[0][1]
        assert np.array_equal(pred, results[0][2])


@pytest.mark.parametrize("optimizer", [
    "adam", lambda: Nadam(clipnorm=0.5), lambda: AdamW(global_clipnorm=0.5),
    lambda: RMSprop(momentum=0.5, centered=True, clipvalue=0.01)])
def test_bitwise_identical_across_threads_big_layers(optimizer):
    """Large enough that the kernels split their work across the team."""
    gradiente.set_backend("native")
    rng = np.random.default_rng(0)
    x = rng.random((300, 200)).astype(np.float32)
    y = rng.integers(0, 10, 300)
    outs = []
    for threads in (1, 2, 3):
        gradiente.set_num_threads(threads)
        set_random_seed(2)
        model = Sequential([Input(shape=(200,)), Dense(300, activation="relu"),
                            Dense(10, activation="softmax")])
        model.compile(optimizer=optimizer if isinstance(optimizer, str) else optimizer(),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, batch_size=64, epochs=2, verbose=0)
        assert isinstance(model._engine, NativeEngine)
        outs.append(model.get_weights())
    for weights in outs[1:]:
        for a, b in zip(weights, outs[0]):
            assert np.array_equal(a, b)


def test_frozen_layers_fall_back_to_numpy_engine():
    gradiente.set_backend("native")
    set_random_seed(1)
    dense = Dense(4, activation="relu")
    model = Sequential([Input(shape=(3,)), dense, Dense(2, activation="softmax")])
    dense.trainable = False
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    before = model.get_weights()[0].copy()
    model.fit(np.ones((4, 3)), np.array([0, 1, 0, 1]), verbose=0)
    assert not isinstance(model._engine, NativeEngine)
    np.testing.assert_array_equal(model.get_weights()[0], before)


def test_thread_chooser_prefers_the_faster_count_and_rechecks():
    tc = _ThreadChooser(recheck=5, min_seconds=0.0)
    key = ("train", 32)
    assert not tc.decided(key, 2) and tc.decided(key, 1)
    assert tc.pick(key, 2) == 2
    tc.record(key, 2, 50.0, 10)   # the first call of a thread count is a warm-up
    assert tc.pick(key, 2) == 2
    tc.record(key, 2, 2.0, 10)
    assert tc.pick(key, 2) == 1
    tc.record(key, 1, 9.0, 10)    # warm-up
    assert tc.pick(key, 2) == 1
    tc.record(key, 1, 1.0, 10)
    assert tc.decided(key, 2)
    picks = [tc.pick(key, 2) for _ in range(8)]
    assert picks.count(1) >= 6 and 2 in picks  # the slower count is measured again
    assert tc.pick(("train", 64), 1) == 1


def _recheck_runs(monkeypatch, seconds_per_row, best=lambda self, key: 2,
                  record=lambda self, *args: None):
    """Every training call a recheck of 1 thread while best() (2) is known to be
    faster, each count's time per row seconds_per_row(count), record() in place of the
    chooser's; returns the list that collects each run's (steps, threads)."""
    from gradiente import _engine_native

    monkeypatch.setattr(_ThreadChooser, "decided", lambda self, key, n_max: True)
    monkeypatch.setattr(_ThreadChooser, "best", best)
    monkeypatch.setattr(_ThreadChooser, "pick", lambda self, key, n_max: 1)
    monkeypatch.setattr(_ThreadChooser, "seconds_per_unit",
                        lambda self, key, n: seconds_per_row(n))
    monkeypatch.setattr(_ThreadChooser, "record", record)
    runs = []
    run = _engine_native.NativeEngine._run

    def spy(self, key, start, n_steps, batch_size, sums, nt):
        runs.append((n_steps, nt))
        return run(self, key, start, n_steps, batch_size, sums, nt)

    monkeypatch.setattr(_engine_native.NativeEngine, "_run", spy)
    return runs


def test_thread_chooser_takes_more_threads_only_where_they_pay():
    from gradiente._engine_native import THREADS_MARGIN

    tc = _ThreadChooser(recheck=100, min_seconds=0.0)
    key = ("predict", 32)
    tc.record(key, 1, 1.0, 10)
    tc.record(key, 2, 1.0 / (THREADS_MARGIN * 0.99), 10)  # faster, by less than the margin
    assert tc.best(key) == 1 and tc.pick(key, 2) == 1
    tc.state[key]["times"][2] = 0.1 / (THREADS_MARGIN * 1.05)
    assert tc.best(key) == 2 and tc.pick(key, 2) == 2
    tc.state[key]["times"][1] = 0.01  # slower threads never win
    assert tc.best(key) == 1


def test_a_recheck_probes_briefly_then_runs_on_the_faster_count(monkeypatch):
    # A recheck gives the slower count only about PROBE_SECONDS of the run, the rest
    # goes to the faster; the weights are those of an unsplit run, bit for bit, with a
    # learning-rate schedule too (the second part starts at its own step's rate).
    from gradiente import _engine_native
    from gradiente.optimizers.schedules import ExponentialDecay

    gradiente.set_backend("native")
    rng = np.random.default_rng(4)
    x = rng.random((200, 30)).astype(np.float32)
    y = rng.integers(0, 5, 200)

    def fit(threads):
        gradiente.set_num_threads(threads)
        set_random_seed(6)
        model = Sequential([Input(shape=(30,)), Dense(16, activation="relu"),
                            Dense(5, activation="softmax")])
        model.compile(optimizer=Adam(ExponentialDecay(0.01, decay_steps=3, decay_rate=0.7)),
                      loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=8, epochs=3, verbose=0, shuffle=False)
        return model.get_weights()

    reference = fit(1)
    per_row = 1e-3 / 8  # 1 ms a step: a probe of 10 steps
    runs = _recheck_runs(monkeypatch, lambda n: per_row)
    got = fit(2)
    assert _engine_native.PROBE_SECONDS / (per_row * 8) == 10
    assert (10, 1) in runs and any(nt == 2 for _, nt in runs)
    assert all(n <= 10 for n, nt in runs if nt == 1)
    for a, b in zip(got, reference):
        assert np.array_equal(a, b)


def _probe_model():
    """A 30 -> 16 relu -> 5 softmax model on the native backend, 2 threads, and 400
    rows to fit it on (50 steps of 8)."""
    gradiente.set_backend("native")
    gradiente.set_num_threads(2)
    rng = np.random.default_rng(5)
    x = rng.random((400, 30)).astype(np.float32)
    y = rng.integers(0, 5, 400)
    set_random_seed(6)
    model = Sequential([Input(shape=(30,)), Dense(16, activation="relu"),
                        Dense(5, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model, x, y


def test_a_probe_of_a_slower_count_is_sized_by_its_own_time(monkeypatch):
    # The recheck's probe lasts about PROBE_SECONDS at the probed count's own speed: when
    # a core is taken, 2 threads can be many times slower than 1, and a probe sized by
    # the faster count's time would take that many times longer.
    from gradiente import _engine_native

    model, x, y = _probe_model()
    per_row = 1e-3 / 8  # the faster count (2): 1 ms a step; the probed one (1): 5 ms
    runs = _recheck_runs(monkeypatch, lambda n: per_row if n == 2 else 5 * per_row)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert _engine_native.PROBE_SECONDS / (5 * per_row * 8) == 2
    # (fit's first run is a single step; the probe is the next run's head)
    assert max(n for n, nt in runs if nt == 1) == 2  # sized by 1 thread's time: 10 steps
    assert any(nt == 2 and n > 2 for n, nt in runs)
    assert sum(n for n, _ in runs) == 50


def _fitted_mlp(rows, hidden, data_seed, weight_seed):
    """A 30 -> hidden relu -> 5 softmax model on the native backend after one fit call
    (which makes its engine), and rows of random inputs for it."""
    gradiente.set_backend("native")
    rng = np.random.default_rng(data_seed)
    x = rng.random((rows, 30)).astype(np.float32)
    set_random_seed(weight_seed)
    model = Sequential([Input(shape=(30,)), Dense(hidden, activation="relu"),
                        Dense(5, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x[:64], rng.integers(0, 5, 64), verbose=0)
    return model, x


@pytest.mark.parametrize("slow", [1, 5])
def test_a_predict_recheck_probes_briefly_in_whole_spans(monkeypatch, slow):
    # predict's recheck of a slower count runs about PROBE_SECONDS of rows at the slower
    # of the two known times, in whole spans, then the faster count takes the rest; the
    # outputs are those of one thread, bit for bit.
    from gradiente import _engine_native

    model, x = _fitted_mlp(5000, 16, data_seed=8, weight_seed=2)
    gradiente.set_num_threads(1)
    reference = model._engine.predict(x, 32)
    gradiente.set_num_threads(2)
    span = _engine_native.SPAN_ROWS  # batch 32: spans of 8 batches
    per_row = _engine_native.PROBE_SECONDS / (2 * span)  # the faster count: 2 spans
    monkeypatch.setattr(_ThreadChooser, "decided", lambda self, key, n_max: True)
    monkeypatch.setattr(_ThreadChooser, "best", lambda self, key: 2)
    monkeypatch.setattr(_ThreadChooser, "seconds_per_unit",
                        lambda self, key, n: per_row * (slow if n == 1 else 1))
    calls = []
    monkeypatch.setattr(_ThreadChooser, "pick",
                        lambda self, key, n_max: 1 if len(calls) % 2 == 0 else 2)
    monkeypatch.setattr(_ThreadChooser, "record",
                        lambda self, key, nt, seconds, units: calls.append((nt, units)))
    got = model._engine.predict(x, 32)
    assert np.array_equal(got, reference)
    probes = [units for nt, units in calls if nt == 1]
    # 1 thread 5x slower: 2 spans of its time round to 0 spans, so one span
    assert probes and all(u == (2 * span if slow == 1 else span) for u in probes[:-1])
    assert any(nt == 2 and units == _engine_native._CHUNK_ROWS for nt, units in calls)
    assert sum(units for _, units in calls) == len(x)


def test_predict_times_calls_shorter_than_a_span_apart(monkeypatch):
    # A call of less than a span (a warm-up batch, the tail of the data) pays the
    # threads' fork and wake-up over few rows; its times must not decide the thread
    # count of longer calls, which measure both counts on their own.
    from gradiente import _engine_native

    model, x = _fitted_mlp(3000, 16, data_seed=9, weight_seed=4)
    gradiente.set_num_threads(2)
    engine = model._engine
    engine._threads = _ThreadChooser(min_seconds=0.0)
    short = ("predict", 32, True)
    engine._threads.record(short, 2, 1.0, 10)  # short calls: 1 thread looked faster
    engine._threads.record(short, 1, 0.1, 10)
    calls = []
    record = _ThreadChooser.record

    def spy(self, key, nt, seconds, units):
        calls.append((key, nt, units))
        return record(self, key, nt, seconds, units)

    monkeypatch.setattr(_ThreadChooser, "record", spy)
    reference = engine.predict(x, 32)
    span = _engine_native.SPAN_ROWS
    long_calls = [(nt, units) for key, nt, units in calls if not key[2]]
    assert long_calls[0][0] == 2  # measured afresh, the wide count first
    assert {nt for nt, _ in long_calls} == {1, 2}
    assert all(units >= span for _, units in long_calls)
    assert all(key[2] for key, _, units in calls if units < span)
    gradiente.set_num_threads(1)
    assert np.array_equal(engine.predict(x, 32), reference)


def test_thread_chooser_counts_first_predict_call():
    tc = _ThreadChooser(min_seconds=0.0)
    key = ("predict", 32)
    tc.record(key, 2, 1.0, 10)
    assert tc.state[key]["times"][2] == pytest.approx(0.1)


def test_predict_blocks_and_threads_do_not_change_outputs():
    model, x = _fitted_mlp(3000, 40, data_seed=5, weight_seed=3)
    ref = model._engine.predict(x, 32)
    for batch in (1, 7, 256, 3000):
        for threads in (1, 2, 3):
            gradiente.set_num_threads(threads)
            assert np.array_equal(model._engine.predict(x, batch), ref)


def _alternating_density_rows(seed, batch, features):
    """On the native backend: a generator from seed, and batches of rows whose fraction
    of nonzeros alternates irregularly between 0.3 and 0.7 (the sparse and the dense
    product then alternate too), the last one partial."""
    gradiente.set_backend("native")
    rng = np.random.default_rng(seed)
    pattern = [0, 0, 1, 0, 1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0] * 5 + [1, 0]
    rows = batch * len(pattern) - 3
    x = np.zeros((rows, features), np.float32)
    for i in range(rows):
        d = 0.7 if pattern[i // batch] else 0.3
        x[i, rng.random(features) < d] = 1.0 + rng.random()
    return rng, x


def _threads_always(monkeypatch, threads):
    """Every engine call on `threads` threads (the chooser's picks pinned)."""
    monkeypatch.setattr(_ThreadChooser, "pick", lambda self, key, n_max: n_max)
    gradiente.set_num_threads(threads)


@pytest.mark.parametrize("threads", [1, 2])
def test_evaluate_spans_add_each_batchs_sums_as_one_batch_per_forward(threads, monkeypatch):
    # evaluate runs several batches per forward (gathered with their labels); its loss,
    # metric, sample-weight and penalty sums must be those of one batch per forward, bit
    # for bit: each batch decides its own products (sparse or dense, which differ in the
    # last bit; the gathered rows have no per-row counts, their labels lie in that
    # buffer) and its sums are added in batch order, the penalty after each batch's loss.
    from gradiente import _engine_native
    from gradiente.regularizers import L2

    batch, features = 8, 200
    rng, x = _alternating_density_rows(12, batch, features)
    y = rng.integers(0, 5, len(x))
    sw = rng.random(len(x)).astype(np.float32)
    set_random_seed(7)
    model = Sequential([Input(shape=(features,)),
                        Dense(160, activation="relu", kernel_regularizer=L2(1e-3)),
                        Dense(5, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", "sparse_top_k_categorical_accuracy"])
    model.fit(x[:64], y[:64], batch_size=batch, verbose=0)
    _threads_always(monkeypatch, threads)
    engine = model._engine
    monkeypatch.setattr(_engine_native, "SPAN_ROWS", batch)  # the workspace holds a batch
    alone = engine.evaluate(x, y, sw, batch)
    monkeypatch.setattr(_engine_native, "SPAN_ROWS", 256)
    spans = engine.evaluate(x, y, sw, batch)
    assert np.array_equal(spans.view(np.uint64), alone.view(np.uint64))
    assert engine.plan.n_sums() == len(spans) and spans[-1] == len(x)


@pytest.mark.parametrize("threads", [1, 2])
def test_predict_spans_of_batches_keep_each_batchs_bits(threads, monkeypatch):
    # predict runs several batches per forward; each must get the bits of a forward of
    # its own, though a batch's density picks the sparse or the dense product of each
    # dense layer (they differ in the last bit). Batches here alternate irregularly
    # between 0.3 and 0.7 nonzeros, so a forward meets batches that decide alike and
    # batches that do not, and the hidden layer's ReLU output decides again; the last
    # batch is partial. (With k >= 128 the two products differ: gd_spmm_cut.)
    batch, features = 8, 200
    _, x = _alternating_density_rows(11, batch, features)
    rows = len(x)
    set_random_seed(6)
    model = Sequential([Input(shape=(features,)), Dense(160, activation="relu"),
                        Dense(80, activation="relu"), Dense(5, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x[:64], np.arange(64) % 5, batch_size=64, verbose=0)
    _threads_always(monkeypatch, threads)
    got = model.predict(x, batch_size=batch, verbose=0)
    alone = np.concatenate([model._engine.predict(x[i:i + batch], batch)
                            for i in range(0, rows, batch)])
    assert np.array_equal(got.view(np.uint32), alone.view(np.uint32))
    # and the spans did meet both products within one forward
    from gradiente import _config

    ck = _config._native()
    nz = [np.count_nonzero(x[i:i + batch]) / x[i:i + batch].size for i in range(0, rows, batch)]
    limit = ck.sparse_max_density()
    assert any((a <= limit) != (b <= limit) for a, b in zip(nz, nz[1:]))


def test_thread_chooser_backs_off_rechecks_of_a_much_slower_count():
    # A recheck that finds its count more than BACKOFF_FACTOR times slower than the
    # best waits twice as many calls for the next, up to max_recheck; one that finds it
    # close again goes back to every `recheck` calls (and the count may win).
    tc = _ThreadChooser(recheck=4, min_seconds=0.0, max_recheck=16)
    key = ("train", 32)
    for n, per in ((2, 1.0), (2, 1.0), (1, 1.0), (1, 1.0)):  # warm-ups, then times
        assert tc.pick(key, 2) == n
        tc.record(key, n, per, 1)
    tc.state[key]["times"][2] = 50.0  # 2 threads measured 50x slower (a busy core)

    def gaps(count, slow_per):
        """Calls between the rechecks of 2 threads, each recheck timed at slow_per."""
        out, since = [], 0
        while len(out) < count:
            since += 1
            if tc.pick(key, 2) == 2:
                out.append(since)
                since = 0
                tc.record(key, 2, slow_per, 1)
        return out

    assert gaps(5, 50.0)[1:] == [8, 16, 16, 16]  # (the first comes after the warm-ups)
    assert gaps(1, 1.5) == [16]      # within the factor: rechecks every 4 calls again
    assert gaps(3, 1.5) == [4, 4, 4]
    tc.state[key]["times"][2] = 0.5  # a recheck that finds 2 threads faster: they win
    assert tc.best(key) == 2 and tc.pick(key, 2) == 2


def test_thread_chooser_decides_at_once_on_a_count_many_times_faster():
    # A short call need not wait for min_seconds of its kind when its count is
    # EARLY_FACTOR times faster than every count with a time (1 thread at 0.1 ms a step
    # against 2 threads at 64 ms, with a core kept busy); otherwise it is pooled.
    tc = _ThreadChooser(min_seconds=0.1)
    key = ("train", 32)
    tc.record(key, 2, 1.0, 1)      # warm-up
    tc.record(key, 2, 0.128, 2)    # 2 threads: 64 ms a step
    assert tc.state[key]["times"][2] == 64e-3
    tc.record(key, 1, 1e-3, 1)     # warm-up
    tc.record(key, 1, 20e-3, 1)    # 20 ms a step: not EARLY_FACTOR times faster, pooled
    assert 1 not in tc.state[key]["times"]
    tc.record(key, 1, 1e-3, 9)     # the pool: 21 ms over 10 steps, 2.1 ms a step
    assert tc.state[key]["times"][1] == pytest.approx(2.1e-3)
    tc2 = _ThreadChooser(min_seconds=0.1)
    tc2.record(key, 2, 1.0, 1)
    tc2.record(key, 2, 0.128, 2)
    tc2.record(key, 1, 1e-3, 1)    # warm-up
    tc2.record(key, 1, 1e-4, 1)    # 640x faster: decided at once
    assert tc2.state[key]["times"][1] == pytest.approx(1e-4)
    assert tc2.best(key) == 1


def test_the_rest_of_a_run_goes_to_the_count_its_probe_found_faster(monkeypatch):
    # A probe that finds its count faster hands it the rest of the run, not the count
    # that was faster before it (with a core kept busy, that one takes 10-60 ms a step).
    model, x, y = _probe_model()
    faster = [2]  # the count best() answers, until 1 thread has been probed

    def record(self, key, n_threads, seconds, units):
        if n_threads == 1 and units == 10 * 8:  # a probe (fit's first run is one step)
            faster[0] = 1

    # 1 ms a step: probes of 10
    runs = _recheck_runs(monkeypatch, lambda n: 1e-3 / 8, lambda self, key: faster[0],
                         record)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    probe = runs.index((10, 1))
    assert runs[probe + 1][1] == 1, runs  # the rest of that run
    assert sum(n for n, _ in runs) == 50


def test_thread_chooser_pools_short_calls():
    tc = _ThreadChooser(min_seconds=1e-2)
    key = ("train", 32)
    tc.record(key, 2, 1e-3, 1)  # warm-up
    for _ in range(9):
        tc.record(key, 2, 1e-3, 1)
        assert 2 not in tc.state[key]["times"]
    tc.record(key, 2, 1e-3, 1)
    assert tc.state[key]["times"][2] == pytest.approx(1e-3)


@pytest.mark.parametrize("backend", ["native", "numpy"])
@pytest.mark.parametrize("bad_row", [0, 37, 4999])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("features", [20, 300])
def test_predict_reports_nonfinite_input_wherever_it_is(backend, bad_row, value, features):
    # The C engine checks the rows as it reads them, batch by batch (no separate pass):
    # a bad value in any batch, even the last run's, gets the same ValueError as the
    # up-front check of the NumPy engine, naming the argument and the count. One bad
    # value sits near each end of a row (with 300 features, on either side of the
    # first layer's cut), in two different rows.
    import gradiente
    from gradiente import layers, models

    gradiente.set_backend(backend)
    try:
        rng = np.random.default_rng(0)
        x = rng.random((5000, features)).astype(np.float32)
        model = models.Sequential([layers.Input((features,)),
                                   layers.Dense(8, activation="relu"),
                                   layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        before = [w.copy() for w in model.get_weights()]
        good = model.predict(x, verbose=0)
        x[bad_row, features - 3] = value
        x[bad_row // 2, 5] = value
        with pytest.raises(ValueError, match=r"predict\(x=\.\.\.\) contains NaN or infinity "
                                             r"\(2 values\)|\(1 values\)"):
            model.predict(x, verbose=0)
        for a, b in zip(before, model.get_weights()):
            np.testing.assert_array_equal(a, b)
        x[bad_row, features - 3] = x[bad_row // 2, 5] = 0.5
        again = model.predict(x, verbose=0)
        np.testing.assert_array_equal(again[bad_row + 1:], good[bad_row + 1:])
    finally:
        gradiente.set_backend("native")


@pytest.mark.parametrize("side", [-1, 1])
def test_predict_counts_nonzeros_across_the_team(side, monkeypatch):
    # predict reads its rows in place, each thread counting the nonzeros of its rows;
    # the team's sum chooses the first layer's products (sparse at most
    # sparse_max_density nonzeros, 0.5). Each batch here has 2% fewer or more, so a
    # count that missed a thread's half would flip the choice, and the two products
    # differ in the last bit: the outputs must be the same bits on 1, 2 and 3 threads,
    # in batches of 32 (several per forward, each counted alone) and of 320 (one per
    # forward, counted as the rows are read).
    from gradiente import _config

    density = _config._native().sparse_max_density() + 0.02 * side
    gradiente.set_backend("native")
    rng = np.random.default_rng(8)
    features, rows = 256, 32 * 40
    x = np.zeros((rows, features), np.float32)
    per_row = int(round(density * features))
    for i in range(rows):
        x[i, rng.choice(features, per_row, replace=False)] = rng.random(per_row) + 0.1
    set_random_seed(4)
    model = Sequential([Input(shape=(features,)), Dense(96, activation="relu"),
                        Dense(5, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x[:32], np.arange(32) % 5, batch_size=32, verbose=0)  # the engine
    monkeypatch.setattr(_ThreadChooser, "pick", lambda self, key, n_max: n_max)
    outs = []
    for threads in (1, 2, 3):
        gradiente.set_num_threads(threads)
        outs.append(model.predict(x, batch_size=32, verbose=0))
        outs.append(model.predict(x, batch_size=320, verbose=0))
    assert isinstance(model._engine, NativeEngine)
    assert all(np.array_equal(outs[0], o) for o in outs[2::2])
    assert all(np.array_equal(outs[1], o) for o in outs[3::2])
    w, b = model.layers[0].get_weights()[0], model.layers[0].get_weights()[1]
    h = np.maximum(x.astype(np.float64) @ w + b, 0)
    w2, b2 = model.layers[1].get_weights()
    z = h @ w2 + b2
    p = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(outs[0], p / p.sum(axis=1, keepdims=True), rtol=1e-5,
                               atol=1e-6)
