/* Portable GEMM ("generic" variant): plain row loops, correct for every layout.
 * The ISA variants and the dispatch table replace it where the CPU allows. */
#include "gd_internal.h"

#define GD_GEMM_MIN_PAR_FLOPS 1.0e6

#define GD_DEFINE_GEMM_GENERIC(T, SFX)                                                  \
static void gd_gemm_rows_##SFX(int lay, int64_t m, int64_t n, int64_t k, T alpha,      \
                               const T *a, int64_t lda, const T *b, int64_t ldb,        \
                               T beta, T *c, int64_t ldc) {                             \
    GD_PRAGMA(omp for schedule(static))                                                 \
    for (int64_t i = 0; i < m; i++) {                                                   \
        T *ci = c + i * ldc;                                                            \
        if (lay == 1) { /* nt: dot products */                                          \
            for (int64_t j = 0; j < n; j++) {                                           \
                const T *ai = a + i * lda, *bj = b + j * ldb;                           \
                T s = 0;                                                                \
                for (int64_t p = 0; p < k; p++) s += ai[p] * bj[p];                     \
                ci[j] = (beta == 0) ? alpha * s : alpha * s + beta * ci[j];             \
            }                                                                           \
            continue;                                                                   \
        }                                                                               \
        if (beta == 0) { for (int64_t j = 0; j < n; j++) ci[j] = 0; }                   \
        else if (beta != 1) { for (int64_t j = 0; j < n; j++) ci[j] *= beta; }          \
        for (int64_t p = 0; p < k; p++) {                                               \
            T aip = alpha * (lay == 0 ? a[i * lda + p] : a[p * lda + i]);               \
            const T *bp = b + p * ldb;                                                  \
            for (int64_t j = 0; j < n; j++) ci[j] += aip * bp[j];                       \
        }                                                                               \
    }                                                                                   \
}                                                                                       \
static int gd_gemm_generic_##SFX(int lay, int64_t m, int64_t n, int64_t k, T alpha,    \
                                 const T *a, int64_t lda, const T *b, int64_t ldb,      \
                                 T beta, T *c, int64_t ldc, int n_threads) {            \
    int nt = gd_fork_threads(n_threads, 2.0 * (double)m * n * k, GD_GEMM_MIN_PAR_FLOPS);\
    if (nt > 1) {                                                                       \
        GD_PRAGMA(omp parallel num_threads(nt))                                         \
        gd_gemm_rows_##SFX(lay, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);          \
    } else {                                                                            \
        gd_gemm_rows_##SFX(lay, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);          \
    }                                                                                   \
    return GD_OK;                                                                       \
}                                                                                       \
int gd_gemm_nn_##SFX(int64_t m, int64_t n, int64_t k, T alpha, const T *a, int64_t lda, \
                     const T *b, int64_t ldb, T beta, T *c, int64_t ldc, int n_threads) {\
    return gd_gemm_generic_##SFX(0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,        \
                                 n_threads);                                            \
}                                                                                       \
int gd_gemm_nt_##SFX(int64_t m, int64_t n, int64_t k, T alpha, const T *a, int64_t lda, \
                     const T *b, int64_t ldb, T beta, T *c, int64_t ldc, int n_threads) {\
    return gd_gemm_generic_##SFX(1, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,        \
                                 n_threads);                                            \
}                                                                                       \
int gd_gemm_tn_##SFX(int64_t m, int64_t n, int64_t k, T alpha, const T *a, int64_t lda, \
                     const T *b, int64_t ldb, T beta, T *c, int64_t ldc, int n_threads) {\
    return gd_gemm_generic_##SFX(2, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,        \
                                 n_threads);                                            \
}

GD_DEFINE_GEMM_GENERIC(float, f32)
GD_DEFINE_GEMM_GENERIC(double, f64)
