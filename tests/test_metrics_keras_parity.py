"""Metrics against real Keras (Keras's answers stored in tests/data; see _keras_peer):
top-k metrics (names, objects, k, ties), weighted_metrics with sample_weight and
class_weight, evaluate with and without sample_weight; histories and names must agree."""
import numpy as np
import pytest

import _keras_peer

SCRIPT = _keras_peer.PREAMBLE + r'''
M = lib.metrics
rng = np.random.default_rng(1)
x = rng.standard_normal((90, 6)).astype("float32")
y = rng.integers(0, 7, 90)
sw = rng.uniform(0.0, 2.0, 90).astype("float32")
xv = rng.standard_normal((40, 6)).astype("float32")
yv = rng.integers(0, 7, 40)
swv = rng.uniform(0.0, 2.0, 40).astype("float32")
weights = [rng.standard_normal((6, 10)).astype("float32") * 0.4, np.zeros(10, "float32"),
           rng.standard_normal((10, 7)).astype("float32") * 0.4, np.zeros(7, "float32")]
out = {}
for case in ("sparse", "onehot"):
    model = Sequential([Input((6,)), Dense(10, activation="relu"), Dense(7, activation="softmax")])
    model.set_weights(weights)
    if case == "sparse":
        yt, yvt = y, yv
        model.compile(optimizer=lib.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy", "sparse_top_k_categorical_accuracy",
                               M.SparseTopKCategoricalAccuracy(k=2, name="top2")],
                      weighted_metrics=["accuracy", M.SparseTopKCategoricalAccuracy(k=3)])
        h = model.fit(x, yt, batch_size=16, epochs=3, shuffle=False, verbose=0, sample_weight=sw,
                      validation_data=(xv, yvt, swv))
    else:
        yt, yvt = np.eye(7, dtype="float32")[y], np.eye(7, dtype="float32")[yv]
        model.compile(optimizer=lib.optimizers.Adam(0.01), loss="categorical_crossentropy",
                      metrics=[M.TopKCategoricalAccuracy(k=3), "categorical_accuracy", "mse"],
                      weighted_metrics=["mae", M.TopKCategoricalAccuracy(k=2, name="t2")])
        h = model.fit(x, yt, batch_size=16, epochs=3, shuffle=False, verbose=0,
                      class_weight={0: 3.0, 1: 0.5, 4: 2.0}, validation_data=(xv, yvt))
    ev = model.evaluate(xv, yvt, sample_weight=swv, verbose=0, return_dict=True)
    ev2 = model.evaluate(xv, yvt, verbose=0, return_dict=True)
    out[case] = {"history": {k: [float(v) for v in vs] for k, vs in h.history.items()},
                 "evaluate": {k: float(v) for k, v in ev.items()},
                 "evaluate_unweighted": {k: float(v) for k, v in ev2.items()}}
# standalone top-k with ties
p = np.round(rng.uniform(0, 1, (50, 6)), 1).astype("float32")
labels = rng.integers(0, 6, 50)
res = {}
for k in (1, 2, 3, 6):
    if LIB == "keras":
        fn = lambda *a, **kw: lib.ops.convert_to_numpy(M.sparse_top_k_categorical_accuracy(*a, **kw))
        fn2 = lambda *a, **kw: lib.ops.convert_to_numpy(M.top_k_categorical_accuracy(*a, **kw))
    else:
        fn, fn2 = M.sparse_top_k_categorical_accuracy, M.top_k_categorical_accuracy
    res[k] = [np.asarray(fn(labels, p, k=k)).tolist(),
              np.asarray(fn2(np.eye(6, dtype="float32")[labels], p, k=k)).tolist()]
out["ties"] = res
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def keras_result():
    return _keras_peer.keras_result("metrics", SCRIPT)


@pytest.mark.parametrize("backend", ["numpy", "native"])
def test_metrics_match_keras(keras_result, backend):
    ours = _keras_peer.run(SCRIPT, backend)
    for case in ("sparse", "onehot"):
        k, g = keras_result[case], ours[case]
        assert sorted(g["history"]) == sorted(k["history"]), case
        for key, values in k["history"].items():
            np.testing.assert_allclose(g["history"][key], values, rtol=1e-4, atol=1e-6,
                                       err_msg=f"{case} {key}")
        for part in ("evaluate", "evaluate_unweighted"):
            assert sorted(g[part]) == sorted(k[part])
            for key, value in k[part].items():
                assert g[part][key] == pytest.approx(value, rel=1e-4, abs=1e-6), (case, key)
    assert ours["ties"] == keras_result["ties"]
