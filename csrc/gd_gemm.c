/* Portable GEMM ("generic" variant, baseline flags only): the blocked, packed driver of
 * gd_gemm_tmpl.h on a 4 x (2 registers) tile. With GCC or Clang a "register" is a
 * 16-byte vector (generic vector extensions: SSE2 on x86-64, NEON on aarch64); with
 * other compilers it is one scalar. Multiply and add stay separate (no contraction in
 * ISO C mode), so results are the same for every thread count.
 * Exported as gd_gemm_{nn,nt,tn}_{f32,f64}_generic; the public names live in
 * gd_dispatch.c and go through the table. */
#include <string.h>
#include "gd_internal.h"

#define NV 2
#define MR 4
#define KC 256
#define MC 128
#define V_MUL(a, b) ((a) * (b))
#define V_FMA(a, b, c) ((a) * (b) + (c))

#if defined(__GNUC__) || defined(__clang__)
typedef float gd_v4f __attribute__((vector_size(16)));
typedef double gd_v2d __attribute__((vector_size(16)));
static inline gd_v4f gd_v4f_load(const float *p) { gd_v4f v; memcpy(&v, p, sizeof v); return v; }
static inline void gd_v4f_store(float *p, gd_v4f v) { memcpy(p, &v, sizeof v); }
static inline gd_v4f gd_v4f_bcast(float x) { gd_v4f v = {x, x, x, x}; return v; }
static inline gd_v2d gd_v2d_load(const double *p) { gd_v2d v; memcpy(&v, p, sizeof v); return v; }
static inline void gd_v2d_store(double *p, gd_v2d v) { memcpy(p, &v, sizeof v); }
static inline gd_v2d gd_v2d_bcast(double x) { gd_v2d v = {x, x}; return v; }

#define T float
#define V gd_v4f
#define VL 4
#define GD_SFX f32_generic
#define NC 512
#define V_ZERO() gd_v4f_bcast(0.0f)
#define V_LOAD(p) gd_v4f_load(p)
#define V_STORE(p, v) gd_v4f_store((p), (v))
#define V_BCAST(x) gd_v4f_bcast(x)
#include "gd_gemm_tmpl.h"
#include "gd_gemm_isa_end.h"

#define T double
#define V gd_v2d
#define VL 2
#define GD_SFX f64_generic
#define NC 256
#define V_ZERO() gd_v2d_bcast(0.0)
#define V_LOAD(p) gd_v2d_load(p)
#define V_STORE(p, v) gd_v2d_store((p), (v))
#define V_BCAST(x) gd_v2d_bcast(x)
#include "gd_gemm_tmpl.h"

#else /* scalar "registers" */
#define V_ZERO() 0
#define V_LOAD(p) (*(p))
#define V_STORE(p, v) (*(p) = (v))
#define V_BCAST(x) (x)
#define VL 1

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
#endif
