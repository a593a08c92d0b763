/* Activation rows and team loops (private template; see gd_tmpl_begin.h).
 *
 * Included by gd_act.c and gd_dense.c. The *_team functions run on whatever team
 * calls them: outside a parallel region on the calling thread alone, inside one
 * (ours or the engine's) as an orphaned `omp for` shared by the team, ending in its
 * implicit barrier. Elementwise activations are split in blocks of GD_ACT_GRAIN
 * elements, softmax by rows: an element's code path never depends on the split. */

#ifndef GD_ACT_GRAIN
#define GD_ACT_GRAIN 4096
#endif

/* y = act(x + b) over one row of n (b may be NULL); y may equal x. Softmax is the
 * max-subtracted e / Σe of _reference._softmax_rows. */
static inline void GD_FN(gd_act_row_fwd)(int64_t n, int act, const GD_T *b, const GD_T *x,
                                         GD_T *y) {
    int64_t j;
    if (b != NULL) {
        for (j = 0; j < n; j++) y[j] = x[j] + b[j];
        x = y;
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
        for (j = 0; j < n; j++) {
            y[j] = GD_EXP(x[j] - mx);
            s += y[j];
        }
        for (j = 0; j < n; j++) y[j] = y[j] / s;
        break;
    }
    default: /* linear */
        if (y != x)
            for (j = 0; j < n; j++) y[j] = x[j];
        break;
    }
}

/* dx = dy ⊙ act'(y) over one row of n, from the output y; dx may equal dy. */
static inline void GD_FN(gd_act_row_bwd)(int64_t n, int act, const GD_T *y, const GD_T *dy,
                                         GD_T *dx) {
    int64_t j;
    switch (act) {
    case GD_ACT_RELU:
        for (j = 0; j < n; j++) dx[j] = y[j] > 0 ? dy[j] : (GD_T)0;
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
    default:
        if (dx != dy)
            for (j = 0; j < n; j++) dx[j] = dy[j];
        break;
    }
}

/* y[m,n] = act(x + b) on the calling team (b may be NULL; y may equal x). */
static void GD_FN(gd_act_fwd_team)(int64_t m, int64_t n, int act, const GD_T *b,
                                   const GD_T *x, GD_T *y) {
    if (act == GD_ACT_SOFTMAX || b != NULL) {
        int64_t i;
        GD_PRAGMA(omp for schedule(static))
        for (i = 0; i < m; i++) GD_FN(gd_act_row_fwd)(n, act, b, x + i * n, y + i * n);
    } else {
        int64_t total = m * n, nb = (total + GD_ACT_GRAIN - 1) / GD_ACT_GRAIN, blk;
        GD_PRAGMA(omp for schedule(static))
        for (blk = 0; blk < nb; blk++) {
            int64_t lo = blk * GD_ACT_GRAIN;
            int64_t len = total - lo < GD_ACT_GRAIN ? total - lo : GD_ACT_GRAIN;
            GD_FN(gd_act_row_fwd)(len, act, NULL, x + lo, y + lo);
        }
    }
}

/* dx[m,n] = dy ⊙ act'(y) on the calling team (dx may equal dy). */
static void GD_FN(gd_act_bwd_team)(int64_t m, int64_t n, int act, const GD_T *y,
                                   const GD_T *dy, GD_T *dx) {
    if (act == GD_ACT_SOFTMAX) {
        int64_t i;
        GD_PRAGMA(omp for schedule(static))
        for (i = 0; i < m; i++) GD_FN(gd_act_row_bwd)(n, act, y + i * n, dy + i * n, dx + i * n);
    } else {
        int64_t total = m * n, nb = (total + GD_ACT_GRAIN - 1) / GD_ACT_GRAIN, blk;
        GD_PRAGMA(omp for schedule(static))
        for (blk = 0; blk < nb; blk++) {
            int64_t lo = blk * GD_ACT_GRAIN;
            int64_t len = total - lo < GD_ACT_GRAIN ? total - lo : GD_ACT_GRAIN;
            GD_FN(gd_act_row_bwd)(len, act, y + lo, dy + lo, dx + lo);
        }
    }
}

/* Work units of one element of an activation, for the thread thresholds. */
static inline double GD_FN(gd_act_cost)(int act) {
    return (act == GD_ACT_LINEAR || act == GD_ACT_RELU) ? 1.0 : 8.0;
}
