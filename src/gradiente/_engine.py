"""The training engine: a compiled model's plan, and the NumPy engine that runs it.

``Sequential.compile()`` turns the layer list into a :class:`Plan`: every trainable
parameter in one flat buffer (each layer's kernel and bias are views into it, in
``get_weights`` order), a gradient buffer with the same layout, the optimizer's slots
as flat buffers of the same length, and one :class:`LayerRecord` per layer.

An engine runs a plan. Its whole interface is three methods, which the native engine
implements too:

- ``train_steps(x, y, sample_weight, index, start, n_steps, batch_size) -> sums``
- ``evaluate(x, y, sample_weight, batch_size) -> sums``
- ``predict(x, batch_size) -> outputs``

An engine may also offer ``prepare_fit(x, epochs)`` (``fit`` calls it once before its
epochs on the training x) and ``release_data()`` (called when ``fit`` ends): the native engine keeps
x as it reads it, and a packed copy to gather batches from, in between.

``sums`` is a float64 array ``[Σ wᵢ·lossᵢ, Σ metric₁ᵢ, ..., Σ metricₖᵢ, Σ wᵢ, n_samples]``
(metrics unweighted, as Keras's ``metrics=``, except the ``weighted`` ones of
``weighted_metrics=``, summed as Σ wᵢ·metricᵢ; wᵢ = 1 without sample weights).
:class:`NumpyEngine` calls only ``_ops`` kernels, so it runs on either backend.
"""
import re
import signal
import threading
from dataclasses import dataclass, field

import numpy as np

from . import _config, _ops, _reference

#: layer kinds a plan knows
KINDS = ("dense", "act", "dropout")
#: loss kinds: targets are int labels for 'sparse_cce', 2-D arrays otherwise
LOSS_KINDS = ("sparse_cce", "cce", "bce", "mse", "mae")
#: metric kinds
METRIC_KINDS = ("sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy",
                "mse", "mae", "top_k_categorical_accuracy",
                "sparse_top_k_categorical_accuracy")


@dataclass
class LayerRecord:
    """One layer of the plan.

    kind: 'dense' (y = act(x·W + b)), 'act' (y = act(x)) or 'dropout' (training
    only: y = mask ? x / (1 - rate) : 0, the mask of step t drawn by
    ``_reference.dropout_mask`` with key ``dropout_key(seed, t, index in the plan)``,
    t = plan.iterations before the step);
    n_in, n_out: feature sizes; activation: a key of ``_reference.ACTIVATIONS``;
    w_offset: start of W (row-major [n_in, n_out]) in params/grads, -1 for 'act';
    b_offset: start of b ([n_out]), -1 when there is none;
    trainable: False freezes W and b (the optimizer leaves them unchanged);
    rate, seed, share_rows, share_cols: dropout's (noise_shape (1, n): share_rows;
    (m, 1): share_cols);
    kernel_l1, kernel_l2, bias_l1, bias_l2: dense: L1L2 penalties on W and b, added
    to each batch's loss (and their gradients to W's and b's).
    """

    kind: str
    n_in: int
    n_out: int
    activation: str = "linear"
    w_offset: int = -1
    b_offset: int = -1
    trainable: bool = True
    rate: float = 0.0
    seed: int = 0
    share_rows: bool = False
    share_cols: bool = False
    kernel_l1: float = 0.0
    kernel_l2: float = 0.0
    bias_l1: float = 0.0
    bias_l2: float = 0.0

    @property
    def regularized(self):
        return self.kind == "dense" and any(
            (self.kernel_l1, self.kernel_l2, self.b_offset >= 0 and self.bias_l1,
             self.b_offset >= 0 and self.bias_l2))


@dataclass
class LossSpec:
    """kind: one of LOSS_KINDS; from_logits: CE/BCE on logits;
    fused: softmax + cross-entropy run as one ``softmax_xent`` (the plan's last
    softmax is then skipped in the forward pass: dense runs 'linear', an 'act'
    record is skipped, and ``softmax_xent`` sees its input)."""

    kind: str
    from_logits: bool = False
    fused: bool = False


@dataclass
class MetricSpec:
    """name: the logs key ('accuracy', 'mse', ...); kind: one of METRIC_KINDS;
    k: the k of the top-k kinds; weighted: summed times the sample weights (compile's
    ``weighted_metrics``), and divided by their sum instead of the row count."""

    name: str
    kind: str
    k: int = 5
    weighted: bool = False


#: optimizer kinds, each with its slot names in the order the C engine takes them
SLOTS = {"sgd": ("velocity",), "adam": ("m", "v", "vhat"),
         "rmsprop": ("velocity", "momentum", "average_gradient"),
         "adagrad": ("accumulator",), "nadam": ("momentum", "velocity"),
         "adamax": ("m", "u"), "adadelta": ("accumulated_grad", "accumulated_delta_var")}


@dataclass
class OptimizerSpec:
    """kind: a key of SLOTS. 'sgd' (learning_rate, momentum, nesterov); 'adam' (and
    AdamW: learning_rate, beta_1, beta_2, epsilon, amsgrad); 'rmsprop' (rho, momentum,
    epsilon, centered); 'adagrad' (epsilon; slots start at initial_accumulator_value);
    'nadam', 'adamax' (beta_1, beta_2, epsilon); 'adadelta' (rho, epsilon). The step
    number t of bias corrections is ``plan.iterations`` + 1.

    Every kind: clipnorm (each variable's gradient by its own L2 norm), global_clipnorm
    (all of them together), clipvalue (element-wise) — Keras uses the first set of the
    three, in that order — then weight_decay (w ← w·(1 - lr·weight_decay) on every
    trainable variable but those whose name, 'kernel' or 'bias', the regular expression
    decay_exclude matches), then the update.
    lr_steps: None (learning_rate on every step) or float64 [>= n_steps], the rate of
    each step of the next ``train_steps`` run (a schedule, evaluated by the trainer).
    """

    kind: str
    learning_rate: float
    momentum: float = 0.0
    nesterov: bool = False
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7
    amsgrad: bool = False
    lr_steps: object = None
    rho: float = 0.9
    centered: bool = False
    initial_accumulator_value: float = 0.0
    weight_decay: float = 0.0
    clipnorm: float = None
    global_clipnorm: float = None
    clipvalue: float = None
    decay_exclude: str = None

    def clipping(self):
        """(mode, threshold) of the gradient clipping Keras applies, else (None, 0)."""
        if self.clipnorm and self.clipnorm > 0:
            return "norm", float(self.clipnorm)
        if self.global_clipnorm and self.global_clipnorm > 0:
            return "global_norm", float(self.global_clipnorm)
        if self.clipvalue and self.clipvalue > 0:
            return "value", float(self.clipvalue)
        return None, 0.0


@dataclass
class Plan:
    """Everything an engine needs to run a compiled Sequential model.

    dtype: float32 or float64, of params, grads, slots, x and the outputs;
    n_in / n_out: features of the (flattened) input and of the output;
    layers: LayerRecords in order; params / grads: flat 1-D contiguous [n_params];
    slots: optimizer state, name -> flat [n_params] (names from SLOTS; a slot the
    settings do not use may be missing); iterations: int64 [1], optimizer steps taken
    (step t runs with iterations == t - 1 and leaves it at t);
    opt_state: float64 [2], Nadam's [t, u_1···u_t] after step t (a cache: an engine
    recomputes the product when t does not follow);
    y_sparse: targets are int32 labels [N] (else dtype [N, n_out]).
    """

    dtype: np.dtype
    n_in: int
    n_out: int
    layers: list
    params: np.ndarray
    grads: np.ndarray
    loss: LossSpec
    optimizer: OptimizerSpec
    metrics: list = field(default_factory=list)
    slots: dict = field(default_factory=dict)
    iterations: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    opt_state: np.ndarray = field(default_factory=lambda: np.array([0.0, 1.0]))

    @property
    def n_params(self):
        return int(self.params.size)

    @property
    def y_sparse(self):
        return self.loss.kind == "sparse_cce"

    def segments(self):
        """(offset, size) in params of every trainable variable (each kernel and each
        bias), in get_weights order: the variables of clipnorm and global_clipnorm."""
        out = []
        for r in self.layers:
            if r.kind != "dense" or not getattr(r, "trainable", True):
                continue
            out.append((r.w_offset, r.n_in * r.n_out))
            if r.b_offset >= 0:
                out.append((r.b_offset, r.n_out))
        return out

    def decay_segments(self):
        """(offset, size) of the variables weight decay applies to, or None for all the
        parameters (no exclusion and every layer trainable)."""
        spec = self.optimizer
        frozen = any(not getattr(r, "trainable", True) for r in self.layers)
        if spec.decay_exclude is None and not frozen:
            return None
        out = []
        for r in self.layers:
            if r.kind != "dense" or not getattr(r, "trainable", True):
                continue
            for name, off, size in (("kernel", r.w_offset, r.n_in * r.n_out),
                                    ("bias", r.b_offset, r.n_out)):
                if off < 0:
                    continue
                if spec.decay_exclude is not None and re.search(spec.decay_exclude, name):
                    continue
                out.append((off, size))
        return out

    def n_sums(self):
        """Length of the sums an engine returns: [Σ loss, Σ metrics..., Σ w, rows]."""
        return len(self.metrics) + 3


#: where each of a plan's flat buffers starts past a 4 KiB boundary (aligned_array): the
#: parameters, the gradients, the optimizer's slots (SLOTS_OFFSET + SLOT_STRIDE * i, at
#: most three of them) and the native engine's workspace, 512 bytes apart
PARAMS_OFFSET, GRADS_OFFSET, SLOTS_OFFSET, SLOT_STRIDE, WORKSPACE_OFFSET = (
    0, 512, 1024, 512, 3072)


def aligned_array(n, dtype, fill=0, offset=0):
    """A new 1-D array of n elements of dtype, each `fill`, whose first element sits
    `offset` bytes (a multiple of 64) past a 4 KiB boundary.

    numpy guarantees 16 bytes of alignment: the big MLP's parameters, gradients and Adam
    slots came at 2000, 2048, 2096 and 2144 bytes past a 4 KiB boundary. The kernels'
    vector loads then straddle cache lines, and an optimizer step, which walks those
    buffers side by side, stalls its loads on stores that seem to overlap them modulo
    4 KiB. Here the plan's flat buffers get offsets 512 bytes apart (PARAMS_OFFSET
    and the others above). Measured, Adam's
    loop alone on one core of the 2-core AMD EPYC, cycles per element (best / mean of
    40): the big MLP's half of 930,000 elements at those offsets 0.97-1.14 / 1.12-1.27,
    at 0, 512, 1024, 1536 0.74-0.76 / 0.83-1.02; the seed model's half (50,885) at those
    offsets 0.84-1.02 / 1.04-1.07, aligned 0.73 / 0.75. With the offsets numpy gave the
    seed model in another run (2000, 3584, 1072, 2656) the loop took the aligned time.
    """
    dtype = np.dtype(dtype)
    if offset % 64 or not 0 <= offset < 4096:
        raise ValueError(f"offset must be a multiple of 64 in [0, 4096); received "
                         f"offset={offset}.")
    raw = np.empty(n * dtype.itemsize + 4096, dtype=np.uint8)
    start = (offset - raw.ctypes.data) % 4096
    out = raw[start:start + n * dtype.itemsize].view(dtype)
    out[...] = fill
    return out


def check_slots(plan):
    """ValueError when the optimizer's settings need a slot compile did not make."""
    spec, slots = plan.optimizer, plan.slots
    if spec.kind == "rmsprop" and ((spec.momentum > 0 and "momentum" not in slots) or
                                   (spec.centered and "average_gradient" not in slots)):
        raise ValueError("RMSprop(momentum=..., centered=...) changed after compile() and "
                         "needs state compile did not make; compile the model again.")


def fusable(layers, loss):
    """Whether softmax + CE can run fused: CE from logits, or CE on a final softmax."""
    if loss.kind not in ("sparse_cce", "cce"):
        return False
    return loss.from_logits or (bool(layers) and layers[-1].activation == "softmax")


# ---------------------------------------------------------------- the numpy engine


class _Workspace:
    """Buffers for one batch size, allocated once."""

    def __init__(self, plan, batch_size):
        dt = plan.dtype
        self.batch_size = batch_size
        self.x = np.empty((batch_size, plan.n_in), dtype=dt)
        if plan.y_sparse:
            self.y = np.empty(batch_size, dtype=np.int32)
            self.onehot = np.zeros((batch_size, plan.n_out), dtype=dt)
        else:
            self.y = np.empty((batch_size, plan.n_out), dtype=dt)
            self.onehot = None
        self.w = np.empty(batch_size, dtype=dt)


class _deferred_interrupt:
    """Holds a Ctrl-C back while the optimizer writes weights, slots and the step count,
    then raises it: an interrupted fit keeps whole steps only (main thread; elsewhere
    Python delivers no signal anyway)."""

    def __enter__(self):
        self.caught = None
        self.old = None
        if threading.current_thread() is threading.main_thread():
            self.old = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._hold)
        return self

    def _hold(self, signum, frame):
        self.caught = signum

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGINT, self.old)
            if self.caught is not None and exc[0] is None:
                if callable(self.old):
                    self.old(self.caught, None)
                else:
                    raise KeyboardInterrupt
        return False


class NumpyEngine:
    """Runs a Plan in Python with the ``_ops`` kernels (either backend)."""

    def __init__(self, plan):
        self.plan = plan
        self._ws = {}
        self._frozen = [r for r in plan.layers if r.kind == "dense" and not r.trainable]
        self._lock = threading.Lock()  # the workspaces are shared: one call at a time

    # ---- views
    def _w(self, buf, r):
        return buf[r.w_offset:r.w_offset + r.n_in * r.n_out].reshape(r.n_in, r.n_out)

    def _b(self, buf, r):
        return None if r.b_offset < 0 else buf[r.b_offset:r.b_offset + r.n_out]

    def _workspace(self, batch_size):
        ws = self._ws.get(batch_size)
        if ws is None:
            if len(self._ws) >= 4:  # e.g. many train_on_batch sizes: keep memory bounded
                self._ws.clear()
            ws = self._ws[batch_size] = _Workspace(self.plan, batch_size)
        return ws

    # ---- one batch
    def _forward(self, xb, for_loss, training=False):
        """Outputs of every record (acts[0] = input); with a fused loss the last
        softmax is skipped when for_loss. A dense record whose activation needs its
        input keeps Z = X·W + b in ``self._z[i]`` for the backward pass."""
        plan = self.plan
        skip_last_softmax = for_loss and plan.loss.fused and not plan.loss.from_logits
        acts = [xb]
        self._z = {}
        self._masks = {}
        last = len(plan.layers) - 1
        for i, r in enumerate(plan.layers):
            act = r.activation
            if i == last and skip_last_softmax:
                if r.kind == "act":
                    acts.append(acts[-1])
                    continue
                act = "linear"
            a = acts[-1]
            if r.kind == "dropout":
                if training and r.rate > 0:
                    key = _ops.dropout_key(r.seed, int(plan.iterations[0]), i)
                    y, self._masks[i] = _ops.dropout_fwd(a, r.rate, key, r.share_rows,
                                                         r.share_cols)
                else:
                    y = a
                acts.append(y)
                continue
            if r.kind == "dense":
                if act in _reference.NEEDS_INPUT:
                    y, self._z[i] = _ops.dense_fwd(a, self._w(plan.params, r),
                                                   self._b(plan.params, r), act, with_z=True)
                else:
                    y = _ops.dense_fwd(a, self._w(plan.params, r), self._b(plan.params, r),
                                       act)
            else:
                y = _ops.act_fwd(a, act)
            acts.append(y)
        return acts

    def _loss(self, out, ws, m, weighted):
        """(row losses, d loss / d out, row hits or None) for a batch of m rows."""
        plan = self.plan
        spec = plan.loss
        w = ws.w[:m] if weighted else None
        labels = ws.y[:m] if plan.y_sparse else None
        targets = None if plan.y_sparse else ws.y[:m]
        if spec.fused:
            return _ops.softmax_xent(out, labels=labels, targets=targets, sample_weight=w,
                                     from_logits=spec.from_logits)
        if plan.y_sparse:
            t = ws.onehot[:m]
            t.fill(0)
            t[np.arange(m), labels] = 1
            targets = t
        kind = spec.kind
        if kind == "sparse_cce":
            kind = "cce"
        elif kind == "bce" and spec.from_logits:
            kind = "bce_logits"
        rows, dout = _ops.loss(out, targets, kind, sample_weight=w)
        return rows, dout, None

    def _metrics(self, acts, ws, m, hits, sums, weighted):
        plan = self.plan
        sums[-2] += float(ws.w[:m].sum(dtype=np.float64)) if weighted else m
        if not plan.metrics:
            return
        out = acts[-1]
        if plan.loss.fused and not plan.loss.from_logits:
            needs_p = any(s.kind not in ("sparse_categorical_accuracy", "categorical_accuracy")
                          for s in plan.metrics)
            if needs_p:
                out = _ops.act_fwd(out, "softmax")
        y = ws.y[:m]
        for j, spec in enumerate(plan.metrics):
            kind = spec.kind
            if kind in ("sparse_categorical_accuracy", "categorical_accuracy"):
                if hits is not None:
                    rows = hits
                elif plan.y_sparse:
                    rows = out.argmax(axis=1) == y
                else:
                    rows = out.argmax(axis=1) == y.argmax(axis=1)
            elif kind == "binary_accuracy":
                t = self._dense_targets(ws, m)
                rows = ((out > 0.5) == (t > 0.5)).mean(axis=1)
            elif kind in ("top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"):
                if plan.y_sparse:
                    rows = _reference.metric(out, "sparse_top_k_categorical_accuracy",
                                             labels=y, k=spec.k)
                else:
                    rows = _reference.metric(out, "top_k_categorical_accuracy", t=y, k=spec.k)
            else:
                rows = _ops.loss(out, self._dense_targets(ws, m), kind)[0]
            rows = np.asarray(rows, dtype=np.float64)
            if spec.weighted and weighted:
                rows = rows * ws.w[:m]
            sums[1 + j] += float(rows.sum())

    def _dense_targets(self, ws, m):
        if not self.plan.y_sparse:
            return ws.y[:m]
        t = ws.onehot[:m]
        t.fill(0)
        t[np.arange(m), ws.y[:m]] = 1
        return t

    def _backward(self, acts, dout):
        plan = self.plan
        skip_last_softmax = plan.loss.fused and not plan.loss.from_logits
        last = len(plan.layers) - 1
        dy = dout
        for i in range(last, -1, -1):
            r = plan.layers[i]
            act = r.activation
            if i == last and skip_last_softmax:
                if r.kind == "act":
                    continue
                act = "linear"
            if r.kind == "dropout":
                if r.rate > 0 and i > 0:
                    dy = _ops.dropout_bwd(self._masks[i], dy, r.rate)
                elif i == 0:
                    dy = None
            elif r.kind == "dense":
                need_dx = i > 0
                dx, dw, db = _ops.dense_bwd(acts[i], self._w(plan.params, r), acts[i + 1], dy,
                                            act, need_dx=need_dx, need_db=r.b_offset >= 0,
                                            z=self._z.get(i))
                self._w(plan.grads, r)[...] = dw
                if r.b_offset >= 0:
                    self._b(plan.grads, r)[...] = db
                dy = dx
            elif i > 0:
                dy = _ops.act_bwd(acts[i + 1], dy, act, x=acts[i])
            if dy is None:
                break

    def _penalty(self, with_grad):
        """The L1/L2 penalty of every regularized weight array, in layer order (W, then
        b); with_grad adds its gradient to plan.grads."""
        plan = self.plan
        total = 0.0
        for r in plan.layers:
            if not r.regularized:
                continue
            parts = [(self._w, r.kernel_l1, r.kernel_l2)]
            if r.b_offset >= 0:
                parts.append((self._b, r.bias_l1, r.bias_l2))
            for view, l1, l2 in parts:
                if not (l1 or l2):
                    continue
                g = view(plan.grads, r) if with_grad else None
                pen, g_new = _ops.l1l2_penalty(view(plan.params, r), l1, l2, g)
                if with_grad:
                    g[...] = g_new
                total += pen
        return total

    def _step(self, s):
        """One optimizer update: clipping, weight decay, then the optimizer (Keras 3's
        order), on every trainable variable."""
        plan = self.plan
        spec = plan.optimizer
        params, slots = plan.params, plan.slots
        saved = [(r, self._w(params, r).copy(), None if r.b_offset < 0
                  else self._b(params, r).copy()) for r in self._frozen]
        g = plan.grads
        mode, clip = spec.clipping()
        if mode is not None:
            g = _ops.clip_grads(g, plan.segments(), mode, clip)
        lr = spec.learning_rate if spec.lr_steps is None else float(spec.lr_steps[s])
        if spec.weight_decay:
            factor = 1.0 - lr * spec.weight_decay
            segments = plan.decay_segments()
            if segments is None:
                params[...] = _ops.scale(params, factor)
            else:
                for off, size in segments:
                    params[off:off + size] = _ops.scale(params[off:off + size], factor)
        t = int(plan.iterations[0]) + 1
        kind = spec.kind
        check_slots(plan)
        if kind == "sgd":
            out = _ops.sgd_step(params, g, slots["velocity"], lr, spec.momentum, spec.nesterov)
        elif kind == "adam":
            alpha = _ops.adam_alpha(lr, spec.beta_1, spec.beta_2, t)
            out = _ops.adam_step(params, g, slots["m"], slots["v"], slots["vhat"], alpha,
                                 spec.beta_1, spec.beta_2, spec.epsilon, spec.amsgrad)
        elif kind == "rmsprop":
            out = _ops.rmsprop_step(params, g, slots["velocity"], slots.get("momentum"),
                                    slots.get("average_gradient"), lr, spec.rho,
                                    spec.momentum, spec.epsilon, spec.centered)
        elif kind == "adagrad":
            out = _ops.adagrad_step(params, g, slots["accumulator"], lr, spec.epsilon)
        elif kind == "nadam":
            state = plan.opt_state
            prev = float(state[1]) if state[0] == t - 1 else None
            c_m, c_g, bias_2, prod = _ops.nadam_coefficients(spec.beta_1, spec.beta_2, t, prev)
            out = _ops.nadam_step(params, g, slots["momentum"], slots["velocity"], lr, c_m,
                                  c_g, bias_2, spec.beta_1, spec.beta_2, spec.epsilon)
            state[0], state[1] = t, prod
        elif kind == "adamax":
            out = _ops.adamax_step(params, g, slots["m"], slots["u"], lr,
                                   1.0 - spec.beta_1 ** t, spec.beta_1, spec.beta_2,
                                   spec.epsilon)
        elif kind == "adadelta":
            out = _ops.adadelta_step(params, g, slots["accumulated_grad"],
                                     slots["accumulated_delta_var"], lr, spec.rho,
                                     spec.epsilon)
        else:  # pragma: no cover - rejected at compile
            raise ValueError(f"unknown optimizer kind {kind!r}")
        params[...] = out[0]
        for name, value in zip(SLOTS[kind], out[1:]):
            if name in slots and value is not None:
                slots[name][...] = value
        plan.iterations[0] = t
        for r, w_old, b_old in saved:
            self._w(params, r)[...] = w_old
            if b_old is not None:
                self._b(params, r)[...] = b_old

    def _gather(self, ws, x, y, sample_weight, idx):
        m = idx.shape[0]
        np.take(x, idx, axis=0, out=ws.x[:m])
        np.take(y, idx, axis=0, out=ws.y[:m])
        if sample_weight is not None:
            np.take(sample_weight, idx, axis=0, out=ws.w[:m])
        return m

    # ---- the interface
    def train_steps(self, x, y, sample_weight, index, start, n_steps, batch_size):
        with self._lock:
            return self._train_steps(x, y, sample_weight, index, start, n_steps, batch_size)

    def evaluate(self, x, y, sample_weight, batch_size):
        with self._lock:
            return self._evaluate(x, y, sample_weight, batch_size)

    def _train_steps(self, x, y, sample_weight, index, start, n_steps, batch_size):
        """Run n_steps optimizer steps on the batches index[start + s·batch_size ...]
        (the last may be short); returns [Σ loss, Σ metrics..., n_samples]."""
        ws = self._workspace(batch_size)
        sums = np.zeros(self.plan.n_sums(), dtype=np.float64)
        n = index.shape[0]
        weighted = sample_weight is not None
        lr_steps = self.plan.optimizer.lr_steps
        if lr_steps is not None and len(lr_steps) < n_steps:
            raise ValueError(f"lr_steps holds {len(lr_steps)} rates for {n_steps} steps")
        for s in range(n_steps):
            lo = start + s * batch_size
            hi = min(lo + batch_size, n)
            if lo >= hi:
                break
            m = self._gather(ws, x, y, sample_weight, index[lo:hi])
            acts = self._forward(ws.x[:m], for_loss=True, training=True)
            rows, dout, hits = self._loss(acts[-1], ws, m, weighted)
            self._backward(acts, dout)
            penalty = self._penalty(with_grad=True)
            with _deferred_interrupt():
                self._step(s)  # weights, slots and step count change together
            sums[0] += float(rows.sum(dtype=np.float64))
            sums[0] += m * penalty
            self._metrics(acts, ws, m, hits, sums, weighted)
            sums[-1] += m
        return sums

    def _evaluate(self, x, y, sample_weight, batch_size):
        """Loss and metric sums over all of x, in batches; no update."""
        ws = self._workspace(batch_size)
        sums = np.zeros(self.plan.n_sums(), dtype=np.float64)
        n = x.shape[0]
        weighted = sample_weight is not None
        for lo in range(0, n, batch_size):
            hi = min(lo + batch_size, n)
            m = hi - lo
            ws.x[:m] = x[lo:hi]
            ws.y[:m] = y[lo:hi]
            if weighted:
                ws.w[:m] = sample_weight[lo:hi]
            acts = self._forward(ws.x[:m], for_loss=True)
            rows, _, hits = self._loss(acts[-1], ws, m, weighted)
            sums[0] += float(rows.sum(dtype=np.float64))
            sums[0] += m * self._penalty(with_grad=False)
            self._metrics(acts, ws, m, hits, sums, weighted)
            sums[-1] += m
        return sums

    def predict(self, x, batch_size):
        """The model's outputs [N, n_out] for x [N, n_in]."""
        n = x.shape[0]
        out = np.empty((n, self.plan.n_out), dtype=self.plan.dtype)
        for lo in range(0, n, batch_size):
            hi = min(lo + batch_size, n)
            out[lo:hi] = self._forward(x[lo:hi], for_loss=False)[-1]
        return out


def make_engine(plan):
    """The engine for a plan on the current backend: the C engine where it runs the
    plan, else the NumPy engine (on the current backend's kernels)."""
    if _config.get_backend() == "native":
        from ._engine_native import NativeEngine, supports

        if supports(plan):
            return NativeEngine(plan)
    return NumpyEngine(plan)
