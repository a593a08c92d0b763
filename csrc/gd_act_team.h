/* Activation rows and team loops (private template; see gd_tmpl_begin.h).
 *
 * Included by gd_act.c and gd_dense.c. The *_team functions run on whatever team
 * calls them: outside a parallel region on the calling thread alone, inside one
 * (ours or the engine's) as an orphaned `omp for` shared by the team, ending in its
 * implicit barrier. Elementwise activations are split in blocks of GD_ACT_GRAIN
 * elements, softmax by rows: an element's code path never depends on the split.
 *
 * Formulas (Keras 3 with its defaults; the reference is _reference.act_fwd/act_bwd):
 *   leaky_relu  x > 0 ? x : 0.2·x            elu   x > 0 ? x : expm1(x)
 *   selu        λ·(x > 0 ? x : α·expm1(x))   (α, λ: Klambauer et al. 2017)
 *   gelu        x·Φ(x) = ½·x·erfc(-x/√2)     (exact form, Keras's approximate=False)
 *   softplus    max(x, 0) + log1p(exp(-|x|)) (no overflow for large |x|)
 *   softsign    x / (1 + |x|)                silu  x / (1 + exp(-x))
 *   hard_sigmoid  min(max(x + 3, 0), 6) / 6  relu6 min(max(x, 0), 6)
 *   exponential exp(x)
 * Every derivative is written with the output y, except gelu's and silu's, which
 * need the input x (gd_act_needs_input). */

#ifndef GD_ACT_GRAIN
#define GD_ACT_GRAIN 4096
#endif

#define GD_LEAKY_SLOPE ((GD_T)0.2)
#define GD_SELU_ALPHA ((GD_T)1.6732632423543772848170429916717)
#define GD_SELU_SCALE ((GD_T)1.0507009873554804934193349852946)
#define GD_SQRT1_2 ((GD_T)0.70710678118654752440084436210485)
#define GD_INV_SQRT_2PI ((GD_T)0.39894228040143267793994605993438)

/* z (may be NULL) receives x + b (b may be NULL: x); y = act(x + b), over one row of
 * n. z may equal x; y may equal x when z is NULL or z == y. Softmax is the
 * max-subtracted e / Σe of _reference._softmax_rows. */
static inline void GD_FN(gd_act_row_fwd)(int64_t n, int act, const GD_T *b, const GD_T *x,
                                         GD_T *z, GD_T *y) {
    int64_t j;
    if (b != NULL) {
        GD_T *t = z != NULL ? z : y;
        for (j = 0; j < n; j++) t[j] = x[j] + b[j];
        x = t;
    } else if (z != NULL && z != x) {
        for (j = 0; j < n; j++) z[j] = x[j];
        x = z;
    }
    switch (act) {
    case GD_ACT_RELU:
        for (j = 0; j < n; j++) y[j] = x[j] < 0 ? (GD_T)0 : x[j];
        break;
    case GD_ACT_SIGMOID:
        for (j = 0; j < n; j++) y[j] = (GD_T)1 / ((GD_T)1 + GD_EXP(-x[j]));
        break;
    case GD_ACT_TANH:
        for (j = 0; j < n; j++) y[j] = GD_TANH(x[j]);
        break;
    case GD_ACT_SOFTMAX: {
        GD_T mx, s = 0;
        if (n == 0) break;
        mx = x[0];
        for (j = 1; j < n; j++) mx = x[j] > mx ? x[j] : mx;
        for (j = 0; j < n; j++) y[j] = GD_EXP_SHIFTED(x[j] - mx); /* vectorises */
        for (j = 0; j < n; j++) s += y[j];
        for (j = 0; j < n; j++) y[j] = y[j] / s;
        break;
    }
    case GD_ACT_LEAKY_RELU:
        for (j = 0; j < n; j++) y[j] = x[j] > 0 ? x[j] : GD_LEAKY_SLOPE * x[j];
        break;
    case GD_ACT_ELU:
        for (j = 0; j < n; j++) y[j] = x[j] > 0 ? x[j] : GD_EXPM1(x[j]);
        break;
    case GD_ACT_SELU:
        for (j = 0; j < n; j++)
            y[j] = GD_SELU_SCALE * (x[j] > 0 ? x[j] : GD_SELU_ALPHA * GD_EXPM1(x[j]));
        break;
    case GD_ACT_GELU:
        for (j = 0; j < n; j++) y[j] = (GD_T)0.5 * x[j] * GD_ERFC(-x[j] * GD_SQRT1_2);
        break;
    case GD_ACT_SOFTPLUS:
        for (j = 0; j < n; j++)
            y[j] = (x[j] > 0 ? x[j] : (GD_T)0) + GD_LOG1P(GD_EXP(-GD_FABS(x[j])));
        break;
    case GD_ACT_SOFTSIGN:
        for (j = 0; j < n; j++) y[j] = x[j] / ((GD_T)1 + GD_FABS(x[j]));
        break;
    case GD_ACT_SILU:
        for (j = 0; j < n; j++) y[j] = x[j] / ((GD_T)1 + GD_EXP(-x[j]));
        break;
    case GD_ACT_HARD_SIGMOID:
        for (j = 0; j < n; j++) {
            GD_T t = x[j] + (GD_T)3;
            t = t < 0 ? (GD_T)0 : t;
            t = t > 6 ? (GD_T)6 : t;
            y[j] = t / (GD_T)6;
        }
        break;
    case GD_ACT_RELU6:
        for (j = 0; j < n; j++) {
            GD_T t = x[j] < 0 ? (GD_T)0 : x[j];
            y[j] = t > 6 ? (GD_T)6 : t;
        }
        break;
    case GD_ACT_EXPONENTIAL:
        for (j = 0; j < n; j++) y[j] = GD_EXP(x[j]);
        break;
    default: /* linear */
        if (y != x)
            for (j = 0; j < n; j++) y[j] = x[j];
        break;
    }
}

/* dx = dy ⊙ act'(x) over one row of n, from the output y (and the input x, which
 * may be NULL unless gd_act_needs_input(act)); dx may equal dy. */
static inline void GD_FN(gd_act_row_bwd)(int64_t n, int act, const GD_T *x, const GD_T *y,
                                         const GD_T *dy, GD_T *dx) {
    int64_t j;
    switch (act) {
    case GD_ACT_RELU:
        for (j = 0; j < n; j++) {
            GD_T d = dy[j]; /* loaded first: a select, not a branch */
            dx[j] = y[j] > 0 ? d : (GD_T)0;
        }
        break;
    case GD_ACT_SIGMOID:
        for (j = 0; j < n; j++) dx[j] = dy[j] * y[j] * ((GD_T)1 - y[j]);
        break;
    case GD_ACT_TANH:
        for (j = 0; j < n; j++) dx[j] = dy[j] * ((GD_T)1 - y[j] * y[j]);
        break;
    case GD_ACT_SOFTMAX: {
        GD_T dot = 0;
        for (j = 0; j < n; j++) dot += dy[j] * y[j];
        for (j = 0; j < n; j++) dx[j] = y[j] * (dy[j] - dot);
        break;
    }
    case GD_ACT_LEAKY_RELU:
        for (j = 0; j < n; j++) {
            GD_T d = dy[j];
            dx[j] = y[j] > 0 ? d : GD_LEAKY_SLOPE * d;
        }
        break;
    case GD_ACT_ELU: /* x <= 0: exp(x) = y + 1 */
        for (j = 0; j < n; j++) {
            GD_T d = dy[j], t = y[j];
            dx[j] = t > 0 ? d : d * (t + (GD_T)1);
        }
        break;
    case GD_ACT_SELU: /* x <= 0: λα·exp(x) = y + λα */
        for (j = 0; j < n; j++)
            dx[j] = y[j] > 0 ? dy[j] * GD_SELU_SCALE
                             : dy[j] * (y[j] + GD_SELU_SCALE * GD_SELU_ALPHA);
        break;
    case GD_ACT_GELU: /* Φ(x) + x·φ(x) */
        for (j = 0; j < n; j++)
            dx[j] = dy[j] * ((GD_T)0.5 * GD_ERFC(-x[j] * GD_SQRT1_2) +
                             x[j] * GD_INV_SQRT_2PI * GD_EXP((GD_T)-0.5 * x[j] * x[j]));
        break;
    case GD_ACT_SOFTPLUS: /* sigmoid(x) = 1 - exp(-y) */
        for (j = 0; j < n; j++) dx[j] = dy[j] * -GD_EXPM1(-y[j]);
        break;
    case GD_ACT_SOFTSIGN: /* 1 / (1 + |x|)² = (1 - |y|)² */
        for (j = 0; j < n; j++) {
            GD_T t = (GD_T)1 - GD_FABS(y[j]);
            dx[j] = dy[j] * t * t;
        }
        break;
    case GD_ACT_SILU: /* s·(1 + x·(1 - s)), s = sigmoid(x) */
        for (j = 0; j < n; j++) {
            GD_T s = (GD_T)1 / ((GD_T)1 + GD_EXP(-x[j]));
            dx[j] = dy[j] * (s * ((GD_T)1 + x[j] * ((GD_T)1 - s)));
        }
        break;
    case GD_ACT_HARD_SIGMOID:
        for (j = 0; j < n; j++) {
            GD_T d = dy[j] / (GD_T)6, t = y[j];
            dx[j] = (t > 0) & (t < 1) ? d : (GD_T)0;
        }
        break;
    case GD_ACT_RELU6:
        for (j = 0; j < n; j++) {
            GD_T d = dy[j], t = y[j];
            dx[j] = (t > 0) & (t < 6) ? d : (GD_T)0;
        }
        break;
    case GD_ACT_EXPONENTIAL:
        for (j = 0; j < n; j++) dx[j] = dy[j] * y[j];
        break;
    default:
        if (dx != dy)
            for (j = 0; j < n; j++) dx[j] = dy[j];
        break;
    }
}

/* The pieces of an m x n array the team splits: rows of n (softmax, which reduces
 * over a row, or a bias, which lines up with a row), else blocks of GD_ACT_GRAIN of
 * the m·n elements. */
static inline int64_t GD_FN(gd_act_piece)(int64_t n, int by_row) {
    return by_row ? (n > 0 ? n : 1) : GD_ACT_GRAIN;
}

/* y[m,n] = act(x + b) on the calling team; z (may be NULL) receives x + b (b may be
 * NULL). z may equal x; y may equal x when z is NULL or equal to x. */
static void GD_FN(gd_act_fwd_team)(int64_t m, int64_t n, int act, const GD_T *b,
                                   const GD_T *x, GD_T *z, GD_T *y) {
    int64_t total = m * n, piece = GD_FN(gd_act_piece)(n, act == GD_ACT_SOFTMAX || b != NULL);
    int64_t nb = (total + piece - 1) / piece, blk;
    GD_PRAGMA(omp for schedule(static))
    for (blk = 0; blk < nb; blk++) {
        int64_t lo = blk * piece, len = total - lo < piece ? total - lo : piece;
        GD_FN(gd_act_row_fwd)(len, act, b, x + lo, z ? z + lo : NULL, y + lo);
    }
}

/* dx[m,n] = dy ⊙ act'(x) from y (and x, NULL unless needed) on the calling team;
 * dx may equal dy. */
static void GD_FN(gd_act_bwd_team)(int64_t m, int64_t n, int act, const GD_T *x,
                                   const GD_T *y, const GD_T *dy, GD_T *dx) {
    int64_t total = m * n, piece = GD_FN(gd_act_piece)(n, act == GD_ACT_SOFTMAX);
    int64_t nb = (total + piece - 1) / piece, blk;
    GD_PRAGMA(omp for schedule(static))
    for (blk = 0; blk < nb; blk++) {
        int64_t lo = blk * piece, len = total - lo < piece ? total - lo : piece;
        GD_FN(gd_act_row_bwd)(len, act, x ? x + lo : NULL, y + lo, dy + lo, dx + lo);
    }
}

/* Work units of one element of an activation, for the thread thresholds. */
static inline double GD_FN(gd_act_cost)(int act) {
    switch (act) {
    case GD_ACT_LINEAR:
    case GD_ACT_RELU:
    case GD_ACT_LEAKY_RELU:
    case GD_ACT_SOFTSIGN:
    case GD_ACT_HARD_SIGMOID:
    case GD_ACT_RELU6:
        return 1.0;
    case GD_ACT_GELU:
        return 16.0;
    default:
        return 8.0;
    }
}

#undef GD_LEAKY_SLOPE
#undef GD_SELU_ALPHA
#undef GD_SELU_SCALE
#undef GD_SQRT1_2
#undef GD_INV_SQRT_2PI
