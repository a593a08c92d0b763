"""EarlyStopping, ModelCheckpoint, LearningRateScheduler, ReduceLROnPlateau, CSVLogger,
LambdaCallback: Keras 3's semantics, on fed logs and in fit on both backends."""
import csv

import numpy as np
import pytest

import gradiente
from gradiente import callbacks
from gradiente.callbacks import (CSVLogger, EarlyStopping, LambdaCallback,
                                 LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau)
from gradiente.layers import Dense, Input
from gradiente.models import Sequential
from gradiente.optimizers import SGD
from gradiente.utils import set_random_seed


@pytest.fixture(params=["numpy", "native"])
def backend(request):
    gradiente.set_backend(request.param)
    return request.param


class FakeModel:
    """What the callbacks touch: weights, stop_training, optimizer, save."""

    def __init__(self, lr=0.1):
        self.w = 0
        self.stop_training = False
        self.optimizer = SGD(learning_rate=lr)
        self.saved = []
        self._plan = None

    def get_weights(self):
        return [np.array([self.w])]

    def set_weights(self, weights):
        self.w = int(weights[0][0])

    def save(self, path, overwrite=True):
        self.saved.append(("model", path))

    def save_weights(self, path, overwrite=True):
        self.saved.append(("weights", path))


def feed(cb, model, values, key="val_loss"):
    """Run cb over epochs whose logs hold values; the model's w is the epoch number.
    Returns the epochs run (stopping when the callback asks)."""
    cb.set_model(model)
    cb.on_train_begin()
    ran = []
    for epoch, value in enumerate(values):
        cb.on_epoch_begin(epoch)
        model.w = epoch
        cb.on_epoch_end(epoch, {key: value, "loss": value})
        ran.append(epoch)
        if model.stop_training:
            break
    cb.on_train_end()
    return ran


# ---------------------------------------------------------------- EarlyStopping
def test_early_stopping_patience_and_min_delta():
    model = FakeModel()
    ran = feed(EarlyStopping(patience=2), model, [1.0, 0.9, 0.95, 0.91, 0.5])
    assert ran == [0, 1, 2, 3]
    model = FakeModel()
    ran = feed(EarlyStopping(patience=1, min_delta=0.2), model, [1.0, 0.9, 0.7])
    assert ran == [0, 1]  # 0.9 is not better by more than 0.2


def test_early_stopping_restores_best_even_without_stopping():
    model = FakeModel()
    cb = EarlyStopping(patience=10, restore_best_weights=True)
    ran = feed(cb, model, [3.0, 1.0, 2.0, 2.5])
    assert ran == [0, 1, 2, 3] and cb.stopped_epoch == 0
    assert model.w == 1 and cb.best_epoch == 1 and cb.best == 1.0


def test_early_stopping_baseline_start_from_epoch_and_mode():
    model = FakeModel()
    # improving without beating the baseline keeps the wait counting
    ran = feed(EarlyStopping(patience=2, baseline=0.5), model, [0.9, 0.95, 0.97, 0.4])
    assert ran == [0, 1]
    ran = feed(EarlyStopping(patience=2), FakeModel(), [0.9, 0.95, 0.97, 0.4])
    assert ran == [0, 1, 2]
    model = FakeModel()
    ran = feed(EarlyStopping(patience=1, start_from_epoch=3), model, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert ran == [0, 1, 2, 3, 4]
    model = FakeModel()
    ran = feed(EarlyStopping(monitor="val_acc", mode="max", patience=1), model,
               [0.5, 0.6, 0.55, 0.9], key="val_acc")
    assert ran == [0, 1, 2]
    with pytest.raises(ValueError, match="mode='max'"):
        feed(EarlyStopping(monitor="val_thing"), FakeModel(), [1.0], key="val_thing")
    with pytest.warns(UserWarning, match="not available"):
        feed(EarlyStopping(monitor="val_loss"), FakeModel(), [1.0], key="other")


def test_early_stopping_in_fit_prints_and_stops(backend, capsys):
    x, y = _data()
    model = _model(SGD(learning_rate=0.0))  # constant loss: no improvement ever
    history = model.fit(x, y, epochs=10, batch_size=16, verbose=0, shuffle=False,
                        callbacks=[EarlyStopping(monitor="loss", patience=2, verbose=1)])
    assert history.epoch == [0, 1, 2]
    assert "Epoch 3: early stopping" in capsys.readouterr().out
    assert "learning_rate" not in history.history


def test_early_stopping_auto_mode_knows_accuracy(backend):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    set_random_seed(0)
    model = Sequential([Input((5,)), Dense(2, activation="softmax")])
    model.compile(optimizer=SGD(0.0), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    cb = EarlyStopping(monitor="accuracy", patience=1)
    model.fit(x, y, epochs=5, verbose=0, callbacks=[cb])
    assert cb._higher_is_better is True and cb.stopped_epoch == 1


# ---------------------------------------------------------------- ModelCheckpoint
def test_model_checkpoint_formats_paths_and_saves_best(tmp_path):
    model = FakeModel()
    path = str(tmp_path / "sub" / "m-{epoch:02d}-{val_loss:.2f}.keras")
    cb = ModelCheckpoint(path, save_best_only=True)
    feed(cb, model, [1.0, 0.5, 0.7, 0.25])
    assert model.saved == [("model", str(tmp_path / "sub" / "m-01-1.00.keras")),
                           ("model", str(tmp_path / "sub" / "m-02-0.50.keras")),
                           ("model", str(tmp_path / "sub" / "m-04-0.25.keras"))]
    assert (tmp_path / "sub").is_dir()
    model = FakeModel()
    cb = ModelCheckpoint(str(tmp_path / "w.weights.h5"), save_weights_only=True,
                         monitor="val_loss", mode="max", save_best_only=True)
    feed(cb, model, [1.0, 0.5, 2.0])
    assert [s[0] for s in model.saved] == ["weights", "weights"]
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint("x.keras", save_freq="batch")
    with pytest.raises(KeyError, match="Failed to format"):
        feed(ModelCheckpoint(str(tmp_path / "{nope}.keras")), FakeModel(), [1.0])


def test_model_checkpoint_per_batch_only_with_int_save_freq():
    assert not callbacks.overrides_batch_hooks(ModelCheckpoint("m.keras"), "train")
    assert callbacks.overrides_batch_hooks(ModelCheckpoint("m.keras", save_freq=3), "train")


def test_model_checkpoint_every_n_batches(backend, tmp_path):
    x, y = _data()
    model = _model(SGD(0.01))
    saved = []
    model.save = lambda path, overwrite=True: saved.append(path)
    cb = ModelCheckpoint(str(tmp_path / "m-{epoch}-{batch}.keras"), save_freq=3)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[cb])  # 6 steps/epoch
    assert [p.rsplit("/", 1)[1] for p in saved] == ["m-1-3.keras", "m-1-6.keras",
                                                   "m-2-3.keras", "m-2-6.keras"]


def test_model_checkpoint_with_real_save(backend, tmp_path):
    if not hasattr(Sequential, "save"):
        pytest.skip("Sequential.save is not available yet")
    x, y = _data()
    model = _model(SGD(0.01))
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.25,
              callbacks=[ModelCheckpoint(str(tmp_path / "m-{epoch:02d}.keras"))])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m-01.keras", "m-02.keras"]


# ---------------------------------------------------------------- learning rate
def test_learning_rate_scheduler_runs_at_epoch_start(backend, capsys):
    x, y = _data()
    model = _model(SGD(learning_rate=0.1))
    w0 = model.get_weights()
    seen = []

    def schedule(epoch, lr):
        seen.append((epoch, lr))
        return 0.0 if epoch == 0 else lr * 0.5

    history = model.fit(x, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(schedule)])
    for a, b in zip(model.get_weights(), w0):
        np.testing.assert_array_equal(a, b)  # epoch 0 already ran at rate 0
    assert history.history["learning_rate"] == [0.0]
    model = _model(SGD(learning_rate=0.1))
    history = model.fit(x, y, epochs=3, verbose=0,
                        callbacks=[LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1),
                                                         verbose=1)])
    assert history.history["learning_rate"] == [float(np.float32(0.1 / (e + 1)))
                                                for e in range(3)]
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.05." \
        in capsys.readouterr().out
    with pytest.raises(ValueError, match="should be a float"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e: "x")])


def test_reduce_lr_on_plateau_trajectory():
    model = FakeModel(lr=1.0)
    cb = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_lr=0.2)
    cb.set_model(model)
    cb.on_train_begin()
    rates = []
    for epoch, value in enumerate([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]):
        logs = {"val_loss": value}
        cb.on_epoch_end(epoch, logs)
        rates.append(logs["learning_rate"])
    # each value is the rate used during the epoch (logged before any reduction)
    f32 = float(np.float32(0.2))  # rates are logged as Keras's float32 variable holds them
    assert rates == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, f32, f32, f32]
    assert model.optimizer.learning_rate == pytest.approx(0.2)
    with pytest.raises(ValueError, match="factor >= 1.0"):
        ReduceLROnPlateau(factor=1.0)


def test_reduce_lr_on_plateau_in_fit(backend, capsys):
    x, y = _data()
    model = _model(SGD(learning_rate=0.0))
    history = model.fit(x, y, epochs=4, verbose=0, callbacks=[
        ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, verbose=1)])
    assert history.history["learning_rate"] == [0.0] * 4  # 0 is not above min_lr
    model = _model(SGD(learning_rate=1e-12))
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[
        ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, verbose=1)])
    expected = [float(np.float32(v)) for v in (1e-12, 1e-12, 5e-13)]
    np.testing.assert_allclose(history.history["learning_rate"], expected, rtol=1e-6)
    assert "ReduceLROnPlateau reducing learning rate" in capsys.readouterr().out


# ---------------------------------------------------------------- CSVLogger, Lambda
def test_csv_logger_rows_header_and_append(backend, tmp_path):
    x, y = _data()
    model = _model(SGD(0.01))
    path = tmp_path / "log.csv"
    model.fit(x, y, epochs=2, verbose=0, callbacks=[CSVLogger(str(path))])
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1"] and rows[1][2] == "NA"
    model.fit(x, y, epochs=1, verbose=0, validation_split=0.25,
              callbacks=[CSVLogger(str(path), append=True)])
    rows = list(csv.reader(path.open()))
    assert len(rows) == 4 and rows[3][0] == "0" and rows[3][2] != "NA"
    model.fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(str(path), separator="\t")])
    assert path.read_text().splitlines()[0] == "epoch\tloss\tval_loss"


def test_lambda_callback_hooks_and_stop_training(backend):
    x, y = _data()
    model = _model(SGD(0.01))
    events = []

    def on_epoch_end(epoch, logs):
        events.append(("epoch", epoch, sorted(logs)))
        if epoch == 1:
            model.stop_training = True

    cb = LambdaCallback(on_train_begin=lambda logs: events.append("begin"),
                        on_epoch_end=on_epoch_end,
                        on_train_end=lambda logs: events.append("end"))
    assert not callbacks.overrides_batch_hooks(cb, "train")
    history = model.fit(x, y, epochs=5, verbose=0, callbacks=[cb])
    assert history.epoch == [0, 1]
    assert events == ["begin", ("epoch", 0, ["loss"]), ("epoch", 1, ["loss"]), "end"]
    batches = []
    cb = LambdaCallback(on_train_batch_end=lambda batch, logs: batches.append(batch))
    assert callbacks.overrides_batch_hooks(cb, "train")
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[cb])
    assert batches == [0, 1, 2]


def test_stop_training_from_a_batch_hook_ends_the_epoch(backend):
    x, y = _data()
    model = _model(SGD(0.01))

    def on_batch_end(batch, logs):
        if batch == 1:
            model.stop_training = True

    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0,
                        callbacks=[LambdaCallback(on_train_batch_end=on_batch_end)])
    assert history.epoch == [0] and model.optimizer.iterations == 2


# ---------------------------------------------------------------- helpers
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
