/* Private helpers shared by the csrc/ files (not seen by Cython). */
#ifndef GRADIENTE_GD_INTERNAL_H
#define GRADIENTE_GD_INTERNAL_H

#include <stdint.h>
#include <string.h>
#include "gradiente/gd_kernels.h"

#ifdef _OPENMP
#include <omp.h>
#define GD_IN_PARALLEL() omp_in_parallel()
#define GD_THREAD_ID() omp_get_thread_num()
#define GD_TEAM_SIZE() omp_get_num_threads()
#else
#define GD_IN_PARALLEL() 0
#define GD_THREAD_ID() 0
#define GD_TEAM_SIZE() 1
#endif

/* A stringified pragma, so kernels can be written once for both dtypes in macros. */
#define GD_PRAGMA(x) _Pragma(#x)

/* A function inlined even where the compiler would not (the kernels' inner passes,
 * specialised by constant arguments). */
#if defined(__GNUC__) || defined(__clang__)
#define GD_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define GD_ALWAYS_INLINE inline
#endif

/* Storage of one variable per OS thread. */
#if defined(__GNUC__) || defined(__clang__)
#define GD_THREAD_LOCAL __thread
#else
#define GD_THREAD_LOCAL __declspec(thread)
#endif

/* gd_team_nowait: set (alike on every thread of a team) by a caller that meets the
 * team at a barrier of its own before anything reads a team kernel's output or
 * overwrites its inputs: the GEMM and gd_spmm_* then skip the barrier they end in
 * inside a parallel region (gd_dense_bwd runs dX, dW and db's column sums, which end
 * in one, back to back). Thread-local; 0 outside such a sequence. */
extern GD_THREAD_LOCAL int gd_team_nowait;
/* gd_team_inference: set (alike on every thread of a team) while a forward pass
 * serves inference only (the training engine's evaluate and predict): no optimizer
 * step follows, so gd_spmm_nn need not keep each core on its own half of the weights
 * (see gd_spmm_tmpl.h). Thread-local; 0 otherwise. */
extern GD_THREAD_LOCAL int gd_team_inference;
#define GD_TEAM_BARRIER()                                                                \
    do {                                                                                 \
        if (!gd_team_nowait) {                                                           \
            GD_PRAGMA(omp barrier)                                                       \
        }                                                                                \
    } while (0)

/* gd_fork_threads: how many threads a kernel called with n_threads should open for
 * `work` units (flops or elements) when the per-kernel threshold is `min_par_work`.
 * Returns 0 when the caller is already inside a parallel region (the kernel then
 * shares its loops with the enclosing team and must open no region of its own). */
static inline int gd_fork_threads(int n_threads, double work, double min_par_work) {
    if (GD_IN_PARALLEL()) return 0;
    if (n_threads < 1) n_threads = 1;
    if (work < min_par_work) return 1;
    return n_threads;
}

/* gd_static_range: the contiguous chunk [*lo, *hi) of [0, n) that thread `tid` of
 * `nt` owns, in units of `grain` (the chunk boundaries are multiples of grain, so an
 * element's code path never depends on the thread count). */
static inline void gd_static_range(int64_t n, int64_t grain, int tid, int nt,
                                   int64_t *lo, int64_t *hi) {
    int64_t blocks = (n + grain - 1) / grain;
    int64_t per = blocks / nt, rem = blocks % nt;
    int64_t b0 = tid * per + (tid < rem ? tid : rem);
    int64_t b1 = b0 + per + (tid < rem ? 1 : 0);
    *lo = b0 * grain < n ? b0 * grain : n;
    *hi = b1 * grain < n ? b1 * grain : n;
}

/* gd_dense_fwd / gd_dense_bwd with X's count of nonzeros given by the caller
 * (x_nonzero >= 0: gd_count_nonzero of all m*k elements, as the caller knows it;
 * -1: counted here, as the public kernels do). The training engine counts its batch
 * as it gathers it. With 0 < grain < m, the forward gives each row the bits that
 * calls of grain rows each would give it (predict's and evaluate's batches, run
 * several at once): whether the product skips X's zeros is decided per grain rows
 * (x_nonzero is then unused; row_nonzero, when not NULL, holds each row's count, else
 * each grain is counted here), and a block of rows whose parts decide alike is one
 * product (a row's sums never depend on the other rows in the call). grain <= 0: the
 * whole of X decides. */
#define GD_DENSE_COUNTED_PROTOS(T, SFX)                                                  \
    int gd_dense_fwd_counted_##SFX(int64_t m, int64_t k, int64_t n, const T *x,          \
                                   const T *w, const T *b, int act, T *y, T *z,          \
                                   T *scratch, int64_t x_nonzero, int64_t grain,         \
                                   const int32_t *row_nonzero, int n_threads);           \
    int gd_dense_bwd_counted_##SFX(int64_t m, int64_t k, int64_t n, const T *x,          \
                                   const T *w, const T *y, const T *z, T *dy, int act,   \
                                   T *dx, T *dw, T *db, int64_t x_nonzero,               \
                                   int n_threads);
GD_DENSE_COUNTED_PROTOS(float, f32)
GD_DENSE_COUNTED_PROTOS(double, f64)
#undef GD_DENSE_COUNTED_PROTOS

/* e^x for x <= 0 (or NaN; softmax's z - max), float: Cody-Waite reduction x = n ln2 +
 * r, |r| <= ln2/2, Cephes's degree-6 polynomial for e^r, then the exponent n set in the
 * bits (two steps below 2^-126, so that subnormal results are rounded once). Plain
 * arithmetic without branches, so that a loop of it vectorises, where a loop calling
 * libm's expf does not. Within 0.98 ulp of e^x for every float in [-104, 0] (checked
 * against double exp; 99.1% correctly rounded); 0 below -104 (where e^x rounds to 0);
 * NaN for NaN. */
static inline float gd_exp_shifted_f32(float x) {
    float xc = x < -104.0f ? -104.0f : x;
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round(x log2 e) */
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    int32_t ni = (int32_t)(n == n ? n : 0.0f), low = ni < -126;
    int32_t b1 = (ni + (low ? 64 : 0) + 127) * (1 << 23), b2 = (127 - (low ? 64 : 0)) * (1 << 23);
    float s1, s2;
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    float e = (p * s1) * s2;
    return x == x ? e : x;
}

/* gd_unpack_cols_<dtype>: columns [c0, c1) of a packed row's record (gd_pack_rows_*)
 * into dst[c0 .. c1), bit for bit; c0 is 0 or gd_spmm_cut(f), c1 that cut or f.
 * Returns the nonzeros of those columns (the record's counts). Serial. */
int64_t gd_unpack_cols_f32(const void *record, int64_t f, int64_t c0, int64_t c1, float *dst);
int64_t gd_unpack_cols_f64(const void *record, int64_t f, int64_t c0, int64_t c1,
                           double *dst);

/* Where gd_spmm_nn cuts k (and gd_spmm_tn splits its rows; the training engine's
 * gather splits the input's columns there too): k/2 rounded to a multiple of 16
 * (whole cache lines of floats); k itself (one segment) below 128. */
static inline int64_t gd_spmm_cut(int64_t k) {
    int64_t cut = (k / 2 + 8) / 16 * 16;
    return (k < 128 || cut <= 0 || cut >= k) ? k : cut;
}
/* The share of thread tid of nt in a split in two halves: the even threads take
 * half 0, the odd ones half 1 (one thread: both, half 0 first). */
static inline int gd_spmm_half_threads(int half, int nt) {
    return half == 0 ? (nt + 1) / 2 : nt / 2;
}

#endif /* GRADIENTE_GD_INTERNAL_H */
