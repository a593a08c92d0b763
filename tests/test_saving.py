"""model.save / load_model / save_weights / load_weights: exact round trips, atomic
writes, and refusal of damaged or hostile files (nothing loaded, nothing run)."""
import io
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest

import gradiente
from gradiente import saving
from gradiente.layers import Dense, Input
from gradiente.models import Sequential, load_model
from gradiente.utils import set_random_seed

BACKENDS = ["native", "numpy"]


def make_model(optimizer="adam", metrics=("accuracy",)):
    model = Sequential([Input((12,)), Dense(16, activation="relu"),
                        Dense(4, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=list(metrics))
    return model


def data(n=200):
    rng = np.random.default_rng(3)
    return rng.standard_normal((n, 12)).astype(np.float32), rng.integers(0, 4, n)


def same_bits(a, b):
    for x, y in zip(a, b):
        np.testing.assert_array_equal(np.asarray(x).view(np.uint8),
                                      np.asarray(y).view(np.uint8))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("optimizer", ["adam", "sgd",
                                       gradiente.optimizers.SGD(0.05, momentum=0.9)])
def test_fit_save_load_fit_equals_fit_twice(tmp_path, backend, optimizer):
    """Shuffle on; the generator's state is not in the file, and loading leaves it as it
    was, so reseeding identically makes the two paths draw the same permutations."""
    gradiente.set_backend(backend)
    x, y = data()
    opt2 = optimizer if isinstance(optimizer, str) else \
        gradiente.optimizers.SGD(0.05, momentum=0.9)
    set_random_seed(11)
    ref = make_model(opt2)
    ref.fit(x, y, epochs=2, batch_size=16, verbose=0)

    set_random_seed(11)
    model = make_model(optimizer)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = load_model(path)
    same_bits(loaded.get_weights(), model.get_weights())
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.optimizer.iterations == model.optimizer.iterations
    loaded.fit(x, y, epochs=1, batch_size=16, verbose=0)
    same_bits(loaded.get_weights(), ref.get_weights())


def test_config_and_compile_settings_survive(tmp_path):
    model = make_model(gradiente.optimizers.Adam(learning_rate=0.003, beta_1=0.8),
                       metrics=["accuracy"])
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert [type(layer).__name__ for layer in loaded.layers] == ["Dense", "Dense"]
    assert loaded.layers[0].activation_name == "relu"
    assert loaded.optimizer.learning_rate == 0.003 and loaded.optimizer.beta_1 == 0.8
    assert type(loaded.loss).__name__ == "SparseCategoricalCrossentropy"
    x, y = data(40)
    assert set(loaded.evaluate(x, y, verbose=0, return_dict=True)) == {"loss", "accuracy"}
    uncompiled = load_model(tmp_path / "m.keras", compile=False)
    assert not uncompiled.compiled


def test_uncompiled_model_round_trip(tmp_path):
    model = Sequential([Input((5,)), Dense(3)])
    model.save(tmp_path / "u.keras")
    loaded = load_model(tmp_path / "u.keras")
    same_bits(loaded.get_weights(), model.get_weights())
    assert not loaded.compiled


def test_save_weights_load_weights(tmp_path):
    a, b = make_model(), make_model()
    a.save_weights(tmp_path / "a.weights.npz")
    b.load_weights(tmp_path / "a.weights.npz")
    same_bits(a.get_weights(), b.get_weights())
    b.load_weights(tmp_path / "a.weights.npz")  # the model file also carries weights
    c = make_model()
    a.save(tmp_path / "a.keras")
    c.load_weights(tmp_path / "a.keras")
    same_bits(a.get_weights(), c.get_weights())
    with pytest.raises(ValueError, match="weights only"):
        load_model(tmp_path / "a.weights.npz")


def test_load_weights_of_another_architecture_changes_nothing(tmp_path):
    a = make_model()
    a.save_weights(tmp_path / "a.weights.npz")
    other = Sequential([Input((12,)), Dense(8), Dense(4)])
    before = other.get_weights()
    with pytest.raises(ValueError, match="shape"):
        other.load_weights(tmp_path / "a.weights.npz")
    same_bits(other.get_weights(), before)


def test_overwrite_false_and_bad_paths(tmp_path):
    model = make_model()
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError):
        model.save(tmp_path / "m.keras", overwrite=False)
    with pytest.raises(FileNotFoundError):
        model.save(tmp_path / "missing" / "m.keras")
    with pytest.raises(TypeError, match="filepath"):
        model.save(3)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nothing.keras")


# ---------------------------------------------------------------- hostile and damaged files


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i.filename) for i in zf.infolist()}


def _write(path, members, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compress) as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)


@pytest.fixture
def saved(tmp_path):
    model = make_model()
    x, y = data(64)
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "good.keras"
    model.save(path)
    return path


def _refused(path, match="not a valid gradiente file"):
    with pytest.raises(ValueError, match=match):
        load_model(path)


def test_truncated_file(saved, tmp_path):
    blob = saved.read_bytes()
    for cut in (10, len(blob) // 2, len(blob) - 30):
        bad = tmp_path / f"cut{cut}.keras"
        bad.write_bytes(blob[:cut])
        _refused(bad)


def test_corrupted_bytes(saved, tmp_path):
    blob = bytearray(saved.read_bytes())
    rng = np.random.default_rng(0)
    for trial in range(8):
        bad_blob = bytearray(blob)
        for pos in rng.integers(0, len(blob), 16):
            bad_blob[pos] ^= 0xFF
        bad = tmp_path / f"bad{trial}.keras"
        bad.write_bytes(bytes(bad_blob))
        try:
            model = load_model(bad)
        except ValueError as exc:
            assert "Nothing was loaded" in str(exc)
        else:  # the flips fell on bytes nothing checks (e.g. zip comments): still sane
            assert all(np.isfinite(w).all() for w in model.get_weights())


def test_not_a_zip(tmp_path):
    p = tmp_path / "text.keras"
    p.write_text("hello")
    _refused(p)


def test_path_traversal_and_unknown_entries(saved, tmp_path):
    members = _members(saved)
    for name in ("../evil.json", "/abs.json", "sub/config.json", "payload.pkl"):
        bad = tmp_path / "trav.keras"
        _write(bad, {**members, name: b"{}"})
        _refused(bad)
    assert not (tmp_path.parent / "evil.json").exists()


def test_pickle_bearing_npz(saved, tmp_path):
    members = _members(saved)
    buf = io.BytesIO()
    obj = np.empty(2, dtype=object)
    obj[0], obj[1] = {"a": 1}, [1]
    with zipfile.ZipFile(buf, "w") as zf:
        one = io.BytesIO()
        np.lib.format.write_array(one, obj, allow_pickle=True)
        zf.writestr("weight_0000.npy", one.getvalue())
    bad = tmp_path / "pickle.keras"
    _write(bad, {**members, "model.weights.npz": buf.getvalue()})
    _refused(bad, "pickled objects are refused")


def test_wrong_shape_in_file(saved, tmp_path):
    members = _members(saved)
    with np.load(io.BytesIO(members["model.weights.npz"])) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["weight_0000"] = np.zeros((12, 17), np.float32)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    bad = tmp_path / "shape.keras"
    _write(bad, {**members, "model.weights.npz": buf.getvalue()})
    _refused(bad, "shape")


def test_npy_header_lies_about_size(saved, tmp_path):
    members = _members(saved)
    inner = _members(io.BytesIO(members["model.weights.npz"]))
    blob = inner["weight_0000.npy"]
    inner["weight_0000.npy"] = blob.replace(b"(12, 16)", b"(12, 99999999)", 1)
    buf = io.BytesIO()
    _write(buf, inner)
    bad = tmp_path / "lies.keras"
    _write(bad, {**members, "model.weights.npz": buf.getvalue()})
    _refused(bad)


def test_zip_bomb(saved, tmp_path, monkeypatch):
    members = _members(saved)
    bad = tmp_path / "bomb.keras"
    huge = b"{" + b" " * (64 << 20) + b"}"
    members["config.json"] = huge
    _write(bad, members, zipfile.ZIP_DEFLATED)
    assert bad.stat().st_size < 1 << 20
    _refused(bad, "zip bomb")
    monkeypatch.setattr(saving, "MAX_TOTAL_BYTES", 1 << 10)
    _refused(saved, "more than")


def test_hostile_config(saved, tmp_path):
    members = _members(saved)
    config = json.loads(members["config.json"])
    cases = []
    c = json.loads(json.dumps(config))
    c["config"]["layers"][1]["config"]["units"] = 10 ** 12  # would allocate terabytes
    cases.append(c)
    c = json.loads(json.dumps(config))
    c["config"]["layers"][1]["class_name"] = "Lambda"
    cases.append(c)
    c = json.loads(json.dumps(config))
    c["class_name"] = "os.system"
    cases.append(c)
    c = json.loads(json.dumps(config))
    c["compile_config"]["optimizer"] = {"class_name": "Evil", "config": {}}
    cases.append(c)
    for i, c in enumerate(cases):
        bad = tmp_path / f"cfg{i}.keras"
        _write(bad, {**members, "config.json": json.dumps(c).encode()})
        _refused(bad)
    bad = tmp_path / "nan.keras"
    _write(bad, {**members, "config.json": members["config.json"].replace(b"0.001", b"NaN")})
    _refused(bad)


def test_failed_load_weights_leaves_model_unchanged(saved, tmp_path):
    model = make_model()
    before = model.get_weights()
    blob = saved.read_bytes()
    bad = tmp_path / "cut.keras"
    bad.write_bytes(blob[: len(blob) - 100])
    with pytest.raises(ValueError):
        model.load_weights(bad)
    same_bits(model.get_weights(), before)


# ---------------------------------------------------------------- atomic writes

_KILLED_SAVE = textwrap.dedent("""
    import sys, time
    import numpy as np
    from gradiente import saving
    from gradiente.layers import Dense, Input
    from gradiente.models import Sequential

    real = saving._write_fully

    def slow(f, data):
        view = memoryview(data)
        f.write(view[: len(view) // 2])
        f.flush()
        print("half", flush=True)
        time.sleep(60)
        f.write(view[len(view) // 2:])

    saving._write_fully = slow
    model = Sequential([Input((12,)), Dense(300), Dense(4)])
    model.save(sys.argv[1])
""")


def test_killed_save_leaves_previous_file(tmp_path):
    path = tmp_path / "m.keras"
    model = make_model()
    model.save(path)
    before = path.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_SAVE, str(path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "half"
        assert any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
    assert path.read_bytes() == before
    loaded = load_model(path)
    same_bits(loaded.get_weights(), model.get_weights())
    model.save(path)  # the stale temporary file does not get in the way
    load_model(path)
