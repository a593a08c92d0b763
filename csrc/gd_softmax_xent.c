/* Fused row softmax + cross-entropy (loss, gradient, hits), both dtypes from the
 * template gd_softmax_xent_impl.h. */
#include "gd_internal.h"

/* Below this many work units (elements x 20: two exps and a log each) one thread
 * runs. */
#ifndef GD_SOFTMAX_XENT_MIN_PAR_WORK
#define GD_SOFTMAX_XENT_MIN_PAR_WORK 65536.0
#endif

#define GD_TMPL_F32
#include "gd_tmpl_begin.h"
#include "gd_softmax_xent_impl.h"
#include "gd_tmpl_end.h"

#define GD_TMPL_F64
#include "gd_tmpl_begin.h"
#include "gd_softmax_xent_impl.h"
#include "gd_tmpl_end.h"
