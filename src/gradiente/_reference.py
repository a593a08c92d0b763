"""The NumPy reference: one plain function per kernel, the executable specification.

Every C kernel in ``csrc/`` has its twin here, written for clarity rather than speed.
Tests compare the two; the ``numpy`` backend runs the whole library on these.
Functions return new arrays (the C kernels write into buffers passed in); shapes use
the GEMM names ``m`` (rows, the batch), ``k`` (inputs) and ``n`` (outputs).
"""
import math

import numpy as np

#: Keras's probability clip for cross-entropy on probabilities (``backend.epsilon()``).
EPSILON = 1e-7

#: Activation ids shared with the C kernels (``gd_act_t``); "swish" is "silu".
ACTIVATIONS = {"linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3, "softmax": 4,
               "leaky_relu": 5, "elu": 6, "selu": 7, "gelu": 8, "softplus": 9,
               "softsign": 10, "silu": 11, "swish": 11, "hard_sigmoid": 12, "relu6": 13,
               "exponential": 14}

#: Activations whose derivative needs the input x (the dense layer's Z), not only y.
NEEDS_INPUT = ("gelu", "silu", "swish")

#: Keras 3 defaults: leaky_relu's negative_slope; SELU's alpha and scale.
LEAKY_SLOPE = 0.2
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

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


def spmm(a, b, trans_a=False):
    """op(A) · B for an A that is mostly zeros: the same product as gemm (the native
    kernel skips A's zeros, which changes the cost, not the value)."""
    a = a.T if trans_a else a
    return (a @ b).astype(np.result_type(a, b), copy=False)


def count_nonzero(x):
    """How many elements of x are not zero (NaN counts as nonzero)."""
    return int(np.count_nonzero(x))


def spmm_cut(k):
    """Where the sparse products split k (and a packed row its columns): k itself below
    128, else k/2 rounded to a multiple of 16."""
    cut = (k // 2 + 8) // 16 * 16
    return k if (k < 128 or cut <= 0 or cut >= k) else cut


def pack_rows(x):
    """x [n, f] as packed records (the format in gd_kernels.h): (bytes as uint8,
    off int64[n + 1]), record i at off[i]."""
    x = np.ascontiguousarray(x)
    n, f = x.shape
    cut, words = spmm_cut(f), (f + 63) // 64
    records, off = [], [0]
    for row in x:
        bits = row.view(np.uint32 if x.itemsize == 4 else np.uint64) != 0
        nz = row != 0
        vals = row[bits].tobytes()
        head = np.array([nz[:cut].sum(), nz[cut:].sum(), bits[:cut].sum(), bits.sum()],
                        dtype=np.int32).tobytes()
        packed_bits = np.zeros(words * 64, dtype=bool)
        packed_bits[:f] = bits
        mask = np.packbits(packed_bits, bitorder="little").tobytes()  # little-endian words
        rec = head + mask + vals + b"\0" * (-len(vals) % 8)
        records.append(rec)
        off.append(off[-1] + len(rec))
    return np.frombuffer(b"".join(records), dtype=np.uint8).copy(), np.array(off, np.int64)


def unpack_rows(packed, off, rows, f, dtype):
    """Rows `rows` of a packed matrix of f columns: (dst [len(rows), f], nonzero count)."""
    dtype = np.dtype(dtype)
    words = (f + 63) // 64
    dst = np.zeros((len(rows), f), dtype=dtype)
    for i, r in enumerate(rows):
        rec = packed[off[r]:off[r + 1]]
        count = int(rec[12:16].view(np.int32)[0])
        bits = np.unpackbits(rec[16:16 + 8 * words], bitorder="little").astype(bool)[:f]
        start = 16 + 8 * words
        dst[i, bits] = rec[start:start + count * dtype.itemsize].view(dtype)
    return dst, int(np.count_nonzero(dst))


def _softmax_rows(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def _erfc(x):
    """Elementwise erfc (NumPy has none): math.erfc in float64, cast back to x's dtype."""
    flat = np.asarray(x, dtype=np.float64).reshape(-1)
    out = np.fromiter((math.erfc(v) for v in flat), dtype=np.float64, count=flat.size)
    return out.reshape(np.shape(x)).astype(x.dtype)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def act_fwd(x, activation):
    """y = act(x); softmax is taken over each row (last axis).

    leaky_relu: x > 0 ? x : 0.2x; elu: x > 0 ? x : exp(x) - 1; selu: λ·elu_α(x);
    gelu: x·Φ(x) = x·erfc(-x/√2)/2; softplus: max(x, 0) + log1p(exp(-|x|));
    softsign: x/(1 + |x|); silu (swish): x·sigmoid(x); hard_sigmoid: relu6(x + 3)/6;
    relu6: min(max(x, 0), 6); exponential: exp(x).
    """
    dt = x.dtype
    if activation == "linear":
        return x.copy()
    if activation == "relu":
        return np.maximum(x, 0).astype(dt)
    if activation == "sigmoid":
        return _sigmoid(x).astype(dt)
    if activation == "tanh":
        return np.tanh(x)
    if activation == "softmax":
        return _softmax_rows(x)
    if activation == "leaky_relu":
        return np.where(x > 0, x, dt.type(LEAKY_SLOPE) * x).astype(dt)
    if activation == "elu":
        return np.where(x > 0, x, np.expm1(x)).astype(dt)
    if activation == "selu":
        alpha, scale = dt.type(SELU_ALPHA), dt.type(SELU_SCALE)
        return (scale * np.where(x > 0, x, alpha * np.expm1(x))).astype(dt)
    if activation == "gelu":
        return (dt.type(0.5) * x * _erfc(-x * dt.type(math.sqrt(0.5)))).astype(dt)
    if activation == "softplus":
        return (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))).astype(dt)
    if activation == "softsign":
        return (x / (1 + np.abs(x))).astype(dt)
    if activation in ("silu", "swish"):
        return (x / (1 + np.exp(-x))).astype(dt)
    if activation == "hard_sigmoid":
        return (np.minimum(np.maximum(x + 3, 0), 6) / 6).astype(dt)
    if activation == "relu6":
        return np.minimum(np.maximum(x, 0), 6).astype(dt)
    if activation == "exponential":
        return np.exp(x)
    raise ValueError(f"unknown activation {activation!r}")


def act_bwd(y, dy, activation, x=None):
    """dx = dy ⊙ act'(x), written with the activation's output y (and its input x for
    gelu and silu, the activations in NEEDS_INPUT).

    relu: y > 0; sigmoid: y(1 - y); tanh: 1 - y²; softmax: y ⊙ (dy - Σ dy·y) per row;
    leaky_relu: y > 0 ? 1 : 0.2; elu: y > 0 ? 1 : y + 1; selu: y > 0 ? λ : y + λα;
    softplus: 1 - exp(-y); softsign: (1 - |y|)²; hard_sigmoid: 0 < y < 1 ? 1/6 : 0;
    relu6: 0 < y < 6; exponential: y; gelu: Φ(x) + x·φ(x);
    silu: s(1 + x(1 - s)) with s = sigmoid(x).
    """
    dt = dy.dtype
    if activation in NEEDS_INPUT and x is None:
        raise ValueError(f"act_bwd for {activation!r} needs the activation's input x=")
    if activation == "linear":
        return dy.copy()
    if activation == "relu":
        return np.where(y > 0, dy, 0).astype(dt)
    if activation == "sigmoid":
        return dy * y * (1 - y)
    if activation == "tanh":
        return dy * (1 - y * y)
    if activation == "softmax":
        return y * (dy - (dy * y).sum(axis=-1, keepdims=True))
    if activation == "leaky_relu":
        return np.where(y > 0, dy, dt.type(LEAKY_SLOPE) * dy).astype(dt)
    if activation == "elu":
        return np.where(y > 0, dy, dy * (y + 1)).astype(dt)
    if activation == "selu":
        scale, sa = dt.type(SELU_SCALE), dt.type(SELU_SCALE) * dt.type(SELU_ALPHA)
        return np.where(y > 0, dy * scale, dy * (y + sa)).astype(dt)
    if activation == "gelu":
        cdf = dt.type(0.5) * _erfc(-x * dt.type(math.sqrt(0.5)))
        pdf = dt.type(1 / math.sqrt(2 * math.pi)) * np.exp(dt.type(-0.5) * x * x)
        return (dy * (cdf + x * pdf)).astype(dt)
    if activation == "softplus":
        return (dy * -np.expm1(-y)).astype(dt)
    if activation == "softsign":
        t = 1 - np.abs(y)
        return (dy * t * t).astype(dt)
    if activation in ("silu", "swish"):
        s = _sigmoid(x)
        return (dy * (s * (1 + x * (1 - s)))).astype(dt)
    if activation == "hard_sigmoid":
        return np.where((y > 0) & (y < 1), dy / 6, 0).astype(dt)
    if activation == "relu6":
        return np.where((y > 0) & (y < 6), dy, 0).astype(dt)
    if activation == "exponential":
        return dy * y
    raise ValueError(f"unknown activation {activation!r}")


def dense_fwd(x, w, b, activation="linear", with_z=False):
    """Y = act(Z), Z = X · W + b.  X[m, k], W[k, n], b[n] or None -> Y[m, n]
    (or (Y, Z) when ``with_z``)."""
    z = x @ w
    if b is not None:
        z = z + b
    y = act_fwd(z, activation)
    return (y, z) if with_z else y


def dense_bwd(x, w, y, dy, activation="linear", need_dx=True, need_db=True, z=None):
    """Backward of ``dense_fwd``: returns (dX, dW, db).

    dZ = dY ⊙ act'(Z) (from Y, and Z for the activations in NEEDS_INPUT);
    dX = dZ · Wᵀ; dW = Xᵀ · dZ; db = Σ_rows dZ.
    dX is None when ``need_dx`` is false, db None when ``need_db`` is false.
    """
    dz = act_bwd(y, dy, activation, x=z)
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


# ---------------------------------------------------------------- dropout

_MASK64 = (1 << 64) - 1


def _mix64(z):
    """SplitMix64's output function on Python ints (mod 2⁶⁴)."""
    z = (z + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _mix64_array(z):
    """SplitMix64's output function, elementwise on uint64 arrays (wrapping)."""
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def dropout_key(seed, step, layer):
    """The key of one dropout layer's mask at one step: mix(mix(mix(seed) ^ step) ^ layer)."""
    return _mix64(_mix64(_mix64(int(seed) & _MASK64) ^ (int(step) & _MASK64))
                  ^ (int(layer) & _MASK64))


def dropout_mask(m, n, rate, key, share_rows=False, share_cols=False):
    """keep[m, n] (bool): u = (mix(key + idx) >> 11)·2⁻⁵³ >= rate, with
    idx = (share_rows ? 0 : i)·(share_cols ? 1 : n) + (share_cols ? 0 : j)."""
    rows = np.zeros((m, 1), np.uint64) if share_rows else \
        np.arange(m, dtype=np.uint64)[:, None] * np.uint64(1 if share_cols else n)
    cols = np.zeros((1, n), np.uint64) if share_cols else np.arange(n, dtype=np.uint64)[None]
    idx = rows + cols
    bits = _mix64_array(idx + np.uint64(key)) >> np.uint64(11)
    u = bits.astype(np.float64) * 2.0 ** -53
    return u >= rate


def dropout_fwd(x, rate, key, share_rows=False, share_cols=False):
    """Inverted dropout: returns (y, mask); mask = dropout_mask (as x's dtype, 0/1),
    y = mask ? x / (1 - rate) : 0 (1 - rate rounded to x's dtype)."""
    m, n = x.shape
    keep = dropout_mask(m, n, rate, key, share_rows, share_cols)
    keep_prob = x.dtype.type(1.0 - rate)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(keep, x / keep_prob, 0).astype(x.dtype)
    return y, keep.astype(x.dtype)


def dropout_bwd(mask, dy, rate):
    """dx = mask ? dy / (1 - rate) : 0."""
    keep_prob = dy.dtype.type(1.0 - rate)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mask != 0, dy / keep_prob, 0).astype(dy.dtype)


# ---------------------------------------------------------------- regularizers


def l1l2_penalty(w, l1, l2, g=None):
    """Keras's L1L2 on one weight array: returns (penalty, g').

    penalty = l1·Σ|w| + l2·Σw² (summed in float64); g' = g + (l1·sign(w) + 2·l2·w) in
    w's dtype (None when g is None).
    """
    w64 = np.asarray(w, dtype=np.float64).reshape(-1)
    penalty = l1 * float(np.abs(w64).sum()) + l2 * float((w64 * w64).sum())
    if g is None:
        return penalty, None
    dt = w.dtype.type
    return penalty, (g + (dt(l1) * np.sign(w) + dt(2.0 * l2) * w)).astype(w.dtype)
