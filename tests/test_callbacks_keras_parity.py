"""Callbacks against real Keras (Keras's answers stored in tests/data; see _keras_peer):
the same tiny regression, weights and data, trained with LearningRateScheduler,
ReduceLROnPlateau, EarlyStopping (restore_best_weights, start_from_epoch) and
CSVLogger; stopping epochs, learning-rate trajectories, histories, final weights and
the CSV files must agree."""
import numpy as np
import pytest

import _keras_peer

SCRIPT = _keras_peer.PREAMBLE + r'''
import tempfile
cb = lib.callbacks
rng = np.random.default_rng(0)
w_true = np.array([[1.0], [-2.0], [0.5], [1.0]])
x = rng.standard_normal((64, 4)).astype("float32")
y = (x @ w_true + 0.3 * rng.standard_normal((64, 1))).astype("float32")
xv = rng.standard_normal((32, 4)).astype("float32")
yv = (xv @ w_true + 0.3 * rng.standard_normal((32, 1))).astype("float32")
weights = [rng.standard_normal((4, 8)).astype("float32") * 0.5, np.zeros(8, "float32"),
           rng.standard_normal((8, 1)).astype("float32") * 0.5, np.zeros(1, "float32")]
out = {}
def sched(epoch, lr):
    return 0.02 if epoch < 3 else (0.3 if epoch < 5 else lr)
tmp = tempfile.mkdtemp()
for case in ("a", "b"):
    model = Sequential([Input((4,)), Dense(8, activation="tanh"), Dense(1)])
    model.set_weights(weights)
    model.compile(optimizer=lib.optimizers.SGD(0.02), loss="mse", metrics=["mae"])
    path = os.path.join(tmp, case + ".csv")
    if case == "a":
        cbs = [cb.LearningRateScheduler(sched),
               cb.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True),
               cb.CSVLogger(path)]
    else:
        cbs = [cb.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=0.05, cooldown=1),
               cb.EarlyStopping(monitor="val_mae", mode="min", min_delta=0.01, patience=3, start_from_epoch=2),
               cb.CSVLogger(path, separator=";")]
    h = model.fit(x, y, validation_data=(xv, yv), epochs=25, batch_size=16, shuffle=False,
                  verbose=0, callbacks=cbs)
    out[case] = {"history": {k: [float(v) for v in vs] for k, vs in h.history.items()},
                 "epoch": list(h.epoch), "weights": [np.asarray(w).tolist() for w in model.get_weights()],
                 "csv": open(path).read()}
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def keras_result():
    return _keras_peer.keras_result("callbacks", SCRIPT)


@pytest.mark.parametrize("backend", ["numpy", "native"])
def test_callbacks_match_keras(keras_result, backend):
    ours = _keras_peer.run(SCRIPT, backend)
    for case in ("a", "b"):
        k, g = keras_result[case], ours[case]
        assert g["epoch"] == k["epoch"], case
        assert sorted(g["history"]) == sorted(k["history"]), case
        assert g["history"]["learning_rate"] == k["history"]["learning_rate"], case
        for key, values in k["history"].items():
            np.testing.assert_allclose(g["history"][key], values, rtol=1e-4,
                                       err_msg=f"{case} {key}")
        for a, b in zip(g["weights"], k["weights"]):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        g_rows = g["csv"].splitlines()
        k_rows = k["csv"].splitlines()
        assert g_rows[0] == k_rows[0] and len(g_rows) == len(k_rows), case
        sep = ";" if case == "b" else ","
        for gr, kr in zip(g_rows[1:], k_rows[1:]):
            gv, kv = gr.split(sep), kr.split(sep)
            assert gv[:2] == kv[:2]  # epoch and learning_rate, exactly
            np.testing.assert_allclose([float(v) for v in gv[2:]], [float(v) for v in kv[2:]],
                                       rtol=1e-4)
