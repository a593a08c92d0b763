/* Optimizer steps over one flat parameter buffer (Keras 3 SGD and Adam), both dtypes
 * from the template gd_optim_impl.h. */
#include "gd_internal.h"

/* Elements per block of the static split (a multiple of every vector width). */
#define GD_OPTIM_GRAIN 2048
/* Below these many elements one thread runs (a team costs a few microseconds; an
 * Adam element about 0.2 ns single-threaded). */
#define GD_SGD_MIN_PAR_ELEMS 131072.0
#define GD_ADAM_MIN_PAR_ELEMS 32768.0

#define GD_TMPL_F32
#include "gd_tmpl_begin.h"
#include "gd_optim_impl.h"
#include "gd_tmpl_end.h"

#define GD_TMPL_F64
#include "gd_tmpl_begin.h"
#include "gd_optim_impl.h"
#include "gd_tmpl_end.h"
