"""One benchmark measurement in its own process (run by benchmarks/run.py).

Trains one model with one framework on real MNIST and prints a JSON line:
per-epoch seconds, test accuracy, predict seconds for the test set, peak RSS.
Frameworks: gradiente-native, gradiente-numpy, torch, keras-torch, keras-jax, keras-tensorflow.
"""
import argparse
import json
import os
import resource
import sys
import time

#: fit's resident memory: its peak, and the peak less what was resident before fit
FIT_MEMORY = {}

MODELS = {
    # name: (hidden widths, batch size)
    "seed": ((128,), 32),
    "big": ((1024, 1024), 256),
}


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def reset_peak_rss():
    """Start a new peak-RSS measurement (Linux: clear_refs 5 resets VmHWM); returns the
    resident MiB now."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return _status_kib("VmRSS") / 1024.0


def peak_rss():
    return _status_kib("VmHWM") / 1024.0


def load_mnist(path):
    import numpy as np

    with np.load(path, allow_pickle=False) as f:
        x_train, y_train = f["x_train"], f["y_train"]
        x_test, y_test = f["x_test"], f["y_test"]
    x_train = x_train.astype("float32") / 255
    x_test = x_test.astype("float32") / 255
    return (x_train, y_train), (x_test, y_test)


def keras_like(mod_models, mod_layers, hidden, threads_hook=None):
    model = mod_models.Sequential()
    model.add(mod_layers.Input(shape=(28, 28)))
    model.add(mod_layers.Flatten())
    for h in hidden:
        model.add(mod_layers.Dense(h, activation="relu"))
    model.add(mod_layers.Dense(10, activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def run_keras_api(models, layers, callbacks_mod, data, hidden, batch, epochs):
    (x_train, y_train), (x_test, y_test) = data
    model = keras_like(models, layers, hidden)
    times = []
    base = reset_peak_rss()

    class Timer(callbacks_mod.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t0)

    model.fit(x_train, y_train, epochs=epochs, batch_size=batch, verbose=0, callbacks=[Timer()])
    FIT_MEMORY["fit_peak_mib"] = peak_rss()
    FIT_MEMORY["fit_growth_mib"] = peak_rss() - base
    model.predict(x_test[:64], verbose=0)  # warm-up
    t0 = time.perf_counter()
    pred = model.predict(x_test, verbose=0)
    t_pred = time.perf_counter() - t0
    acc = float((pred.argmax(axis=1) == y_test).mean())
    return times, acc, t_pred


def run_torch(data, hidden, batch, epochs, threads):
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    (x_train, y_train), (x_test, y_test) = data
    xt = torch.from_numpy(x_train.reshape(len(x_train), -1))
    yt = torch.from_numpy(y_train.astype("int64"))
    mods = []
    width = 784
    for h in hidden:
        mods += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    mods.append(torch.nn.Linear(width, 10))
    net = torch.nn.Sequential(*mods)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    lossf = torch.nn.CrossEntropyLoss()
    times = []
    n = len(xt)
    base = reset_peak_rss()
    for _ in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for s in range(0, n, batch):
            idx = perm[s:s + batch]
            opt.zero_grad(set_to_none=True)
            loss = lossf(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    FIT_MEMORY["fit_peak_mib"] = peak_rss()
    FIT_MEMORY["fit_growth_mib"] = peak_rss() - base
    xs = torch.from_numpy(x_test.reshape(len(x_test), -1))
    with torch.no_grad():
        net(xs[:64])
        t0 = time.perf_counter()
        out = torch.softmax(net(xs), dim=1).numpy()
        t_pred = time.perf_counter() - t0
    acc = float((np.argmax(out, axis=1) == y_test).mean())
    return times, acc, t_pred


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--framework", required=True)
    ap.add_argument("--model", choices=sorted(MODELS), required=True)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mnist", required=True)
    args = ap.parse_args()
    hidden, batch = MODELS[args.model]
    fw = args.framework
    if fw.startswith("keras-"):
        os.environ["KERAS_BACKEND"] = fw.split("-", 1)[1]
    data = load_mnist(args.mnist)
    data_mib = sum(a.nbytes for pair in data for a in pair) / 2**20
    if fw.startswith("gradiente"):
        import gradiente
        from gradiente import callbacks, layers, models

        gradiente.set_backend(fw.split("-", 1)[1])
        gradiente.set_num_threads(args.threads)
        times, acc, t_pred = run_keras_api(models, layers, callbacks, data, hidden, batch,
                                           args.epochs)
    elif fw == "torch":
        times, acc, t_pred = run_torch(data, hidden, batch, args.epochs, args.threads)
    elif fw.startswith("keras-"):
        if fw == "keras-torch":
            import torch

            torch.set_num_threads(args.threads)
        import keras

        times, acc, t_pred = run_keras_api(keras.models, keras.layers, keras.callbacks, data,
                                           hidden, batch, args.epochs)
    else:
        raise SystemExit(f"unknown framework {fw}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # MiB on Linux
    print(json.dumps({"framework": fw, "model": args.model, "threads": args.threads,
                      "epoch_s": times, "accuracy": acc, "predict_s": t_pred,
                      "peak_rss_mib": rss, "data_mib": data_mib, **FIT_MEMORY}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
