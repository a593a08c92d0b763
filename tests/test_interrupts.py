"""Ctrl-C (SIGINT) during fit or a long predict raises KeyboardInterrupt within 0.5 s;
the model keeps the weights of its last completed step (all finite) and trains again.

The engine returns to Python about every 0.1 s (fit's runs; predict's runs of batches),
where the interpreter notices the signal."""
import json
import signal
import subprocess
import sys
import textwrap
import time

import pytest

CHILD = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import gradiente
    from gradiente.callbacks import Callback
    from gradiente.layers import Dense, Input
    from gradiente.models import Sequential

    from gradiente.utils import set_random_seed
    from gradiente.utils._random import generator

    gradiente.set_backend(sys.argv[1])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4000, 64)).astype(np.float32)
    y = rng.integers(0, 10, 4000)

    def make():
        set_random_seed(7)
        model = Sequential([Input((64,)), Dense(512, activation="relu"),
                            Dense(512, activation="relu"), Dense(10, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    def replay(steps):
        # the same model taken through exactly `steps` steps, batch by batch
        ref = make()
        done = 0
        while done < steps:
            perm = generator().permutation(len(x))
            for lo in range(0, len(x), 32):
                if done == steps:
                    break
                ref.train_on_batch(x[perm[lo:lo + 32]], y[perm[lo:lo + 32]])
                done += 1
        return ref

    model = make()

    class Ready(Callback):
        def on_train_begin(self, logs=None):
            print("ready", flush=True)

    def report(what):
        caught = time.time()
        ok = all(np.isfinite(w).all() for w in model.get_weights())
        print(json.dumps({"what": what, "caught": caught, "finite": bool(ok),
                          "iterations": model.optimizer.iterations}), flush=True)

    try:
        model.fit(x, y, epochs=10_000, batch_size=32, verbose=0, callbacks=[Ready()])
        print(json.dumps({"what": "fit finished"}), flush=True)
    except KeyboardInterrupt:
        report("fit")
        ref = replay(model.optimizer.iterations)
        same = all(np.array_equal(a, b) for a, b in zip(ref.get_weights(),
                                                         model.get_weights()))
        print(json.dumps({"what": "last completed step", "same": same}), flush=True)
    big = np.repeat(x, 100, axis=0)  # 400,000 rows: about a second of predict or more
    print("ready", flush=True)
    try:
        model.predict(big, batch_size=256, verbose=0)
        print(json.dumps({"what": "predict finished"}), flush=True)
    except KeyboardInterrupt:
        report("predict")
    before = model.optimizer.iterations
    model.fit(x[:256], y[:256], epochs=1, verbose=0)
    ok = all(np.isfinite(w).all() for w in model.get_weights())
    print(json.dumps({"what": "refit", "finite": bool(ok),
                      "steps": model.optimizer.iterations - before}), flush=True)
""")


@pytest.mark.parametrize("backend", ["native", "numpy"])
def test_sigint_during_fit_and_predict(backend):
    proc = subprocess.Popen([sys.executable, "-c", CHILD, backend], stdout=subprocess.PIPE,
                            text=True)
    delays = {}
    try:
        for what in ("fit", "predict"):
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(0.3)
            sent = time.time()
            proc.send_signal(signal.SIGINT)
            result = json.loads(proc.stdout.readline())
            assert result["what"] == what, result
            assert result["finite"]
            delays[what] = result["caught"] - sent
            if what == "fit":  # the weights are those of its last completed step
                assert json.loads(proc.stdout.readline()) == {"what": "last completed step",
                                                              "same": True}
        refit = json.loads(proc.stdout.readline())
        assert refit == {"what": "refit", "finite": True, "steps": 8}
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    print(f"SIGINT latency ({backend}): {delays}")
    assert max(delays.values()) < 0.5, delays
