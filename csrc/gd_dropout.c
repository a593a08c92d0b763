/* Dropout (gd_dropout_fwd_*, gd_dropout_bwd_*) with a counter-based generator, and
 * the L1/L2 weight penalty (gd_l1l2_penalty_*): both dtypes from gd_dropout_impl.h.
 *
 * The generator: every random number is a pure function of (seed, step, layer,
 * element index), so a mask is the same whatever the thread count or the split, and
 * _reference draws the same mask with NumPy. gd_mix64 is SplitMix64's output
 * function (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
 * OOPSLA 2014): a bijection of 64-bit words with good avalanche. */
#include "gd_internal.h"

/* Below this many elements one thread runs. */
#define GD_DROPOUT_MIN_PAR_WORK 65536.0
/* The penalty sums |w| and w² over blocks of this many elements (the block sums are
 * then added in block order: one summation order for any thread count). */
#define GD_PENALTY_BLOCK 4096

static inline uint64_t gd_mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t gd_dropout_key(uint64_t seed, int64_t step, int64_t layer) {
    return gd_mix64(gd_mix64(gd_mix64(seed) ^ (uint64_t)step) ^ (uint64_t)layer);
}

/* Uniform in [0, 1) with 53 random bits, exact in double. */
static inline double gd_uniform(uint64_t key, uint64_t index) {
    return (double)(gd_mix64(key + index) >> 11) * 0x1p-53;
}

int64_t gd_l1l2_blocks(int64_t n) { return (n + GD_PENALTY_BLOCK - 1) / GD_PENALTY_BLOCK; }

#define GD_TMPL_F32
#include "gd_tmpl_begin.h"
#include "gd_dropout_impl.h"
#include "gd_tmpl_end.h"

#define GD_TMPL_F64
#include "gd_tmpl_begin.h"
#include "gd_dropout_impl.h"
#include "gd_tmpl_end.h"
