/* Dense layer forward (GEMM, then bias + activation fused in one pass per row block)
 * and backward (dZ in place, dX by NT GEMM, dW by TN GEMM, db by column sums), both
 * dtypes from the template gd_dense_impl.h; an input that is mostly zeros takes the
 * products of gd_spmm_* instead. GEMM is called only through
 * gd_gemm_{nn,nt,tn}_*: it opens its own team, or shares the enclosing one. */
#include "gd_internal.h"

/* Below this many work units of the elementwise passes one thread runs. */
#ifndef GD_DENSE_MIN_PAR_WORK
#define GD_DENSE_MIN_PAR_WORK 65536.0
#endif
/* The forward pass applies bias + activation per block of about this many bytes of Y
 * (a block's GEMM output is still in L2 when the epilogue reads it). */
#define GD_DENSE_BLOCK_BYTES (1024.0 * 1024.0)
#define GD_DENSE_MIN_BLOCK_ROWS 256
/* The products with X skip its zeros (gd_spmm_*; Xᵀ·dZ is the GEMM's sum bit for bit,
 * X·W its two-segment sum: see gd_kernels.h) when at most this
 * fraction of X's elements are nonzero (gd_sparse_max_density). Measured on the 2-core
 * AVX-512 machine, 256x1024x1024 float32, random nonzeros, 2 threads, the time
 * against the GEMM's, X·W and Xᵀ·dZ: 0.48 and 0.57 at density 0.3, 0.66 and 0.69 at
 * 0.45, 0.78 and 0.88 at 0.55, 0.94 and 1.02 at 0.65 (1 thread: 0.58 and 0.53, 0.67
 * and 0.71, 0.81 and 0.86, 0.96 and 1.00). */
#ifndef GD_DENSE_SPARSE_MAX_DENSITY
#define GD_DENSE_SPARSE_MAX_DENSITY 0.5
#endif
/* ... and when the layer has at least this many outputs: with fewer, the per-nonzero
 * work is too short to beat the GEMM (measured: 32x128x10 and 256x1024x10 lose). */
#define GD_DENSE_SPARSE_MIN_COLS 64
static double gd_sparse_density_ = GD_DENSE_SPARSE_MAX_DENSITY;
GD_THREAD_LOCAL int gd_team_nowait = 0;
GD_THREAD_LOCAL int gd_team_inference = 0;

double gd_sparse_max_density(double density) {
    double old = gd_sparse_density_;
    if (density >= 0) gd_sparse_density_ = density > 1 ? 1 : density;
    return old;
}
/* Columns of db per thread come in multiples of this (one cache line of floats). */
#define GD_DENSE_COL_GRAIN 16

#define GD_TMPL_F32
#include "gd_tmpl_begin.h"
#include "gd_act_team.h"
#include "gd_dense_impl.h"
#include "gd_tmpl_end.h"

#define GD_TMPL_F64
#include "gd_tmpl_begin.h"
#include "gd_act_team.h"
#include "gd_dense_impl.h"
#include "gd_tmpl_end.h"
