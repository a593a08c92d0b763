/* gd_dense_fwd_* / gd_dense_bwd_* (private template, included by gd_dense.c per dtype). */

/* db[n] = column sums of dz[m,n] on the calling team. Each thread owns a contiguous
 * range of columns (multiples of GD_DENSE_COL_GRAIN) and adds the rows in index
 * order, so every db[j] has one summation order whatever the team size. Ends with a
 * barrier (a no-op outside a parallel region). */
static void GD_FN(gd_colsum_team)(int64_t m, int64_t n, const GD_T *dz, GD_T *db) {
    int64_t lo, hi, i, j;
    gd_static_range(n, GD_DENSE_COL_GRAIN, GD_THREAD_ID(), GD_TEAM_SIZE(), &lo, &hi);
    for (j = lo; j < hi; j++) db[j] = 0;
    for (i = 0; i < m; i++) {
        const GD_T *row = dz + i * n;
        for (j = lo; j < hi; j++) db[j] += row[j];
    }
    GD_PRAGMA(omp barrier)
}

/* Whether the products with x[m,k] skip its zeros: few enough nonzeros and at least
 * GD_DENSE_SPARSE_MIN_COLS outputs. Every thread of a team counts all of x, so all take
 * the same branch with no synchronisation; the choice depends on the data alone, never
 * on the thread count (Xᵀ·dZ is the same bits either way; X·W may differ in the last
 * bit: see gd_spmm_nn). */
static int GD_FN(gd_dense_sparse_)(int64_t m, int64_t k, int64_t n, const GD_T *x,
                                   int64_t x_nonzero) {
    double elems = (double)m * (double)k;
    if (elems <= 0 || n < GD_DENSE_SPARSE_MIN_COLS) return 0;
    if (x_nonzero < 0) x_nonzero = GD_COUNT_NONZERO(m * k, x);
    return (double)x_nonzero <= gd_sparse_density_ * elems;
}

int GD_FN(gd_dense_fwd)(int64_t m, int64_t k, int64_t n, const GD_T *x, const GD_T *w,
                        const GD_T *b, int act, GD_T *y, GD_T *z, GD_T *scratch,
                        int n_threads) {
    return GD_FN(gd_dense_fwd_counted)(m, k, n, x, w, b, act, y, z, scratch, -1, 0, 0,
                                       n_threads);
}

int GD_FN(gd_dense_bwd)(int64_t m, int64_t k, int64_t n, const GD_T *x, const GD_T *w,
                        const GD_T *y, const GD_T *z, GD_T *dy, int act, GD_T *dx,
                        GD_T *dw, GD_T *db, int n_threads) {
    return GD_FN(gd_dense_bwd_counted)(m, k, n, x, w, y, z, dy, act, dx, dw, db, -1,
                                       n_threads);
}

/* Whether rows [r0, r0 + m) of x[., k] take the sparse products (gd_dense_sparse_):
 * never without scratch; from the rows' counts when row_nonzero is given, else from
 * nonzero (their count, or -1: counted here). */
static int GD_FN(gd_dense_sparse_rows_)(int64_t r0, int64_t m, int64_t k, int64_t n,
                                        const GD_T *x, const GD_T *scratch,
                                        const int32_t *row_nonzero, int64_t nonzero) {
    if (scratch == NULL) return 0;
    if (row_nonzero) {
        nonzero = 0;
        for (int64_t i = r0; i < r0 + m; i++) nonzero += row_nonzero[i];
    }
    return GD_FN(gd_dense_sparse_)(m, k, n, x + r0 * k, nonzero);
}

/* The product of rows [0, m) of x into g: through gd_spmm_nn when sparse. */
static int GD_FN(gd_dense_product_)(int sparse, int64_t m, int64_t k, int64_t n,
                                    const GD_T *x, const GD_T *w, GD_T *g, GD_T *scratch,
                                    int n_threads) {
    if (sparse) {
        GD_SPMM_NN(m, n, k, x, w, g, scratch, n_threads);
        return GD_OK;
    }
    return GD_GEMM_NN(m, n, k, (GD_T)1, x, k, w, n, (GD_T)0, g, n, n_threads);
}

int GD_FN(gd_dense_fwd_counted)(int64_t m, int64_t k, int64_t n, const GD_T *x,
                                const GD_T *w, const GD_T *b, int act, GD_T *y, GD_T *z,
                                GD_T *scratch, int64_t x_nonzero, int64_t grain,
                                const int32_t *row_nonzero, int n_threads) {
    int64_t rows, i0;
    if (m <= 0 || n <= 0) return GD_OK;
    if (grain >= m) grain = 0;
    if (grain == 0) row_nonzero = NULL;
    /* Row blocks of about GD_DENSE_BLOCK_BYTES of Y (at least GD_DENSE_MIN_BLOCK_ROWS,
     * so W is packed rarely): the bias + activation pass reads each block right after
     * the GEMM wrote it, while it is still in cache. With z, the GEMM writes Z and the
     * pass turns it into X·W + b in place and writes act(Z) to Y. With a grain, blocks
     * are whole grains. */
    rows = (int64_t)(GD_DENSE_BLOCK_BYTES / ((double)n * sizeof(GD_T)));
    if (rows < GD_DENSE_MIN_BLOCK_ROWS) rows = GD_DENSE_MIN_BLOCK_ROWS;
    if (grain > 0) rows = rows < grain ? grain : rows / grain * grain;
    for (i0 = 0; i0 < m; i0 += rows) {
        int64_t mb = m - i0 < rows ? m - i0 : rows;
        GD_T *yb = y + i0 * n;
        GD_T *zb = z != NULL ? z + i0 * n : NULL;
        GD_T *gb = zb != NULL ? zb : yb;
        /* each grain (without one, the block) decides; a run of grains that decide
         * alike is one product, each grain counted once */
        int64_t g = grain > 0 ? grain : mb, c0 = 0;
        int64_t known = grain == 0 && mb == m ? x_nonzero : -1;
        int st, nt, s0 = GD_FN(gd_dense_sparse_rows_)(i0, g < mb ? g : mb, k, n, x, scratch,
                                                      row_nonzero, known);
        while (c0 < mb) {
            int64_t c1 = c0 + g;
            int s1 = s0;
            while (c1 < mb && (s1 = GD_FN(gd_dense_sparse_rows_)(
                                   i0 + c1, mb - c1 < g ? mb - c1 : g, k, n, x, scratch,
                                   row_nonzero, -1)) == s0)
                c1 += g;
            if (c1 > mb) c1 = mb;
            st = GD_FN(gd_dense_product_)(s0, c1 - c0, k, n, x + (i0 + c0) * k, w,
                                          gb + c0 * n, scratch, n_threads);
            if (st != GD_OK) return st;
            c0 = c1;
            s0 = s1;
        }
        if (zb == NULL && b == NULL && act == GD_ACT_LINEAR) continue;
        nt = gd_fork_threads(n_threads, (double)mb * (double)n * GD_FN(gd_act_cost)(act),
                             GD_DENSE_MIN_PAR_WORK);
        if (nt > 1) {
            GD_PRAGMA(omp parallel num_threads(nt))
            GD_FN(gd_act_fwd_team)(mb, n, act, b, gb, zb, yb);
        } else {
            GD_FN(gd_act_fwd_team)(mb, n, act, b, gb, zb, yb);
        }
    }
    return GD_OK;
}

int GD_FN(gd_dense_bwd_counted)(int64_t m, int64_t k, int64_t n, const GD_T *x,
                                const GD_T *w, const GD_T *y, const GD_T *z, GD_T *dy,
                                int act, GD_T *dx, GD_T *dw, GD_T *db, int64_t x_nonzero,
                                int n_threads) {
    int st, nt;
    /* dZ = dY ⊙ act'(Z) from Y (and Z), in place (linear: dY is dZ already). */
    if (act != GD_ACT_LINEAR && m > 0 && n > 0) {
        double cost = gd_act_needs_input(act) ? GD_FN(gd_act_cost)(act) : 2.0;
        nt = gd_fork_threads(n_threads, (double)m * (double)n * cost, GD_DENSE_MIN_PAR_WORK);
        if (nt > 1) {
            GD_PRAGMA(omp parallel num_threads(nt))
            GD_FN(gd_act_bwd_team)(m, n, act, z, y, dy, dy);
        } else {
            GD_FN(gd_act_bwd_team)(m, n, act, z, y, dy, dy);
        }
    }
    /* dX, dW and db read dZ and write apart: inside a team, the first two skip their
     * closing barrier when a later one of the three meets the team at its own. */
    int do_dx = dx != NULL && m > 0 && k > 0, do_dw = k > 0 && n > 0;
    int do_db = db != NULL && n > 0, team = GD_IN_PARALLEL();
    /* dX[m,k] = dZ[m,n] · Wᵀ, W stored [k,n]. */
    if (do_dx) {
        gd_team_nowait = team && (do_dw || do_db);
        st = GD_GEMM_NT(m, k, n, (GD_T)1, dy, n, w, n, (GD_T)0, dx, k, n_threads);
        gd_team_nowait = 0;
        if (st != GD_OK) return st;
    }
    /* dW[k,n] = Xᵀ · dZ, X stored [m,k]; m == 0 gives zeros. */
    if (do_dw) {
        gd_team_nowait = team && do_db;
        if (GD_FN(gd_dense_sparse_)(m, k, n, x, x_nonzero)) {
            GD_SPMM_TN(k, n, m, x, dy, dw, n_threads);
            st = GD_OK;
        } else {
            st = GD_GEMM_TN(k, n, m, (GD_T)1, x, k, dy, n, (GD_T)0, dw, n, n_threads);
        }
        gd_team_nowait = 0;
        if (st != GD_OK) return st;
    }
    /* db = column sums of dZ, split by columns (ends in a barrier inside a team). */
    if (do_db) {
        nt = gd_fork_threads(n_threads, (double)m * (double)n, GD_DENSE_MIN_PAR_WORK);
        if (nt > 1) {
            GD_PRAGMA(omp parallel num_threads(nt))
            GD_FN(gd_colsum_team)(m, n, dy, db);
        } else {
            GD_FN(gd_colsum_team)(m, n, dy, db);
        }
    }
    return GD_OK;
}
