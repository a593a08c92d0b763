"""Backend-dispatched kernels: the same names, signatures and results as ``_reference``.

Layers call these for inference, gradient checks and anything the engine does not
run. With the ``numpy`` backend each goes to ``_reference``; with ``native`` to the
C kernels: inputs are checked cheaply here (float32/float64, matching shapes), made
contiguous, and the outputs are allocated here, so callers get new arrays and their
inputs are never modified (as with the reference).
"""
import numpy as np

from . import _config, _reference

_FLOATS = (np.float32, np.float64)

adam_alpha = _reference.adam_alpha


def _native():
    return _config.get_backend() == "native"


def _ck():
    return _config._native()


def _threads():
    return _config.effective_n_threads(None)


def _dtype(*arrays):
    """The common float dtype of ``arrays`` (float32 or float64), else TypeError."""
    dtype = np.result_type(*arrays)
    if dtype.type not in _FLOATS:
        raise TypeError(
            f"gradiente kernels expect float32 or float64 arrays; received dtype {dtype}. "
            "Cast with .astype('float32')."
        )
    return dtype


def _c(a, dtype):
    """``a`` as a C-contiguous array of ``dtype`` (no copy when it already is one)."""
    return np.ascontiguousarray(a, dtype=dtype)


def _shape_error(name, expected, received):
    return ValueError(f"{name} expects shape {expected}; received shape {received}.")


def _act_id(activation):
    try:
        return _reference.ACTIVATIONS[activation]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown activation {activation!r}; expected one of "
            f"{sorted(_reference.ACTIVATIONS)}."
        ) from None


def _rows(a):
    """A view of ``a`` as 2-D rows over its last axis (ndim >= 1)."""
    return a.reshape(-1, a.shape[-1]) if a.ndim != 2 else a


def _sample_weight(sample_weight, m, dtype):
    if sample_weight is None:
        return None
    sw = _c(sample_weight, dtype).reshape(-1)
    if sw.shape[0] != m:
        raise _shape_error("sample_weight", (m,), np.shape(sample_weight))
    return sw


def _grad_scale(grad_scale, m):
    return 1.0 / max(m, 1) if grad_scale is None else float(grad_scale)


# ---------------------------------------------------------------- GEMM


def gemm(a, b, c=None, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    """C = alpha · op(A) · op(B) + beta · C (see ``_reference.gemm``)."""
    if not _native() or a.ndim != 2 or b.ndim != 2:
        return _reference.gemm(a, b, c, trans_a, trans_b, alpha, beta)
    dtype = _dtype(a, b)
    a = _c(a, dtype)
    b = _c(b, dtype)
    if trans_a and trans_b:  # not a layout of ours: transpose B explicitly
        b = np.ascontiguousarray(b.T)
        trans_b = False
    m, ka = (a.shape[1], a.shape[0]) if trans_a else a.shape
    kb, n = (b.shape[1], b.shape[0]) if trans_b else b.shape
    if ka != kb:
        raise ValueError(f"gemm: op(a) is {(m, ka)} and op(b) is {(kb, n)}; inner sizes differ.")
    if c is not None and beta != 0:
        if np.shape(c) != (m, n):
            raise _shape_error("gemm(c=...)", (m, n), np.shape(c))
        out = np.array(c, dtype=dtype, order="C", copy=True)
    else:
        out = np.empty((m, n), dtype=dtype)
        beta = 0.0
    _ck().gemm(a, b, out, bool(trans_a), bool(trans_b), float(alpha), float(beta), _threads())
    return out


def spmm(a, b, trans_a=False):
    """op(A) · B skipping A's zeros (see ``_reference.spmm``); equals gemm while B is
    finite."""
    if not _native() or a.ndim != 2 or b.ndim != 2:
        return _reference.spmm(a, b, trans_a)
    dtype = _dtype(a, b)
    a = _c(a, dtype)
    b = _c(b, dtype)
    m, ka = (a.shape[1], a.shape[0]) if trans_a else a.shape
    kb, n = b.shape
    if ka != kb:
        raise ValueError(f"spmm: op(a) is {(m, ka)} and b is {(kb, n)}; inner sizes differ.")
    out = np.empty((m, n), dtype=dtype)
    _ck().spmm(a, b, out, bool(trans_a), _threads())
    return out


def count_nonzero(x):
    """How many elements of x are not zero (see ``_reference.count_nonzero``)."""
    x = np.asarray(x)
    if not _native() or x.dtype not in (np.float32, np.float64):
        return _reference.count_nonzero(x)
    return int(_ck().count_nonzero(np.ascontiguousarray(x).reshape(-1)))


# ---------------------------------------------------------------- activations


def act_fwd(x, activation):
    """y = act(x); softmax over the last axis (see ``_reference.act_fwd``)."""
    if not _native() or np.ndim(x) == 0:
        return _reference.act_fwd(x, activation)
    act = _act_id(activation)
    dtype = _dtype(x)
    x = _c(x, dtype)
    y = np.empty_like(x)
    if x.size:
        _ck().act_fwd(_rows(x), _rows(y), act, _threads())
    return y


def act_bwd(y, dy, activation, x=None):
    """dx = dy ⊙ act'(x) from the output y, and the input x for the activations that
    need it (see ``_reference.act_bwd``)."""
    if not _native() or np.ndim(y) == 0:
        return _reference.act_bwd(y, dy, activation, x=x)
    act = _act_id(activation)
    dtype = _dtype(y, dy)
    y = _c(y, dtype)
    dy = _c(dy, dtype)
    if y.shape != dy.shape:
        raise _shape_error("act_bwd(dy=...)", y.shape, dy.shape)
    if x is None and activation in _reference.NEEDS_INPUT:
        raise ValueError(f"act_bwd for {activation!r} needs the activation's input x=.")
    if x is not None:
        x = _c(x, dtype)
        if x.shape != y.shape:
            raise _shape_error("act_bwd(x=...)", y.shape, x.shape)
    dx = np.empty_like(y)
    if y.size:
        _ck().act_bwd(_rows(y), _rows(dy), _rows(dx), act, _threads(),
                      None if x is None else _rows(x))
    return dx


def softmax(x):
    """Row softmax, max-subtracted."""
    if not _native():
        return _reference.softmax(x)
    return act_fwd(x, "softmax")


# ---------------------------------------------------------------- dense


def _dense_args(x, w, b):
    dtype = _dtype(x, w) if b is None else _dtype(x, w, b)
    x = _c(x, dtype)
    w = _c(w, dtype)
    if w.ndim != 2 or x.ndim < 1 or x.shape[-1] != w.shape[0]:
        raise ValueError(
            f"dense: x has shape {x.shape} and w {w.shape}; expected x[..., k] and w[k, n]."
        )
    if b is not None:
        b = _c(b, dtype)
        if b.shape != (w.shape[1],):
            raise _shape_error("dense(b=...)", (w.shape[1],), b.shape)
    return dtype, x, w, b


def dense_fwd(x, w, b, activation="linear", with_z=False):
    """Y = act(X · W + b) (see ``_reference.dense_fwd``); X may have leading axes.
    With ``with_z`` returns (Y, Z), Z = X · W + b."""
    if not _native():
        return _reference.dense_fwd(x, w, b, activation, with_z=with_z)
    act = _act_id(activation)
    dtype, x, w, b = _dense_args(x, w, b)
    k, n = w.shape
    y = np.empty(x.shape[:-1] + (n,), dtype=dtype)
    z = np.empty_like(y) if with_z else None
    if y.size:
        _ck().dense_fwd(x.reshape(-1, k), w, b, y.reshape(-1, n), act, _threads(),
                        None if z is None else z.reshape(-1, n))
    return (y, z) if with_z else y


def dense_bwd(x, w, y, dy, activation="linear", need_dx=True, need_db=True, z=None):
    """Backward of ``dense_fwd``: (dX, dW, db) (see ``_reference.dense_bwd``); z, the
    pre-activation X · W + b, is needed for the activations in NEEDS_INPUT."""
    if not _native():
        return _reference.dense_bwd(x, w, y, dy, activation, need_dx, need_db, z=z)
    act = _act_id(activation)
    dtype, x, w, _ = _dense_args(x, w, None)
    k, n = w.shape
    out_shape = x.shape[:-1] + (n,)
    y = _c(y, dtype)
    if y.shape != out_shape:
        raise _shape_error("dense_bwd(y=...)", out_shape, y.shape)
    if np.shape(dy) != out_shape:
        raise _shape_error("dense_bwd(dy=...)", out_shape, np.shape(dy))
    if z is None and activation in _reference.NEEDS_INPUT:
        raise ValueError(f"dense_bwd with activation {activation!r} needs z= (X·W + b).")
    if z is not None:
        z = _c(z, dtype)
        if z.shape != out_shape:
            raise _shape_error("dense_bwd(z=...)", out_shape, z.shape)
    # the kernel writes dZ over dY: work on a copy unless dY is dZ already (linear)
    dz = np.array(dy, dtype=dtype, order="C", copy=act != 0 or None)
    dx = np.empty(x.shape, dtype=dtype) if need_dx else None
    dw = np.empty((k, n), dtype=dtype)
    db = np.empty(n, dtype=dtype) if need_db else None
    x2 = x.reshape(-1, k)
    _ck().dense_bwd(x2, w, y.reshape(-1, n), dz.reshape(-1, n),
                    None if dx is None else dx.reshape(-1, k), dw, db, act, _threads(),
                    None if z is None else z.reshape(-1, n))
    return dx, dw, db


# ---------------------------------------------------------------- losses


def softmax_xent(z, labels=None, targets=None, sample_weight=None, from_logits=True,
                 grad_scale=None):
    """Fused softmax + cross-entropy: (row_loss, dz, row_hit) (see ``_reference``)."""
    if not _native():
        return _reference.softmax_xent(z, labels, targets, sample_weight, from_logits,
                                       grad_scale)
    dtype = _dtype(z)
    z = _c(z, dtype)
    if z.ndim != 2:
        raise _shape_error("softmax_xent(z=...)", "(m, n)", z.shape)
    m, n = z.shape
    lab = tgt = None
    if labels is not None:
        lab = np.asarray(labels)
        if lab.size != m or not (lab.dtype.kind in "iu" or lab.dtype.kind == "f"):
            raise _shape_error("softmax_xent(labels=...)", (m,), lab.shape)
        if m and (lab.min() < 0 or lab.max() >= n):
            raise ValueError(
                f"softmax_xent(labels=...) expects integers in [0, {n}); received values in "
                f"[{lab.min()}, {lab.max()}]."
            )
        lab = _c(lab.reshape(-1), np.int32)
    elif targets is not None:
        tgt = _c(targets, dtype)
        if tgt.shape != z.shape:
            raise _shape_error("softmax_xent(targets=...)", z.shape, tgt.shape)
    else:
        raise ValueError("softmax_xent needs labels=... or targets=...; received neither.")
    sw = _sample_weight(sample_weight, m, dtype)
    row_loss = np.empty(m, dtype=dtype)
    dz = np.empty((m, n), dtype=dtype)
    row_hit = np.zeros(m, dtype=np.int32)
    _ck().softmax_xent(z, lab, tgt, sw, bool(from_logits), _grad_scale(grad_scale, m), dz,
                       row_loss, row_hit, _threads())
    return row_loss, dz, row_hit


def loss(p, t, kind, sample_weight=None, grad_scale=None):
    """A loss on the model's output: (row_loss, dp) (see ``_reference.loss``)."""
    if not _native():
        return _reference.loss(p, t, kind, sample_weight, grad_scale)
    try:
        kind_id = _reference.LOSSES[kind]
    except (KeyError, TypeError):
        raise ValueError(f"unknown loss {kind!r}; expected one of {sorted(_reference.LOSSES)}.")\
            from None
    dtype = _dtype(p)
    p = _c(p, dtype)
    if p.ndim != 2:
        raise _shape_error("loss(p=...)", "(m, n)", p.shape)
    t = _c(t, dtype)
    if t.shape != p.shape:
        raise _shape_error("loss(t=...)", p.shape, t.shape)
    m = p.shape[0]
    sw = _sample_weight(sample_weight, m, dtype)
    row_loss = np.empty(m, dtype=dtype)
    dp = np.empty_like(p)
    _ck().loss(p, t, sw, kind_id, _grad_scale(grad_scale, m), dp, row_loss, _threads())
    return row_loss, dp


# ---------------------------------------------------------------- optimizers


def _flat_state(name, a, shape, dtype):
    a = np.array(a, dtype=dtype, order="C", copy=True)
    if a.shape != shape:
        raise _shape_error(name, shape, a.shape)
    return a


def sgd_step(w, g, v, learning_rate, momentum=0.0, nesterov=False):
    """Keras 3 SGD: the new (w, v) (see ``_reference.sgd_step``)."""
    if not _native():
        return _reference.sgd_step(w, g, v, learning_rate, momentum, nesterov)
    dtype = _dtype(w, g)
    shape = np.shape(w)
    w_new = _flat_state("sgd_step(w=...)", w, shape, dtype)
    g = _c(g, dtype)
    if g.shape != shape:
        raise _shape_error("sgd_step(g=...)", shape, g.shape)
    v_new = None
    if momentum != 0:
        v_new = _flat_state("sgd_step(v=...)", v, shape, dtype)
    _ck().sgd_step(w_new.reshape(-1), g.reshape(-1),
                   None if v_new is None else v_new.reshape(-1), float(learning_rate),
                   float(momentum), bool(nesterov), _threads())
    return w_new, (v if momentum == 0 else v_new)


def adam_step(w, g, m, v, vhat, alpha, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
              amsgrad=False):
    """Keras 3 Adam, bias correction in alpha: the new (w, m, v, vhat)."""
    if not _native():
        return _reference.adam_step(w, g, m, v, vhat, alpha, beta_1, beta_2, epsilon,
                                    amsgrad)
    dtype = _dtype(w, g)
    shape = np.shape(w)
    w_new = _flat_state("adam_step(w=...)", w, shape, dtype)
    g = _c(g, dtype)
    if g.shape != shape:
        raise _shape_error("adam_step(g=...)", shape, g.shape)
    m_new = _flat_state("adam_step(m=...)", m, shape, dtype)
    v_new = _flat_state("adam_step(v=...)", v, shape, dtype)
    vhat_new = _flat_state("adam_step(vhat=...)", vhat, shape, dtype) if amsgrad else None
    _ck().adam_step(w_new.reshape(-1), g.reshape(-1), m_new.reshape(-1), v_new.reshape(-1),
                    None if vhat_new is None else vhat_new.reshape(-1), float(alpha),
                    float(beta_1), float(beta_2), float(epsilon), _threads())
    return w_new, m_new, v_new, (vhat_new if amsgrad else vhat)


def _state(name, arrays, shape, dtype):
    """Fresh contiguous copies of the state arrays (None stays None)."""
    return [None if a is None else _flat_state(f"{name}", a, shape, dtype) for a in arrays]


def _grad(op, w, g):
    dtype = _dtype(w, g)
    shape = np.shape(w)
    g = _c(g, dtype)
    if g.shape != shape:
        raise _shape_error(f"{op}(g=...)", shape, g.shape)
    return dtype, shape, g


def rmsprop_step(w, g, v, mom, avg, learning_rate, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False):
    """Keras 3 RMSprop: the new (w, v, mom, avg) (see ``_reference.rmsprop_step``)."""
    if not _native():
        return _reference.rmsprop_step(w, g, v, mom, avg, learning_rate, rho, momentum,
                                       epsilon, centered)
    dtype, shape, g = _grad("rmsprop_step", w, g)
    w_new, v_new = _state("rmsprop_step(w/v=...)", (w, v), shape, dtype)
    mom_new = _state("rmsprop_step(mom=...)", (mom,), shape, dtype)[0] if momentum > 0 \
        else None
    avg_new = _state("rmsprop_step(avg=...)", (avg,), shape, dtype)[0] if centered else None
    flat = [None if a is None else a.reshape(-1) for a in (w_new, g, v_new, mom_new, avg_new)]
    _ck().rmsprop_step(*flat, float(learning_rate), float(rho), float(momentum),
                       float(epsilon), _threads())
    return (w_new, v_new, mom if mom_new is None else mom_new,
            avg if avg_new is None else avg_new)


def adagrad_step(w, g, acc, learning_rate, epsilon=1e-7):
    """Keras 3 Adagrad: the new (w, acc)."""
    if not _native():
        return _reference.adagrad_step(w, g, acc, learning_rate, epsilon)
    dtype, shape, g = _grad("adagrad_step", w, g)
    w_new, acc_new = _state("adagrad_step(w/acc=...)", (w, acc), shape, dtype)
    _ck().adagrad_step(w_new.reshape(-1), g.reshape(-1), acc_new.reshape(-1),
                       float(learning_rate), float(epsilon), _threads())
    return w_new, acc_new


def adamax_step(w, g, m, u, learning_rate, bias_1, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Keras 3 Adamax: the new (w, m, u) (bias_1 = 1 - beta_1**t)."""
    if not _native():
        return _reference.adamax_step(w, g, m, u, learning_rate, bias_1, beta_1, beta_2,
                                      epsilon)
    dtype, shape, g = _grad("adamax_step", w, g)
    w_new, m_new, u_new = _state("adamax_step(w/m/u=...)", (w, m, u), shape, dtype)
    _ck().adamax_step(w_new.reshape(-1), g.reshape(-1), m_new.reshape(-1), u_new.reshape(-1),
                      float(learning_rate), float(bias_1), float(beta_1), float(beta_2),
                      float(epsilon), _threads())
    return w_new, m_new, u_new


nadam_coefficients = _reference.nadam_coefficients


def nadam_step(w, g, m, v, learning_rate, c_m, c_g, bias_2, beta_1=0.9, beta_2=0.999,
               epsilon=1e-7):
    """Keras 3 Nadam: the new (w, m, v) (scalars from ``nadam_coefficients``)."""
    if not _native():
        return _reference.nadam_step(w, g, m, v, learning_rate, c_m, c_g, bias_2, beta_1,
                                     beta_2, epsilon)
    dtype, shape, g = _grad("nadam_step", w, g)
    w_new, m_new, v_new = _state("nadam_step(w/m/v=...)", (w, m, v), shape, dtype)
    _ck().nadam_step(w_new.reshape(-1), g.reshape(-1), m_new.reshape(-1), v_new.reshape(-1),
                     float(learning_rate), float(c_m), float(c_g), float(bias_2),
                     float(beta_1), float(beta_2), float(epsilon), _threads())
    return w_new, m_new, v_new


def adadelta_step(w, g, ag, ad, learning_rate, rho=0.95, epsilon=1e-7):
    """Keras 3 Adadelta: the new (w, ag, ad)."""
    if not _native():
        return _reference.adadelta_step(w, g, ag, ad, learning_rate, rho, epsilon)
    dtype, shape, g = _grad("adadelta_step", w, g)
    w_new, ag_new, ad_new = _state("adadelta_step(w/ag/ad=...)", (w, ag, ad), shape, dtype)
    _ck().adadelta_step(w_new.reshape(-1), g.reshape(-1), ag_new.reshape(-1),
                        ad_new.reshape(-1), float(learning_rate), float(rho), float(epsilon),
                        _threads())
    return w_new, ag_new, ad_new


def scale(w, factor):
    """w·factor (decoupled weight decay)."""
    if not _native():
        return _reference.scale(w, factor)
    dtype = _dtype(w)
    w_new = _flat_state("scale(w=...)", w, np.shape(w), dtype)
    _ck().scale(w_new.reshape(-1), float(factor), _threads())
    return w_new


#: elements per block of gradient norms (a block's sum is one thread's)
CLIP_GRAIN = 4096


def clip_blocks(segments, grain=CLIP_GRAIN):
    """The C clipping table for variables at (offset, size): int64[n_blocks, 3] rows
    (lo, hi, variable index), each variable cut into blocks of ``grain`` elements."""
    rows = []
    for j, (off, size) in enumerate(segments):
        for lo in range(off, off + size, grain):
            rows.append((lo, min(lo + grain, off + size), j))
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def clip_grads(g, segments, mode, clip):
    """Keras 3 gradient clipping: the clipped copy of g (see ``_reference.clip_grads``)."""
    if not _native():
        return _reference.clip_grads(g, segments, mode, clip)
    if mode not in _reference.CLIP_MODES:
        raise ValueError(f"unknown clip mode {mode!r}")
    dtype = _dtype(g)
    g_new = _flat_state("clip_grads(g=...)", g, np.shape(g), dtype).reshape(-1)
    blocks = clip_blocks(segments)
    scratch = np.zeros(max(blocks.shape[0], 1), dtype=np.float64)
    if mode != "value" and blocks.shape[0] == 0:
        return g_new.reshape(np.shape(g))
    _ck().clip_grads(g_new, blocks, _reference.CLIP_MODES[mode], float(clip), scratch,
                     _threads())
    return g_new.reshape(np.shape(g))


# ---------------------------------------------------------------- dropout, regularizers

dropout_key = _reference.dropout_key


def dropout_fwd(x, rate, key, share_rows=False, share_cols=False):
    """Inverted dropout on x[m, n]: (y, mask) (see ``_reference.dropout_fwd``)."""
    if not _native():
        return _reference.dropout_fwd(x, rate, key, share_rows, share_cols)
    dtype = _dtype(x)
    x = _c(x, dtype)
    if x.ndim != 2:
        raise _shape_error("dropout_fwd(x=...)", "(m, n)", x.shape)
    y = np.empty_like(x)
    mask = np.empty_like(x)
    _ck().dropout_fwd(x, y, mask, float(rate), int(key), bool(share_rows), bool(share_cols),
                      _threads())
    return y, mask


def dropout_bwd(mask, dy, rate):
    """dx = mask ? dy / (1 - rate) : 0 (see ``_reference.dropout_bwd``)."""
    if not _native():
        return _reference.dropout_bwd(mask, dy, rate)
    dtype = _dtype(dy)
    dy = _c(dy, dtype)
    mask = _c(mask, dtype)
    if mask.shape != dy.shape or dy.ndim != 2:
        raise _shape_error("dropout_bwd(mask=...)", dy.shape, mask.shape)
    dx = np.empty_like(dy)
    _ck().dropout_bwd(mask, dy, dx, float(rate), _threads())
    return dx


def l1l2_penalty(w, l1, l2, g=None):
    """(penalty, g + its gradient) of Keras's L1L2 on w (see ``_reference``)."""
    if not _native():
        return _reference.l1l2_penalty(w, l1, l2, g)
    dtype = _dtype(w)
    w = _c(w, dtype).reshape(-1)
    g_new = None
    if g is not None:
        g_new = np.array(g, dtype=dtype, order="C", copy=True).reshape(-1)
        if g_new.shape != w.shape:
            raise _shape_error("l1l2_penalty(g=...)", w.shape, np.shape(g))
    penalty = _ck().l1l2_penalty(w, float(l1), float(l2), g_new, _threads())
    return penalty, (None if g is None else g_new.reshape(np.shape(g)))
