/* gd_act_fwd_* / gd_act_bwd_* (private template, included by gd_act.c per dtype). */

void GD_FN(gd_act_fwd)(int64_t m, int64_t n, int act, const GD_T *x, GD_T *y, int n_threads) {
    int nt = gd_fork_threads(n_threads, (double)m * (double)n * GD_FN(gd_act_cost)(act),
                             GD_ACT_MIN_PAR_WORK);
    if (nt > 1) {
        GD_PRAGMA(omp parallel num_threads(nt))
        GD_FN(gd_act_fwd_team)(m, n, act, NULL, x, NULL, y);
    } else {
        GD_FN(gd_act_fwd_team)(m, n, act, NULL, x, NULL, y);
    }
}

void GD_FN(gd_act_bwd)(int64_t m, int64_t n, int act, const GD_T *x, const GD_T *y,
                       const GD_T *dy, GD_T *dx, int n_threads) {
    double cost = gd_act_needs_input(act) ? GD_FN(gd_act_cost)(act) : 2.0;
    int nt = gd_fork_threads(n_threads, (double)m * (double)n * cost, GD_ACT_MIN_PAR_WORK);
    if (nt > 1) {
        GD_PRAGMA(omp parallel num_threads(nt))
        GD_FN(gd_act_bwd_team)(m, n, act, x, y, dy, dx);
    } else {
        GD_FN(gd_act_bwd_team)(m, n, act, x, y, dy, dx);
    }
}
