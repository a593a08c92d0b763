/* Losses on the model's output (mse, mae, bce, bce_logits, cce), row losses and
 * gradient, both dtypes from the template gd_loss_impl.h. */
#include "gd_internal.h"

/* Below this many work units (elements x 10) one thread runs. */
#ifndef GD_LOSS_MIN_PAR_WORK
#define GD_LOSS_MIN_PAR_WORK 65536.0
#endif

#define GD_TMPL_F32
#include "gd_tmpl_begin.h"
#include "gd_loss_impl.h"
#include "gd_tmpl_end.h"

#define GD_TMPL_F64
#include "gd_tmpl_begin.h"
#include "gd_loss_impl.h"
#include "gd_tmpl_end.h"
