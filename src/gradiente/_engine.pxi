# The native training engine (included by _ckernels.pyx): a model description
# held in C, runs of steps executed without the GIL.

import numpy as _np


# gd_layer_t, field for field (native byte order, C alignment).
_LAYER_DTYPE = _np.dtype([("kind", "=i4"), ("act", "=i4"), ("n_in", "=i8"), ("n_out", "=i8"),
                          ("w_off", "=i8"), ("b_off", "=i8"), ("rate", "=f8"),
                          ("seed", "=u8"), ("share_rows", "=i4"), ("share_cols", "=i4"),
                          ("kernel_l1", "=f8"), ("kernel_l2", "=f8"), ("bias_l1", "=f8"),
                          ("bias_l2", "=f8")], align=True)
assert _LAYER_DTYPE.itemsize == sizeof(gd_layer_t)


cdef void *_ptr(object arr, bint f64) except? NULL:
    """The data pointer of a C-contiguous float32/float64 array (NULL when empty)."""
    cdef float[::1] mf
    cdef double[::1] md
    if arr is None:
        return NULL
    flat = arr.reshape(-1)
    if flat.shape[0] == 0:
        return NULL
    if f64:
        md = flat
        return <void *>&md[0]
    mf = flat
    return <void *>&mf[0]


cdef class EngineCore:
    """A compiled plan: C's gd_engine_t plus the arrays it points into.

    Arrays are kept referenced here so their memory outlives every call; they must be
    C-contiguous and of the engine's dtype (the Python layer guarantees it).
    """
    cdef gd_engine_t e
    cdef bint f64
    cdef object _refs          # arrays the struct points into (model)
    cdef object _data_refs     # arrays the struct points into (data)
    cdef object _layers
    cdef object _ws
    cdef object _iws
    cdef int32_t[::1] _labels_mv
    cdef int64_t[::1] _index_mv
    cdef const unsigned char[::1] _packed_mv
    cdef const int64_t[::1] _packed_off_mv
    cdef unsigned char[::1] _layers_mv
    cdef int64_t[::1] _iter_mv
    cdef object _lr_steps
    cdef const double[::1] _lr_mv
    cdef object _opt_refs      # the clipping table, its scratch, the optimizer state
    cdef int64_t[:, ::1] _blocks_mv
    cdef int64_t[:, ::1] _decay_mv
    cdef double[::1] _scratch_mv
    cdef double[::1] _state_mv

    def __init__(self, layers, int64_t n_features, int64_t n_outputs, dtype,
                 bint fused_xent, bint skip_last_act, bint from_logits, int loss,
                 bint sparse, metrics, int opt, bint nesterov, bint amsgrad,
                 double learning_rate, double momentum, double beta_1, double beta_2,
                 double epsilon, params, grads, slots, iterations):
        cdef int i
        self.f64 = _np.dtype(dtype) == _np.float64
        if len(metrics) > GD_MAX_METRICS:
            raise ValueError(f"at most {GD_MAX_METRICS} metrics run in the engine")
        if len(layers) < 1:
            raise ValueError("the engine needs at least one layer")
        records = _np.zeros(len(layers), dtype=_LAYER_DTYPE)
        for i, rec in enumerate(layers):
            records[i] = tuple(rec)
        self._layers = records
        self._layers_mv = records.view(_np.uint8)
        self.e.n_layers = <int32_t>records.shape[0]
        self.e.layers = <const gd_layer_t *>&self._layers_mv[0]
        self.e.n_features = n_features
        self.e.n_outputs = n_outputs
        self.e.fused_xent = fused_xent
        self.e.skip_last_act = skip_last_act
        self.e.from_logits = from_logits
        self.e.loss = loss
        self.e.sparse = sparse
        self.e.n_metrics = len(metrics)
        for i in range(len(metrics)):  # (gd_metric_t, k, weighted)
            self.e.metrics[i] = metrics[i][0]
            self.e.metric_k[i] = metrics[i][1]
            self.e.metric_weighted[i] = metrics[i][2]
        self.e.opt = opt
        self.e.nesterov = nesterov
        self.e.amsgrad = amsgrad
        self.e.learning_rate = learning_rate
        self.e.momentum = momentum
        self.e.beta_1 = beta_1
        self.e.beta_2 = beta_2
        self.e.epsilon = epsilon
        self.e.lr_steps = NULL
        self._lr_steps = None
        self.e.n_params = params.shape[0]
        slots = list(slots) + [None] * (3 - len(slots))
        self._refs = (params, grads, slots, iterations)
        self.e.params = _ptr(params, self.f64)
        self.e.grads = _ptr(grads, self.f64)
        self.e.slot0 = _ptr(slots[0], self.f64)
        self.e.slot1 = _ptr(slots[1], self.f64)
        self.e.slot2 = _ptr(slots[2], self.f64)
        self._iter_mv = iterations
        self.e.iterations = &self._iter_mv[0]
        self.e.max_batch = 0
        self.e.n_samples = 0
        self.e.centered = 0
        self.e.rho = 0
        self.e.weight_decay = 0
        self.e.n_decay_segments = 0
        self.e.decay_segments = NULL
        self.e.clip_mode = 0
        self.e.clip = 0
        self.e.n_clip_blocks = 0
        self.e.clip_blocks = NULL
        self.e.clip_scratch = NULL
        self.e.opt_state = NULL

    def set_optimizer(self, int opt, bint nesterov, bint amsgrad, bint centered,
                      double learning_rate, double momentum, double beta_1, double beta_2,
                      double epsilon, double rho, double weight_decay, int clip_mode,
                      double clip, clip_blocks, opt_state, decay_segments=None):
        """All the optimizer's settings (they may change between runs).

        clip_blocks: int64[n_blocks, 3] (gd_clip_grads's table) or None; opt_state:
        float64[2] (Nadam's [t, product]) or None; decay_segments: int64[k, 2] (offset,
        size) of the variables weight decay applies to, or None for all. All kept
        referenced.
        """
        self.e.opt = opt
        self.e.nesterov = nesterov
        self.e.amsgrad = amsgrad
        self.e.centered = centered
        self.e.learning_rate = learning_rate
        self.e.momentum = momentum
        self.e.beta_1 = beta_1
        self.e.beta_2 = beta_2
        self.e.epsilon = epsilon
        self.e.rho = rho
        self.e.weight_decay = weight_decay
        self.e.n_decay_segments = 0
        self.e.decay_segments = NULL
        if decay_segments is not None:
            self.e.n_decay_segments = decay_segments.shape[0]
            if decay_segments.shape[0] > 0:
                self._decay_mv = decay_segments
                self.e.decay_segments = &self._decay_mv[0, 0]
            else:  # nothing decays
                self.e.weight_decay = 0
        scratch = None
        self.e.n_clip_blocks = 0
        self.e.clip_blocks = NULL
        self.e.clip_scratch = NULL
        if clip_blocks is not None and clip_blocks.shape[0] > 0:
            scratch = _np.zeros(clip_blocks.shape[0], dtype=_np.float64)
            self._blocks_mv = clip_blocks
            self._scratch_mv = scratch
            self.e.n_clip_blocks = clip_blocks.shape[0]
            self.e.clip_blocks = &self._blocks_mv[0, 0]
            self.e.clip_scratch = &self._scratch_mv[0]
        elif clip_mode in (2, 3):
            clip_mode = 0  # no variable to clip
        self.e.clip_mode = clip_mode
        self.e.clip = clip
        self.e.opt_state = NULL
        if opt_state is not None:
            self._state_mv = opt_state
            self.e.opt_state = &self._state_mv[0]
        self._opt_refs = (clip_blocks, scratch, opt_state, decay_segments)

    def set_learning_rate(self, double lr):
        self.e.learning_rate = lr

    def get_lr_steps(self):
        """The per-step learning rates of the next run (None: the optimizer's rate)."""
        return self._lr_steps

    def set_lr_steps(self, lr_steps):
        """The rate of each step of the next train() runs (float64 [>= n_steps],
        C-contiguous, kept referenced), or None for learning_rate on every step."""
        if lr_steps is None or lr_steps.shape[0] == 0:
            self.e.lr_steps = NULL
            self._lr_steps = None
            return
        self._lr_mv = lr_steps
        self._lr_steps = lr_steps
        self.e.lr_steps = &self._lr_mv[0]

    def set_data(self, x, labels, targets, sample_weight, index, packed=None):
        """Point the engine at a data set (arrays kept referenced until replaced).

        x[N, n_features] and targets[N, n_outputs] of the engine's dtype, labels int32[N],
        sample_weight[N], index int64[*] of rows of x; all C-contiguous. packed: None, or
        (buffer uint8, off int64[N + 1]) from pack_rows on this x, which training then
        gathers its batches from.
        """
        cdef int64_t n_rows = x.shape[0]
        if packed is not None:
            _packed_check(n_rows, packed[1], packed[0])
        if index is not None and index.shape[0] > 0:
            if index.min() < 0 or index.max() >= n_rows:
                raise IndexError(f"index holds rows outside [0, {n_rows})")
        if labels is not None and labels.shape[0] != n_rows:
            raise ValueError("labels and x differ in length")
        if labels is not None and labels.shape[0] > 0:
            if labels.min() < 0 or labels.max() >= self.e.n_outputs:
                raise ValueError(f"labels outside [0, {self.e.n_outputs})")
        if targets is not None and targets.shape[0] != n_rows:
            raise ValueError("targets and x differ in length")
        if sample_weight is not None and sample_weight.shape[0] != n_rows:
            raise ValueError("sample_weight and x differ in length")
        self._data_refs = (x, labels, targets, sample_weight, index, packed)
        if packed is not None and n_rows > 0:
            self._packed_mv = packed[0]
            self._packed_off_mv = packed[1]
            self.e.packed = &self._packed_mv[0]
            self.e.packed_off = &self._packed_off_mv[0]
        else:
            self.e.packed = NULL
            self.e.packed_off = NULL
        # the positions the engine addresses: through the index, or the rows themselves
        self.e.n_samples = index.shape[0] if index is not None else n_rows
        self.e.x = _ptr(x, self.f64)
        self.e.targets = _ptr(targets, self.f64)
        self.e.sample_weight = _ptr(sample_weight, self.f64)
        if labels is not None and labels.shape[0] > 0:
            self._labels_mv = labels
            self.e.labels = &self._labels_mv[0]
        else:
            self.e.labels = NULL
        if index is not None and index.shape[0] > 0:
            self._index_mv = index
            self.e.index = &self._index_mv[0]
        else:
            self.e.index = NULL

    def ensure_workspace(self, int64_t max_batch):
        """Allocate the workspace for batches of up to max_batch rows (once)."""
        cdef int64_t n_ws = 0, n_iws = 0
        cdef int32_t[::1] iws_mv
        if max_batch <= self.e.max_batch:
            return
        gd_engine_workspace(&self.e, max_batch, &n_ws, &n_iws)
        from gradiente import _engine as _layout  # (imported late: it imports us)
        # gd_engine_workspace aligns every piece to 64 bytes when ws is
        self._ws = _layout.aligned_array(n_ws + 16,
                                         _np.float64 if self.f64 else _np.float32, 0,
                                         _layout.WORKSPACE_OFFSET)
        self._iws = _np.zeros(max(n_iws, 1), dtype=_np.int32)
        iws_mv = self._iws
        self.e.ws = _ptr(self._ws, self.f64)
        self.e.iws = &iws_mv[0]
        self.e.max_batch = max_batch

    def train(self, int64_t start, int64_t n_steps, int64_t batch, double[::1] sums,
              int n_threads):
        cdef int status
        if self._lr_steps is not None and self._lr_steps.shape[0] < n_steps:
            raise ValueError(f"lr_steps holds {self._lr_steps.shape[0]} rates for "
                             f"{n_steps} steps")
        with nogil:
            if self.f64:
                status = gd_engine_train_f64(&self.e, start, n_steps, batch, &sums[0], n_threads)
            else:
                status = gd_engine_train_f32(&self.e, start, n_steps, batch, &sums[0], n_threads)
        _check(status)

    def eval(self, int64_t start, int64_t count, int64_t batch, bint with_loss,
             double[::1] sums, out, int n_threads, bint check_x=False):
        cdef int status
        cdef void *op = _ptr(out, self.f64) if out is not None else NULL
        with nogil:
            if self.f64:
                status = gd_engine_eval_f64(&self.e, start, count, batch, with_loss, &sums[0],
                                            op, check_x, n_threads)
            else:
                status = gd_engine_eval_f32(&self.e, start, count, batch, with_loss, &sums[0],
                                            op, check_x, n_threads)
        _check(status)
