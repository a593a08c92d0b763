/* gd_softmax_xent_* (private template, included by gd_softmax_xent.c per dtype). */

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
        GD_T e = GD_EXP(sh);
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
        GD_T p = (dz != NULL ? dz[j] : GD_EXP(z[j] - mx)) / sum;
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

static void GD_FN(gd_softmax_xent_team)(int64_t m, int64_t n, const GD_T *z,
                                        const int32_t *labels, const GD_T *targets,
                                        const GD_T *sample_weight, int from_logits,
                                        GD_T grad_scale, GD_T *dz, GD_T *row_loss,
                                        int32_t *row_hit) {
    int64_t i;
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
