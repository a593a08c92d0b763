"""Callbacks, as in ``keras.callbacks``: the Callback base with Keras's hooks, History,
ProgbarLogger (and the Progbar it draws), TerminateOnNaN; EarlyStopping, ModelCheckpoint,
LearningRateScheduler, ReduceLROnPlateau, CSVLogger and LambdaCallback come from
``_callbacks_keras``."""
import math
import os
import sys
import time

import numpy as np

_BATCH_HOOKS = {
    "train": ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end"),
    "test": ("on_test_batch_begin", "on_test_batch_end"),
    "predict": ("on_predict_batch_begin", "on_predict_batch_end"),
}
_WHOLE_HOOKS = {"on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
                "on_predict_begin", "on_predict_end"}


class Callback:
    """Base class. Override any hook; ``self.model`` and ``self.params`` are set by fit.

    Overriding a per-batch hook (``on_train_batch_end``...) makes fit return to Python
    after every batch to call it; otherwise whole runs of batches go in one call.
    """

    def __init__(self):
        self.params = {}
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    def on_batch_begin(self, batch, logs=None):
        """A backwards-compatible alias for on_train_batch_begin."""

    def on_batch_end(self, batch, logs=None):
        """A backwards-compatible alias for on_train_batch_end."""

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass

    # gradiente: called after every run of steps with the samples done so far
    def _on_run_end(self, mode, step, logs):
        pass


def overrides_batch_hooks(callback, mode):
    """Whether a callback overrides one of the per-batch hooks of mode
    ('train', 'test' or 'predict'), in its class or on the instance; a callback may
    decide itself with ``_needs_batch_hooks(mode)``."""
    needs = getattr(callback, "_needs_batch_hooks", None)
    if needs is not None:
        return bool(needs(mode))
    cls = type(callback)
    return any(name in vars(callback) or getattr(cls, name, None) is not getattr(Callback, name)
               for name in _BATCH_HOOKS[mode])


class CallbackList:
    """Calls a hook on every callback, in order."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def per_batch(self, mode):
        return any(overrides_batch_hooks(cb, mode) for cb in self.callbacks)

    def stops_on_nonfinite_loss(self):
        return any(isinstance(cb, TerminateOnNaN) for cb in self.callbacks)

    def __getattr__(self, name):
        if not name.startswith("on_") and name != "_on_run_end":
            raise AttributeError(name)

        if name == "_on_run_end":
            def call(*args, **kwargs):
                for cb in self.callbacks:
                    cb._on_run_end(*args, **kwargs)

            return call
        # Keras passes logs positionally (LambdaCallback's lambdas have no defaults)
        n_args = 1 if name in _WHOLE_HOOKS else 2

        def call(*args, logs=None):
            args = list(args) + [None] * (n_args - len(args))
            if logs is not None:
                args[n_args - 1] = logs
            for cb in self.callbacks:
                getattr(cb, name)(*args[:n_args])

        return call


class History(Callback):
    """Records each epoch's logs: ``history.history['loss']``, ``history.epoch``."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


class TerminateOnNaN(Callback):
    """Stops training right after the batch whose loss is NaN or infinite; that epoch
    stays in the history (Keras's semantics).

    No per-batch Python: fit still runs whole runs of batches in the engine. A run's
    summed loss is non-finite exactly when one of its batches' losses is; fit then puts
    the weights, slots and iteration count back as they were before the run (it keeps a
    copy per run while this callback is present: one pass over the parameters every
    ~0.1 s) and takes that run's batches again one at a time, up to and including the
    first non-finite one. So the weights, ``optimizer.iterations`` and the epoch's logs
    are those Keras would give, bit for bit.
    """

    def _on_run_end(self, mode, step, logs):
        if mode != "train":
            return
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            sys.stdout.write(f"Batch {step - 1}: Invalid loss, terminating training\n")
            sys.stdout.flush()
            self.model.stop_training = True


from ._callbacks_keras import (  # noqa: E402  (they subclass Callback, defined above)
    CSVLogger, EarlyStopping, LambdaCallback, LearningRateScheduler, ModelCheckpoint,
    ReduceLROnPlateau)


def _dynamic_display():
    return (hasattr(sys.stdout, "isatty") and sys.stdout.isatty()) \
        or "ipykernel" in sys.modules or "PYCHARM_HOSTED" in os.environ


class Progbar:
    """Keras 3's progress bar: ``12/100 ━━━━━━━━━━━━━━━━━━━━ 1s 3ms/step - loss: 0.1``.

    On a terminal it redraws in place at most every ``interval`` seconds; when stdout
    is not a terminal it prints the bar only at the end and every ``log_interval``
    seconds, one line each (a log file then holds a few lines, not thousands).
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, unit_name="step",
                 log_interval=10.0):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.unit_name = unit_name
        self.dynamic = _dynamic_display()
        self.interval = interval if self.dynamic else log_interval
        self._start = time.time()
        self._last_update = 0.0 if self.dynamic else self._start
        self._prev_width = 0
        self._values = {}

    def _format_time(self, per_unit):
        if per_unit >= 1 or per_unit == 0:
            return f" {per_unit:.0f}s/{self.unit_name}"
        if per_unit >= 1e-3:
            return f" {per_unit * 1e3:.0f}ms/{self.unit_name}"
        return f" {per_unit * 1e6:.0f}us/{self.unit_name}"

    def _format_values(self):
        out = ""
        for key in sorted(self._values):
            value = self._values[key]
            if isinstance(value, (float, np.floating, int, np.integer)):
                value = float(value)
                out += f" - {key}: {value:.4f}" if abs(value) > 1e-3 else f" - {key}: {value:.4e}"
            else:
                out += f" - {key}: {value}"
        return out

    def update(self, current, values=None, finalize=None):
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for key, value in (values or {}).items():
            self._values[key] = value
        now = time.time()
        per_unit = (now - self._start) / current if current else 0.0
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._last_update = now
            if self.target is not None:
                digits = int(math.log10(max(self.target, 1))) + 1
                count = f"{current:{digits}d}/{self.target}"
                done = int(self.width * current / self.target) if self.target else self.width
                bar = f"\x1b[1m{count}\x1b[0m "
                plain_bar = f"{count} "
                if done > 0:
                    bar += "\x1b[32m" + "━" * done + "\x1b[0m"
                bar += "\x1b[37m" + "━" * (self.width - done) + "\x1b[0m"
                plain_bar += "━" * self.width
            else:
                bar = plain_bar = f"{current:7d}/Unknown"
            if self.target is not None and not finalize:
                eta = per_unit * (self.target - current)
                if eta > 3600:
                    when = f"{eta // 3600:.0f}:{(eta % 3600) // 60:02.0f}:{eta % 60:02.0f}"
                elif eta > 60:
                    when = f"{eta // 60:.0f}:{eta % 60:02.0f}"
                else:
                    when = f"{eta:.0f}s"
            else:
                when = f"{now - self._start:.0f}s"
            rest = self._format_time(per_unit) + self._format_values()
            info = f" \x1b[1m{when}\x1b[0m" + rest
            width = len(plain_bar) + len(f" {when}") + len(rest)  # as seen on screen
            if self.dynamic:
                message = "\b" * self._prev_width + "\r" + bar + info
                if self._prev_width > width:
                    message += " " * (self._prev_width - width)
                self._prev_width = width
                if finalize:
                    message += "\n"
            else:
                message = bar + info + "\n"
            sys.stdout.write(message)
            sys.stdout.flush()
        elif self.verbose == 2 and finalize:
            digits = int(math.log10(max(self.target or 1, 1))) + 1
            line = f"{current:{digits}d}/{self.target} - {now - self._start:.0f}s -"
            line += self._format_time(per_unit) + self._format_values()
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


class ProgbarLogger(Callback):
    """Prints 'Epoch i/n' and a progress bar (verbose 1) or one line per epoch
    (verbose 2). fit, evaluate and predict add one when verbose is not 0."""

    def __init__(self, count_mode="steps"):
        super().__init__()
        self.verbose = 1
        self.epochs = 1
        self.target = None
        self.progbar = None

    def set_params(self, params):
        super().set_params(params)
        self.verbose = params.get("verbose", 1)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def _start(self):
        self.progbar = Progbar(self.target, verbose=self.verbose)

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose and self.epochs > 1:
            sys.stdout.write(f"Epoch {epoch + 1}/{self.epochs}\n")
            sys.stdout.flush()
        self._start()

    def on_test_begin(self, logs=None):
        if self.model is None or not getattr(self.model, "_in_fit", False):
            self._start()

    def on_predict_begin(self, logs=None):
        self._start()

    def _on_run_end(self, mode, step, logs):
        if self.progbar is None:
            return
        if mode == "test" and getattr(self.model, "_in_fit", False):
            return
        if step < (self.target or 0):
            self.progbar.update(step, logs, finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        self.progbar.update(self.target, logs, finalize=True)

    def on_test_end(self, logs=None):
        if self.model is None or not getattr(self.model, "_in_fit", False):
            self.progbar.update(self.target, logs, finalize=True)

    def on_predict_end(self, logs=None):
        self.progbar.update(self.target, logs, finalize=True)
