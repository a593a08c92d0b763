/* Optimizer steps over one flat parameter buffer (Keras 3's optimizers, gradient
 * clipping, weight decay): the baseline-ISA variants (_generic) of the template
 * gd_optim_impl.h, both dtypes. gd_optim_avx2.c and gd_optim_avx512.c compile the same
 * template with their flags; gd_dispatch.c picks one at run time. */
#include "gd_internal.h"

#define GD_ISA generic

#define GD_TMPL_F32
#include "gd_tmpl_begin.h"
#include "gd_optim_impl.h"
#include "gd_tmpl_end.h"

#define GD_TMPL_F64
#include "gd_tmpl_begin.h"
#include "gd_optim_impl.h"
#include "gd_tmpl_end.h"
