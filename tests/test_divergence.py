"""TerminateOnNaN stops right after the batch whose loss is NaN or inf (that epoch stays
in the history), with no per-batch Python: bit for bit what per-batch runs give. Without
it, training goes on and the progress bar shows nan."""
import numpy as np
import pytest

import gradiente
from gradiente.callbacks import Callback, TerminateOnNaN
from gradiente.layers import Dense, Input
from gradiente.models import Sequential
from gradiente.utils import set_random_seed

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow on numpy


class PerBatch(Callback):
    """Overrides a batch hook: fit then returns to Python after every batch."""

    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4000, 10)).astype(np.float32)
    return x, (x @ rng.standard_normal((10, 1))).astype(np.float32)


def run(data, callbacks, lr=0.2, epochs=3, verbose=0):
    set_random_seed(1)
    model = Sequential([Input((10,)), Dense(32, activation="relu"), Dense(1)])
    model.compile(optimizer=gradiente.optimizers.SGD(lr), loss="mse")
    history = model.fit(*data, epochs=epochs, batch_size=8, verbose=verbose,
                        callbacks=callbacks)
    return model, history


@pytest.mark.parametrize("backend", ["native", "numpy"])
def test_stops_after_the_bad_batch_as_per_batch_runs_do(data, backend, capsys):
    gradiente.set_backend(backend)
    counter = PerBatch()
    slow, slow_hist = run(data, [TerminateOnNaN(), counter])
    fast, fast_hist = run(data, [TerminateOnNaN()])
    out = capsys.readouterr().out
    assert "Invalid loss, terminating training" in out
    stopped_at = counter.batches
    assert 1 < stopped_at < 500  # it diverged during the first epoch
    assert slow.optimizer.iterations == stopped_at == fast.optimizer.iterations
    assert len(fast_hist.history["loss"]) == 1 and not np.isfinite(fast_hist.history["loss"][0])
    assert fast_hist.history == slow_hist.history or \
        np.isnan(fast_hist.history["loss"][0]) and np.isnan(slow_hist.history["loss"][0])
    for a, b in zip(fast.get_weights(), slow.get_weights()):
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))
    assert f"Batch {stopped_at - 1}:" in out


def test_finite_training_is_untouched(data):
    ref, ref_hist = run(data, [], lr=0.05, epochs=2)
    model, hist = run(data, [TerminateOnNaN()], lr=0.05, epochs=2)
    assert hist.history == ref_hist.history
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_without_it_training_goes_on_and_the_bar_shows_nan(data, capsys):
    model, hist = run(data, [], epochs=2, verbose=2)
    assert len(hist.history["loss"]) == 2
    assert model.optimizer.iterations == 1000
    out = capsys.readouterr().out
    assert "loss: nan" in out
