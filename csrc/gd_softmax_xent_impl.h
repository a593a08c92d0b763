/* gd_softmax_xent_* (private template, included by gd_softmax_xent.c per dtype). */

#ifndef GD_SOFTMAX_XENT_ONCE
#define GD_SOFTMAX_XENT_ONCE
/* Rows per block, and the most classes, of the vectorised path (labels, no targets). */
#define GD_SX_BLOCK 16
#define GD_SX_MAX_CLASSES 32
#endif

/* One row: see the contract in gd_kernels.h. Stable log-sum-exp (the max shift of
 * Blanchard, Higham & Higham, "Accurately computing the log-sum-exp and softmax
 * functions", IMA J. Numer. Anal. 41(4), 2021): e = exp(z - max) is never above 1 and
 * Σe >= 1, so nothing overflows for any finite z; log p = (z - max) - log Σe. One exp per element: pass 1 finds the max; pass 2 sums e (stored in dz
 * when given, else recomputed in pass 3) and, from logits, Σ t·(z - max) and Σ t;
 * pass 3 forms p = e / Σe, its argmax, the clipped log terms and Σu, and writes dz
 * from logits; pass 4 writes dz on probabilities (it needs Σu first). dz == z is
 * safe: z[j] is read before dz[j] is written, and later passes read only dz. */
static inline void GD_FN(gd_softmax_xent_row)(int64_t n, const GD_T *z, int64_t label,
                                              const GD_T *t, GD_T w, int from_logits,
                                              GD_T s, GD_T *dz, GD_T *row_loss,
                                              int32_t *row_hit) {
    GD_T mx, sum = 0, lse, loss = 0, tz = 0, tsum = 0, usum = 0, pbest = -1;
    int64_t j, pmax = 0, tmax = label;
    if (n <= 0) {
        *row_loss = 0;
        if (row_hit != NULL) *row_hit = 0;
        return;
    }
    mx = z[0];
    for (j = 1; j < n; j++) mx = z[j] > mx ? z[j] : mx;
    /* pass 2 */
    if (t == NULL) {
        tz = z[label] - mx;
        tsum = 1;
    }
    for (j = 0; j < n; j++) {
        GD_T sh = z[j] - mx;
        GD_T e = GD_EXP_SHIFTED(sh);
        sum += e;
        if (t != NULL && from_logits) {
            tz += t[j] * sh;
            tsum += t[j];
        }
        if (dz != NULL) dz[j] = e;
    }
    lse = GD_LOG(sum);
    if (from_logits) loss = -(tz - lse * tsum);
    /* pass 3 */
    for (j = 0; j < n; j++) {
        GD_T p = (dz != NULL ? dz[j] : GD_EXP_SHIFTED(z[j] - mx)) / sum;
        GD_T tj = t != NULL ? t[j] : (GD_T)(j == label);
        if (p > pbest) {
            pbest = p;
            pmax = j;
        }
        if (!from_logits) {
            GD_T c = p < GD_CLIP_LO ? GD_CLIP_LO : (p > GD_CLIP_HI ? GD_CLIP_HI : p);
            int active = p >= GD_CLIP_LO && p <= GD_CLIP_HI;
            if (tj != 0) loss -= tj * GD_LOG(c);
            usum += active ? tj : (GD_T)0;
            if (dz != NULL) dz[j] = p;
        } else if (dz != NULL) {
            dz[j] = s * (p * tsum - tj);
        }
    }
    if (t != NULL) {
        GD_T tbest = t[0];
        tmax = 0;
        for (j = 1; j < n; j++)
            if (t[j] > tbest) {
                tbest = t[j];
                tmax = j;
            }
    }
    *row_loss = w * loss;
    if (row_hit != NULL) *row_hit = pmax == tmax;
    /* pass 4 (probabilities): dz = s (p Σu - u), u = t where p is not clipped */
    if (dz != NULL && !from_logits) {
        for (j = 0; j < n; j++) {
            GD_T p = dz[j];
            GD_T tj = t != NULL ? t[j] : (GD_T)(j == label);
            GD_T u = (p >= GD_CLIP_LO && p <= GD_CLIP_HI) ? tj : (GD_T)0;
            dz[j] = s * (p * usum - u);
        }
    }
}

/* A block of R <= GD_SX_BLOCK rows with labels (no targets) and n <= GD_SX_MAX_CLASSES
 * classes, the rows in the lanes: the same operations on each element, in the same
 * order, as gd_softmax_xent_row, on a transposed copy of the block, so that every
 * pass is a loop over rows that vectorises (with gd_exp_shifted_f32 for float, where a
 * row of 10 libm calls took a third of the row's time: 6.6 us for a 32 x 10 batch). */
static GD_ALWAYS_INLINE void GD_FN(gd_softmax_xent_block)(
        const int64_t R, int64_t n, const GD_T *z, const int32_t *labels,
        const GD_T *sample_weight, int from_logits, GD_T grad_scale, GD_T *dz,
        GD_T *row_loss, int32_t *row_hit) {
    GD_T e[GD_SX_MAX_CLASSES][GD_SX_BLOCK];
    GD_T mx[GD_SX_BLOCK], sum[GD_SX_BLOCK], zl[GD_SX_BLOCK];
    GD_T pbest[GD_SX_BLOCK];
    int32_t pmax[GD_SX_BLOCK];
    int64_t r, j;
    for (r = 0; r < R; r++)
        for (j = 0; j < n; j++) e[j][r] = z[r * n + j];
    for (r = 0; r < R; r++) mx[r] = e[0][r];
    for (j = 1; j < n; j++)
        for (r = 0; r < R; r++) mx[r] = e[j][r] > mx[r] ? e[j][r] : mx[r];
    for (r = 0; r < R; r++) zl[r] = e[labels[r]][r] - mx[r];
    for (j = 0; j < n; j++)
        for (r = 0; r < R; r++) e[j][r] = GD_EXP_SHIFTED(e[j][r] - mx[r]);
    for (r = 0; r < R; r++) sum[r] = 0;
    for (j = 0; j < n; j++)
        for (r = 0; r < R; r++) sum[r] += e[j][r];
    for (r = 0; r < R; r++) {
        pbest[r] = -1;
        pmax[r] = 0;
    }
    for (j = 0; j < n; j++)
        for (r = 0; r < R; r++) {
            GD_T p = e[j][r] / sum[r];
            e[j][r] = p;
            pmax[r] = p > pbest[r] ? (int32_t)j : pmax[r];
            pbest[r] = p > pbest[r] ? p : pbest[r];
        }
    for (r = 0; r < R; r++) {
        GD_T w = sample_weight != NULL ? sample_weight[r] : (GD_T)1;
        GD_T loss, u = 0;
        if (from_logits) {
            loss = -(zl[r] - GD_LOG(sum[r])); /* the row's tz - lse * tsum, tsum = 1 */
        } else {
            GD_T p = e[labels[r]][r];
            GD_T c = p < GD_CLIP_LO ? GD_CLIP_LO : (p > GD_CLIP_HI ? GD_CLIP_HI : p);
            loss = (GD_T)0 - GD_LOG(c); /* the row's 0 - tj log c, tj = 1 (+0 for -0) */
            u = (p >= GD_CLIP_LO && p <= GD_CLIP_HI) ? (GD_T)1 : (GD_T)0;
        }
        row_loss[r] = w * loss;
        if (row_hit != NULL) row_hit[r] = pmax[r] == labels[r];
        if (dz == NULL) continue;
        /* dz after the block's reads of z (dz may be z) */
        GD_T s = w * grad_scale, tsum = from_logits ? (GD_T)1 : u;
        for (j = 0; j < n; j++) {
            GD_T p = e[j][r], tj = (GD_T)(j == labels[r]);
            GD_T uj = from_logits ? tj : ((p >= GD_CLIP_LO && p <= GD_CLIP_HI) ? tj : (GD_T)0);
            dz[r * n + j] = s * (p * tsum - uj);
        }
    }
}

static void GD_FN(gd_softmax_xent_team)(int64_t m, int64_t n, const GD_T *z,
                                        const int32_t *labels, const GD_T *targets,
                                        const GD_T *sample_weight, int from_logits,
                                        GD_T grad_scale, GD_T *dz, GD_T *row_loss,
                                        int32_t *row_hit) {
    int64_t i;
    if (labels != NULL && n >= 1 && n <= GD_SX_MAX_CLASSES) {
        int64_t nb = (m + GD_SX_BLOCK - 1) / GD_SX_BLOCK, b;
        GD_PRAGMA(omp for schedule(static))
        for (b = 0; b < nb; b++) {
            int64_t r0 = b * GD_SX_BLOCK, R = m - r0 < GD_SX_BLOCK ? m - r0 : GD_SX_BLOCK;
            const GD_T *sw = sample_weight != NULL ? sample_weight + r0 : NULL;
            GD_T *d = dz != NULL ? dz + r0 * n : NULL;
            int32_t *h = row_hit != NULL ? row_hit + r0 : NULL;
            if (R == GD_SX_BLOCK) /* a constant count: the passes vectorise whole */
                GD_FN(gd_softmax_xent_block)(GD_SX_BLOCK, n, z + r0 * n, labels + r0, sw,
                                             from_logits, grad_scale, d, row_loss + r0, h);
            else
                GD_FN(gd_softmax_xent_block)(R, n, z + r0 * n, labels + r0, sw, from_logits,
                                             grad_scale, d, row_loss + r0, h);
        }
        return;
    }
    GD_PRAGMA(omp for schedule(static))
    for (i = 0; i < m; i++) {
        GD_T w = sample_weight != NULL ? sample_weight[i] : (GD_T)1;
        GD_FN(gd_softmax_xent_row)(n, z + i * n, labels != NULL ? (int64_t)labels[i] : -1,
                                   labels != NULL ? NULL : targets + i * n, w, from_logits,
                                   w * grad_scale, dz != NULL ? dz + i * n : NULL,
                                   row_loss + i, row_hit != NULL ? row_hit + i : NULL);
    }
}

void GD_FN(gd_softmax_xent)(int64_t m, int64_t n, const GD_T *z, const int32_t *labels,
                            const GD_T *targets, const GD_T *sample_weight, int from_logits,
                            GD_T grad_scale, GD_T *dz, GD_T *row_loss, int32_t *row_hit,
                            int n_threads) {
    int nt = gd_fork_threads(n_threads, (double)m * (double)n * 20.0,
                             GD_SOFTMAX_XENT_MIN_PAR_WORK);
    if (nt > 1) {
        GD_PRAGMA(omp parallel num_threads(nt))
        GD_FN(gd_softmax_xent_team)(m, n, z, labels, targets, sample_weight, from_logits,
                                    grad_scale, dz, row_loss, row_hit);
    } else {
        GD_FN(gd_softmax_xent_team)(m, n, z, labels, targets, sample_weight, from_logits,
                                    grad_scale, dz, row_loss, row_hit);
    }
}
