/* Optimizer steps over one flat parameter buffer (Keras 3 SGD and Adam), both dtypes
 * from the template gd_optim_impl.h. */
#include "gd_internal.h"

/* Elements per block of the static split (a multiple of every vector width). */
#define GD_OPTIM_GRAIN 2048
/* Below these many elements one thread runs. Measured (best of 15, float32) on a
 * 2-core AMD EPYC: two threads win over one above about 8K Adam elements and 16K
 * SGD elements; the thresholds sit at twice that, for machines with a slower team
 * start. Override with -D at build time to measure again. */
#ifndef GD_SGD_MIN_PAR_ELEMS
#define GD_SGD_MIN_PAR_ELEMS 32768.0
#endif
#ifndef GD_ADAM_MIN_PAR_ELEMS
#define GD_ADAM_MIN_PAR_ELEMS 16384.0
#endif

#define GD_TMPL_F32
#include "gd_tmpl_begin.h"
#include "gd_optim_impl.h"
#include "gd_tmpl_end.h"

#define GD_TMPL_F64
#include "gd_tmpl_begin.h"
#include "gd_optim_impl.h"
#include "gd_tmpl_end.h"
