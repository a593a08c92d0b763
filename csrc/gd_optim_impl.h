/* gd_sgd_step_* / gd_adam_step_* (private template, included by gd_optim.c per dtype).
 * Elementwise over blocks of GD_OPTIM_GRAIN: each block's loop has no branch on the
 * data and vectorises (sqrt too, with -fno-math-errno). */

static void GD_FN(gd_sgd_team)(int64_t n, GD_T *restrict w, const GD_T *restrict g,
                               GD_T *restrict v, GD_T lr, GD_T momentum, int nesterov) {
    int64_t nb = (n + GD_OPTIM_GRAIN - 1) / GD_OPTIM_GRAIN, blk;
    GD_PRAGMA(omp for schedule(static))
    for (blk = 0; blk < nb; blk++) {
        int64_t lo = blk * GD_OPTIM_GRAIN, hi = lo + GD_OPTIM_GRAIN < n ? lo + GD_OPTIM_GRAIN : n;
        int64_t i;
        if (momentum == 0) {
            for (i = lo; i < hi; i++) w[i] = w[i] - lr * g[i];
        } else if (nesterov) {
            for (i = lo; i < hi; i++) {
                GD_T vi = momentum * v[i] - lr * g[i];
                v[i] = vi;
                w[i] = w[i] + momentum * vi - lr * g[i];
            }
        } else {
            for (i = lo; i < hi; i++) {
                GD_T vi = momentum * v[i] - lr * g[i];
                v[i] = vi;
                w[i] = w[i] + vi;
            }
        }
    }
}

void GD_FN(gd_sgd_step)(int64_t n, GD_T *w, const GD_T *g, GD_T *v, GD_T lr, GD_T momentum,
                        int nesterov, int n_threads) {
    int nt = gd_fork_threads(n_threads, (double)n, GD_SGD_MIN_PAR_ELEMS);
    if (nt > 1) {
        GD_PRAGMA(omp parallel num_threads(nt))
        GD_FN(gd_sgd_team)(n, w, g, v, lr, momentum, nesterov);
    } else {
        GD_FN(gd_sgd_team)(n, w, g, v, lr, momentum, nesterov);
    }
}

static void GD_FN(gd_adam_team)(int64_t n, GD_T *restrict w, const GD_T *restrict g,
                                GD_T *restrict m, GD_T *restrict v, GD_T *restrict vhat,
                                GD_T alpha, GD_T beta_1, GD_T beta_2, GD_T epsilon) {
    int64_t nb = (n + GD_OPTIM_GRAIN - 1) / GD_OPTIM_GRAIN, blk;
    GD_T c1 = (GD_T)1 - beta_1, c2 = (GD_T)1 - beta_2;
    GD_PRAGMA(omp for schedule(static))
    for (blk = 0; blk < nb; blk++) {
        int64_t lo = blk * GD_OPTIM_GRAIN, hi = lo + GD_OPTIM_GRAIN < n ? lo + GD_OPTIM_GRAIN : n;
        int64_t i;
        if (vhat == NULL) {
            for (i = lo; i < hi; i++) {
                GD_T gi = g[i];
                GD_T mi = m[i] + (gi - m[i]) * c1;
                GD_T vi = v[i] + (gi * gi - v[i]) * c2;
                m[i] = mi;
                v[i] = vi;
                w[i] = w[i] - alpha * mi / (GD_SQRT(vi) + epsilon);
            }
        } else {
            for (i = lo; i < hi; i++) {
                GD_T gi = g[i];
                GD_T mi = m[i] + (gi - m[i]) * c1;
                GD_T vi = v[i] + (gi * gi - v[i]) * c2;
                GD_T hi_ = vhat[i] > vi ? vhat[i] : vi;
                m[i] = mi;
                v[i] = vi;
                vhat[i] = hi_;
                w[i] = w[i] - alpha * mi / (GD_SQRT(hi_) + epsilon);
            }
        }
    }
}

void GD_FN(gd_adam_step)(int64_t n, GD_T *w, const GD_T *g, GD_T *m, GD_T *v, GD_T *vhat,
                         GD_T alpha, GD_T beta_1, GD_T beta_2, GD_T epsilon, int n_threads) {
    int nt = gd_fork_threads(n_threads, (double)n, GD_ADAM_MIN_PAR_ELEMS);
    if (nt > 1) {
        GD_PRAGMA(omp parallel num_threads(nt))
        GD_FN(gd_adam_team)(n, w, g, m, v, vhat, alpha, beta_1, beta_2, epsilon);
    } else {
        GD_FN(gd_adam_team)(n, w, g, m, v, vhat, alpha, beta_1, beta_2, epsilon);
    }
}
