# Wrappers of the dense, activation, softmax/cross-entropy, loss and optimizer
# kernels (included by _ckernels.pyx). Outputs are passed in; optional arguments
# may be None (NULL in C). Empty arrays pass NULL: no element is ever addressed.


def act_fwd(const floating[:, ::1] x, floating[:, ::1] y, int act, int n_threads):
    """y = act(x) (softmax over rows); y may be x."""
    cdef int64_t m = x.shape[0], n = x.shape[1]
    if m == 0 or n == 0:
        return
    with nogil:
        if floating is float:
            gd_act_fwd_f32(m, n, act, &x[0, 0], &y[0, 0], n_threads)
        else:
            gd_act_fwd_f64(m, n, act, &x[0, 0], &y[0, 0], n_threads)


def act_needs_input(int act):
    """Whether act's derivative needs the activation's input (gelu, silu)."""
    return bool(gd_act_needs_input(act))


def _need_input(int act, arr, str name):
    if arr is None and gd_act_needs_input(act):
        raise ValueError(f"activation id {act} needs {name}= (its input) for its derivative")


def act_bwd(const floating[:, ::1] y, const floating[:, ::1] dy, floating[:, ::1] dx,
            int act, int n_threads, const floating[:, ::1] x=None):
    """dx = dy ⊙ act'(x), from the activation's output y and, for the activations
    that need it, its input x; dx may be dy."""
    cdef int64_t m = y.shape[0], n = y.shape[1]
    cdef const floating *xp = NULL
    _need_input(act, x, "x")
    if m == 0 or n == 0:
        return
    if x is not None:
        xp = &x[0, 0]
    with nogil:
        if floating is float:
            gd_act_bwd_f32(m, n, act, xp, &y[0, 0], &dy[0, 0], &dx[0, 0], n_threads)
        else:
            gd_act_bwd_f64(m, n, act, xp, &y[0, 0], &dy[0, 0], &dx[0, 0], n_threads)



def dense_fwd(const floating[:, ::1] x, const floating[:, ::1] w, const floating[::1] b,
              floating[:, ::1] y, int act, int n_threads, floating[:, ::1] z=None):
    """y = act(x · w + b); b may be None; z (or None) receives x · w + b."""
    cdef int64_t m = x.shape[0], k = x.shape[1], n = w.shape[1]
    cdef floating[::1] scratch = _np.empty(max(m * n, 1), _np.float32 if floating is float else _np.float64)
    cdef const floating *xp = &x[0, 0] if m * k > 0 else NULL
    cdef const floating *wp = &w[0, 0] if k * n > 0 else NULL
    cdef const floating *bp = &b[0] if b is not None and n > 0 else NULL
    cdef floating *zp = NULL
    cdef int status = GD_OK
    if m == 0 or n == 0:
        return
    if z is not None:
        zp = &z[0, 0]
    with nogil:
        if floating is float:
            status = gd_dense_fwd_f32(m, k, n, xp, wp, bp, act, &y[0, 0], zp, &scratch[0],
                                      n_threads)
        else:
            status = gd_dense_fwd_f64(m, k, n, xp, wp, bp, act, &y[0, 0], zp, &scratch[0],
                                      n_threads)
    _check(status)


def dense_bwd(const floating[:, ::1] x, const floating[:, ::1] w, const floating[:, ::1] y,
              floating[:, ::1] dy, floating[:, ::1] dx, floating[:, ::1] dw,
              floating[::1] db, int act, int n_threads, const floating[:, ::1] z=None):
    """dZ = dy ⊙ act'(z) (from y, and z for the activations that need it) written
    over dy; dx = dZ · wᵀ (dx may be None); dw = xᵀ · dZ; db = column sums of dZ (db
    may be None)."""
    cdef int64_t m = x.shape[0], k = x.shape[1], n = w.shape[1]
    cdef const floating *xp = &x[0, 0] if m * k > 0 else NULL
    cdef const floating *wp = &w[0, 0] if k * n > 0 else NULL
    cdef const floating *yp = &y[0, 0] if m * n > 0 else NULL
    cdef const floating *zp = NULL
    cdef floating *dyp = &dy[0, 0] if m * n > 0 else NULL
    cdef floating *dxp = &dx[0, 0] if dx is not None and m * k > 0 else NULL
    cdef floating *dwp = &dw[0, 0] if k * n > 0 else NULL
    cdef floating *dbp = &db[0] if db is not None and n > 0 else NULL
    cdef int status = GD_OK
    _need_input(act, z, "z")
    if z is not None and m * n > 0:
        zp = &z[0, 0]
    with nogil:
        if floating is float:
            status = gd_dense_bwd_f32(m, k, n, xp, wp, yp, zp, dyp, act, dxp, dwp, dbp,
                                      n_threads)
        else:
            status = gd_dense_bwd_f64(m, k, n, xp, wp, yp, zp, dyp, act, dxp, dwp, dbp,
                                      n_threads)
    _check(status)


def softmax_xent(const floating[:, ::1] z, const int32_t[::1] labels,
                 const floating[:, ::1] targets, const floating[::1] sample_weight,
                 bint from_logits, double grad_scale, floating[:, ::1] dz,
                 floating[::1] row_loss, int32_t[::1] row_hit, int n_threads):
    """Fused softmax + cross-entropy: row_loss (and dz, row_hit unless None) from z and
    either labels (int32) or targets; sample_weight may be None."""
    cdef int64_t m = z.shape[0], n = z.shape[1]
    cdef bint full = m * n > 0
    cdef const floating *zp = &z[0, 0] if full else NULL
    cdef const int32_t *lp = &labels[0] if labels is not None and m > 0 else NULL
    cdef const floating *tp = &targets[0, 0] if targets is not None and full else NULL
    cdef const floating *swp = &sample_weight[0] if sample_weight is not None and m > 0 else NULL
    cdef floating *dzp = &dz[0, 0] if dz is not None and full else NULL
    cdef int32_t *hp = &row_hit[0] if row_hit is not None and m > 0 else NULL
    if m == 0:
        return
    with nogil:
        if floating is float:
            gd_softmax_xent_f32(m, n, zp, lp, tp, swp, from_logits, <float>grad_scale, dzp,
                                &row_loss[0], hp, n_threads)
        else:
            gd_softmax_xent_f64(m, n, zp, lp, tp, swp, from_logits, grad_scale, dzp,
                                &row_loss[0], hp, n_threads)


def loss(const floating[:, ::1] p, const floating[:, ::1] t, const floating[::1] sample_weight,
         int loss_id, double grad_scale, floating[:, ::1] dp, floating[::1] row_loss,
         int n_threads):
    """row_loss (and dp unless None) of loss ``loss_id`` on p against t."""
    cdef int64_t m = p.shape[0], n = p.shape[1]
    cdef bint full = m * n > 0
    cdef const floating *pp = &p[0, 0] if full else NULL
    cdef const floating *tp = &t[0, 0] if full else NULL
    cdef const floating *swp = &sample_weight[0] if sample_weight is not None and m > 0 else NULL
    cdef floating *dpp = &dp[0, 0] if dp is not None and full else NULL
    if m == 0:
        return
    with nogil:
        if floating is float:
            gd_loss_f32(m, n, loss_id, pp, tp, swp, <float>grad_scale, dpp, &row_loss[0],
                        n_threads)
        else:
            gd_loss_f64(m, n, loss_id, pp, tp, swp, grad_scale, dpp, &row_loss[0], n_threads)


def dropout_key(uint64_t seed, int64_t step, int64_t layer):
    """The key of a dropout mask (gd_dropout_key)."""
    return gd_dropout_key(seed, step, layer)


def dropout_fwd(const floating[:, ::1] x, floating[:, ::1] y, floating[:, ::1] mask,
                double rate, uint64_t key, bint share_rows, bint share_cols, int n_threads):
    """Inverted dropout: mask (0/1) and y = mask ? x / (1 - rate) : 0."""
    cdef int64_t m = x.shape[0], n = x.shape[1]
    if m == 0 or n == 0:
        return
    with nogil:
        if floating is float:
            gd_dropout_fwd_f32(m, n, rate, key, share_rows, share_cols, &x[0, 0], &y[0, 0],
                               &mask[0, 0], n_threads)
        else:
            gd_dropout_fwd_f64(m, n, rate, key, share_rows, share_cols, &x[0, 0], &y[0, 0],
                               &mask[0, 0], n_threads)


def dropout_bwd(const floating[:, ::1] mask, const floating[:, ::1] dy, floating[:, ::1] dx,
                double rate, int n_threads):
    """dx = mask ? dy / (1 - rate) : 0."""
    cdef int64_t m = dy.shape[0], n = dy.shape[1]
    if m == 0 or n == 0:
        return
    with nogil:
        if floating is float:
            gd_dropout_bwd_f32(m, n, rate, &mask[0, 0], &dy[0, 0], &dx[0, 0], n_threads)
        else:
            gd_dropout_bwd_f64(m, n, rate, &mask[0, 0], &dy[0, 0], &dx[0, 0], n_threads)


def l1l2_penalty(const floating[::1] w, double l1, double l2, floating[::1] g, int n_threads):
    """Returns l1·Σ|w| + l2·Σw²; g (or None) += l1·sign(w) + 2·l2·w."""
    cdef int64_t n = w.shape[0]
    cdef double out = 0
    cdef double[::1] partials = _np.zeros(2 * max(gd_l1l2_blocks(n), 1), dtype=_np.float64)
    cdef floating *gp = &g[0] if g is not None and n > 0 else NULL
    if n == 0:
        return 0.0
    with nogil:
        if floating is float:
            out = gd_l1l2_penalty_f32(n, &w[0], l1, l2, gp, &partials[0], n_threads)
        else:
            out = gd_l1l2_penalty_f64(n, &w[0], l1, l2, gp, &partials[0], n_threads)
    return out


def metric(const floating[:, ::1] p, const int32_t[::1] labels, const floating[:, ::1] t,
           int metric_id, int64_t k, floating[::1] row_out, int n_threads):
    """row_out[i] = metric ``metric_id`` (a gd_metric_t) of row i of p; labels or t may
    be None when the metric does not read them."""
    cdef int64_t m = p.shape[0], n = p.shape[1]
    cdef const floating *pp = &p[0, 0] if m * n > 0 else NULL
    cdef const int32_t *lp = &labels[0] if labels is not None and m > 0 else NULL
    cdef const floating *tp = &t[0, 0] if t is not None and m * n > 0 else NULL
    if m == 0:
        return
    with nogil:
        if floating is float:
            gd_metric_f32(m, n, metric_id, k, pp, lp, tp, &row_out[0], n_threads)
        else:
            gd_metric_f64(m, n, metric_id, k, pp, lp, tp, &row_out[0], n_threads)


def sgd_step(floating[::1] w, const floating[::1] g, floating[::1] v, double learning_rate,
             double momentum, bint nesterov, int n_threads):
    """Keras SGD in place on flat buffers; v may be None when momentum == 0."""
    cdef int64_t n = w.shape[0]
    cdef floating *vp = &v[0] if v is not None and n > 0 else NULL
    if n == 0:
        return
    with nogil:
        if floating is float:
            gd_sgd_step_f32(n, &w[0], &g[0], vp, <float>learning_rate, <float>momentum,
                            nesterov, n_threads)
        else:
            gd_sgd_step_f64(n, &w[0], &g[0], vp, learning_rate, momentum, nesterov, n_threads)


def adam_step(floating[::1] w, const floating[::1] g, floating[::1] m, floating[::1] v,
              floating[::1] vhat, double alpha, double beta_1, double beta_2, double epsilon,
              int n_threads):
    """Keras Adam in place on flat buffers (alpha bias-corrected); vhat None unless
    amsgrad."""
    cdef int64_t n = w.shape[0]
    cdef floating *vhp = &vhat[0] if vhat is not None and n > 0 else NULL
    if n == 0:
        return
    with nogil:
        if floating is float:
            gd_adam_step_f32(n, &w[0], &g[0], &m[0], &v[0], vhp, <float>alpha, <float>beta_1,
                             <float>beta_2, <float>epsilon, n_threads)
        else:
            gd_adam_step_f64(n, &w[0], &g[0], &m[0], &v[0], vhp, alpha, beta_1, beta_2,
                             epsilon, n_threads)


def rmsprop_step(floating[::1] w, const floating[::1] g, floating[::1] v, floating[::1] mom,
                 floating[::1] avg, double lr, double rho, double momentum, double epsilon,
                 int n_threads):
    """Keras RMSprop in place; mom None when momentum == 0, avg None unless centered."""
    cdef int64_t n = w.shape[0]
    if n == 0:
        return
    cdef floating *mp = &mom[0] if mom is not None else NULL
    cdef floating *ap = &avg[0] if avg is not None else NULL
    with nogil:
        if floating is float:
            gd_rmsprop_step_f32(n, &w[0], &g[0], &v[0], mp, ap, <float>lr, <float>rho,
                                <float>momentum, <float>epsilon, n_threads)
        else:
            gd_rmsprop_step_f64(n, &w[0], &g[0], &v[0], mp, ap, lr, rho, momentum, epsilon,
                                n_threads)


def adagrad_step(floating[::1] w, const floating[::1] g, floating[::1] acc, double lr,
                 double epsilon, int n_threads):
    """Keras Adagrad in place."""
    cdef int64_t n = w.shape[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            gd_adagrad_step_f32(n, &w[0], &g[0], &acc[0], <float>lr, <float>epsilon,
                                n_threads)
        else:
            gd_adagrad_step_f64(n, &w[0], &g[0], &acc[0], lr, epsilon, n_threads)


def adamax_step(floating[::1] w, const floating[::1] g, floating[::1] m, floating[::1] u,
                double lr, double bias_1, double beta_1, double beta_2, double epsilon,
                int n_threads):
    """Keras Adamax in place (bias_1 = 1 - beta_1**t)."""
    cdef int64_t n = w.shape[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            gd_adamax_step_f32(n, &w[0], &g[0], &m[0], &u[0], <float>lr, <float>bias_1,
                               <float>beta_1, <float>beta_2, <float>epsilon, n_threads)
        else:
            gd_adamax_step_f64(n, &w[0], &g[0], &m[0], &u[0], lr, bias_1, beta_1, beta_2,
                               epsilon, n_threads)


def nadam_step(floating[::1] w, const floating[::1] g, floating[::1] m, floating[::1] v,
               double lr, double c_m, double c_g, double bias_2, double beta_1, double beta_2,
               double epsilon, int n_threads):
    """Keras Nadam in place (c_m, c_g, bias_2 from _reference.nadam_coefficients)."""
    cdef int64_t n = w.shape[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            gd_nadam_step_f32(n, &w[0], &g[0], &m[0], &v[0], <float>lr, <float>c_m,
                              <float>c_g, <float>bias_2, <float>beta_1, <float>beta_2,
                              <float>epsilon, n_threads)
        else:
            gd_nadam_step_f64(n, &w[0], &g[0], &m[0], &v[0], lr, c_m, c_g, bias_2, beta_1,
                              beta_2, epsilon, n_threads)


def adadelta_step(floating[::1] w, const floating[::1] g, floating[::1] ag,
                  floating[::1] ad, double lr, double rho, double epsilon, int n_threads):
    """Keras Adadelta in place."""
    cdef int64_t n = w.shape[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            gd_adadelta_step_f32(n, &w[0], &g[0], &ag[0], &ad[0], <float>lr, <float>rho,
                                 <float>epsilon, n_threads)
        else:
            gd_adadelta_step_f64(n, &w[0], &g[0], &ag[0], &ad[0], lr, rho, epsilon,
                                 n_threads)


def scale(floating[::1] w, double factor, int n_threads):
    """w *= factor in place (decoupled weight decay)."""
    cdef int64_t n = w.shape[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            gd_scale_f32(n, &w[0], <float>factor, n_threads)
        else:
            gd_scale_f64(n, &w[0], factor, n_threads)


def clip_grads(floating[::1] g, const int64_t[:, ::1] blocks, int mode, double clip,
               double[::1] scratch, int n_threads):
    """Keras gradient clipping in place; blocks[n_blocks, 3] = (lo, hi, variable)."""
    cdef int64_t n = g.shape[0], nb = blocks.shape[0]
    if n == 0:
        return
    cdef const int64_t *bp = &blocks[0, 0] if nb > 0 else NULL
    cdef double *sp = &scratch[0] if nb > 0 else NULL
    with nogil:
        if floating is float:
            gd_clip_grads_f32(n, nb, bp, &g[0], mode, clip, sp, n_threads)
        else:
            gd_clip_grads_f64(n, nb, bp, &g[0], mode, clip, sp, n_threads)
