"""The NumPy reference: one plain function per kernel, the executable specification.

Every C kernel in ``csrc/`` has its twin here, written for clarity rather than speed.
Tests compare the two; the ``numpy`` backend runs the whole library on these.
Functions return new arrays (the C kernels write into buffers passed in); shapes use
the GEMM names ``m`` (rows, the batch), ``k`` (inputs) and ``n`` (outputs).
"""
import numpy as np

#: Keras's probability clip for cross-entropy on probabilities (``backend.epsilon()``).
EPSILON = 1e-7

#: Activation ids shared with the C kernels (``gd_act_t``).
ACTIVATIONS = {"linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3, "softmax": 4}

#: Loss ids shared with the C kernels (``gd_loss_t``).
LOSSES = {"mse": 0, "mae": 1, "bce": 2, "bce_logits": 3, "cce": 4}


def gemm(a, b, c=None, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    """C = alpha · op(A) · op(B) + beta · C, where op transposes when asked.

    Shapes: op(A)[m, k], op(B)[k, n], C[m, n]. With beta == 0, C is not read.
    """
    a = a.T if trans_a else a
    b = b.T if trans_b else b
    out = alpha * (a @ b)
    if c is not None and beta != 0:
        out = out + beta * c
    return out.astype(np.result_type(a, b), copy=False)


def _softmax_rows(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def act_fwd(x, activation):
    """y = act(x); softmax is taken over each row (last axis)."""
    if activation == "linear":
        return x.copy()
    if activation == "relu":
        return np.maximum(x, 0).astype(x.dtype)
    if activation == "sigmoid":
        return (1 / (1 + np.exp(-x))).astype(x.dtype)
    if activation == "tanh":
        return np.tanh(x)
    if activation == "softmax":
        return _softmax_rows(x)
    raise ValueError(f"unknown activation {activation!r}")


def act_bwd(y, dy, activation):
    """dx = dy ⊙ act'(x), written with the activation's output y.

    relu: y > 0; sigmoid: y(1 - y); tanh: 1 - y²; softmax: y ⊙ (dy - Σ dy·y) per row.
    """
    if activation == "linear":
        return dy.copy()
    if activation == "relu":
        return np.where(y > 0, dy, 0).astype(dy.dtype)
    if activation == "sigmoid":
        return dy * y * (1 - y)
    if activation == "tanh":
        return dy * (1 - y * y)
    if activation == "softmax":
        return y * (dy - (dy * y).sum(axis=-1, keepdims=True))
    raise ValueError(f"unknown activation {activation!r}")


def dense_fwd(x, w, b, activation="linear"):
    """Y = act(X · W + b).  X[m, k], W[k, n], b[n] or None -> Y[m, n]."""
    z = x @ w
    if b is not None:
        z = z + b
    return act_fwd(z, activation)


def dense_bwd(x, w, y, dy, activation="linear", need_dx=True, need_db=True):
    """Backward of ``dense_fwd``: returns (dX, dW, db).

    dZ = dY ⊙ act'(Y); dX = dZ · Wᵀ; dW = Xᵀ · dZ; db = Σ_rows dZ.
    dX is None when ``need_dx`` is false, db None when ``need_db`` is false.
    """
    dz = act_bwd(y, dy, activation)
    dx = dz @ w.T if need_dx else None
    dw = x.T @ dz
    db = dz.sum(axis=0) if need_db else None
    return dx, dw, db


def softmax(x):
    """Row softmax, max-subtracted."""
    return _softmax_rows(x)


def softmax_xent(z, labels=None, targets=None, sample_weight=None, from_logits=True,
                 grad_scale=None):
    """Fused row softmax + cross-entropy: returns (row_loss, dz, row_hit).

    p = softmax(z); t = onehot(labels) or targets.
    from_logits:   lᵢ = -Σ t log p,        dzᵢ = sᵢ (pᵢ Σ tᵢ - tᵢ)
    probabilities: lᵢ = -Σ t log clip(p),  u = t ⊙ [eps <= p <= 1 - eps],
                   dzᵢ = sᵢ (pᵢ Σ uᵢ - uᵢ)   (Keras clips p to [1e-7, 1 - 1e-7])
    sᵢ = wᵢ · grad_scale (grad_scale defaults to 1 / m: the batch mean);
    row_loss = wᵢ lᵢ; row_hit = argmax p == argmax t.
    """
    m, n = z.shape
    dtype = z.dtype
    if grad_scale is None:
        grad_scale = 1.0 / max(m, 1)
    if labels is not None:
        t = np.zeros((m, n), dtype=dtype)
        t[np.arange(m), np.asarray(labels, dtype=np.int64)] = 1
    else:
        t = np.asarray(targets, dtype=dtype)
    w = np.ones(m, dtype=dtype) if sample_weight is None else np.asarray(sample_weight, dtype)
    shifted = z - z.max(axis=1, keepdims=True)
    logsumexp = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    p = np.exp(shifted - logsumexp)
    if from_logits:
        loss = -(t * (shifted - logsumexp)).sum(axis=1)
        u = t
    else:
        clipped = np.clip(p, EPSILON, 1 - EPSILON)
        loss = -(t * np.log(clipped)).sum(axis=1)
        u = t * ((p >= EPSILON) & (p <= 1 - EPSILON))
    s = (w * grad_scale)[:, None]
    dz = s * (p * u.sum(axis=1, keepdims=True) - u)
    hit = (p.argmax(axis=1) == t.argmax(axis=1)).astype(np.int32) if n else np.zeros(m, np.int32)
    return (w * loss).astype(dtype), dz.astype(dtype), hit


def loss(p, t, kind, sample_weight=None, grad_scale=None):
    """A loss on the model's output: returns (row_loss, dp).

    mse: mean_j (p - t)²; mae: mean_j |p - t|; bce: -mean_j [t log c(p) + (1-t) log(1-c(p))]
    with c = clip to [eps, 1 - eps] (gradient 0 where clipped); bce_logits on logits z:
    mean_j [max(z, 0) - z t + log(1 + exp(-|z|))]; cce: -Σ_j t log c(p / Σ p).
    row_loss = wᵢ lᵢ; dp = wᵢ · grad_scale · ∂lᵢ/∂p (grad_scale defaults to 1 / m).
    """
    m, n = p.shape
    dtype = p.dtype
    if grad_scale is None:
        grad_scale = 1.0 / max(m, 1)
    w = np.ones(m, dtype=dtype) if sample_weight is None else np.asarray(sample_weight, dtype)
    nn = max(n, 1)
    if kind == "mse":
        d = p - t
        l = (d * d).mean(axis=1) if n else np.zeros(m, dtype)
        g = 2 * d / nn
    elif kind == "mae":
        d = p - t
        l = np.abs(d).mean(axis=1) if n else np.zeros(m, dtype)
        g = np.sign(d) / nn
    elif kind == "bce":
        c = np.clip(p, EPSILON, 1 - EPSILON)
        l = -(t * np.log(c) + (1 - t) * np.log(1 - c)).mean(axis=1) if n else np.zeros(m, dtype)
        active = (p >= EPSILON) & (p <= 1 - EPSILON)
        g = np.where(active, -(t / c - (1 - t) / (1 - c)), 0) / nn
    elif kind == "bce_logits":
        z = p
        l = (np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))).mean(axis=1) \
            if n else np.zeros(m, dtype)
        g = (1 / (1 + np.exp(-z)) - t) / nn
    elif kind == "cce":
        total = p.sum(axis=1, keepdims=True)
        q = p / total
        c = np.clip(q, EPSILON, 1 - EPSILON)
        l = -(t * np.log(c)).sum(axis=1)
        active = (q >= EPSILON) & (q <= 1 - EPSILON)
        gq = np.where(active, -t / c, 0)
        # q = p / Σp  ⇒  ∂l/∂pⱼ = (gqⱼ - Σₖ gqₖ qₖ) / Σp
        g = (gq - (gq * q).sum(axis=1, keepdims=True)) / total
    else:
        raise ValueError(f"unknown loss {kind!r}")
    s = (w * grad_scale)[:, None]
    return (w * l).astype(dtype), (s * g).astype(dtype)


def sgd_step(w, g, v, learning_rate, momentum=0.0, nesterov=False):
    """Keras 3 SGD: returns the new (w, v).

    momentum 0: w - lr·g.  Else v ← μ·v - lr·g; w ← w + v (nesterov: w + μ·v - lr·g).
    """
    if momentum == 0:
        return w - learning_rate * g, v
    v = momentum * v - learning_rate * g
    if nesterov:
        return w + momentum * v - learning_rate * g, v
    return w + v, v


def adam_step(w, g, m, v, vhat, alpha, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
              amsgrad=False):
    """Keras 3 Adam with the bias correction folded into alpha: returns (w, m, v, vhat).

    m ← m + (g - m)(1 - β₁); v ← v + (g² - v)(1 - β₂); amsgrad: v̂ ← max(v̂, v);
    w ← w - α·m / (√v + ε) (√v̂ with amsgrad), α = lr·√(1 - β₂ᵗ)/(1 - β₁ᵗ).
    """
    m = m + (g - m) * (1 - beta_1)
    v = v + (g * g - v) * (1 - beta_2)
    if amsgrad:
        vhat = np.maximum(vhat, v)
        denom = np.sqrt(vhat) + epsilon
    else:
        denom = np.sqrt(v) + epsilon
    return w - alpha * m / denom, m, v, vhat


def adam_alpha(learning_rate, beta_1, beta_2, step):
    """Adam's bias-corrected step size for update number ``step`` (1-based)."""
    return learning_rate * np.sqrt(1 - beta_2 ** step) / (1 - beta_1 ** step)


def rmsprop_step(w, g, v, mom, avg, learning_rate, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False):
    """Keras 3 RMSprop: returns (w, v, mom, avg) (mom, avg unchanged when unused).

    v ← ρ·v + (1 - ρ)·g²; centered: avg ← ρ·avg + (1 - ρ)·g, den = v - avg² + ε, else
    den = v + ε (ε inside the root); inc = lr·g / √den; momentum μ > 0: mom ← μ·mom +
    inc, w ← w - mom; else w ← w - inc.
    """
    v = rho * v + (1 - rho) * (g * g)
    if centered:
        avg = rho * avg + (1 - rho) * g
        den = v - avg * avg + epsilon
    else:
        den = v + epsilon
    inc = learning_rate * g / np.sqrt(den)
    if momentum > 0:
        mom = momentum * mom + inc
        return w - mom, v, mom, avg
    return w - inc, v, mom, avg


def adagrad_step(w, g, acc, learning_rate, epsilon=1e-7):
    """Keras 3 Adagrad: returns (w, acc). acc ← acc + g²; w ← w - lr·g / √(acc + ε)."""
    acc = acc + g * g
    return w - learning_rate * g / np.sqrt(acc + epsilon), acc


def adamax_step(w, g, m, u, learning_rate, bias_1, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Keras 3 Adamax: returns (w, m, u).

    m ← m + (g - m)(1 - β₁); u ← max(β₂·u, |g|); w ← w - lr·m / (bias_1·(u + ε)) with
    bias_1 = 1 - β₁ᵗ.
    """
    m = m + (g - m) * (1 - beta_1)
    u = np.maximum(beta_2 * u, np.abs(g))
    return w - learning_rate * m / (bias_1 * (u + epsilon)), m, u


def nadam_coefficients(beta_1, beta_2, step, u_product_prev=None):
    """Nadam's scalars for update number ``step`` (1-based): (c_m, c_g, bias_2, Πₜ).

    Keras 3: u_k = β₁·(1 - 0.5·0.96ᵏ), Πₜ = u_1···u_t (Keras keeps it as a running
    product; u_product_prev = Πₜ₋₁ when known); c_m = u_{t+1} / (1 - Πₜ·u_{t+1}),
    c_g = (1 - u_t) / (1 - Πₜ), bias_2 = 1 - β₂ᵗ.
    """
    def u(k):
        return beta_1 * (1.0 - 0.5 * 0.96 ** k)

    if u_product_prev is None:
        u_product_prev = 1.0
        for k in range(1, step):
            u_product_prev *= u(k)
    prod = u_product_prev * u(step)
    u_next = u(step + 1)
    return (u_next / (1.0 - prod * u_next), (1.0 - u(step)) / (1.0 - prod),
            1.0 - beta_2 ** step, prod)


def nadam_step(w, g, m, v, learning_rate, c_m, c_g, bias_2, beta_1=0.9, beta_2=0.999,
               epsilon=1e-7):
    """Keras 3 Nadam: returns (w, m, v).

    m ← m + (g - m)(1 - β₁); v ← v + (g² - v)(1 - β₂); m̂ = c_m·m + c_g·g;
    w ← w - m̂·lr / (√(v / bias_2) + ε) (scalars from ``nadam_coefficients``).
    """
    m = m + (g - m) * (1 - beta_1)
    v = v + (g * g - v) * (1 - beta_2)
    m_hat = c_m * m + c_g * g
    return w - m_hat * learning_rate / (np.sqrt(v / bias_2) + epsilon), m, v


def adadelta_step(w, g, ag, ad, learning_rate, rho=0.95, epsilon=1e-7):
    """Keras 3 Adadelta: returns (w, ag, ad).

    ag ← ρ·ag + (1 - ρ)·g²; δ = -√(ad + ε)·g / √(ag + ε); ad ← ρ·ad + (1 - ρ)·δ²;
    w ← w + lr·δ.
    """
    ag = rho * ag + (1 - rho) * (g * g)
    delta = -(np.sqrt(ad + epsilon) * g / np.sqrt(ag + epsilon))
    ad = rho * ad + (1 - rho) * (delta * delta)
    return w + learning_rate * delta, ag, ad


def scale(w, factor):
    """w·factor (decoupled weight decay: factor = 1 - lr·weight_decay)."""
    return w * np.asarray(factor, dtype=np.asarray(w).dtype)


#: gradient clipping modes shared with the C kernels (``gd_clip_t``)
CLIP_MODES = {"value": 1, "norm": 2, "global_norm": 3}


def clip_grads(g, segments, mode, clip):
    """Keras 3 gradient clipping of the flat gradient g: returns the clipped copy.

    segments: (offset, size) of each variable in g. 'value': every element clipped to
    [-clip, clip]; 'norm': each variable scaled by clip / max(‖g_s‖₂, clip); 'global_norm':
    all variables by clip / max(‖g‖₂, clip) over all of them (norms in float64; a NaN
    norm gives NaN gradients).
    """
    g = np.array(g, copy=True)
    if mode == "value":
        return np.clip(g, -clip, clip)

    def factor(sumsq):
        norm = np.sqrt(sumsq)
        return np.asarray(clip / np.maximum(norm, clip), dtype=g.dtype)

    sq = [float(np.sum(np.square(g[o:o + n], dtype=np.float64))) for o, n in segments]
    if mode == "norm":
        for (o, n), s in zip(segments, sq):
            g[o:o + n] = g[o:o + n] * factor(s)
    elif mode == "global_norm":
        f = factor(sum(sq))
        for o, n in segments:
            g[o:o + n] = g[o:o + n] * f
    else:
        raise ValueError(f"unknown clip mode {mode!r}")
    return g


#: Metric ids shared with the C kernels (``gd_metric_t``).
METRICS = {"sparse_categorical_accuracy": 0, "categorical_accuracy": 1,
           "binary_accuracy": 2, "mse": 3, "mae": 4, "top_k_categorical_accuracy": 5,
           "sparse_top_k_categorical_accuracy": 6}


def metric(p, kind, labels=None, t=None, k=5):
    """A per-sample metric on the model's output p[m, n] (unweighted): returns row[m].

    sparse_categorical_accuracy: argmax p == label; categorical_accuracy: argmax p ==
    argmax t; binary_accuracy: mean_j [(p > 0.5) == (t > 0.5)]; mse: mean_j (p - t)²;
    mae: mean_j |p - t|. Ties in argmax go to the first maximum.
    sparse_top_k_categorical_accuracy: the label's entry is in the top k, i.e. fewer
    than k entries are strictly above it (ties count in, as Keras's in_top_k);
    top_k_categorical_accuracy: the same for c = argmax t.
    """
    m, n = p.shape
    if kind in ("top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"):
        if n == 0:
            return np.zeros(m, p.dtype)
        c = np.asarray(labels, dtype=np.int64) if kind.startswith("sparse") \
            else t.argmax(axis=1)
        above = (p > p[np.arange(m), c][:, None]).sum(axis=1)
        return (above < k).astype(p.dtype)
    if kind == "sparse_categorical_accuracy":
        return (p.argmax(axis=1) == np.asarray(labels)).astype(p.dtype) if n else np.zeros(m, p.dtype)
    if kind == "categorical_accuracy":
        return (p.argmax(axis=1) == t.argmax(axis=1)).astype(p.dtype) if n else np.zeros(m, p.dtype)
    if n == 0:
        return np.zeros(m, p.dtype)
    if kind == "binary_accuracy":
        return ((p > 0.5) == (t > 0.5)).mean(axis=1).astype(p.dtype)
    if kind == "mse":
        return ((p - t) ** 2).mean(axis=1).astype(p.dtype)
    if kind == "mae":
        return np.abs(p - t).mean(axis=1).astype(p.dtype)
    raise ValueError(f"unknown metric {kind!r}")
