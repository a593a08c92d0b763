"""Finite-difference gradient checks, in float64: kernels, layers and whole models.

Every check reduces to one question: does the analytic gradient ``g`` of a scalar
function ``f`` at ``x`` agree with the central difference
``(f(x + eps·e) - f(x - eps·e)) / (2·eps)``? An element passes when
``|analytic - numeric| <= atol + rtol·|numeric|`` (``numpy.allclose``'s rule).
Small tensors are checked element by element; a tensor with more than
``max_elements`` entries is checked along ``max_elements`` random unit directions
``u`` instead (numeric directional derivative against ``g·u``), which sees an error
in any element at a fraction of the cost.

Entry points:

- ``gradcheck(func, inputs, backward, grad_outputs=None)`` — the
  ``torch.autograd.gradcheck`` shape: ``func(*inputs)`` gives outputs,
  ``backward(grad_outputs, *inputs)`` their vector-Jacobian product; returns True
  or raises ``GradcheckError``.
- ``check_gradients(f, x, analytic_grad)`` — the engine under everything else.
- ``check_kernel(name, ...)`` — ``_ops.dense_bwd``, ``act_bwd``, ``softmax_xent``,
  ``loss`` on the current backend.
- ``check_layer(layer, x)`` and ``check_model(model, x, y)``.

All but ``gradcheck`` return a ``GradcheckResult`` (``.passed``, ``.max_abs_error``,
``.max_rel_error``, ``.worst``); pass ``raise_exception=True`` to raise instead.
"""
import collections

import numpy as np

from . import _ops
from ._config import floatx

__all__ = ["GradcheckError", "GradcheckResult", "Worst", "check_gradients", "check_kernel",
           "check_layer", "check_model", "gradcheck"]

#: The element (or direction) that failed worst: parameter index and name, element
#: index (a tuple; None for a direction), direction number (None for an element), the
#: two values and their errors.
Worst = collections.namedtuple(
    "Worst", "param name index direction analytic numeric abs_error rel_error")


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the finite difference; ``.result`` says where."""

    def __init__(self, result):
        super().__init__(str(result))
        self.result = result


class GradcheckResult:
    """The outcome of a gradient check; truthy when it passed."""

    def __init__(self, passed, max_abs_error, max_rel_error, worst, n_checked, names,
                 atol, rtol, eps):
        self.passed = passed
        self.max_abs_error = max_abs_error
        self.max_rel_error = max_rel_error
        self.worst = worst
        self.n_checked = n_checked
        self.names = names
        self.atol, self.rtol, self.eps = atol, rtol, eps

    def __bool__(self):
        return self.passed

    def __repr__(self):
        head = "passed" if self.passed else "FAILED"
        text = (f"GradcheckResult({head}: {self.n_checked} checks over "
                f"{len(self.names)} tensors ({', '.join(self.names)}); "
                f"max_abs_error={self.max_abs_error:.3g}, "
                f"max_rel_error={self.max_rel_error:.3g}; atol={self.atol:g}, "
                f"rtol={self.rtol:g}, eps={self.eps:g}")
        w = self.worst
        if w is not None:
            where = (f"element {w.index}" if w.direction is None
                     else f"random direction {w.direction}")
            text += (f"; worst: {w.name} (param {w.param}) {where}: "
                     f"analytic={w.analytic:.10g}, numeric={w.numeric:.10g}, "
                     f"abs_error={w.abs_error:.3g}, rel_error={w.rel_error:.3g}")
        return text + ")"

    __str__ = __repr__


# ---------------------------------------------------------------- the engine


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _difference(f, eps, method):
    """The numeric derivative along a step: ``step(h)`` sets x + h and returns f."""
    if method == "central":
        return lambda step: (step(eps) - step(-eps)) / (2 * eps)
    if method == "five-point":
        return lambda step: (-step(2 * eps) + 8 * step(eps) - 8 * step(-eps)
                             + step(-2 * eps)) / (12 * eps)
    raise ValueError(
        f"check_gradients(method=...) expects 'central' or 'five-point'; received "
        f"method={method!r}.")


def check_gradients(f, x, analytic_grad, eps=1e-6, atol=1e-5, rtol=1e-3,
                    max_elements=None, seed=0, names=None, method="central",
                    raise_exception=False):
    """Compare ``analytic_grad`` with finite differences of the scalar ``f`` at ``x``.

    Args:
        f: called as ``f(xs)`` with the list of float64 arrays (the same objects each
            time, perturbed in place) and returns a float.
        x: an array or a list of arrays (copied to float64; the originals are untouched).
        analytic_grad: the gradient of ``f`` at ``x``: an array or a list, same shapes.
        eps: the finite-difference step.
        atol, rtol: an element passes when ``|a - n| <= atol + rtol·|n|``.
        max_elements: tensors larger than this are checked along this many random
            unit directions instead of element by element (None: every element).
        seed: seeds the random directions.
        names: a name per tensor, for the report.
        method: 'central' (error O(eps²)) or 'five-point' (O(eps⁴)).
        raise_exception: raise ``GradcheckError`` on failure instead of returning.

    Returns:
        A ``GradcheckResult``.
    """
    xs = [np.array(v, dtype=np.float64, copy=True) for v in _as_list(x)]
    grads = [np.asarray(g, dtype=np.float64) for g in _as_list(analytic_grad)]
    if len(grads) != len(xs):
        raise ValueError(f"check_gradients: {len(xs)} inputs but {len(grads)} gradients.")
    for i, (v, g) in enumerate(zip(xs, grads)):
        if v.shape != g.shape:
            raise ValueError(f"check_gradients: input {i} has shape {v.shape} but its "
                             f"gradient has shape {g.shape}.")
    names = list(names) if names is not None else [f"x{i}" for i in range(len(xs))]
    if max_elements is not None and max_elements < 1:
        raise ValueError(f"check_gradients(max_elements=...) expects None or an int >= 1; "
                         f"received max_elements={max_elements}.")
    derivative = _difference(f, eps, method)
    rng = np.random.default_rng(seed)

    rows = []  # (param, index, direction, analytic, numeric)
    for p, (v, g) in enumerate(zip(xs, grads)):
        flat = v.reshape(-1)  # a view: writing it perturbs what f sees
        if max_elements is None or v.size <= max_elements:
            for i in range(v.size):
                original = flat[i]

                def step(h, i=i, original=original):
                    flat[i] = original + h
                    return float(f(xs))

                numeric = derivative(step)
                flat[i] = original
                rows.append((p, np.unravel_index(i, v.shape), None, g.flat[i], numeric))
        else:
            original = flat.copy()
            for d in range(max_elements):
                u = rng.standard_normal(v.size)
                u /= np.linalg.norm(u)

                def step(h, u=u):
                    flat[:] = original + h * u
                    return float(f(xs))

                numeric = derivative(step)
                flat[:] = original
                rows.append((p, None, d, float(g.reshape(-1) @ u), numeric))

    return _summarise(rows, names, atol, rtol, eps, raise_exception)


def _summarise(rows, names, atol, rtol, eps, raise_exception):
    worst, worst_ratio = None, -1.0
    max_abs = max_rel = 0.0
    passed = True
    for p, index, direction, a, n in rows:
        a, n = float(a), float(n)
        err = abs(a - n)
        scale = max(abs(a), abs(n))
        rel = err / scale if scale > 0 else 0.0
        if not np.isfinite(err):
            err = rel = float("inf")
        bound = atol + rtol * abs(n)
        ratio = err / bound if bound > 0 else (0.0 if err == 0 else float("inf"))
        max_abs, max_rel = max(max_abs, err), max(max_rel, rel)
        if not err <= bound:
            passed = False
        if ratio > worst_ratio:
            index = tuple(int(i) for i in index) if index is not None else None
            worst = Worst(p, names[p], index, direction, a, n, err, rel)
            worst_ratio = ratio
    result = GradcheckResult(passed, max_abs, max_rel, worst, len(rows), names,
                             atol, rtol, eps)
    if raise_exception and not passed:
        raise GradcheckError(result)
    return result


def gradcheck(func, inputs, backward, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
              max_elements=None, seed=0, raise_exception=True):
    """``torch.autograd.gradcheck`` for functions with a hand-written backward.

    ``func(*inputs)`` returns an array or a tuple of arrays; ``backward(grad_outputs,
    *inputs)`` returns the gradient for each input (a list, or one array for one input)
    given ``grad_outputs`` (one per output; random when None). The check is on the
    scalar ``Σ <grad_outputs, func(*inputs)>``. Returns True, or False /
    ``GradcheckError`` (``raise_exception``) with the worst element.
    """
    inputs = [np.array(v, dtype=np.float64, copy=True) for v in _as_list(inputs)]
    outputs = _as_list(func(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 1)
        grad_outputs = [rng.standard_normal(np.shape(o)) for o in outputs]
    grad_outputs = [np.asarray(g, dtype=np.float64) for g in _as_list(grad_outputs)]
    analytic = _as_list(backward(grad_outputs if len(grad_outputs) > 1 else grad_outputs[0],
                                 *inputs))

    def f(xs):
        return sum(float((g * np.asarray(o, np.float64)).sum())
                   for g, o in zip(grad_outputs, _as_list(func(*xs))))

    result = check_gradients(f, inputs, analytic, eps=eps, atol=atol, rtol=rtol,
                             max_elements=max_elements, seed=seed,
                             raise_exception=raise_exception)
    return result.passed


# ---------------------------------------------------------------- kernels


def check_kernel(name, activation="relu", kind="mse", from_logits=True, sparse=True,
                 weighted=False, use_bias=True, shape=(4, 5, 3), seed=0, eps=1e-6,
                 atol=1e-5, rtol=1e-3, raise_exception=False):
    """Check one backward kernel of ``gradiente._ops`` (the current backend) on random
    float64 data.

    Args:
        name: 'dense_bwd' (uses ``activation``, ``use_bias``), 'act_bwd'
            (``activation``), 'softmax_xent' (``from_logits``; ``sparse`` labels or
            soft targets; ``weighted`` adds sample weights) or 'loss' (``kind``: mse,
            mae, bce, bce_logits, cce; ``weighted``).
        shape: ``(m, k, n)``: batch, inputs, outputs (``k`` is used by dense_bwd only).
    """
    m, k, n = shape
    rng = np.random.default_rng(seed)
    options = dict(eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)
    if name == "dense_bwd":
        x = rng.standard_normal((m, k))
        w = rng.standard_normal((k, n)) / np.sqrt(k)
        b = rng.standard_normal(n) * 0.1 if use_bias else None
        dy = rng.standard_normal((m, n))
        y, z = _ops.dense_fwd(x, w, b, activation, with_z=True)
        dx, dw, db = _ops.dense_bwd(x, w, y, dy, activation, need_dx=True, need_db=use_bias,
                                    z=z)
        params = [x, w] + ([b] if use_bias else [])
        grads = [dx, dw] + ([db] if use_bias else [])

        def f(ps):
            return float((dy * _ops.dense_fwd(ps[0], ps[1], ps[2] if use_bias else None,
                                              activation)).sum())

        names = ["x", "w", "b"][:len(params)]
        return check_gradients(f, params, grads, names=names, **options)
    if name == "act_bwd":
        x = rng.standard_normal((m, n))
        dy = rng.standard_normal((m, n))
        dx = _ops.act_bwd(_ops.act_fwd(x, activation), dy, activation, x=x)
        return check_gradients(lambda ps: float((dy * _ops.act_fwd(ps[0], activation)).sum()),
                               x, dx, names=["x"], **options)
    if name == "softmax_xent":
        z = rng.standard_normal((m, n))
        labels = rng.integers(0, n, m) if sparse else None
        targets = None if sparse else rng.dirichlet(np.ones(n), m)
        weights = rng.uniform(0.5, 2.0, m) if weighted else None
        scale = 1.0 / m
        kwargs = dict(labels=labels, targets=targets, sample_weight=weights,
                      from_logits=from_logits, grad_scale=scale)
        _, dz, _ = _ops.softmax_xent(z, **kwargs)
        return check_gradients(
            lambda ps: float(_ops.softmax_xent(ps[0], **kwargs)[0].sum()) * scale,
            z, dz, names=["logits"], **options)
    if name == "loss":
        p, t = _loss_inputs(kind, rng, m, n)
        weights = rng.uniform(0.5, 2.0, m) if weighted else None
        scale = 1.0 / m
        _, dp = _ops.loss(p, t, kind, sample_weight=weights, grad_scale=scale)
        return check_gradients(
            lambda ps: float(_ops.loss(ps[0], t, kind, sample_weight=weights,
                                       grad_scale=scale)[0].sum()) * scale,
            p, dp, names=["y_pred"], **options)
    raise ValueError(f"check_kernel(name=...) expects 'dense_bwd', 'act_bwd', "
                     f"'softmax_xent' or 'loss'; received name={name!r}.")


def _loss_inputs(kind, rng, m, n):
    if kind in ("bce", "cce"):  # probabilities away from the clip
        p = rng.uniform(0.05, 0.95, (m, n))
        t = rng.dirichlet(np.ones(n), m) if kind == "cce" else rng.uniform(0, 1, (m, n))
        return p, t
    p = rng.standard_normal((m, n))
    t = rng.standard_normal((m, n)) if kind != "bce_logits" else rng.uniform(0, 1, (m, n))
    if kind == "mae":  # keep |p - t| away from the kink at 0
        gap = p - t
        p = np.where(np.abs(gap) < 0.05, t + 0.05 * np.sign(gap + 1e-300), p)
    return p, t


# ---------------------------------------------------------------- layers and models


def _require_float64(weights, what):
    bad = sorted({str(np.asarray(w).dtype) for w in weights} - {"float64"})
    if bad:
        raise ValueError(
            f"{what} needs a float64 model; its weights are {', '.join(bad)}. Call "
            f"gradiente.set_floatx('float64') before building it (floatx is now "
            f"{floatx()!r}).")


def _layer_weight_grads(layer):
    for attr in ("get_gradients", "gradients", "grads"):
        value = getattr(layer, attr, None)
        if callable(value):
            value = value()
        if value is not None:
            return [np.array(g, dtype=np.float64) for g in value]
    return None


def check_layer(layer, x, weight_grads=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                max_elements=None, seed=0, raise_exception=False):
    """Check a layer's ``backward`` against finite differences of its ``call``.

    The scalar is ``Σ dy ⊙ layer.call(x)`` for a fixed random ``dy``. The input
    gradient is what ``layer.backward(dy)`` returns; the weight gradients (in
    ``get_weights()`` order) come from ``weight_grads(layer)`` when given, else from the
    layer's ``get_gradients()`` / ``gradients`` / ``grads``; a layer with weights but no
    gradients found is checked on its input only. Weights are perturbed through
    ``set_weights`` and restored exactly afterwards.
    """
    x = np.array(x, dtype=np.float64, copy=True)
    if not getattr(layer, "built", True) and hasattr(layer, "build"):
        layer.build(x.shape)
    original = [np.array(w, copy=True) for w in layer.get_weights()] \
        if hasattr(layer, "get_weights") else []
    _require_float64(original, "check_layer")
    rng = np.random.default_rng(seed + 1)
    y = np.asarray(layer.call(x))
    dy = rng.standard_normal(y.shape)
    dx = np.asarray(layer.backward(dy), dtype=np.float64)
    wgrads = weight_grads(layer) if weight_grads is not None else _layer_weight_grads(layer)
    if not original or wgrads is None:
        wgrads = []
    if len(wgrads) not in (0, len(original)):
        raise ValueError(f"check_layer: the layer has {len(original)} weights but "
                         f"{len(wgrads)} gradients.")
    n_w = len(wgrads)

    def f(ps):
        if n_w:
            layer.set_weights(ps[1:])
        return float((dy * np.asarray(layer.call(ps[0]), np.float64)).sum())

    try:
        return check_gradients(f, [x] + original[:n_w], [dx] + list(wgrads),
                               names=["input"] + [f"weight{i}" for i in range(n_w)],
                               eps=eps, atol=atol, rtol=rtol, max_elements=max_elements,
                               seed=seed, raise_exception=raise_exception)
    finally:
        if original:
            layer.set_weights(original)


def check_model(model, x, y, sample_weight=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                max_elements=None, seed=0, raise_exception=False):
    """Check a compiled float64 model's loss gradient with respect to every weight.

    Uses ``model._loss_and_grads(x, y, sample_weight)`` -> ``(loss, grads)`` (grads in
    ``get_weights()`` order) for the analytic side and its loss for the numeric side,
    perturbing through ``set_weights``; the model's weights are restored exactly
    afterwards, also on error. Tensors bigger than ``max_elements`` are checked along
    random directions. Returns a ``GradcheckResult`` whose ``worst.param`` is the index
    into ``get_weights()``.
    """
    original = [np.array(w, copy=True) for w in model.get_weights()]
    _require_float64(original, "check_model")
    names = _weight_names(model, len(original))
    try:
        _, grads = model._loss_and_grads(x, y, sample_weight=sample_weight)
        grads = [np.array(g, dtype=np.float64, copy=True) for g in grads]
        if len(grads) != len(original):
            raise ValueError(f"check_model: the model has {len(original)} weights but "
                             f"_loss_and_grads returned {len(grads)} gradients.")

        def f(ps):
            model.set_weights(ps)
            return float(model._loss_and_grads(x, y, sample_weight=sample_weight)[0])

        return check_gradients(f, original, grads, names=names, eps=eps, atol=atol,
                               rtol=rtol, max_elements=max_elements, seed=seed,
                               raise_exception=raise_exception)
    finally:
        model.set_weights(original)


def _weight_names(model, count):
    names = []
    for layer in getattr(model, "layers", []):
        for i, _ in enumerate(getattr(layer, "get_weights", lambda: [])()):
            kind = "kernel" if i == 0 else "bias" if i == 1 else f"weight{i}"
            names.append(f"{getattr(layer, 'name', 'layer')}/{kind}")
    return names if len(names) == count else [f"weight{i}" for i in range(count)]
