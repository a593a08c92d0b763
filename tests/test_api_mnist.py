"""The founding example on real MNIST: one epoch reaches > 0.93 test accuracy."""
import numpy as np
import pytest

import gradiente
from gradiente.layers import Dense, Flatten
from gradiente.models import Sequential
from gradiente.utils import set_random_seed


@pytest.mark.parametrize("backend", ["numpy", "native"])
def test_founding_model_one_epoch(mnist_path, backend):
    gradiente.set_backend(backend)
    # One thread: this checks the Keras layer's result, not threading, and stays fast
    # on a busy 2-core machine (threads are covered by tests/test_threads_*.py).
    gradiente.set_num_threads(1)
    with np.load(mnist_path, allow_pickle=False) as data:
        x_train = data["x_train"].astype("float32") / 255
        y_train = data["y_train"]
        x_test = data["x_test"].astype("float32") / 255
        y_test = data["y_test"]
    set_random_seed(0)
    model = Sequential()
    model.add(Flatten(input_shape=(28, 28)))
    model.add(Dense(128, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=1,
                        batch_size=32, verbose=0)
    assert history.history["val_accuracy"][0] > 0.93
    assert history.history["loss"][0] < 0.35
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.93
    assert abs(loss - history.history["val_loss"][0]) < 1e-6
