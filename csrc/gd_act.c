/* Activations forward and backward (gd_act_fwd_*, gd_act_bwd_*): both dtypes from
 * the templates gd_act_team.h (rows, team loops) and gd_act_impl.h (entry points). */
#include "gd_internal.h"

/* Below this many work units (elements; transcendental ones count 8) one thread runs.
 * Measured on a 2-core AMD EPYC: two threads win above about 8K sigmoid elements
 * (64K units). Override with -D at build time to measure again. */
#ifndef GD_ACT_MIN_PAR_WORK
#define GD_ACT_MIN_PAR_WORK 65536.0
#endif

int gd_act_needs_input(int act) { return act == GD_ACT_GELU || act == GD_ACT_SILU; }

#define GD_TMPL_F32
#include "gd_tmpl_begin.h"
#include "gd_act_team.h"
#include "gd_act_impl.h"
#include "gd_tmpl_end.h"

#define GD_TMPL_F64
#include "gd_tmpl_begin.h"
#include "gd_act_team.h"
#include "gd_act_impl.h"
#include "gd_tmpl_end.h"
