/* The optimizer kernels (private template): included by gd_optim.c, gd_optim_avx2.c and
 * gd_optim_avx512.c once per dtype, with GD_ISA (generic, avx2, avx512) naming the
 * variant: the public entries are gd_<name>_<dtype>_<isa>, reached through the
 * dispatch table (gd_dispatch.c). Elementwise over blocks of GD_OPTIM_GRAIN: each
 * block's loop has no branch on the data and vectorises (sqrt too, with
 * -fno-math-errno) to the ISA's width; an element's operations do not depend on
 * where a thread's share starts, so results are bitwise equal for any thread count
 * on one ISA (ISAs may differ in the last bit: FMA contraction). */

#include <float.h>

#ifndef GD_OPTIM_GRAIN
/* Elements per block of the static split (a multiple of every vector width). */
#define GD_OPTIM_GRAIN 2048
#endif
/* Below these many elements one thread runs. Measured (best of 15, float32) on a
 * 2-core AMD EPYC: two threads win over one above about 8K Adam elements and 16K
 * SGD elements; the thresholds sit at twice that, for machines with a slower team
 * start. Override with -D at build time to measure again. The other optimizers
 * use Adam's (they cost as much or more per element). */
#ifndef GD_SGD_MIN_PAR_ELEMS
#define GD_SGD_MIN_PAR_ELEMS 32768.0
#endif
#ifndef GD_ADAM_MIN_PAR_ELEMS
#define GD_ADAM_MIN_PAR_ELEMS 16384.0
#endif

#define GD_OPT_CAT2(a, b) a##_##b
#define GD_OPT_CAT(a, b) GD_OPT_CAT2(a, b)
#define GD_OFN(name) GD_OPT_CAT(GD_FN(name), GD_ISA)

static void GD_FN(gd_sgd_team)(int64_t n, GD_T *restrict w, const GD_T *restrict g,
                               GD_T *restrict v, GD_T lr, GD_T momentum, int nesterov) {
    int64_t nb = (n + GD_OPTIM_GRAIN - 1) / GD_OPTIM_GRAIN, blk;
    GD_PRAGMA(omp for schedule(static))
    for (blk = 0; blk < nb; blk++) {
        int64_t lo = blk * GD_OPTIM_GRAIN, hi = lo + GD_OPTIM_GRAIN < n ? lo + GD_OPTIM_GRAIN : n;
        int64_t i;
        if (momentum == 0) {
            for (i = lo; i < hi; i++) w[i] = w[i] - lr * g[i];
        } else if (nesterov) {
            for (i = lo; i < hi; i++) {
                GD_T vi = momentum * v[i] - lr * g[i];
                v[i] = vi;
                w[i] = w[i] + momentum * vi - lr * g[i];
            }
        } else {
            for (i = lo; i < hi; i++) {
                GD_T vi = momentum * v[i] - lr * g[i];
                v[i] = vi;
                w[i] = w[i] + vi;
            }
        }
    }
}

void GD_OFN(gd_sgd_step)(int64_t n, GD_T *w, const GD_T *g, GD_T *v, GD_T lr, GD_T momentum,
                        int nesterov, int n_threads) {
    int nt = gd_fork_threads(n_threads, (double)n, GD_SGD_MIN_PAR_ELEMS);
    if (nt > 1) {
        GD_PRAGMA(omp parallel num_threads(nt))
        GD_FN(gd_sgd_team)(n, w, g, v, lr, momentum, nesterov);
    } else {
        GD_FN(gd_sgd_team)(n, w, g, v, lr, momentum, nesterov);
    }
}

#if defined(GD_TMPL_F32) && defined(__FMA__)
/* Adam's float update without operations whose results underflow (ISAs with FMA).
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
 * gd_adam_limits_f32 rounds each limit toward the safe side and switches a part off
 * (limit 0 or inf) where its premise fails (c1 outside (0, 1], alpha 0, inf or NaN,
 * epsilon not > 0). tests/test_optim_subnormal.py compares the bits with the plain
 * loop's (the generic ISA's) over moments and weights at and around these limits.
 * Measured, the training engine alternating this loop and the plain one step by step
 * (TSC cycles of the optimizer phase, 2 threads): the seed model on MNIST 0.74-0.78x
 * the plain loop's time from its second epoch (0.87x in the first, before the moments
 * reach the subnormals), about 15k of a step's 200k cycles; the big MLP 1.02-1.05x
 * (its Adam waits on memory, and has fewer such lanes); the seed model on dense
 * Gaussian inputs, without such lanes, 0.99-1.12x (noise). */
#ifndef GD_ADAM_LIMITS_ONCE
#define GD_ADAM_LIMITS_ONCE
typedef struct {
    float small_d, tiny_m, w_lim;
} gd_adam_limits_t;
static float gd_round_down_f32_(double x) {
    float f = (float)x;
    return (double)f > x ? nextafterf(f, 0.0f) : f;
}
static float gd_round_up_f32_(double x) {
    float f = (float)x;
    return (double)f < x ? nextafterf(f, HUGE_VALF) : f;
}
static gd_adam_limits_t gd_adam_limits_f32(float alpha, float c1, float epsilon) {
    gd_adam_limits_t L;
    double a = fabs((double)alpha);
    L.small_d = c1 > 0 && c1 <= 1 ? gd_round_down_f32_(0x1p-127 / (double)c1) : 0.0f;
    L.tiny_m = a > 0 && a <= FLT_MAX ? gd_round_down_f32_(0x1p-126 / a) : 0.0f;
    if (epsilon > 0) {
        /* |alpha·m/den| <= q, and the floats next to a normal w are at least |w|·2^-24
         * apart: |w| >= 2^26·q (>= 2^-123, so w is normal) leaves w as it is. */
        double q = 0x1p-126 / (double)epsilon * (1 + 0x1p-23) + 0x1p-149;
        L.w_lim = gd_round_up_f32_(q * 0x1p26);
    } else {
        L.w_lim = HUGE_VALF;
    }
    return L;
}
/* m + (g - m)·c1, rounded as the plain loop rounds it */
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
#endif
#define GD_ADAM_NO_UNDERFLOW 1
#define GD_ADAM_MOMENT(gi, mo) gd_adam_moment_f32_(gi, mo, c1, small_d)
#define GD_ADAM_NUMER(mi, wi) gd_adam_numer_f32_(mi, wi, tiny_m, w_lim)
#else
#define GD_ADAM_MOMENT(gi, mo) ((mo) + ((gi) - (mo)) * c1)
#define GD_ADAM_NUMER(mi, wi) (mi)
#endif

static void GD_FN(gd_adam_team)(int64_t n, GD_T *restrict w, const GD_T *restrict g,
                                GD_T *restrict m, GD_T *restrict v, GD_T *restrict vhat,
                                GD_T alpha, GD_T beta_1, GD_T beta_2, GD_T epsilon) {
    int64_t nb = (n + GD_OPTIM_GRAIN - 1) / GD_OPTIM_GRAIN, blk;
    GD_T c1 = (GD_T)1 - beta_1, c2 = (GD_T)1 - beta_2;
#ifdef GD_ADAM_NO_UNDERFLOW
    gd_adam_limits_t L = gd_adam_limits_f32(alpha, c1, epsilon);
    const float small_d = L.small_d, tiny_m = L.tiny_m, w_lim = L.w_lim;
#endif
    GD_PRAGMA(omp for schedule(static))
    for (blk = 0; blk < nb; blk++) {
        int64_t lo = blk * GD_OPTIM_GRAIN, hi = lo + GD_OPTIM_GRAIN < n ? lo + GD_OPTIM_GRAIN : n;
        int64_t i;
        if (vhat == NULL) {
            for (i = lo; i < hi; i++) {
                GD_T gi = g[i], wi = w[i];
                GD_T mi = GD_ADAM_MOMENT(gi, m[i]);
                GD_T vi = v[i] + (gi * gi - v[i]) * c2;
                m[i] = mi;
                v[i] = vi;
                w[i] = wi - alpha * GD_ADAM_NUMER(mi, wi) / (GD_SQRT(vi) + epsilon);
            }
        } else {
            for (i = lo; i < hi; i++) {
                GD_T gi = g[i], wi = w[i];
                GD_T mi = GD_ADAM_MOMENT(gi, m[i]);
                GD_T vi = v[i] + (gi * gi - v[i]) * c2;
                GD_T hi_ = vhat[i] > vi ? vhat[i] : vi;
                m[i] = mi;
                v[i] = vi;
                vhat[i] = hi_;
                w[i] = wi - alpha * GD_ADAM_NUMER(mi, wi) / (GD_SQRT(hi_) + epsilon);
            }
        }
    }
}
#undef GD_ADAM_NO_UNDERFLOW
#undef GD_ADAM_MOMENT
#undef GD_ADAM_NUMER

void GD_OFN(gd_adam_step)(int64_t n, GD_T *w, const GD_T *g, GD_T *m, GD_T *v, GD_T *vhat,
                         GD_T alpha, GD_T beta_1, GD_T beta_2, GD_T epsilon, int n_threads) {
    int nt = gd_fork_threads(n_threads, (double)n, GD_ADAM_MIN_PAR_ELEMS);
    if (nt > 1) {
        GD_PRAGMA(omp parallel num_threads(nt))
        GD_FN(gd_adam_team)(n, w, g, m, v, vhat, alpha, beta_1, beta_2, epsilon);
    } else {
        GD_FN(gd_adam_team)(n, w, g, m, v, vhat, alpha, beta_1, beta_2, epsilon);
    }
}

/* ---- the other Keras 3 optimizers: one team loop each, a public entry from
 * GD_OPTIM_ENTRY. Every formula follows Keras's update_step operation by operation
 * (keras/src/optimizers/<name>.py); scalars that depend only on the step number are
 * computed by the caller. */

/* The block loop every team function runs: the body (the macro's last arguments)
 * sees lo, hi and i. */
#define GD_OPTIM_BLOCKS(n, ...)                                                          \
    do {                                                                                  \
        int64_t nb_ = ((n) + GD_OPTIM_GRAIN - 1) / GD_OPTIM_GRAIN, blk_;                  \
        GD_PRAGMA(omp for schedule(static))                                               \
        for (blk_ = 0; blk_ < nb_; blk_++) {                                              \
            int64_t lo = blk_ * GD_OPTIM_GRAIN;                                           \
            int64_t hi = lo + GD_OPTIM_GRAIN < (n) ? lo + GD_OPTIM_GRAIN : (n);           \
            int64_t i;                                                                    \
            __VA_ARGS__                                                                   \
        }                                                                                 \
    } while (0)

static void GD_FN(gd_rmsprop_team)(int64_t n, GD_T *restrict w, const GD_T *restrict g,
                                   GD_T *restrict v, GD_T *restrict mom, GD_T *restrict avg,
                                   GD_T lr, GD_T rho, GD_T momentum, GD_T epsilon) {
    GD_T c = (GD_T)1 - rho;
    GD_OPTIM_BLOCKS(n, {
        if (avg == NULL && mom == NULL) {
            for (i = lo; i < hi; i++) {
                GD_T gi = g[i];
                GD_T vi = rho * v[i] + c * (gi * gi);
                v[i] = vi;
                w[i] = w[i] - lr * gi / GD_SQRT(vi + epsilon);
            }
        } else {
            for (i = lo; i < hi; i++) {
                GD_T gi = g[i];
                GD_T vi = rho * v[i] + c * (gi * gi);
                GD_T den = vi + epsilon, inc;
                v[i] = vi;
                if (avg != NULL) {
                    GD_T ai = rho * avg[i] + c * gi;
                    avg[i] = ai;
                    den = vi - ai * ai + epsilon;
                }
                inc = lr * gi / GD_SQRT(den);
                if (mom != NULL) {
                    GD_T mi = momentum * mom[i] + inc;
                    mom[i] = mi;
                    w[i] = w[i] - mi;
                } else {
                    w[i] = w[i] - inc;
                }
            }
        }
    });
}

static void GD_FN(gd_adagrad_team)(int64_t n, GD_T *restrict w, const GD_T *restrict g,
                                   GD_T *restrict acc, GD_T lr, GD_T epsilon) {
    GD_OPTIM_BLOCKS(n, {
        for (i = lo; i < hi; i++) {
            GD_T gi = g[i];
            GD_T ai = acc[i] + gi * gi;
            acc[i] = ai;
            w[i] = w[i] - lr * gi / GD_SQRT(ai + epsilon);
        }
    });
}

static void GD_FN(gd_adamax_team)(int64_t n, GD_T *restrict w, const GD_T *restrict g,
                                  GD_T *restrict m, GD_T *restrict u, GD_T lr, GD_T bias_1,
                                  GD_T beta_1, GD_T beta_2, GD_T epsilon) {
    GD_T c1 = (GD_T)1 - beta_1;
    GD_OPTIM_BLOCKS(n, {
        for (i = lo; i < hi; i++) {
            GD_T gi = g[i];
            GD_T mi = m[i] + (gi - m[i]) * c1;
            GD_T bu = beta_2 * u[i], ag = GD_FABS(gi);
            GD_T ui = bu > ag ? bu : ag;
            m[i] = mi;
            u[i] = ui;
            w[i] = w[i] - lr * mi / (bias_1 * (ui + epsilon));
        }
    });
}

static void GD_FN(gd_nadam_team)(int64_t n, GD_T *restrict w, const GD_T *restrict g,
                                 GD_T *restrict m, GD_T *restrict v, GD_T lr, GD_T c_m,
                                 GD_T c_g, GD_T bias_2, GD_T beta_1, GD_T beta_2,
                                 GD_T epsilon) {
    GD_T c1 = (GD_T)1 - beta_1, c2 = (GD_T)1 - beta_2;
    GD_OPTIM_BLOCKS(n, {
        for (i = lo; i < hi; i++) {
            GD_T gi = g[i];
            GD_T mi = m[i] + (gi - m[i]) * c1;
            GD_T vi = v[i] + (gi * gi - v[i]) * c2;
            GD_T mhat = c_m * mi + c_g * gi;
            m[i] = mi;
            v[i] = vi;
            w[i] = w[i] - mhat * lr / (GD_SQRT(vi / bias_2) + epsilon);
        }
    });
}

static void GD_FN(gd_adadelta_team)(int64_t n, GD_T *restrict w, const GD_T *restrict g,
                                    GD_T *restrict ag, GD_T *restrict ad, GD_T lr, GD_T rho,
                                    GD_T epsilon) {
    GD_T c = (GD_T)1 - rho;
    GD_OPTIM_BLOCKS(n, {
        for (i = lo; i < hi; i++) {
            GD_T gi = g[i];
            GD_T agi = rho * ag[i] + c * (gi * gi);
            GD_T delta = -(GD_SQRT(ad[i] + epsilon) * gi / GD_SQRT(agi + epsilon));
            ag[i] = agi;
            ad[i] = rho * ad[i] + c * (delta * delta);
            w[i] = w[i] + lr * delta;
        }
    });
}

static void GD_FN(gd_scale_team)(int64_t n, GD_T *restrict w, GD_T factor) {
    GD_OPTIM_BLOCKS(n, {
        for (i = lo; i < hi; i++) w[i] = w[i] * factor;
    });
}

/* A public entry: one thread below the threshold, a team above, the caller's team
 * inside a parallel region. */
#define GD_OPTIM_ENTRY(team, n, n_threads, min_par, args)                                 \
    do {                                                                                  \
        int nt_ = gd_fork_threads((n_threads), (double)(n), (min_par));                   \
        if (nt_ > 1) {                                                                    \
            GD_PRAGMA(omp parallel num_threads(nt_))                                      \
            team args;                                                                    \
        } else {                                                                          \
            team args;                                                                    \
        }                                                                                 \
    } while (0)

void GD_OFN(gd_rmsprop_step)(int64_t n, GD_T *w, const GD_T *g, GD_T *v, GD_T *mom,
                            GD_T *avg, GD_T lr, GD_T rho, GD_T momentum, GD_T epsilon,
                            int n_threads) {
    GD_OPTIM_ENTRY(GD_FN(gd_rmsprop_team), n, n_threads, GD_ADAM_MIN_PAR_ELEMS,
                   (n, w, g, v, mom, avg, lr, rho, momentum, epsilon));
}

void GD_OFN(gd_adagrad_step)(int64_t n, GD_T *w, const GD_T *g, GD_T *acc, GD_T lr,
                            GD_T epsilon, int n_threads) {
    GD_OPTIM_ENTRY(GD_FN(gd_adagrad_team), n, n_threads, GD_ADAM_MIN_PAR_ELEMS,
                   (n, w, g, acc, lr, epsilon));
}

void GD_OFN(gd_adamax_step)(int64_t n, GD_T *w, const GD_T *g, GD_T *m, GD_T *u, GD_T lr,
                           GD_T bias_1, GD_T beta_1, GD_T beta_2, GD_T epsilon,
                           int n_threads) {
    GD_OPTIM_ENTRY(GD_FN(gd_adamax_team), n, n_threads, GD_ADAM_MIN_PAR_ELEMS,
                   (n, w, g, m, u, lr, bias_1, beta_1, beta_2, epsilon));
}

void GD_OFN(gd_nadam_step)(int64_t n, GD_T *w, const GD_T *g, GD_T *m, GD_T *v, GD_T lr,
                          GD_T c_m, GD_T c_g, GD_T bias_2, GD_T beta_1, GD_T beta_2,
                          GD_T epsilon, int n_threads) {
    GD_OPTIM_ENTRY(GD_FN(gd_nadam_team), n, n_threads, GD_ADAM_MIN_PAR_ELEMS,
                   (n, w, g, m, v, lr, c_m, c_g, bias_2, beta_1, beta_2, epsilon));
}

void GD_OFN(gd_adadelta_step)(int64_t n, GD_T *w, const GD_T *g, GD_T *ag, GD_T *ad,
                             GD_T lr, GD_T rho, GD_T epsilon, int n_threads) {
    GD_OPTIM_ENTRY(GD_FN(gd_adadelta_team), n, n_threads, GD_ADAM_MIN_PAR_ELEMS,
                   (n, w, g, ag, ad, lr, rho, epsilon));
}

void GD_OFN(gd_scale)(int64_t n, GD_T *w, GD_T factor, int n_threads) {
    GD_OPTIM_ENTRY(GD_FN(gd_scale_team), n, n_threads, GD_SGD_MIN_PAR_ELEMS, (n, w, factor));
}

/* ---- gradient clipping */

/* Σ x² over x[0, n) in 16 fixed lanes (lane j takes elements j, j+16, ...), the lanes
 * then added in order in double: the result depends on n and x only. */
static inline double GD_FN(gd_sumsq)(const GD_T *restrict x, int64_t n) {
    GD_T lane[16] = {0};
    int64_t i = 0;
    int j;
    double s = 0;
    for (; i + 16 <= n; i += 16)
        for (j = 0; j < 16; j++) lane[j] += x[i + j] * x[i + j];
    for (j = 0; j < 16; j++) s += (double)lane[j];
    for (; i < n; i++) s += (double)x[i] * (double)x[i];
    return s;
}

static void GD_FN(gd_clip_team)(int64_t n, int64_t n_blocks, const int64_t *restrict blocks,
                                GD_T *restrict g, int mode, double clip,
                                double *restrict scratch) {
    int64_t b;
    if (mode == GD_CLIP_VALUE) {
        GD_T c = (GD_T)clip;
        GD_OPTIM_BLOCKS(n, {
            for (i = lo; i < hi; i++) {
                GD_T gi = g[i];
                g[i] = gi < -c ? -c : (gi > c ? c : gi);
            }
        });
        return;
    }
    if (mode != GD_CLIP_NORM && mode != GD_CLIP_GLOBAL_NORM) return;
    GD_PRAGMA(omp for schedule(static))
    for (b = 0; b < n_blocks; b++)
        scratch[b] = GD_FN(gd_sumsq)(g + blocks[3 * b], blocks[3 * b + 1] - blocks[3 * b]);
    GD_PRAGMA(omp single)
    {
        /* serial, in block order: each variable's (or all) squares summed, then the
         * scale c / max(norm, c) written over the variable's partial sums */
        int64_t first = 0, k;
        double total = 0;
        for (b = 0; b < n_blocks; b++) {
            total += scratch[b];
            int last = b + 1 == n_blocks ||
                       (mode == GD_CLIP_NORM && blocks[3 * (b + 1) + 2] != blocks[3 * b + 2]);
            if (last) {
                double norm = sqrt(total);
                double den = norm > clip ? norm : clip;
                if (norm != norm) den = norm; /* NaN gradients stay NaN */
                for (k = first; k <= b; k++) scratch[k] = clip / den;
                first = b + 1;
                total = 0;
            }
        }
    }
    GD_PRAGMA(omp for schedule(static))
    for (b = 0; b < n_blocks; b++) {
        GD_T s = (GD_T)scratch[b];
        int64_t i;
        if (scratch[b] == 1.0) continue;
        for (i = blocks[3 * b]; i < blocks[3 * b + 1]; i++) g[i] = g[i] * s;
    }
}

void GD_OFN(gd_clip_grads)(int64_t n, int64_t n_blocks, const int64_t *blocks, GD_T *g,
                          int mode, double clip, double *scratch, int n_threads) {
    GD_OPTIM_ENTRY(GD_FN(gd_clip_team), n, n_threads, GD_ADAM_MIN_PAR_ELEMS,
                   (n, n_blocks, blocks, g, mode, clip, scratch));
}

#undef GD_OPTIM_ENTRY
#undef GD_OPTIM_BLOCKS
#undef GD_OFN
#undef GD_OPT_CAT
#undef GD_OPT_CAT2
