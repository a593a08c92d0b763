"""The native engine: runs a Plan in C (``gd_engine.c``), a run of steps per call.

Same interface as ``_engine.NumpyEngine`` (``train_steps``, ``evaluate``, ``predict``);
the plan's flat buffers are shared with the C side, so weights set from Python are
seen by the next run and the runs' updates are seen by Python, without copies.

Threads pay only above some work per step, and a core taken by another process makes
every barrier slow; results are bitwise identical for any thread count, so the engine
measures its step time on the configured thread count and on one thread, keeps the
faster, and checks again from time to time (:class:`_ThreadChooser`).

One engine holds one workspace and one set of data pointers, so its calls are
serialised by a lock: ``predict`` from several Python threads on one model runs one
call at a time (each call still releases the GIL and uses the OpenMP threads), and
gives each thread its own, serial, result.
"""
import math
import threading
import time

import numpy as np

from . import _config, _engine, _ops, _reference

#: plan loss kind (when not fused) -> gd_loss_t
_LOSS_IDS = {"cce": _reference.LOSSES["cce"], "sparse_cce": _reference.LOSSES["cce"],
             "bce": _reference.LOSSES["bce"], "mse": _reference.LOSSES["mse"],
             "mae": _reference.LOSSES["mae"]}
_ACC_KINDS = ("sparse_categorical_accuracy", "categorical_accuracy")
_SPARSE_TO_DENSE = {"sparse_categorical_accuracy": "categorical_accuracy",
                    "sparse_top_k_categorical_accuracy": "top_k_categorical_accuracy"}
_OP_IDS = {"dense": 0, "act": 1, "dropout": 2}
_OPT_IDS = {"sgd": 0, "adam": 1, "rmsprop": 2, "adagrad": 3, "nadam": 4, "adamax": 5,
            "adadelta": 6}
#: rows per engine call in predict and evaluate (lets threads adapt, Ctrl-C land)
_CHUNK_ROWS = 4096
#: rows per call while the thread count for predict / evaluate is being measured
_PROBE_ROWS = 1024
#: rows of predict's and evaluate's forward passes, in whole batches (the weights are
#: then read from memory once per span; predict of MNIST's test set in batches of 32,
#: one process alternating, took 0.85-0.93x the time of one batch per forward with the
#: big MLP, 0.75x with the seed model; evaluate 0.84-0.96x and 0.80-0.89x; the same
#: bits)
SPAN_ROWS = 256
#: seconds of a training run (or of predict's and evaluate's rows) that a thread count
#: being measured or rechecked gets when another count already has a time (the rest of
#: the run goes to the fastest): a whole run (0.1 s) on it cost the seed model 1/8 of
#: the difference between 1 and 2 threads, about 9% of its epoch
PROBE_SECONDS = 0.01
#: more threads are used only when their time per unit is at least this much lower
#: (see _ThreadChooser.best)
THREADS_MARGIN = 1.1
#: fit's training data is packed (gd_pack_rows: bit words and the nonzero values of
#: each row; the training steps gather their batches from it) when x takes at least
#: PACK_MIN_BYTES (smaller data stays in the caches, where copying its rows costs
#: little) and the copy at most PACK_MAX_FRACTION of x and what FIT_EXTRA_BYTES leaves
#: beside the gradients and optimizer slots (what fit adds to memory beyond the data
#: set). Measured in one process alternating epochs: the seed model's took 0.90-0.93x
#: the time of the plain gather; the big MLP's (256 rows a step, of 12 ms) 0.96-1.01x,
#: and it is not packed: its gradients and Adam slots leave no room for the 43 MB.
PACK_MIN_BYTES = 16 << 20
#: ... and when fit runs at least this many epochs: packing MNIST takes about 16 ms, as
#: much as the gather of one seed-model epoch saves (fit(epochs=1) in a loop would pay
#: it every call)
PACK_MIN_EPOCHS = 2
FIT_EXTRA_BYTES = 48 << 20
PACK_MAX_FRACTION = 1 / 3


def pack_rows(x, n_threads, budget=FIT_EXTRA_BYTES):
    """(buffer, off): x [N, F] packed (gd_pack_rows) in at most `budget` bytes and
    PACK_MAX_FRACTION of x, or None where it does not pay or fit."""
    from . import _ckernels

    n, f = x.shape
    limit = min(budget, x.nbytes * PACK_MAX_FRACTION)
    if x.nbytes < PACK_MIN_BYTES or n == 0 or f == 0 or f >= 2**31:
        return None
    if _ckernels.dispatch_isa("gemm_f64" if x.itemsize == 8 else "gemm_f32") < 2:
        # without AVX-512's compress, packing MNIST took 50-100 ms on 2 threads, several
        # epochs of what the gather saves (7-14 ms with it)
        return None
    # an estimate from ~256 rows first, so that dense data costs no pass over x
    sample = x[::max(1, n // 256)]
    density = np.count_nonzero(sample) / sample.size
    head = 16 + 8 * ((f + 63) // 64)
    if n * (head + density * f * x.itemsize) > 1.25 * limit:
        return None
    off = np.empty(n + 1, dtype=np.int64)
    if _ckernels.pack_rows_size(x, off, n_threads) > limit:
        return None
    buf = np.empty(int(off[-1]), dtype=np.uint8)
    _ckernels.pack_rows(x, off, buf, n_threads)
    return buf, off


def supports(plan):
    """Whether the C engine runs this plan (else the NumPy engine runs it on the native
    kernels)."""
    if plan.optimizer.kind not in _OPT_IDS:
        return False
    if len(plan.metrics) > 8 or not plan.layers or len(plan.layers) > 256:
        return False
    for r in plan.layers:
        if r.kind not in _OP_IDS or r.activation not in _reference.ACTIVATIONS:
            return False
        if not getattr(r, "trainable", True):
            return False
    return plan.loss.fused or plan.loss.kind in _LOSS_IDS


class _ThreadChooser:
    """Keeps, per kind of call, the thread count with the lowest measured time per unit
    of work; the other candidate is measured again every ``recheck`` calls.

    For training, a thread count's first call is a warm-up and is not counted (fit's
    first run is one step, which creates the team and touches the workspace); short
    calls are pooled until they add up to ``min_seconds``, so a one-step run cannot
    decide alone, unless they are EARLY_FACTOR times faster than every count with a
    time. ``decided(key)`` tells whether every candidate has a time.

    A recheck that finds its count more than BACKOFF_FACTOR times slower than the best
    doubles the calls until that count's next recheck, up to ``max_recheck``; one that
    does not puts it back to ``recheck``."""

    #: A recheck every 8 calls: on a shared machine the faster count changes from one
    #: second to the next (a neighbour takes a core); measured on the seed model, a fit
    #: whose 1-thread probe fell in a noisy moment kept 2 threads for a whole benchmark
    #: run at 25 (0.26-0.30 s/epoch against 0.23 on 1 thread). Training gives a recheck
    #: only the first PROBE_SECONDS of its run (NativeEngine.train_steps).
    #:
    #: The back-off: with a core kept busy by another process, a step on 2 threads waits
    #: at each barrier for the thread that shares the busy core, 10-60 ms a step on the
    #: seed model against 0.1 ms on 1 thread, however few steps the recheck runs; one
    #: recheck of 7 steps took 96 ms of a 0.2 s epoch.
    BACKOFF_FACTOR = 2.0
    #: A one-step probe of 1 thread (0.1 ms) against a 2-thread time of 64 ms a step
    #: needs no pool: waiting for 1 ms of such probes left the rest of ten runs on 2
    #: threads under load (0.3 s of the seed model's first epoch).
    EARLY_FACTOR = 4.0

    def __init__(self, recheck=8, min_seconds=1e-3, max_recheck=64):
        self.recheck = recheck
        self.max_recheck = max_recheck
        self.min_seconds = min_seconds
        self.state = {}

    def _times(self, key):
        return self.state.get(key, {}).get("times", {})

    def decided(self, key, n_max):
        times = self._times(key)
        return n_max <= 1 or (n_max in times and 1 in times)

    def best(self, key):
        """The thread count with the lowest time per unit so far (None: none yet), but
        the fewest threads unless more are at least THREADS_MARGIN faster.

        Why the margin: with a core taken by another process, 2 threads can look as
        fast as 1 for a run and then take 2-30x longer per step for the next (their
        barriers wait for the descheduled thread), while 1 thread keeps its pace. On
        the seed model, quiet, 2 threads are 1.3-1.6x faster than 1, well past it."""
        times = self._times(key)
        if not times:
            return None
        fastest, fewest = min(times, key=times.get), min(times)
        if times[fastest] * THREADS_MARGIN > times[fewest]:
            return fewest
        return fastest

    def seconds_per_unit(self, key, n_threads):
        return self._times(key).get(n_threads)

    def slower_known(self, key, counts):
        """The longest known time per unit among the thread counts `counts` (a probe of
        a count is sized by it: with a core taken by another process, 2 threads can be
        many times slower than 1)."""
        known = [self.seconds_per_unit(key, c) for c in counts]
        return max(t for t in known if t is not None)

    def _state(self, key):
        return self.state.setdefault(key, {"calls": 0, "times": {}, "warm": set(),
                                           "pool": {}, "every": {}, "checked": 0})

    def pick(self, key, n_max):
        if n_max <= 1:
            return 1
        st = self._state(key)
        st["calls"] += 1
        times = st["times"]
        for cand in (n_max, 1):  # measure each candidate, the wide one first
            if cand not in times:
                return cand
        best = self.best(key)
        other = 1 if best != 1 else n_max
        if st["calls"] - st["checked"] >= st["every"].get(other, self.recheck):
            st["checked"] = st["calls"]
            return other
        return best

    def record(self, key, n_threads, seconds, units):
        if units <= 0:
            return
        st = self._state(key)
        if key[0] == "train" and n_threads not in st["warm"]:
            st["warm"].add(n_threads)
            return
        pool = st["pool"].setdefault(n_threads, [0.0, 0.0])
        pool[0] += seconds
        pool[1] += units
        per = pool[0] / pool[1]
        times = st["times"]
        others = [t for c, t in times.items() if c != n_threads]
        if pool[0] < self.min_seconds and not (
                others and per * self.EARLY_FACTOR < min(others)):
            return
        pool[0] = pool[1] = 0.0
        best = self.best(key)
        if best is not None and best != n_threads:
            slow = per > self.BACKOFF_FACTOR * times[best]
            every = st["every"].get(n_threads, self.recheck)
            st["every"][n_threads] = (min(2 * every, self.max_recheck) if slow
                                      else self.recheck)
        old = times.get(n_threads)
        times[n_threads] = per if old is None else 0.5 * (old + per)


class NativeEngine:
    """Runs a Plan with the C engine."""

    def __init__(self, plan):
        from . import _ckernels

        self.NonFiniteInput = _ckernels.NonFiniteInput

        self.plan = plan
        loss = plan.loss
        fused = bool(loss.fused)
        self._sparse = plan.y_sparse and fused
        self._onehot_labels = plan.y_sparse and not fused
        metrics = []
        for spec in plan.metrics:
            kind = spec.kind
            if not self._sparse and kind in _SPARSE_TO_DENSE:
                kind = _SPARSE_TO_DENSE[kind]  # labels become one-hot targets here
            metrics.append((_reference.METRICS[kind], int(spec.k), int(spec.weighted)))
        loss_id = 0
        if not fused:
            loss_id = _LOSS_IDS[loss.kind]
            if loss.kind == "bce" and loss.from_logits:
                loss_id = _reference.LOSSES["bce_logits"]
        records = []
        for r in plan.layers:
            records.append((_OP_IDS[r.kind], _reference.ACTIVATIONS[r.activation], r.n_in,
                            r.n_out, r.w_offset, r.b_offset, float(r.rate),
                            int(r.seed) & (2**64 - 1), int(r.share_rows), int(r.share_cols),
                            float(r.kernel_l1), float(r.kernel_l2), float(r.bias_l1),
                            float(r.bias_l2)))
        opt = plan.optimizer
        slots = self._slot_list(plan)
        self._core = _ckernels.EngineCore(
            records, plan.n_in, plan.n_out, plan.dtype, fused,
            fused and not loss.from_logits, bool(loss.from_logits), loss_id, self._sparse,
            metrics, _OPT_IDS[opt.kind], bool(opt.nesterov), bool(opt.amsgrad),
            float(opt.learning_rate), float(opt.momentum), float(opt.beta_1),
            float(opt.beta_2), float(opt.epsilon), plan.params, plan.grads, slots,
            plan.iterations)
        self._clip_blocks = _ops.clip_blocks(plan.segments())
        self._opt_key = None
        self._data_key = None
        self._fit_data = None  # (the caller's x, x as the engine reads it, packed or None)
        self._threads = _ThreadChooser()
        self._lock = threading.RLock()
        self._sync()

    @staticmethod
    def _slot_list(plan):
        return [plan.slots.get(name) for name in _engine.SLOTS[plan.optimizer.kind]]

    def _decay_table(self):
        segments = self.plan.decay_segments()
        if segments is None:
            return None
        return np.array(segments, dtype=np.int64).reshape(-1, 2)

    def _sync(self):
        """Hyperparameters may change between runs (callbacks, schedules)."""
        opt = self.plan.optimizer
        lr_steps = getattr(opt, "lr_steps", None)
        self._core.set_lr_steps(None if lr_steps is None
                                else np.ascontiguousarray(lr_steps, dtype=np.float64))
        mode, clip = opt.clipping()
        key = (opt.kind, opt.nesterov, opt.amsgrad, opt.centered, opt.learning_rate,
               opt.momentum, opt.beta_1, opt.beta_2, opt.epsilon, opt.rho, opt.weight_decay,
               mode, clip, opt.decay_exclude)
        if key == self._opt_key:
            return
        _engine.check_slots(self.plan)
        self._core.set_optimizer(
            _OPT_IDS[opt.kind], bool(opt.nesterov), bool(opt.amsgrad), bool(opt.centered),
            float(opt.learning_rate), float(opt.momentum), float(opt.beta_1),
            float(opt.beta_2), float(opt.epsilon), float(opt.rho),
            float(opt.weight_decay or 0.0), _reference.CLIP_MODES.get(mode, 0), clip,
            self._clip_blocks, self.plan.opt_state, self._decay_table())
        self._opt_key = key

    # ---- data
    def _targets(self, y):
        plan = self.plan
        if self._sparse:
            return np.ascontiguousarray(y, dtype=np.int32), None
        if self._onehot_labels:
            labels = np.asarray(y, dtype=np.int64)
            t = np.zeros((labels.shape[0], plan.n_out), dtype=plan.dtype)
            t[np.arange(labels.shape[0]), labels] = 1
            return None, t
        return None, np.ascontiguousarray(y, dtype=plan.dtype)

    def _set_data(self, x, y, sample_weight, index):
        # The key holds the caller's arrays themselves (not their ids, which a freed
        # array hands on): the same arrays as last time need no new pointers.
        key = (x, y, sample_weight, index)
        if self._data_key is not None and all(a is b for a, b in zip(key, self._data_key)):
            return
        dt = self.plan.dtype
        packed = None
        if self._fit_data is not None and x is self._fit_data[0] and index is not None:
            x, packed = self._fit_data[1], self._fit_data[2]
        else:
            x = self._as_rows(x)
        labels = targets = None
        if y is not None:
            labels, targets = self._targets(y)
        sw = None if sample_weight is None else np.ascontiguousarray(sample_weight, dtype=dt)
        # the engine reads rows index[start + i]; bound its positions by the index length
        self._core.set_data(x, labels, targets, sw, index, packed)
        self._data_key = key

    def _as_rows(self, x):
        return np.ascontiguousarray(x, dtype=self.plan.dtype).reshape(x.shape[0], -1)

    def prepare_fit(self, x, epochs):
        """fit will train on x for `epochs` epochs: keep x as the engine reads it and,
        where it pays (pack_rows, PACK_MIN_EPOCHS), a packed copy to gather batches from,
        until release_data."""
        with self._lock:
            self._fit_data = None
            self._data_key = None
            rows = self._as_rows(x)
            if epochs < PACK_MIN_EPOCHS:
                self._fit_data = (x, rows, None)
                return
            plan = self.plan
            # the gradients and the optimizer's slots, which the first steps make resident
            slots = sum(slot is not None for slot in self._slot_list(plan))
            state = plan.params.nbytes * (1 + slots)
            try:
                packed = pack_rows(rows, _config.effective_n_threads(None),
                                   FIT_EXTRA_BYTES - state)
            except MemoryError:
                packed = None  # the plain gather needs no more memory
            self._fit_data = (x, rows, packed)

    # ---- the interface
    def train_steps(self, x, y, sample_weight, index, start, n_steps, batch_size):
        with self._lock:
            return self._train_steps(x, y, sample_weight, index, start, n_steps, batch_size)

    def _train_steps(self, x, y, sample_weight, index, start, n_steps, batch_size):
        index = np.ascontiguousarray(index, dtype=np.int64)
        self._set_data(x, y, sample_weight, index)
        self._core.ensure_workspace(batch_size)
        self._sync()
        sums = np.zeros(self.plan.n_sums(), dtype=np.float64)
        n_max = _config.effective_n_threads(None)
        key = ("train", batch_size)
        nt = self._threads.pick(key, n_max)
        best = self._threads.best(key)
        head = n_steps
        if best is not None and best <= n_max and nt != best and n_steps > 1:
            # a count being measured (first) or rechecked while another is known to be
            # faster: a probe of about PROBE_SECONDS, then the rest of the run on the
            # faster one (the results do not depend on it). The probe's steps are
            # counted at the slower of the two known times: with a core taken by another
            # process, 2 threads ran the seed model's steps 5-30x slower than 1, and a
            # probe sized by 1 thread's time (about 100 steps) took 60-110 ms of a 0.2 s
            # epoch.
            per_step = self._threads.slower_known(key, (best, nt)) * batch_size
            head = int(min(n_steps - 1, max(1, math.ceil(PROBE_SECONDS / per_step))))
        self._run(key, start, head, batch_size, sums, nt)
        if head < n_steps:
            lr_steps = self._core.get_lr_steps()
            if lr_steps is not None:
                self._core.set_lr_steps(lr_steps[head:])
            # the probe may have changed which count is faster
            best = self._threads.best(key)
            self._run(key, start + head * batch_size, n_steps - head, batch_size, sums, best)
        return sums

    def _run(self, key, start, n_steps, batch_size, sums, nt):
        rows = sums[-1]
        t0 = time.perf_counter()
        self._core.train(start, n_steps, batch_size, sums, nt)
        self._threads.record(key, nt, time.perf_counter() - t0, sums[-1] - rows)

    #: predict's input rows are checked for NaN and inf by the engine as it reads them
    #: (predict(check_x=True) raises self.NonFiniteInput at the first batch with one)
    checks_finite = True

    def _eval(self, x, y, sample_weight, batch_size, with_loss, out, check_x=False):
        self._set_data(x, y, sample_weight, None)
        # predict and evaluate run as many whole batches per forward as the workspace
        # holds, each with its own batch's bits (gd_engine_eval): room for
        # SPAN_ROWS rows
        span = max(1, SPAN_ROWS // batch_size)
        self._core.ensure_workspace(batch_size * span)
        sums = np.zeros(self.plan.n_sums(), dtype=np.float64)
        n = x.shape[0]
        n_max = _config.effective_n_threads(None)
        unit = batch_size * span
        lo = 0
        while lo < n:
            # Calls of less than a span pay the threads' fork and wake-up over few rows:
            # they are timed apart from longer ones. (Timed together, the 2-thread time
            # of predict's warm-up batches, 20-25 us a row against 11-12 us in spans,
            # sent the big MLP's whole test set to one thread: 180-200 ms against 110.)
            key = ("eval" if with_loss else "predict", batch_size, n - lo < unit)
            # short chunks while the thread count is still being measured
            rows = _CHUNK_ROWS if self._threads.decided(key, n_max) else _PROBE_ROWS
            nt = self._threads.pick(key, n_max)
            best = self._threads.best(key)
            if best is not None and nt != best:
                # a count measured or rechecked while another is known to be faster:
                # about PROBE_SECONDS of rows at the slower known time, in whole spans.
                # A recheck of 1 thread on a whole chunk made every few predicts of the
                # big MLP's test set 1.5x slower (4096 rows at 25 us against 11.5 us).
                per_row = self._threads.slower_known(key, (best, nt))
                rows = min(rows, max(1, round(PROBE_SECONDS / per_row / unit)) * unit)
            count = min(max(batch_size, rows // batch_size * batch_size), n - lo)
            t0 = time.perf_counter()
            self._core.eval(lo, count, batch_size, with_loss, sums,
                            None if out is None else out[lo:lo + count], nt, check_x)
            self._threads.record(key, nt, time.perf_counter() - t0, count)
            lo += count
        return sums

    def release_data(self):
        """Forget the data arrays (the engine holds them between runs of one fit) and
        fit's copies of them."""
        with self._lock:
            self._fit_data = None
            self._release_data()

    def _release_data(self):
        self._core.set_data(np.zeros((0, self.plan.n_in), self.plan.dtype), None, None,
                            None, None)
        self._data_key = None

    def evaluate(self, x, y, sample_weight, batch_size):
        with self._lock:
            try:
                return self._eval(x, y, sample_weight, batch_size, True, None)
            finally:
                self._release_data()

    def predict(self, x, batch_size, check_x=False):
        """The outputs for x; with check_x, raises _ckernels.NonFiniteInput at a batch
        with NaN or inf."""
        out = np.empty((x.shape[0], self.plan.n_out), dtype=self.plan.dtype)
        with self._lock:
            try:
                self._eval(x, None, None, batch_size, False, out, check_x)
            finally:
                self._release_data()
        return out
