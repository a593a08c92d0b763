/* Template prologue (private): the kernels in gd_*_impl.h are written once for both
 * dtypes. Define GD_TMPL_F32 or GD_TMPL_F64, include this file, include the impl
 * file(s), then include gd_tmpl_end.h. No include guard: included once per dtype.
 *   GD_T        the element type
 *   GD_FN(name) name_f32 / name_f64
 *   GD_EXP ...  the libm function of that precision
 *   GD_EXP_SHIFTED  e^x for x <= 0: gd_exp_shifted_f32 (vectorises), or libm's exp
 *   GD_CLIP_LO, GD_CLIP_HI  Keras's probability clip [1e-7, 1 - 1e-7], rounded to GD_T
 *                           exactly as NumPy rounds the Python floats of _reference */
#include <math.h>
#include <stddef.h>
#include "gd_internal.h"

#if defined(GD_TMPL_F32)
#define GD_T float
#define GD_FN(name) name##_f32
#define GD_EXP expf
#define GD_EXP_SHIFTED gd_exp_shifted_f32
#define GD_LOG logf
#define GD_LOG1P log1pf
#define GD_EXPM1 expm1f
#define GD_ERFC erfcf
#define GD_TANH tanhf
#define GD_SQRT sqrtf
#define GD_FABS fabsf
#define GD_GEMM_NN gd_gemm_nn_f32
#define GD_GEMM_NT gd_gemm_nt_f32
#define GD_GEMM_TN gd_gemm_tn_f32
#define GD_SPMM_NN gd_spmm_nn_f32
#define GD_SPMM_TN gd_spmm_tn_f32
#define GD_COUNT_NONZERO gd_count_nonzero_f32
#elif defined(GD_TMPL_F64)
#define GD_T double
#define GD_FN(name) name##_f64
#define GD_EXP exp
#define GD_EXP_SHIFTED exp
#define GD_LOG log
#define GD_LOG1P log1p
#define GD_EXPM1 expm1
#define GD_ERFC erfc
#define GD_TANH tanh
#define GD_SQRT sqrt
#define GD_FABS fabs
#define GD_GEMM_NN gd_gemm_nn_f64
#define GD_GEMM_NT gd_gemm_nt_f64
#define GD_GEMM_TN gd_gemm_tn_f64
#define GD_SPMM_NN gd_spmm_nn_f64
#define GD_SPMM_TN gd_spmm_tn_f64
#define GD_COUNT_NONZERO gd_count_nonzero_f64
#else
#error "define GD_TMPL_F32 or GD_TMPL_F64 before including gd_tmpl_begin.h"
#endif

#define GD_CLIP_LO ((GD_T)1e-7)
#define GD_CLIP_HI ((GD_T)(1.0 - 1e-7))
