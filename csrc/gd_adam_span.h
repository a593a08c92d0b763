/* Adam's elementwise update (private): the optimizer kernel (gd_optim_impl.h) and the
 * training engine's first-layer update fused into its weight gradient (gd_spmm_tmpl.h,
 * gd_tn_adam in gd_internal.h) both run gd_adam_span_*, so they give the same bits.
 * Keras 3's formula, operation by operation (alpha bias-corrected by the caller):
 *   m <- m + (g - m)·(1 - beta_1);  v <- v + (g² - v)·(1 - beta_2);
 *   amsgrad: vhat <- max(vhat, v);  w <- w - alpha·m / (sqrt(v or vhat) + epsilon). */
#ifndef GD_ADAM_SPAN_H
#define GD_ADAM_SPAN_H
#include <float.h>
#include <math.h>
#include "gd_internal.h"

/* The constants of one step: gd_adam_prep_* makes them from the hyper-parameters, in
 * the element type, the same way in every file (no contraction: ISO C mode). */
typedef struct {
    float alpha, c1, c2, epsilon, small_d, tiny_m, w_lim;
} gd_adam_args_f32;
typedef struct {
    double alpha, c1, c2, epsilon;
} gd_adam_args_f64;

/* Adam's float update without operations whose results underflow (where the
 * including file is compiled for FMA: the avx2 and avx512 variants).
 *
 * Why: a parameter whose gradient stays zero (a pixel that is always blank, a ReLU
 * unit that never fires) has its first moment decay by beta_1 each step, into the
 * subnormal range and through it. A multiply or divide with a subnormal result is
 * slow on the cores we measured (AMD Zen 4: a vector multiply or divide with such a
 * lane takes up to twice its time), and after two epochs on MNIST a quarter of the
 * seed model's Adam vectors hold one. Flushing them to zero (FTZ/DAZ) would change
 * the results; this computes the plain loop's bits without those operations:
 *   e = (g - m)·c1, when |g - m| < small_d (then |e| <= 2^-127): fma(d, c1, M) - M with
 *       M = 1.5·2^-126. The sum lies in [2^-126, 2^-125], where floats are 2^-149
 *       apart as subnormals are, so it is rounded once onto their grid (ties to even
 *       alike: M is an even multiple of 2^-149), and M's subtraction is exact. A zero
 *       takes the sign of d·c1 (c1 > 0), as the product's rounding gives it (it
 *       shows in m + e when m is -0).
 *   w - alpha·m/den, when |m| < tiny_m (so |alpha·m| < 2^-126) and |w| >= w_lim:
 *       then |alpha·m/den| is below a quarter of w's spacing (den >= epsilon > 0, or
 *       inf, or NaN), and the update leaves w as it is, as w - 0/den does: m is
 *       replaced by 0 in that lane (a NaN den gives the same NaN: 0/NaN is NaN).
 * gd_adam_prep_f32 rounds each limit toward the safe side and switches a part off
 * (limit 0 or inf) where its premise fails (c1 outside (0, 1], alpha 0, inf or NaN,
 * epsilon not > 0). tests/test_optim_subnormal.py compares the bits with the plain
 * loop's (the generic ISA's) over moments and weights at and around these limits.
 * Measured, the training engine alternating this loop and the plain one step by step
 * (TSC cycles of the optimizer phase, 2 threads): the seed model on MNIST 0.74-0.78x
 * the plain loop's time from its second epoch (0.87x in the first, before the moments
 * reach the subnormals), about 15k of a step's 200k cycles; the big MLP 1.02-1.05x
 * (its Adam waits on memory, and has fewer such lanes); the seed model on dense
 * Gaussian inputs, without such lanes, 0.99-1.12x (noise). */
static inline float gd_round_down_f32_(double x) {
    float f = (float)x;
    return (double)f > x ? nextafterf(f, 0.0f) : f;
}
static inline float gd_round_up_f32_(double x) {
    float f = (float)x;
    return (double)f < x ? nextafterf(f, HUGE_VALF) : f;
}
static inline gd_adam_args_f32 gd_adam_prep_f32(float alpha, float beta_1, float beta_2,
                                                float epsilon) {
    gd_adam_args_f32 p;
    double a = fabs((double)alpha);
    p.alpha = alpha;
    p.c1 = 1.0f - beta_1;
    p.c2 = 1.0f - beta_2;
    p.epsilon = epsilon;
    p.small_d = p.c1 > 0 && p.c1 <= 1 ? gd_round_down_f32_(0x1p-127 / (double)p.c1) : 0.0f;
    p.tiny_m = a > 0 && a <= FLT_MAX ? gd_round_down_f32_(0x1p-126 / a) : 0.0f;
    if (epsilon > 0) {
        /* |alpha·m/den| <= q, and the floats next to a normal w are at least |w|·2^-24
         * apart: |w| >= 2^26·q (>= 2^-123, so w is normal) leaves w as it is. */
        double q = 0x1p-126 / (double)epsilon * (1 + 0x1p-23) + 0x1p-149;
        p.w_lim = gd_round_up_f32_(q * 0x1p26);
    } else {
        p.w_lim = HUGE_VALF;
    }
    return p;
}
static inline gd_adam_args_f64 gd_adam_prep_f64(double alpha, double beta_1, double beta_2,
                                                double epsilon) {
    gd_adam_args_f64 p;
    p.alpha = alpha;
    p.c1 = 1.0 - beta_1;
    p.c2 = 1.0 - beta_2;
    p.epsilon = epsilon;
    return p;
}

#ifdef __FMA__
/* m + (g - m)·c1, rounded as the plain formula rounds it */
static GD_ALWAYS_INLINE float gd_adam_moment_f32_(float gi, float mo, float c1,
                                                  float small_d) {
    const float M = 0x1.8p-126f;
    float d = gi - mo;
    int small = fabsf(d) < small_d;
    float e_small = copysignf(fmaf(d, c1, M) - M, d);
    float e = (small ? 1.0f : d) * c1;
    return mo + (small ? e_small : e);
}
/* the first moment the update divides, or 0 where the update cannot move w */
static GD_ALWAYS_INLINE float gd_adam_numer_f32_(float mi, float wi, float tiny_m,
                                                 float w_lim) {
    int keep_w = (fabsf(mi) < tiny_m) & (fabsf(wi) >= w_lim);
    return keep_w ? 0.0f : mi;
}
#define GD_ADAM_MOMENT_f32(gi, mo) gd_adam_moment_f32_(gi, mo, c1, p->small_d)
#define GD_ADAM_NUMER_f32(mi, wi) gd_adam_numer_f32_(mi, wi, p->tiny_m, p->w_lim)
#else
#define GD_ADAM_MOMENT_f32(gi, mo) ((mo) + ((gi) - (mo)) * c1)
#define GD_ADAM_NUMER_f32(mi, wi) (mi)
#endif
#define GD_ADAM_MOMENT_f64(gi, mo) ((mo) + ((gi) - (mo)) * c1)
#define GD_ADAM_NUMER_f64(mi, wi) (mi)

/* Elements [lo, hi) of w, m, v (and vhat, unless NULL) with gradient g. */
#define GD_ADAM_SPAN(T, SFX, SQRT)                                                       \
    static GD_ALWAYS_INLINE void gd_adam_span_##SFX(                                     \
        int64_t lo, int64_t hi, T *restrict w, const T *restrict g, T *restrict m,       \
        T *restrict v, T *restrict vhat, const gd_adam_args_##SFX *p) {                 \
        const T alpha = p->alpha, c1 = p->c1, c2 = p->c2, epsilon = p->epsilon;         \
        int64_t i;                                                                       \
        if (vhat == NULL) {                                                              \
            for (i = lo; i < hi; i++) {                                                  \
                T gi = g[i], wi = w[i];                                                  \
                T mi = GD_ADAM_MOMENT_##SFX(gi, m[i]);                                   \
                T vi = v[i] + (gi * gi - v[i]) * c2;                                     \
                m[i] = mi;                                                               \
                v[i] = vi;                                                               \
                w[i] = wi - alpha * GD_ADAM_NUMER_##SFX(mi, wi) / (SQRT(vi) + epsilon);  \
            }                                                                            \
        } else {                                                                         \
            for (i = lo; i < hi; i++) {                                                  \
                T gi = g[i], wi = w[i];                                                  \
                T mi = GD_ADAM_MOMENT_##SFX(gi, m[i]);                                   \
                T vi = v[i] + (gi * gi - v[i]) * c2;                                     \
                T h = vhat[i] > vi ? vhat[i] : vi;                                       \
                m[i] = mi;                                                               \
                v[i] = vi;                                                               \
                vhat[i] = h;                                                             \
                w[i] = wi - alpha * GD_ADAM_NUMER_##SFX(mi, wi) / (SQRT(h) + epsilon);   \
            }                                                                            \
        }                                                                                \
    }
GD_ADAM_SPAN(float, f32, sqrtf)
GD_ADAM_SPAN(double, f64, sqrt)
#undef GD_ADAM_SPAN
#endif /* GD_ADAM_SPAN_H */
