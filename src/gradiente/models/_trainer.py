"""fit / evaluate / predict and the *_on_batch methods: data checks, epochs, callbacks and
the progress bar in Python; the batches themselves run in the engine, a run at a time."""
import math
import time

import numpy as np

from .. import _engine, _validate
from ..callbacks import Callback, CallbackList, History, ProgbarLogger
from ..utils._random import generator

#: seconds of work the engine gets per call when nothing needs Python sooner
RUN_SECONDS = 0.1


def _f32(value):
    """Keras's metrics are float32 values; logs and history hold them as Python floats."""
    return float(np.float32(value))


def _batch_arguments(fn, batch_size, verbose, steps):
    """evaluate's and predict's (batch_size, verbose), checked; steps must be None."""
    batch_size = 32 if batch_size is None else _validate.positive_int(batch_size, fn,
                                                                       "batch_size")
    verbose = _validate.verbose(verbose, f"{fn}(verbose=...)")
    if steps is not None:
        raise ValueError(f"{fn}(steps=...) is not supported for arrays; pass None.")
    return batch_size, verbose


class _RunSizer:
    """Picks how many steps the next engine call runs, from the measured step time."""

    def __init__(self, per_batch):
        self.per_batch = per_batch
        self.step_time = None

    def next(self, remaining):
        if self.per_batch or self.step_time is None:
            return 1
        return int(max(1, min(remaining, RUN_SECONDS / max(self.step_time, 1e-9))))

    def record(self, steps, seconds):
        per = seconds / max(steps, 1)
        self.step_time = per if self.step_time is None else 0.5 * (self.step_time + per)


class Trainer:
    """The training loops of Sequential."""

    # ---------------------------------------------------------------- data
    def _prepare_x(self, x, name, check_finite=True):
        if not self.built:
            arr = _validate._array(x, name)
            if arr.ndim < 2:
                _validate.features(arr, name, self.dtype)
            self.build((None,) + arr.shape[1:])
        return _validate.features(x, name, self.dtype, self._input_layer.shape[1:],
                                  check_finite=check_finite)

    def _prepare(self, x, y, sample_weight, fn, class_weight=None):
        """Checked (x, y, sample_weight); nothing of the model changes until all passed
        (building an unbuilt model from x aside)."""
        if not self.compiled:
            raise _validate.NotCompiledError(
                f"You must call compile() before {fn}(): e.g. model.compile(optimizer='adam', "
                "loss='sparse_categorical_crossentropy').")
        x2 = self._prepare_x(x, f"{fn}(x=...)")
        plan = self._ensure_plan()
        y2 = _validate.targets(y, f"{fn}(y=...)", x2.shape[0], plan.y_sparse, plan.n_out,
                               plan.dtype)
        sw = _validate.sample_weights(sample_weight, f"{fn}(sample_weight=...)", x2.shape[0],
                                      plan.dtype)
        if class_weight is not None:
            sw = self._class_weights(class_weight, y2, sw, plan)
        self._resolve_metrics(y)
        return x2, y2, sw

    def _class_weights(self, class_weight, y, sw, plan):
        if not isinstance(class_weight, dict):
            raise TypeError(f"fit(class_weight=...) expects a dict {{class: weight}}; received "
                            f"{type(class_weight).__name__}.")
        n_classes = max(plan.n_out, 2)
        for k, v in class_weight.items():
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)) \
                    or not 0 <= k < n_classes:
                raise ValueError(f"fit(class_weight=...) expects class indices in [0, "
                                 f"{n_classes}) as keys; received key {k!r}.")
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not np.isfinite(v):
                raise ValueError(f"fit(class_weight=...) expects finite numbers as weights; "
                                 f"received {v!r} for class {k!r}.")
        labels = y if plan.y_sparse else (y.argmax(axis=1) if y.shape[1] > 1
                                         else (y[:, 0] > 0.5).astype(np.int64))
        table = np.ones(max([int(k) for k in class_weight] + [int(labels.max()) if labels.size
                                                             else 0]) + 1)
        for k, v in class_weight.items():
            table[int(k)] = float(v)
        weights = table[labels].astype(plan.dtype)
        return weights if sw is None else np.ascontiguousarray(sw * weights)

    def _logs(self, sums, prefix=""):
        n = max(sums[-1], 1.0)
        total_weight = sums[-2] if sums[-2] != 0 else 1.0
        logs = {prefix + "loss": _f32(sums[0] / n)}
        for j, spec in enumerate(self._plan.metrics):
            logs[prefix + spec.name] = _f32(sums[1 + j] / (total_weight if spec.weighted else n))
        return dict(sorted(logs.items()))

    def _sync_optimizer(self, n_steps):
        """Copy the optimizer's hyperparameters into the plan before a run of n_steps;
        a schedule is evaluated for each of the run's steps (``lr_steps``)."""
        plan = self._plan
        spec = self.optimizer._spec()
        spec.lr_steps = self.optimizer._lr_steps(n_steps)
        plan.optimizer.__dict__.update(spec.__dict__)

    def _callbacks(self, callbacks, verbose, params, history=None):
        cbs = list(callbacks or [])
        for cb in cbs:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks expects gradiente.callbacks.Callback instances; "
                                f"received {type(cb).__name__}.")
        if verbose and not any(isinstance(cb, ProgbarLogger) for cb in cbs):
            cbs.append(ProgbarLogger())
        if history is not None:
            cbs.append(history)
        return CallbackList(cbs, self, params)

    # ---------------------------------------------------------------- fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs; returns a History (``history.history['loss']``)."""
        batch_size = 32 if batch_size is None else _validate.positive_int(batch_size, "fit",
                                                                           "batch_size")
        epochs = _validate.non_negative_int(epochs, "fit", "epochs")  # 0 trains nothing
        initial_epoch = _validate.non_negative_int(initial_epoch, "fit", "initial_epoch")
        verbose = _validate.verbose(verbose, "fit(verbose=...)")
        if steps_per_epoch is not None or validation_steps is not None:
            raise ValueError("fit(steps_per_epoch=..., validation_steps=...) are not supported "
                             "for arrays; pass None.")
        validation_freq = _validate.positive_int(validation_freq, "fit", "validation_freq")
        if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)) \
                or not 0 <= validation_split < 1:
            raise ValueError(f"fit(validation_split=...) expects a float in [0, 1); received "
                             f"validation_split={validation_split!r}.")
        if shuffle not in (True, False):
            raise ValueError(f"fit(shuffle=...) expects True or False; received {shuffle!r}.")
        if y is None:
            raise ValueError("fit(y=...) is required: gradiente trains on arrays (x, y).")
        x, y, sw = self._prepare(x, y, sample_weight, "fit", class_weight)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("fit(validation_data=...) expects a tuple (x_val, y_val) or "
                                 "(x_val, y_val, sample_weight_val).")
            vx, vy = validation_data[0], validation_data[1]
            vsw = validation_data[2] if len(validation_data) == 3 else None
            val = self._prepare(vx, vy, vsw, "fit(validation_data)")
        elif validation_split:
            n = x.shape[0]
            split = int(n * (1.0 - validation_split))
            if split == 0 or split == n:
                raise ValueError(
                    f"fit(validation_split={validation_split}) leaves no "
                    f"{'training' if split == 0 else 'validation'} samples out of {n}."
                )
            val = (x[split:], y[split:], None if sw is None else sw[split:])
            x, y = x[:split], y[:split]
            sw = None if sw is None else sw[:split]
        val_batch = validation_batch_size or batch_size
        n = x.shape[0]
        if n == 0:
            raise ValueError("fit(x=...) received no samples.")
        steps = math.ceil(n / batch_size)
        history = History()
        cbs = self._callbacks(callbacks, verbose, {"verbose": verbose, "epochs": epochs,
                                                   "steps": steps}, history)
        sizer = _RunSizer(cbs.per_batch("train"))
        watch_nan = cbs.stops_on_nonfinite_loss()
        engine = self._engine
        self.stop_training = False
        self._in_fit = True
        logs = {}
        try:
            prepare = getattr(engine, "prepare_fit", None)
            if prepare is not None:  # the engine may keep a copy of x laid out for its gather
                prepare(x, epochs - initial_epoch)
            cbs.on_train_begin()
            for epoch in range(initial_epoch, epochs):
                cbs.on_epoch_begin(epoch)
                index = generator().permutation(n) if shuffle else np.arange(n, dtype=np.int64)
                index = np.ascontiguousarray(index, dtype=np.int64)
                sums = np.zeros(self._plan.n_sums())
                step = 0
                while step < steps:
                    k = sizer.next(steps - step)
                    if sizer.per_batch:
                        cbs.on_train_batch_begin(step)
                    self._sync_optimizer(k)
                    saved = self._train_state() if watch_nan and k > 1 else None
                    t0 = time.perf_counter()
                    run = engine.train_steps(x, y, sw, index, step * batch_size, k, batch_size)
                    sizer.record(k, time.perf_counter() - t0)
                    if saved is not None and not np.isfinite(run[0]):
                        run, k = self._replay_to_nonfinite(saved, engine, x, y, sw, index,
                                                           step, k, batch_size)
                    sums += run
                    step += k
                    logs = self._logs(sums)
                    if sizer.per_batch:
                        cbs.on_train_batch_end(step - 1, logs)
                    cbs._on_run_end("train", step, logs)
                    if self.stop_training:  # set by a callback: end after this run
                        break
                logs = self._logs(sums)
                if val is not None and (epoch + 1 - initial_epoch) % validation_freq == 0:
                    vsums = engine.evaluate(val[0], val[1], val[2], val_batch)
                    logs.update(self._logs(vsums, "val_"))
                cbs.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
            cbs.on_train_end(logs)
        finally:
            self._in_fit = False
            release = getattr(engine, "release_data", None)
            if release is not None:
                release()  # the engine holds no reference to the data after fit
        self.history = history
        return history

    def _train_state(self):
        """A copy of what a training step changes: parameters, slots, iterations."""
        plan = self._plan
        return (plan.params.copy(), {k: v.copy() for k, v in plan.slots.items()},
                plan.iterations.copy())

    def _replay_to_nonfinite(self, saved, engine, x, y, sw, index, step, k, batch_size):
        """A run of k steps met a NaN/inf loss: go back to the state before it and take
        its steps one at a time, up to and including the first non-finite one. The
        engine is deterministic, so the replayed steps give the same bits. Returns the
        sums of the steps taken and their number."""
        plan = self._plan
        params, slots, iterations = saved
        plan.params[...] = params
        for name, value in slots.items():
            plan.slots[name][...] = value
        plan.iterations[...] = iterations
        sums = np.zeros(plan.n_sums())
        for j in range(k):
            self._sync_optimizer(1)  # a schedule's rate for this step
            one = engine.train_steps(x, y, sw, index, (step + j) * batch_size, 1, batch_size)
            sums += one
            if not np.isfinite(one[0]):
                return sums, j + 1
        return sums, k  # pragma: no cover - the run was deterministic

    # ---------------------------------------------------------------- evaluate / predict
    def _run_chunks(self, n, batch_size, cbs, mode, work):
        """Call work(lo, hi) over runs of whole batches; returns nothing."""
        steps = math.ceil(n / batch_size)
        sizer = _RunSizer(cbs.per_batch(mode))
        step = 0
        while step < steps:
            k = sizer.next(steps - step)
            lo, hi = step * batch_size, min((step + k) * batch_size, n)
            if sizer.per_batch:
                getattr(cbs, f"on_{mode}_batch_begin")(step)
            t0 = time.perf_counter()
            logs = work(lo, hi)
            sizer.record(k, time.perf_counter() - t0)
            step += k
            if sizer.per_batch:
                getattr(cbs, f"on_{mode}_batch_end")(step - 1, logs)
            cbs._on_run_end(mode, step, logs)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """Loss and metrics over the data: a scalar loss, [loss, *metrics], or a dict."""
        batch_size, verbose = _batch_arguments("evaluate", batch_size, verbose, steps)
        if y is None:
            raise ValueError("evaluate(y=...) is required.")
        x, y, sw = self._prepare(x, y, sample_weight, "evaluate")
        n = x.shape[0]
        cbs = self._callbacks(callbacks, verbose, {"verbose": verbose, "epochs": 1,
                                                   "steps": math.ceil(n / batch_size)})
        sums = np.zeros(self._plan.n_sums())
        engine = self._engine

        def work(lo, hi):
            sums[...] += engine.evaluate(x[lo:hi], y[lo:hi], None if sw is None else sw[lo:hi],
                                         batch_size)
            return self._logs(sums)

        cbs.on_test_begin()
        self._run_chunks(n, batch_size, cbs, "test", work)
        logs = self._logs(sums)
        cbs.on_test_end(logs)
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[spec.name] for spec in self._plan.metrics]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for x, computed in batches (default 32)."""
        batch_size, verbose = _batch_arguments("predict", batch_size, verbose, steps)
        name = "predict(x=...)"
        # The C engine checks NaN and inf in the rows as it reads them (one pass over the
        # data, not two: the check alone took 2 ms of an 11 ms predict of MNIST's test
        # set); otherwise they are checked here first.
        x2 = self._prepare_x(x, name, check_finite=False)
        out_shape = (x2.shape[0],) + tuple(self.output_shape[1:])
        engine = None
        if self._plan is not None:
            engine = self._engine or _engine.make_engine(self._plan)
        in_engine = getattr(engine, "checks_finite", False)
        if not in_engine and x2.size and not _validate._all_finite(x2):
            raise _validate.nonfinite_error(x2, name)
        if engine is None:
            return self._predict_layers(x2, batch_size).reshape(out_shape)
        n = x2.shape[0]
        cbs = self._callbacks(callbacks, verbose, {"verbose": verbose, "epochs": 1,
                                                   "steps": math.ceil(n / batch_size)})
        out = np.empty((n, self._plan.n_out), dtype=self._plan.dtype)

        def work(lo, hi):
            if not in_engine:
                out[lo:hi] = engine.predict(x2[lo:hi], batch_size)
                return {}
            try:
                out[lo:hi] = engine.predict(x2[lo:hi], batch_size, check_x=True)
            except engine.NonFiniteInput:
                raise _validate.nonfinite_error(x2, name) from None
            return {}

        cbs.on_predict_begin()
        self._run_chunks(n, batch_size, cbs, "predict", work)
        cbs.on_predict_end({})
        return out.reshape(out_shape)

    def _predict_layers(self, x2, batch_size):
        parts = [self._forward_layers(x2[lo:lo + batch_size])
                 for lo in range(0, x2.shape[0], batch_size)]
        if not parts:
            return np.empty((0,) + tuple(self.output_shape[1:]), dtype=self.dtype)
        return np.concatenate(parts)

    def _forward_layers(self, x2):
        a = x2.reshape((x2.shape[0],) + tuple(self._input_layer.shape[1:]))
        for layer in self._layers:
            a = layer.call(a)
        return a

    # ---------------------------------------------------------------- on_batch
    def _batch_result(self, sums, return_dict):
        logs = self._logs(sums)
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[spec.name] for spec in self._plan.metrics]
        return values[0] if len(values) == 1 else values

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One optimizer step on (x, y); returns this batch's loss (and metrics)."""
        x, y, sw = self._prepare(x, y, sample_weight, "train_on_batch", class_weight)
        m = x.shape[0]
        if m == 0:
            raise ValueError("train_on_batch(x=...) received no samples.")
        self._sync_optimizer(1)
        sums = self._engine.train_steps(x, y, sw, np.arange(m, dtype=np.int64), 0, 1, m)
        return self._batch_result(sums, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss (and metrics) on one batch, without updating."""
        x, y, sw = self._prepare(x, y, sample_weight, "test_on_batch")
        sums = self._engine.evaluate(x, y, sw, max(x.shape[0], 1))
        return self._batch_result(sums, return_dict)

    def predict_on_batch(self, x):
        """Outputs for one batch, through the layers' own call()."""
        x2 = self._prepare_x(x, "predict_on_batch(x=...)")
        return self._forward_layers(x2)

    # ---------------------------------------------------------------- gradients
    def _loss_and_grads(self, x, y, sample_weight=None):
        """(loss, grads in get_weights order) for one batch, through the layers' call() and
        backward(); weights and optimizer state are left unchanged."""
        if self.loss is None:
            raise RuntimeError("_loss_and_grads needs a compiled model (it uses the loss).")
        x2 = self._prepare_x(x, "x")
        plan = self._ensure_plan()
        y2 = _validate.targets(y, "y", x2.shape[0], plan.y_sparse, plan.n_out, plan.dtype)
        sw = _validate.sample_weights(sample_weight, "sample_weight", x2.shape[0], plan.dtype)
        out = self._forward_layers(x2)
        out2 = out.reshape(out.shape[0], -1)
        rows, dout = self.loss._rows_and_grad(y2, out2, sw)
        m = max(x2.shape[0], 1)
        dy = dout.reshape(out.shape)
        for layer in reversed(self._layers):
            dy = layer.backward(dy)
        grads = []
        penalty = 0.0
        for layer in self._layers:
            own = [np.array(g, dtype=plan.dtype, copy=True) for g in layer.gradients]
            for reg, i in getattr(layer, "_penalties", lambda: [])():
                penalty += reg(layer.weights[i])
                own[i] += reg.gradient(layer.weights[i])
            grads += own
        loss = float(np.sum(rows, dtype=np.float64) / m) + penalty
        return loss, grads
