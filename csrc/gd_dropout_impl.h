/* gd_dropout_* and gd_l1l2_penalty_* (private template, included by gd_dropout.c). */

static void GD_FN(gd_dropout_fwd_team)(int64_t m, int64_t n, double rate, uint64_t key,
                                       int share_rows, int share_cols, const GD_T *x,
                                       GD_T *y, GD_T *mask) {
    GD_T keep_prob = (GD_T)(1.0 - rate);
    int64_t i;
    GD_PRAGMA(omp for schedule(static))
    for (i = 0; i < m; i++) {
        uint64_t row = share_rows ? 0 : (uint64_t)i * (uint64_t)(share_cols ? 1 : n);
        for (int64_t j = 0; j < n; j++) {
            uint64_t idx = row + (share_cols ? 0 : (uint64_t)j);
            int keep = gd_uniform(key, idx) >= rate;
            mask[i * n + j] = keep ? (GD_T)1 : (GD_T)0;
            y[i * n + j] = keep ? x[i * n + j] / keep_prob : (GD_T)0;
        }
    }
}

static void GD_FN(gd_dropout_bwd_team)(int64_t m, int64_t n, double rate, const GD_T *mask,
                                       const GD_T *dy, GD_T *dx) {
    GD_T keep_prob = (GD_T)(1.0 - rate);
    int64_t i;
    GD_PRAGMA(omp for schedule(static))
    for (i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            dx[i * n + j] = mask[i * n + j] != 0 ? dy[i * n + j] / keep_prob : (GD_T)0;
}

void GD_FN(gd_dropout_fwd)(int64_t m, int64_t n, double rate, uint64_t key, int share_rows,
                           int share_cols, const GD_T *x, GD_T *y, GD_T *mask,
                           int n_threads) {
    int nt = gd_fork_threads(n_threads, (double)m * (double)n, GD_DROPOUT_MIN_PAR_WORK);
    if (nt > 1) {
        GD_PRAGMA(omp parallel num_threads(nt))
        GD_FN(gd_dropout_fwd_team)(m, n, rate, key, share_rows, share_cols, x, y, mask);
    } else {
        GD_FN(gd_dropout_fwd_team)(m, n, rate, key, share_rows, share_cols, x, y, mask);
    }
}

void GD_FN(gd_dropout_bwd)(int64_t m, int64_t n, double rate, const GD_T *mask,
                           const GD_T *dy, GD_T *dx, int n_threads) {
    int nt = gd_fork_threads(n_threads, (double)m * (double)n, GD_DROPOUT_MIN_PAR_WORK);
    if (nt > 1) {
        GD_PRAGMA(omp parallel num_threads(nt))
        GD_FN(gd_dropout_bwd_team)(m, n, rate, mask, dy, dx);
    } else {
        GD_FN(gd_dropout_bwd_team)(m, n, rate, mask, dy, dx);
    }
}

static void GD_FN(gd_l1l2_penalty_team)(int64_t n, const GD_T *w, double l1, double l2,
                                        GD_T *g, double *partials) {
    int64_t nb = gd_l1l2_blocks(n), blk;
    GD_T gl1 = (GD_T)l1, gl2 = (GD_T)(2.0 * l2);
    GD_PRAGMA(omp for schedule(static))
    for (blk = 0; blk < nb; blk++) {
        int64_t lo = blk * GD_PENALTY_BLOCK;
        int64_t hi = n - lo < GD_PENALTY_BLOCK ? n : lo + GD_PENALTY_BLOCK;
        double s1 = 0, s2 = 0;
        for (int64_t i = lo; i < hi; i++) {
            double v = (double)w[i];
            s1 += fabs(v);
            s2 += v * v;
            if (g != NULL) {
                GD_T sgn = w[i] > 0 ? (GD_T)1 : (w[i] < 0 ? (GD_T)-1 : (GD_T)0);
                g[i] += gl1 * sgn + gl2 * w[i];
            }
        }
        partials[2 * blk] = s1;
        partials[2 * blk + 1] = s2;
    }
}

/* The penalty from the block sums, in block order. */
static double GD_FN(gd_l1l2_total)(int64_t n, double l1, double l2, const double *partials) {
    int64_t nb = gd_l1l2_blocks(n);
    double s1 = 0, s2 = 0;
    for (int64_t b = 0; b < nb; b++) {
        s1 += partials[2 * b];
        s2 += partials[2 * b + 1];
    }
    return l1 * s1 + l2 * s2;
}

double GD_FN(gd_l1l2_penalty)(int64_t n, const GD_T *w, double l1, double l2, GD_T *g,
                              double *partials, int n_threads) {
    double total;
    int nt = gd_fork_threads(n_threads, (double)n, GD_DROPOUT_MIN_PAR_WORK);
    if (nt > 1) {
        GD_PRAGMA(omp parallel num_threads(nt))
        GD_FN(gd_l1l2_penalty_team)(n, w, l1, l2, g, partials);
    } else {
        GD_FN(gd_l1l2_penalty_team)(n, w, l1, l2, g, partials);
    }
    total = GD_FN(gd_l1l2_total)(n, l1, l2, partials);
    /* inside a team (nt == 0) every thread read partials: none may reuse it before */
    if (nt == 0) {
        GD_PRAGMA(omp barrier)
    }
    return total;
}
