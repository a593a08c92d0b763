/* Per-sample metrics on the model's output (the engine sums them serially). */
#include <math.h>
#include "gd_internal.h"

#define GD_METRIC_MIN_PAR_ELEMS 65536.0

#define GD_DEFINE_METRIC(T, SFX)                                                        \
static int64_t gd_argmax_##SFX(const T *row, int64_t n) {                               \
    int64_t best = 0;                                                                   \
    for (int64_t j = 1; j < n; j++)                                                     \
        if (row[j] > row[best]) best = j;                                               \
    return best;                                                                        \
}                                                                                       \
/* in the top k: fewer than k entries strictly above entry c (Keras's in_top_k) */    \
static int gd_in_top_k_##SFX(const T *row, int64_t n, int64_t c, int64_t k) {          \
    int64_t above = 0;                                                                  \
    for (int64_t j = 0; j < n; j++)                                                     \
        if (row[j] > row[c]) above++;                                                   \
    return above < k;                                                                   \
}                                                                                       \
static void gd_metric_rows_##SFX(int64_t m, int64_t n, int metric, int64_t k,           \
                                 const T *p, const int32_t *labels, const T *t,         \
                                 T *out) {                                              \
    GD_PRAGMA(omp for schedule(static))                                                 \
    for (int64_t i = 0; i < m; i++) {                                                   \
        const T *pi = p + i * n;                                                        \
        const T *ti = t ? t + i * n : 0;                                                \
        T v = 0;                                                                        \
        switch (metric) {                                                               \
        case GD_METRIC_SPARSE_ACC:                                                      \
            v = (n > 0 && gd_argmax_##SFX(pi, n) == (int64_t)labels[i]) ? 1 : 0;        \
            break;                                                                      \
        case GD_METRIC_CAT_ACC:                                                         \
            v = (n > 0 && gd_argmax_##SFX(pi, n) == gd_argmax_##SFX(ti, n)) ? 1 : 0;    \
            break;                                                                      \
        case GD_METRIC_BIN_ACC: {                                                       \
            T s = 0;                                                                    \
            for (int64_t j = 0; j < n; j++)                                             \
                s += ((pi[j] > (T)0.5) == (ti[j] > (T)0.5)) ? 1 : 0;                    \
            v = n > 0 ? s / (T)n : 0;                                                   \
            break;                                                                      \
        }                                                                               \
        case GD_METRIC_MSE: {                                                           \
            T s = 0;                                                                    \
            for (int64_t j = 0; j < n; j++) { T d = pi[j] - ti[j]; s += d * d; }        \
            v = n > 0 ? s / (T)n : 0;                                                   \
            break;                                                                      \
        }                                                                               \
        case GD_METRIC_MAE: {                                                           \
            T s = 0;                                                                    \
            for (int64_t j = 0; j < n; j++) s += (T)fabs((double)(pi[j] - ti[j]));      \
            v = n > 0 ? s / (T)n : 0;                                                   \
            break;                                                                      \
        }                                                                               \
        case GD_METRIC_TOPK_CAT:                                                        \
            v = (n > 0 && gd_in_top_k_##SFX(pi, n, gd_argmax_##SFX(ti, n), k)) ? 1 : 0;  \
            break;                                                                      \
        case GD_METRIC_SPARSE_TOPK:                                                     \
            v = (n > 0 && gd_in_top_k_##SFX(pi, n, (int64_t)labels[i], k)) ? 1 : 0;     \
            break;                                                                      \
        default:                                                                        \
            v = (T)NAN;                                                                 \
        }                                                                               \
        out[i] = v;                                                                     \
    }                                                                                   \
}                                                                                       \
void gd_metric_##SFX(int64_t m, int64_t n, int metric, int64_t k, const T *p,            \
                     const int32_t *labels, const T *t, T *row_out, int n_threads) {    \
    int nt = gd_fork_threads(n_threads, (double)m * (double)n, GD_METRIC_MIN_PAR_ELEMS); \
    if (nt > 1) {                                                                       \
        GD_PRAGMA(omp parallel num_threads(nt))                                         \
        gd_metric_rows_##SFX(m, n, metric, k, p, labels, t, row_out);                   \
    } else {                                                                            \
        gd_metric_rows_##SFX(m, n, metric, k, p, labels, t, row_out);                   \
    }                                                                                   \
}

GD_DEFINE_METRIC(float, f32)
GD_DEFINE_METRIC(double, f64)
