/* Portable GEMM ("generic" variant, baseline flags only): the blocked, packed driver of
 * gd_gemm_tmpl.h on a scalar 4x4 register tile that the compiler may vectorise with
 * the baseline ISA. Exported as gd_gemm_{nn,nt,tn}_{f32,f64}_generic; the public names
 * gd_gemm_{nn,nt,tn}_{f32,f64} live in gd_dispatch.c and go through the table. */
#include "gd_internal.h"

#define V_ZERO() 0
#define V_LOAD(p) (*(p))
#define V_STORE(p, v) (*(p) = (v))
#define V_BCAST(x) (x)
#define V_FMA(a, b, c) ((a) * (b) + (c))
#define V_MUL(a, b) ((a) * (b))
#define VL 1
#define NV 4
#define MR 4
#define KC 256
#define MC 128

#define T float
#define V float
#define GD_SFX f32_generic
#define NC 512
#include "gd_gemm_tmpl.h"
#undef T
#undef V
#undef GD_SFX
#undef NC

#define T double
#define V double
#define GD_SFX f64_generic
#define NC 256
#include "gd_gemm_tmpl.h"
