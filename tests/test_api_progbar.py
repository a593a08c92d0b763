"""What fit, evaluate and predict print for verbose 0, 1, 2 (stdout not a terminal)."""
import re

import numpy as np
import pytest

import gradiente
from gradiente.layers import Dense, Input
from gradiente.models import Sequential

ANSI = re.compile(r"\x1b\[[0-9;]*m")
NUM = r"\d+\.\d{4}(e[-+]\d+)?"


@pytest.fixture(params=["numpy", "native"])
def backend(request):
    gradiente.set_backend(request.param)
    return request.param


@pytest.fixture
def fitted():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3)).astype(np.float32)
    y = rng.integers(0, 2, 40)
    model = Sequential([Input(shape=(3,)), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, x, y


def test_verbose_0_prints_nothing(backend, fitted, capsys):
    model, x, y = fitted
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.25)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_verbose_2_one_line_per_epoch(backend, fitted, capsys):
    model, x, y = fitted
    model.fit(x, y, epochs=2, batch_size=8, verbose=2, validation_split=0.25)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    pattern = (rf"^4/4 - \d+s - \d+(s|ms|us)/step - accuracy: {NUM} - loss: {NUM} - "
               rf"val_accuracy: {NUM} - val_loss: {NUM}$")
    assert re.match(pattern, lines[1]) and re.match(pattern, lines[3])


def test_verbose_1_progress_bar(backend, fitted, capsys):
    model, x, y = fitted
    model.fit(x, y, epochs=2, batch_size=8, validation_data=(x[:8], y[:8]))  # verbose='auto'
    out = capsys.readouterr().out
    assert out.startswith("Epoch 1/2\n") and "Epoch 2/2\n" in out
    last = ANSI.sub("", out.rstrip("\n").split("\n")[-1].split("\r")[-1])
    assert re.match(rf"^5/5 ━{{20}} \d+s \d+(s|ms|us)/step - accuracy: {NUM} - loss: {NUM} - "
                    rf"val_accuracy: {NUM} - val_loss: {NUM}$", last), last
    assert "\x1b[1m5/5\x1b[0m \x1b[32m" in out  # Keras's colours


def test_single_epoch_has_no_epoch_line(backend, fitted, capsys):
    model, x, y = fitted
    model.fit(x, y, epochs=1, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch" not in out and out.startswith("2/2 - ")


def test_evaluate_and_predict_bars(backend, fitted, capsys):
    model, x, y = fitted
    model.evaluate(x, y, batch_size=10)
    out = ANSI.sub("", capsys.readouterr().out).strip().split("\r")[-1]
    assert re.match(rf"^4/4 ━{{20}} \d+s \d+(s|ms|us)/step - accuracy: {NUM} - loss: {NUM}$", out)
    model.predict(x)
    out = ANSI.sub("", capsys.readouterr().out).strip().split("\r")[-1]
    assert re.match(r"^2/2 ━{20} \d+s \d+(s|ms|us)/step$", out)
