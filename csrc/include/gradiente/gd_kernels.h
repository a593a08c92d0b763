/* gradiente kernels: every prototype and its contract.
 *
 * Conventions for every kernel below (a contract field may refine them):
 *   - dimensions are int64_t; matrices are row-major with an explicit or implied
 *     leading dimension (the column count, unless an ld* argument is given);
 *   - inputs are `const T *restrict`, outputs `T *restrict`: no output overlaps an
 *     input or another output unless the contract says so;
 *   - outputs are overwritten and never read unless the contract says so, so a
 *     buffer pre-filled with NaN comes back right;
 *   - n_threads >= 1. A kernel called outside an OpenMP parallel region opens its own
 *     (if its work is above its threshold); called inside one (the engine), it shares
 *     the work with the enclosing team through orphaned `omp for` loops and opens none.
 *     Threads split outputs, never a sum: the result is bitwise identical for any
 *     n_threads on one ISA;
 *   - kernels never allocate on the hot path, print, exit, abort or assert. A kernel
 *     that may need scratch returns int (GD_OK or GD_ENOMEM); the others return void.
 *   - callers (the Python layer) have validated shapes, dtypes and contiguity.
 */
#ifndef GRADIENTE_GD_KERNELS_H
#define GRADIENTE_GD_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GD_OK 0
#define GD_ENOMEM 1
#define GD_EINVAL 2
#define GD_ENONFINITE 3 /* gd_engine_eval with check_x: the input holds NaN or inf */

/* ------------------------------------------------------------------------ */
/* Instruction sets and dispatch (gd_dispatch.c)                             */
/* ------------------------------------------------------------------------ */

typedef enum { GD_ISA_GENERIC = 0, GD_ISA_AVX2 = 1, GD_ISA_AVX512 = 2 } gd_isa_t;

/* gd_dispatch_init: fill the function table with the best variant the CPU
 * supports, capped by `cap` (a gd_isa_t; pass GD_ISA_AVX512 for no cap).
 * Called once at module import (under the GIL), and again by tests that force an
 * ISA. Returns the ISA actually selected for GEMM. Never fails: an unsupported cap
 * is lowered to what the CPU has. */
int gd_dispatch_init(int cap);

/* gd_cpu_isa: the best ISA this CPU supports (ignores the cap). */
int gd_cpu_isa(void);

/* gd_dispatch_isa: the ISA currently selected for a slot, by name
 * ("gemm_f32", "gemm_f64", ...); -1 for an unknown name. */
int gd_dispatch_isa(const char *slot);

/* gd_dispatch_slot_name: the name of slot i (0-based), NULL past the last one. */
const char *gd_dispatch_slot_name(int i);

/* gd_openmp_enabled: 1 when compiled with OpenMP, else 0.
 * gd_max_threads: omp_get_max_threads() (1 without OpenMP). */
int gd_openmp_enabled(void);
int gd_max_threads(void);

/* ------------------------------------------------------------------------ */
/* GEMM (gd_gemm.c generic, gd_gemm_avx2.c, gd_gemm_avx512.c)                */
/* ------------------------------------------------------------------------ */

/* gd_gemm_<layout>_<dtype>: general matrix multiply, blocked and packed.
 *   math     : C = alpha · op(A) · op(B) + beta · C
 *              nn: op(A) = A[m,k],  op(B) = B[k,n]
 *              nt: op(A) = A[m,k],  op(B) = Bᵀ with B stored [n,k]
 *              tn: op(A) = Aᵀ with A stored [k,m],  op(B) = B[k,n]
 *   shapes   : C[m,n]; any of m, n, k may be 0 (k == 0 gives C = beta·C)
 *   layout   : row-major, leading dimensions lda, ldb, ldc (>= the stored column count)
 *   aliasing : C overlaps neither A nor B
 *   outputs  : beta == 0 ⇒ C is never read (NaN in C does not propagate)
 *   threads  : outputs split by row blocks (or column blocks when m is small) at
 *              multiples of the register tile; each element of C is summed over k
 *              in one fixed order by one thread
 *   numerics : accumulates in T; bitwise identical for any n_threads on one ISA
 *   returns  : GD_OK, or GD_ENOMEM when the packing workspace cannot be allocated
 */
/* gd_gemm_reserve_<dtype>: allocate the calling thread's GEMM workspace for the
 * selected ISA now (GD_OK or GD_ENOMEM). After it succeeded, the thread's GEMM calls
 * never fail; the engine reserves on every thread of its team before a run. */
int gd_gemm_reserve_f32(void);
int gd_gemm_reserve_f64(void);

/* gd_spmm_<layout>_<dtype>: products whose left operand is mostly zeros (the pixels
 * of images, a ReLU layer's output), skipping its zero elements.
 *   math     : nn: C[m,n] = A[m,k] · B[k,n];  tn: C[m,n] = Aᵀ · B, A stored [k,m]
 *   layout   : row-major, contiguous (leading dimension = stored column count)
 *   aliasing : C overlaps none of A, B, scratch
 *   outputs  : C overwritten, never read; any of m, n, k may be 0 (k == 0: C = 0);
 *              nn: scratch[m*n] is overwritten (needed when k >= 128, else unused)
 *   numerics : tn: each C(i,j) is gd_gemm_tn's sum less its terms whose A element is
 *              zero (same KC blocks, order and fused multiply-adds), so C equals
 *              gd_gemm_tn's C while B is finite (the dense product turns 0·inf into
 *              NaN; this one skips it). nn: C = S_lo + S_hi, the same for the k
 *              segments [0, cut) and [cut, k), cut = k/2 rounded to a multiple of 16
 *              (k below 128: one segment, C equals gd_gemm_nn's C). Signed zeros
 *              may differ from the GEMM's.
 *   threads  : inside a parallel region every thread of the team makes the same call
 *              and all meet at a barrier, as gd_gemm_*; bitwise identical for any
 *              n_threads. Two or more threads split the first layer's weights in
 *              halves at the cut: the even threads read and write B's (nn) and C's
 *              (tn) rows below it, the odd ones the rest.
 *   cost     : about nnz(A)·n multiply-adds plus one compare per element of A (with
 *              AVX-512, pairs of rows of A (nn) or of neighbouring columns (tn) that
 *              share at least half of their nonzeros walk the union, loading B's rows
 *              once for both, each one's multiply-adds masked to its own), B read in
 *              64-row panels that stay in L1 (copied when B's rows are long); it beats
 *              the dense GEMM below about 0.6 nonzeros (gd_dense_fwd)
 *   memory   : about 170 KB (nn) or 105 KB (tn) of the calling thread's stack (a
 *              panel, the rows' chains)
 */
void gd_spmm_nn_f32(int64_t m, int64_t n, int64_t k, const float *a, const float *b,
                    float *c, float *scratch, int n_threads);
void gd_spmm_tn_f32(int64_t m, int64_t n, int64_t k, const float *a, const float *b,
                    float *c, int n_threads);
void gd_spmm_nn_f64(int64_t m, int64_t n, int64_t k, const double *a, const double *b,
                    double *c, double *scratch, int n_threads);
void gd_spmm_tn_f64(int64_t m, int64_t n, int64_t k, const double *a, const double *b,
                    double *c, int n_threads);
/* gd_sparse_max_density: the largest fraction of nonzero elements of a dense layer's
 * input X for which gd_dense_fwd / gd_dense_bwd use gd_spmm_* for X·W and Xᵀ·dZ
 * (default 0.5; 0 never, 1 always). A density < 0 only reads it. Returns the value it
 * had. Set it only while no kernel runs (it is a process-wide setting for benchmarks
 * and tests; the results are the same either way while the weights are finite). */
double gd_sparse_max_density(double density);
/* gd_count_nonzero_<dtype>: how many of x[0..n) are not zero (NaN counts); serial. */
int64_t gd_count_nonzero_f32(int64_t n, const float *x);
int64_t gd_count_nonzero_f64(int64_t n, const double *x);

/* Packed rows: a copy of a mostly-zero matrix x [n, f] that the training engine's
 * gather reads instead of x (gd_engine_t.packed). A batch of random rows then comes
 * from memory in a fraction of the lines: 0.22 of the bytes on MNIST's images.
 *   record   : one per row, 8-byte aligned, at packed + off[i]:
 *              int32 nz_lo, nz_hi  elements != 0 (NaN included) in columns [0, cut) and
 *                                  [cut, f), cut = where the first layer's sparse
 *                                  products split k (f itself below 128, else f/2
 *                                  rounded to a multiple of 16)
 *              int32 lo, count     values stored in columns [0, cut), and in all
 *              uint64 bits[(f + 63) / 64]  bit j % 64 of word j / 64: element j is stored
 *                                  (any bit set: every element but +0.0, -0.0 and NaN
 *                                  included, so unpacking gives x back bit for bit)
 *              T values[count]     the stored elements in column order, then zero bytes
 *                                  to a multiple of 8
 * gd_pack_rows_size_<dtype>: off[0] = 0, off[i + 1] = off[i] + the bytes of row i's
 *   record; returns off[n]. Reads x once.
 * gd_pack_rows_<dtype>: writes every record at out + off[i] (out 8-byte aligned, off
 *   from gd_pack_rows_size on the same x, out[0 .. off[n]) writable). Reads x once.
 * gd_unpack_rows_<dtype>: dst[i, :] = row rows[i] of the packed matrix, bit for bit, for
 *   i < m (rows in [0, n)); returns the nonzero count of the m rows (NaN counts).
 * threads: rows split statically; the bytes never depend on the thread count. */
int64_t gd_pack_rows_size_f32(int64_t n, int64_t f, const float *x, int64_t *off,
                              int n_threads);
int64_t gd_pack_rows_size_f64(int64_t n, int64_t f, const double *x, int64_t *off,
                              int n_threads);
void gd_pack_rows_f32(int64_t n, int64_t f, const float *x, const int64_t *off, void *out,
                      int n_threads);
void gd_pack_rows_f64(int64_t n, int64_t f, const double *x, const int64_t *off, void *out,
                      int n_threads);
int64_t gd_unpack_rows_f32(int64_t m, int64_t f, const void *packed, const int64_t *off,
                           const int64_t *rows, float *dst, int n_threads);
int64_t gd_unpack_rows_f64(int64_t m, int64_t f, const void *packed, const int64_t *off,
                           const int64_t *rows, double *dst, int n_threads);

int gd_gemm_nn_f32(int64_t m, int64_t n, int64_t k, float alpha,
                   const float *a, int64_t lda, const float *b, int64_t ldb,
                   float beta, float *c, int64_t ldc, int n_threads);
int gd_gemm_nt_f32(int64_t m, int64_t n, int64_t k, float alpha,
                   const float *a, int64_t lda, const float *b, int64_t ldb,
                   float beta, float *c, int64_t ldc, int n_threads);
int gd_gemm_tn_f32(int64_t m, int64_t n, int64_t k, float alpha,
                   const float *a, int64_t lda, const float *b, int64_t ldb,
                   float beta, float *c, int64_t ldc, int n_threads);
int gd_gemm_nn_f64(int64_t m, int64_t n, int64_t k, double alpha,
                   const double *a, int64_t lda, const double *b, int64_t ldb,
                   double beta, double *c, int64_t ldc, int n_threads);
int gd_gemm_nt_f64(int64_t m, int64_t n, int64_t k, double alpha,
                   const double *a, int64_t lda, const double *b, int64_t ldb,
                   double beta, double *c, int64_t ldc, int n_threads);
int gd_gemm_tn_f64(int64_t m, int64_t n, int64_t k, double alpha,
                   const double *a, int64_t lda, const double *b, int64_t ldb,
                   double beta, double *c, int64_t ldc, int n_threads);

/* ------------------------------------------------------------------------ */
/* Activations, dense layers, softmax, losses (gd_dense.c, gd_softmax_xent.c, */
/* gd_loss.c)                                                                */
/* ------------------------------------------------------------------------ */

/* Activation ids: Keras 3's activations with their default arguments. Each
 * derivative is computed from the activation's OUTPUT y (relu: y > 0; sigmoid:
 * y(1-y); tanh: 1-y²; softmax, row-wise: y ⊙ (g - Σ g·y); ...), except those of
 * GELU and SiLU, which need the INPUT x as well (gd_act_needs_input). */
typedef enum {
    GD_ACT_LINEAR = 0,
    GD_ACT_RELU = 1,
    GD_ACT_SIGMOID = 2,
    GD_ACT_TANH = 3,
    GD_ACT_SOFTMAX = 4,
    GD_ACT_LEAKY_RELU = 5,   /* x > 0 ? x : 0.2·x (Keras's negative_slope=0.2)      */
    GD_ACT_ELU = 6,          /* x > 0 ? x : exp(x) - 1 (alpha = 1)                  */
    GD_ACT_SELU = 7,         /* λ·(x > 0 ? x : α(exp(x) - 1)), α ≈ 1.6733, λ ≈ 1.0507 */
    GD_ACT_GELU = 8,         /* x·Φ(x) = x·erfc(-x/√2)/2 (exact, approximate=False) */
    GD_ACT_SOFTPLUS = 9,     /* log(1 + exp(x))                                     */
    GD_ACT_SOFTSIGN = 10,    /* x / (1 + |x|)                                       */
    GD_ACT_SILU = 11,        /* x·sigmoid(x) (Keras's silu, alias swish)            */
    GD_ACT_HARD_SIGMOID = 12,/* relu6(x + 3) / 6                                    */
    GD_ACT_RELU6 = 13,       /* min(max(x, 0), 6)                                   */
    GD_ACT_EXPONENTIAL = 14  /* exp(x)                                              */
} gd_act_t;

/* gd_act_needs_input: 1 when act's derivative needs the activation's input x (GELU,
 * SiLU): gd_act_bwd then needs x, and gd_dense_bwd needs Z = X·W + b, which
 * gd_dense_fwd writes when given a z buffer. 0 otherwise. */
int gd_act_needs_input(int act);

/* gd_act_fwd_<dtype>: apply an activation.
 *   math     : y = act(x) (softmax: over each row of n)
 *   shapes   : x[m,n] -> y[m,n]
 *   aliasing : y may equal x (in place), no other overlap
 *   threads  : softmax: rows split statically; the others: blocks of elements
 *              (GD_ACT_GRAIN) split statically; one thread below GD_ACT_MIN_PAR_WORK
 */
void gd_act_fwd_f32(int64_t m, int64_t n, int act, const float *x, float *y, int n_threads);
void gd_act_fwd_f64(int64_t m, int64_t n, int act, const double *x, double *y, int n_threads);

/* gd_act_bwd_<dtype>: gradient through an activation, from its output (and input).
 *   math     : dx = dy ⊙ act'(x), written with y = act(x)
 *              (softmax: dx = y ⊙ (dy - rowsum(dy ⊙ y)))
 *   shapes   : x[m,n] y[m,n] dy[m,n] -> dx[m,n]; x may be NULL unless
 *              gd_act_needs_input(act)
 *   aliasing : dx may equal dy (in place), no other overlap
 *   threads  : as gd_act_fwd
 */
void gd_act_bwd_f32(int64_t m, int64_t n, int act, const float *x, const float *y,
                    const float *dy, float *dx, int n_threads);
void gd_act_bwd_f64(int64_t m, int64_t n, int act, const double *x, const double *y,
                    const double *dy, double *dx, int n_threads);

/* gd_dense_fwd_<dtype>: dense layer forward, bias and activation fused.
 *   math     : Z = X · W + b ;  Y = act(Z)
 *   shapes   : X[m,k] W[k,n] b[n] (b may be NULL) -> Y[m,n], Z[m,n] (z may be NULL;
 *              gd_dense_bwd needs it when gd_act_needs_input(act))
 *   layout   : row-major, contiguous
 *   aliasing : Y, Z and scratch overlap no input and each other
 *   sparse X : with scratch[m*n] (may be NULL: never), a block of X with at most
 *              gd_sparse_max_density nonzeros (n >= 64) goes through gd_spmm_nn
 *              instead of the GEMM (see its numerics); scratch is overwritten
 *   threads  : per block of rows (about 1 MiB of Y, at least 256 rows): the NN GEMM
 *              (its own split, into Z when given, else Y), then bias + activation over
 *              the block's rows while they are in cache (as gd_act_fwd;
 *              GD_DENSE_MIN_PAR_WORK)
 *   returns  : GD_OK or GD_ENOMEM (GEMM workspace)
 */
int gd_dense_fwd_f32(int64_t m, int64_t k, int64_t n, const float *x, const float *w,
                     const float *b, int act, float *y, float *z, float *scratch,
                     int n_threads);
int gd_dense_fwd_f64(int64_t m, int64_t k, int64_t n, const double *x, const double *w,
                     const double *b, int act, double *y, double *z, double *scratch,
                     int n_threads);

/* gd_dense_bwd_<dtype>: dense layer backward, one batch.
 *   math     : dZ = dY ⊙ act'(Z) (from Y, and Z; written over dY) ; dX = dZ · Wᵀ ;
 *              dW = Xᵀ · dZ ; db = column sums of dZ
 *   shapes   : X[m,k] W[k,n] Y[m,n] Z[m,n] dY[m,n] -> dX[m,k] dW[k,n] db[n]
 *              (dX may be NULL: first layer; db may be NULL: no bias; Z may be NULL
 *              unless gd_act_needs_input(act))
 *   aliasing : dY is read then overwritten with dZ (for GD_ACT_LINEAR it is left
 *              as it is); no output overlaps an input or another output
 *   threads  : dZ as gd_act_bwd; dX (NT) and dW (TN) split by the GEMM; db split by
 *              blocks of 16 columns, each column summed over m by one thread in row
 *              order (no sum is ever split across threads)
 *   returns  : GD_OK or GD_ENOMEM (GEMM workspace)
 */
int gd_dense_bwd_f32(int64_t m, int64_t k, int64_t n, const float *x, const float *w,
                     const float *y, const float *z, float *dy, int act, float *dx,
                     float *dw, float *db, int n_threads);
int gd_dense_bwd_f64(int64_t m, int64_t k, int64_t n, const double *x, const double *w,
                     const double *y, const double *z, double *dy, int act, double *dx,
                     double *dw, double *db, int n_threads);

/* gd_softmax_xent_<dtype>: fused row softmax + cross-entropy, loss and gradient.
 *   math     : p = softmax(z) per row (max-subtracted, log-sum-exp);
 *              target t = onehot(labels[i]) when labels != NULL, else targets[i,:];
 *              from_logits != 0: lᵢ = -Σⱼ tᵢⱼ · log pᵢⱼ   (log p = z - max - log Σ exp)
 *                               dzᵢ = sᵢ · (pᵢ · Σⱼ tᵢⱼ - tᵢ)
 *              from_logits == 0 (Keras's cross-entropy on probabilities, which clips
 *                              p to [1e-7, 1 - 1e-7] before the log):
 *                               lᵢ = -Σⱼ tᵢⱼ · log clip(pᵢⱼ)
 *                               uᵢⱼ = tᵢⱼ · [1e-7 <= pᵢⱼ <= 1 - 1e-7]
 *                               dzᵢ = sᵢ · (pᵢ · Σⱼ uᵢⱼ - uᵢ)
 *              with sᵢ = wᵢ · grad_scale (wᵢ = sample_weight[i], or 1 when NULL);
 *              row_loss[i] = wᵢ · lᵢ; row_hit[i] = (argmax_j pᵢⱼ == argmax_j tᵢⱼ),
 *              first maximum on ties
 *   shapes   : z[m,n]; labels[m] (int32, 0 <= label < n) or targets[m,n];
 *              sample_weight[m] or NULL -> dz[m,n] (or NULL: loss only),
 *              row_loss[m], row_hit[m] (or NULL)
 *              n == 0 gives row_loss 0 and row_hit 0
 *   aliasing : dz may equal z (in place); nothing else overlaps
 *   threads  : rows split statically; the caller sums row_loss serially
 *   numerics : stable for |z| up to the dtype's range (no exp of a positive number);
 *              float's exp is gd_softmax_xent_impl.h's own (within 0.98 ulp on [-104, 0],
 *              vectorisable), double's libm's; with labels and n <= 32 the rows go
 *              through the vector lanes in blocks of 16, the same operations per element
 */
void gd_softmax_xent_f32(int64_t m, int64_t n, const float *z, const int32_t *labels,
                         const float *targets, const float *sample_weight, int from_logits,
                         float grad_scale, float *dz, float *row_loss, int32_t *row_hit,
                         int n_threads);
void gd_softmax_xent_f64(int64_t m, int64_t n, const double *z, const int32_t *labels,
                         const double *targets, const double *sample_weight, int from_logits,
                         double grad_scale, double *dz, double *row_loss, int32_t *row_hit,
                         int n_threads);

/* Loss ids for gd_loss_<dtype> (losses on the model's output p, not fused). */
typedef enum {
    GD_LOSS_MSE = 0,          /* lᵢ = mean_j (pᵢⱼ - tᵢⱼ)²                               */
    GD_LOSS_MAE = 1,          /* lᵢ = mean_j |pᵢⱼ - tᵢⱼ|  (d/dp of |0| taken as 0)      */
    GD_LOSS_BCE = 2,          /* lᵢ = -mean_j [t log c(p) + (1-t) log(1-c(p))], c = clip
                                 to [1e-7, 1-1e-7]; gradient 0 where the clip is active */
    GD_LOSS_BCE_LOGITS = 3,   /* lᵢ = mean_j [max(z,0) - z t + log(1 + exp(-|z|))]      */
    GD_LOSS_CCE = 4           /* lᵢ = -Σⱼ tᵢⱼ log c(pᵢⱼ), Keras's: p first divided by its
                                 row sum, then clipped; gradient 0 where clipped         */
} gd_loss_t;

/* gd_loss_<dtype>: a loss on the model's output and its gradient.
 *   math     : row_loss[i] = wᵢ · lᵢ (lᵢ as the loss id says);
 *              dp[i,j] = wᵢ · grad_scale · ∂lᵢ/∂pᵢⱼ
 *   shapes   : p[m,n] t[m,n] sample_weight[m] (or NULL) -> dp[m,n] (or NULL),
 *              row_loss[m]
 *   aliasing : none
 *   threads  : rows split statically; the caller sums row_loss serially
 */
void gd_loss_f32(int64_t m, int64_t n, int loss, const float *p, const float *t,
                 const float *sample_weight, float grad_scale, float *dp, float *row_loss,
                 int n_threads);
void gd_loss_f64(int64_t m, int64_t n, int loss, const double *p, const double *t,
                 const double *sample_weight, double grad_scale, double *dp,
                 double *row_loss, int n_threads);

/* ------------------------------------------------------------------------ */
/* Dropout and the L1/L2 weight penalty (gd_dropout.c)                        */
/* ------------------------------------------------------------------------ */

/* gd_dropout_key: the key of one dropout layer's mask at one training step.
 *   math     : mix(mix(mix(seed) ^ step) ^ layer), mix = SplitMix64's output function
 *              (z += 0x9E3779B97F4A7C15; z = (z ^ z>>30)·0xBF58476D1CE4E5B9;
 *               z = (z ^ z>>27)·0x94D049BB133111EB; z ^ z>>31), all mod 2⁶⁴ */
uint64_t gd_dropout_key(uint64_t seed, int64_t step, int64_t layer);

/* gd_dropout_fwd_<dtype>: inverted dropout with a counter-based generator.
 *   math     : idx = (share_rows ? 0 : i)·(share_cols ? 1 : n) + (share_cols ? 0 : j);
 *              u = (mix(key + idx) >> 11)·2⁻⁵³ (uniform in [0, 1), exact in double);
 *              keep = u >= rate; mask[i,j] = keep; y = keep ? x / (T)(1 - rate) : 0
 *              (share_rows: one mask row for every row, Keras's noise_shape (1, n);
 *              share_cols: one value per row, noise_shape (m, 1))
 *   shapes   : x[m,n] -> y[m,n], mask[m,n] (0 or 1)
 *   aliasing : y may equal x; mask overlaps nothing
 *   threads  : rows split statically; every element is a function of its index only
 */
void gd_dropout_fwd_f32(int64_t m, int64_t n, double rate, uint64_t key, int share_rows,
                        int share_cols, const float *x, float *y, float *mask, int n_threads);
void gd_dropout_fwd_f64(int64_t m, int64_t n, double rate, uint64_t key, int share_rows,
                        int share_cols, const double *x, double *y, double *mask,
                        int n_threads);

/* gd_dropout_bwd_<dtype>: dx = mask ? dy / (T)(1 - rate) : 0.
 *   shapes   : mask[m,n] dy[m,n] -> dx[m,n];  aliasing: dx may equal dy
 *   threads  : rows split statically
 */
void gd_dropout_bwd_f32(int64_t m, int64_t n, double rate, const float *mask, const float *dy,
                        float *dx, int n_threads);
void gd_dropout_bwd_f64(int64_t m, int64_t n, double rate, const double *mask,
                        const double *dy, double *dx, int n_threads);

/* gd_l1l2_blocks: the blocks gd_l1l2_penalty sums over (partials holds 2 per block). */
int64_t gd_l1l2_blocks(int64_t n);

/* gd_l1l2_penalty_<dtype>: Keras's L1L2 regularizer on one weight array.
 *   math     : returns l1·Σ|wᵢ| + l2·Σwᵢ² (sums in double);
 *              g (may be NULL) += (T)l1·sign(w) + (T)(2·l2)·w   (sign(0) = 0)
 *   shapes   : w[n] g[n] partials[2·gd_l1l2_blocks(n)] (scratch, overwritten)
 *   aliasing : none
 *   threads  : blocks of elements split statically; each block's sums are one
 *              thread's, added in block order: bitwise identical for any n_threads
 */
double gd_l1l2_penalty_f32(int64_t n, const float *w, double l1, double l2, float *g,
                           double *partials, int n_threads);
double gd_l1l2_penalty_f64(int64_t n, const double *w, double l1, double l2, double *g,
                           double *partials, int n_threads);

/* ------------------------------------------------------------------------ */
/* Optimizers over one flat buffer (gd_optim.c)                               */
/* ------------------------------------------------------------------------ */

/* gd_sgd_step_<dtype>: Keras 3 SGD, in place.
 *   math     : momentum == 0: w ← w - lr·g
 *              else          : v ← momentum·v - lr·g ;  w ← w + v
 *                              nesterov: w ← w + momentum·v - lr·g (with the new v)
 *   shapes   : w[n] g[n] v[n] (v unused and may be NULL when momentum == 0)
 *   aliasing : w, g, v distinct
 *   threads  : elements split statically (element-wise: any split is bitwise equal)
 */
void gd_sgd_step_f32(int64_t n, float *w, const float *g, float *v, float lr,
                     float momentum, int nesterov, int n_threads);
void gd_sgd_step_f64(int64_t n, double *w, const double *g, double *v, double lr,
                     double momentum, int nesterov, int n_threads);

/* gd_adam_step_<dtype>: Keras 3 Adam, in place.
 *   math     : m ← m + (g - m)(1 - beta_1) ;  v ← v + (g² - v)(1 - beta_2) ;
 *              amsgrad: vhat ← max(vhat, v), and vhat replaces v below ;
 *              w ← w - alpha · m / (√v + epsilon)
 *              alpha = lr·√(1 - beta_2ᵗ)/(1 - beta_1ᵗ) is computed by the caller
 *   shapes   : w[n] g[n] m[n] v[n] vhat[n] (vhat NULL unless amsgrad)
 *   aliasing : all distinct
 *   threads  : elements split statically
 */
void gd_adam_step_f32(int64_t n, float *w, const float *g, float *m, float *v, float *vhat,
                      float alpha, float beta_1, float beta_2, float epsilon, int n_threads);
void gd_adam_step_f64(int64_t n, double *w, const double *g, double *m, double *v,
                      double *vhat, double alpha, double beta_1, double beta_2,
                      double epsilon, int n_threads);

/* gd_rmsprop_step_<dtype>: Keras 3 RMSprop, in place.
 *   math     : v ← rho·v + (1 - rho)·g² ;
 *              centered: avg ← rho·avg + (1 - rho)·g, den = v - avg² + epsilon ;
 *              else den = v + epsilon (epsilon inside the square root) ;
 *              inc = lr·g / √den ; momentum: mom ← momentum·mom + inc, w ← w - mom ;
 *              else w ← w - inc
 *   shapes   : w[n] g[n] v[n] mom[n] (NULL when momentum == 0) avg[n] (NULL unless
 *              centered)
 *   aliasing : all distinct
 *   threads  : elements split statically in blocks (any split is bitwise equal)
 */
void gd_rmsprop_step_f32(int64_t n, float *w, const float *g, float *v, float *mom,
                         float *avg, float lr, float rho, float momentum, float epsilon,
                         int n_threads);
void gd_rmsprop_step_f64(int64_t n, double *w, const double *g, double *v, double *mom,
                         double *avg, double lr, double rho, double momentum,
                         double epsilon, int n_threads);

/* gd_adagrad_step_<dtype>: Keras 3 Adagrad, in place.
 *   math     : acc ← acc + g² ;  w ← w - lr·g / √(acc + epsilon)
 *              (acc starts at initial_accumulator_value: the caller fills it)
 *   shapes   : w[n] g[n] acc[n]
 *   aliasing : all distinct
 *   threads  : elements split statically
 */
void gd_adagrad_step_f32(int64_t n, float *w, const float *g, float *acc, float lr,
                         float epsilon, int n_threads);
void gd_adagrad_step_f64(int64_t n, double *w, const double *g, double *acc, double lr,
                         double epsilon, int n_threads);

/* gd_adamax_step_<dtype>: Keras 3 Adamax, in place.
 *   math     : m ← m + (g - m)(1 - beta_1) ;  u ← max(beta_2·u, |g|) ;
 *              w ← w - lr·m / (bias_1·(u + epsilon)),  bias_1 = 1 - beta_1ᵗ from the
 *              caller
 *   shapes   : w[n] g[n] m[n] u[n]
 *   aliasing : all distinct
 *   threads  : elements split statically
 */
void gd_adamax_step_f32(int64_t n, float *w, const float *g, float *m, float *u, float lr,
                        float bias_1, float beta_1, float beta_2, float epsilon,
                        int n_threads);
void gd_adamax_step_f64(int64_t n, double *w, const double *g, double *m, double *u,
                        double lr, double bias_1, double beta_1, double beta_2,
                        double epsilon, int n_threads);

/* gd_nadam_step_<dtype>: Keras 3 Nadam, in place.
 *   math     : m ← m + (g - m)(1 - beta_1) ;  v ← v + (g² - v)(1 - beta_2) ;
 *              m̂ = c_m·m + c_g·g ;  w ← w - m̂·lr / (√(v / bias_2) + epsilon)
 *              with, from the caller (_reference.nadam_coefficients):
 *              u_t = beta_1·(1 - 0.5·0.96ᵗ), Πₜ = u_1···u_t,
 *              c_m = u_{t+1} / (1 - Πₜ·u_{t+1}), c_g = (1 - u_t) / (1 - Πₜ),
 *              bias_2 = 1 - beta_2ᵗ
 *   shapes   : w[n] g[n] m[n] v[n]
 *   aliasing : all distinct
 *   threads  : elements split statically
 */
void gd_nadam_step_f32(int64_t n, float *w, const float *g, float *m, float *v, float lr,
                       float c_m, float c_g, float bias_2, float beta_1, float beta_2,
                       float epsilon, int n_threads);
void gd_nadam_step_f64(int64_t n, double *w, const double *g, double *m, double *v,
                       double lr, double c_m, double c_g, double bias_2, double beta_1,
                       double beta_2, double epsilon, int n_threads);

/* gd_adadelta_step_<dtype>: Keras 3 Adadelta, in place.
 *   math     : ag ← rho·ag + (1 - rho)·g² ;
 *              δ = -√(ad + epsilon)·g / √(ag + epsilon) ;
 *              ad ← rho·ad + (1 - rho)·δ² ;  w ← w + lr·δ
 *   shapes   : w[n] g[n] ag[n] ad[n]
 *   aliasing : all distinct
 *   threads  : elements split statically
 */
void gd_adadelta_step_f32(int64_t n, float *w, const float *g, float *ag, float *ad,
                          float lr, float rho, float epsilon, int n_threads);
void gd_adadelta_step_f64(int64_t n, double *w, const double *g, double *ag, double *ad,
                          double lr, double rho, double epsilon, int n_threads);

/* gd_scale_<dtype>: w ← w·factor in place (decoupled weight decay: factor =
 *              1 - lr·weight_decay, as Keras's torch backend multiplies).
 *   shapes   : w[n]
 *   threads  : elements split statically
 */
void gd_scale_f32(int64_t n, float *w, float factor, int n_threads);
void gd_scale_f64(int64_t n, double *w, double factor, int n_threads);

/* Gradient clipping modes (Keras's clipvalue, clipnorm, global_clipnorm). */
typedef enum {
    GD_CLIP_NONE = 0,
    GD_CLIP_VALUE = 1,       /* g ← min(max(g, -clip), clip) element-wise            */
    GD_CLIP_NORM = 2,        /* each variable: g ← g·clip / max(‖g‖₂, clip)           */
    GD_CLIP_GLOBAL_NORM = 3  /* all variables: g ← g·clip / max(‖all g‖₂, clip)       */
} gd_clip_t;

/* gd_clip_grads_<dtype>: Keras 3 gradient clipping, in place.
 *   math     : as gd_clip_t says; a NaN norm makes the clipped gradients NaN
 *   shapes   : g[n]; blocks[n_blocks][3] = (lo, hi, variable id): the ranges of g
 *              the norms sum, each inside one variable, a variable's blocks
 *              consecutive and in order (at most a few thousand elements each);
 *              scratch double[n_blocks]. GD_CLIP_VALUE uses neither (clips g[0, n)).
 *   aliasing : g, blocks, scratch distinct
 *   threads  : blocks split statically; each block's Σg² is summed by one thread in
 *              16 fixed lanes, and the blocks' sums are added in order by one thread:
 *              bitwise identical for any n_threads
 */
void gd_clip_grads_f32(int64_t n, int64_t n_blocks, const int64_t *blocks, float *g,
                       int mode, double clip, double *scratch, int n_threads);
void gd_clip_grads_f64(int64_t n, int64_t n_blocks, const int64_t *blocks, double *g,
                       int mode, double clip, double *scratch, int n_threads);

/* ------------------------------------------------------------------------ */
/* Metrics (gd_metric.c)                                                     */
/* ------------------------------------------------------------------------ */

/* Metric ids (Keras's names). */
typedef enum {
    GD_METRIC_SPARSE_ACC = 0, /* argmax_j pᵢⱼ == labels[i] (first maximum on ties)     */
    GD_METRIC_CAT_ACC = 1,    /* argmax_j pᵢⱼ == argmax_j tᵢⱼ                           */
    GD_METRIC_BIN_ACC = 2,    /* mean_j [(pᵢⱼ > 0.5) == (tᵢⱼ > 0.5)]                     */
    GD_METRIC_MSE = 3,        /* mean_j (pᵢⱼ - tᵢⱼ)²                                    */
    GD_METRIC_MAE = 4,        /* mean_j |pᵢⱼ - tᵢⱼ|                                     */
    GD_METRIC_TOPK_CAT = 5,   /* #{j : pᵢⱼ > pᵢc} < k, c = argmax_j tᵢⱼ (ties count in) */
    GD_METRIC_SPARSE_TOPK = 6 /* #{j : pᵢⱼ > pᵢc} < k, c = labels[i]                   */
} gd_metric_t;

/* gd_metric_<dtype>: a per-sample metric on the model's output.
 *   math     : row_out[i] = the metric of row i, as the id says (unweighted); k is the
 *              k of the top-k metrics (ignored by the others)
 *   shapes   : p[m,n]; labels[m] (SPARSE_ACC, SPARSE_TOPK) or t[m,n] (the others)
 *              -> row_out[m]
 *   aliasing : none
 *   threads  : rows split statically; the caller sums row_out serially
 */
void gd_metric_f32(int64_t m, int64_t n, int metric, int64_t k, const float *p,
                   const int32_t *labels, const float *t, float *row_out, int n_threads);
void gd_metric_f64(int64_t m, int64_t n, int metric, int64_t k, const double *p,
                   const int32_t *labels, const double *t, double *row_out, int n_threads);

/* ------------------------------------------------------------------------ */
/* The training engine (gd_engine.c)                                         */
/* ------------------------------------------------------------------------ */

/* One layer of a plan. */
typedef enum { GD_OP_DENSE = 0, GD_OP_ACT = 1, GD_OP_DROPOUT = 2 } gd_op_t;

typedef struct {
    int32_t kind;    /* gd_op_t                                                   */
    int32_t act;     /* gd_act_t applied by the op                                */
    int64_t n_in;    /* input width                                               */
    int64_t n_out;   /* output width (== n_in for GD_OP_ACT and GD_OP_DROPOUT)    */
    int64_t w_off;   /* dense: offset of W[n_in, n_out] in params and grads       */
    int64_t b_off;   /* dense: offset of b[n_out], or -1 without bias             */
    /* dropout: rate in [0, 1]; the mask of step t is keyed by
     * gd_dropout_key(seed, t, layer index) (t = *iterations before the step);
     * share_rows / share_cols as gd_dropout_fwd. Training only: identity in eval. */
    double rate;
    uint64_t seed;
    int32_t share_rows, share_cols;
    /* dense: Keras's L1L2 regularizers on W and b (0: none); the penalty enters the
     * loss once per batch, its gradient the weights' gradients */
    double kernel_l1, kernel_l2, bias_l1, bias_l2;
} gd_layer_t;

typedef enum {
    GD_OPT_SGD = 0, GD_OPT_ADAM = 1, GD_OPT_RMSPROP = 2, GD_OPT_ADAGRAD = 3,
    GD_OPT_NADAM = 4, GD_OPT_ADAMAX = 5, GD_OPT_ADADELTA = 6
} gd_opt_t;

#define GD_MAX_METRICS 8

/* A model, its loss, metrics and optimizer, with pointers to the caller's buffers.
 * T is float (f32 entry points) or double (f64): the void pointers hold T arrays.
 * The engine keeps no pointer after a call returns and allocates nothing. */
typedef struct {
    int32_t n_layers;
    const gd_layer_t *layers;
    int64_t n_features;       /* width of x rows (== layers[0].n_in)                 */
    int64_t n_outputs;        /* width of the model's output                         */
    /* loss */
    int32_t fused_xent;       /* 1: softmax + cross-entropy fused (gd_softmax_xent)  */
    int32_t skip_last_act;    /* 1: the last op's softmax is folded into the loss    */
    int32_t from_logits;      /* fused: from_logits flag of gd_softmax_xent          */
    int32_t loss;             /* not fused: a gd_loss_t                              */
    int32_t sparse;           /* 1: labels int32[N]; 0: targets T[N, n_outputs]      */
    int32_t n_metrics;
    int32_t metrics[GD_MAX_METRICS]; /* gd_metric_t                                  */
    int32_t metric_k[GD_MAX_METRICS];        /* k of a top-k metric                  */
    int32_t metric_weighted[GD_MAX_METRICS]; /* 1: summed times the sample weights   */
    /* optimizer */
    int32_t opt;              /* gd_opt_t                                            */
    int32_t nesterov, amsgrad, centered;
    double learning_rate, momentum, beta_1, beta_2, epsilon, rho;
    double weight_decay;      /* 0: none; else w ← w·(1 - lr·weight_decay) first     */
    int64_t n_decay_segments; /* with decay_segments not NULL: only these (offset,   */
    const int64_t *decay_segments; /* size) pairs decay; NULL: every parameter       */
    int32_t clip_mode;        /* gd_clip_t, applied to the gradients before that     */
    double clip;              /* its threshold                                       */
    int64_t n_clip_blocks;    /* gd_clip_grads's block table and scratch             */
    const int64_t *clip_blocks;
    double *clip_scratch;
    double *opt_state;        /* Nadam: [t, Πₜ] of the last step (a cache: recomputed
                                 when t does not follow)                             */
    const double *lr_steps;   /* NULL: learning_rate every step; else the rate of   */
                              /* step s of a gd_engine_train run is lr_steps[s]     */
                              /* (n_steps entries, a schedule evaluated by Python)  */
    /* parameters, gradients, optimizer slots: flat T[n_params] arrays */
    int64_t n_params;
    void *params, *grads;
    void *slot0, *slot1, *slot2; /* SGD: velocity (momentum != 0); Adam: m, v, vhat;
                                    RMSprop: velocity, momentum, average gradient;
                                    Adagrad: accumulator; Nadam: m, v; Adamax: m, u;
                                    Adadelta: accumulated grad, accumulated delta */
    int64_t *iterations;         /* optimizer steps taken so far (updated in place) */
    /* data: x T[N, n_features]; labels int32[N] or targets T[N, n_outputs];
     * sample_weight T[N] or NULL; index int64[*] selects rows (NULL: in order) */
    int64_t n_samples;
    const void *x;
    const int32_t *labels;
    const void *targets;
    const void *sample_weight;
    const int64_t *index;
    /* packed: NULL, or x packed (gd_pack_rows_*, record of row r at packed +
     * packed_off[r]); training batches are then gathered from it (the same bits) */
    const void *packed;
    const int64_t *packed_off;
    /* workspace for batches of up to max_batch rows: gd_engine_workspace() elements */
    int64_t max_batch;
    void *ws;
    int32_t *iws;
} gd_engine_t;

/* gd_engine_workspace: the T elements (*n_ws) and int32 elements (*n_iws) of
 * workspace an engine needs for batches of up to max_batch rows. */
void gd_engine_workspace(const gd_engine_t *e, int64_t max_batch, int64_t *n_ws,
                         int64_t *n_iws);

/* gd_engine_train_<dtype>: a run of training steps, without the GIL.
 *   math     : for s in [0, n_steps): rows r = index[start + s·batch ...] (the last
 *              batch of the data may be short); forward, loss, backward, one
 *              optimizer update of every parameter (iterations += 1 each step)
 *   outputs  : sums[0] += Σ row losses (sample-weighted), sums[1 + j] += Σ metric j
 *              over rows (Σ wᵢ·metricᵢ when metric_weighted[j]), sums[1 + n_metrics]
 *              += Σ wᵢ (rows seen without sample weights), sums[2 + n_metrics] += rows
 *              seen; params, slots, iterations
 *              updated in place
 *   threads  : one parallel region for the whole run; kernels share its team
 *   numerics : bitwise identical for any n_threads on one ISA
 *   returns  : GD_OK, GD_EINVAL (batch > max_batch or rows out of range), GD_ENOMEM
 */
int gd_engine_train_f32(const gd_engine_t *e, int64_t start, int64_t n_steps, int64_t batch,
                        double *sums, int n_threads);
int gd_engine_train_f64(const gd_engine_t *e, int64_t start, int64_t n_steps, int64_t batch,
                        double *sums, int n_threads);

/* gd_engine_eval_<dtype>: forward and loss over rows [start, start + count) (through
 * index when it is not NULL) in batches of `batch`; sums as gd_engine_train; with
 * `out` not NULL (T[count, n_outputs]) also writes the model's outputs there (with
 * the final activation applied). No parameter changes. With check_x, each batch's
 * input rows are first checked for NaN and inf while they come into cache (one read of
 * the data instead of a separate validation pass): at the first bad batch the run
 * stops and returns GD_ENONFINITE (out then holds the earlier batches' rows).
 * Without loss and index (predict), as many whole batches as max_batch holds go
 * through each forward, each batch's rows getting the bits a forward of that batch
 * alone gives them (dense layers decide sparse or dense per batch); check_x then
 * stops at the first bad span. */
int gd_engine_eval_f32(const gd_engine_t *e, int64_t start, int64_t count, int64_t batch,
                       int with_loss, double *sums, void *out, int check_x, int n_threads);
int gd_engine_eval_f64(const gd_engine_t *e, int64_t start, int64_t count, int64_t batch,
                       int with_loss, double *sums, void *out, int check_x, int n_threads);

#ifdef __cplusplus
}
#endif
#endif /* GRADIENTE_GD_KERNELS_H */
