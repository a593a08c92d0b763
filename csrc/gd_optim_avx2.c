/* The optimizer kernels, avx2 variant: the template gd_optim_impl.h compiled with the
 * AVX2+FMA flags (CMake, by file suffix), so GCC vectorises its loops to that
 * width. Called only through the dispatch table when the CPU has the ISA. */
#include "gd_internal.h"
#if defined(__x86_64__) || defined(_M_X64)

#define GD_ISA avx2

#define GD_TMPL_F32
#include "gd_tmpl_begin.h"
#include "gd_optim_impl.h"
#include "gd_tmpl_end.h"

#define GD_TMPL_F64
#include "gd_tmpl_begin.h"
#include "gd_optim_impl.h"
#include "gd_tmpl_end.h"

#else
typedef int gd_optim_avx2_unused; /* ISO C: no empty translation unit */
#endif
