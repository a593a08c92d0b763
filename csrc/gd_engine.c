/* The training engine: whole runs of steps in C, one parallel region per run.
 *
 * Workspace layout for batches of up to B = max_batch rows (T elements, each piece
 * rounded up to 16 elements so every piece starts 64-byte aligned when ws is):
 *   xb[B·F] | a_l[B·n_out_l] for each op | z_l[B·n_out_l] for each dense op whose
 *   activation needs its input | mask_l[B·n_out_l] for each dropout op |
 *   partials[2 doubles per block of every regularized array] | d0[B·W] | d1[B·W] |
 *   tb[B·O] | swb[B] |
 *   row_loss[B] | row_metric[B·GD_MAX_METRICS] | p[B·O]
 * with F input features, O outputs, W the widest op; int32 workspace: lb[B] | hit[B].
 */
#include <math.h>
#include "gd_internal.h"

#define GD_ENGINE_MAX_LAYERS 256
/* int64 elements between two threads' slots in a shared array (64 bytes: no two
 * threads write one cache line). */
#define GD_ENGINE_PART_STRIDE 8
/* The gather from packed rows asks for the record this many rows ahead while it
 * unpacks the current one (measured on one core, 32 random MNIST rows: 1 to 4 ahead
 * alike within the noise, all about half the time of no prefetch). */
#define GD_PACK_AHEAD 2
/* ... and for the offset of the record this many rows ahead: finding a record costs
 * one random read of packed_off (8 bytes a row, 480 KB for MNIST, which the
 * optimizer's pass over the parameters evicts from L2 every step), and with the
 * record's prefetch waiting on it the gather stalled on that read row after row
 * (perf: 55% of the gather's own samples). The seed model's gather, alternating
 * epochs in one process: 19.6-23.0 against 22.8-27.5 thousand cycles a step on one
 * thread, 17.6-20.6 against 21.0-27.7 on two. */
#define GD_PACK_OFF_AHEAD 8
#if defined(__GNUC__) || defined(__clang__)
#define GD_PREFETCH(p) __builtin_prefetch((p), 0, 3)
#else
#define GD_PREFETCH(p) ((void)(p))
#endif

/* Asks for every line of row r's packed record. */
static inline void gd_prefetch_record(const gd_engine_t *e, int64_t r) {
    const unsigned char *pk = (const unsigned char *)e->packed;
    for (int64_t b = e->packed_off[r]; b < e->packed_off[r + 1]; b += 64) GD_PREFETCH(pk + b);
}

static inline int64_t gd_round_up(int64_t n) { return (n + 15) / 16 * 16; }

static int64_t gd_engine_max_width(const gd_engine_t *e) {
    int64_t width = e->n_features;
    for (int32_t l = 0; l < e->n_layers; l++) {
        if (e->layers[l].n_in > width) width = e->layers[l].n_in;
        if (e->layers[l].n_out > width) width = e->layers[l].n_out;
    }
    return width;
}

/* Whether a layer keeps Z = X·W + b for its backward pass. */
static int gd_engine_keeps_z(const gd_layer_t *L) {
    return L->kind == GD_OP_DENSE && gd_act_needs_input(L->act);
}

/* Blocks of the largest regularized weight array (0 when nothing is regularized):
 * the penalty's scratch is reused array after array. */
static int64_t gd_engine_penalty_blocks(const gd_engine_t *e) {
    int64_t blocks = 0;
    for (int32_t l = 0; l < e->n_layers; l++) {
        const gd_layer_t *L = &e->layers[l];
        if (L->kind != GD_OP_DENSE) continue;
        if (L->kernel_l1 != 0 || L->kernel_l2 != 0) {
            int64_t b = gd_l1l2_blocks(L->n_in * L->n_out);
            if (b > blocks) blocks = b;
        }
        if (L->b_off >= 0 && (L->bias_l1 != 0 || L->bias_l2 != 0)) {
            int64_t b = gd_l1l2_blocks(L->n_out);
            if (b > blocks) blocks = b;
        }
    }
    return blocks;
}

void gd_engine_workspace(const gd_engine_t *e, int64_t max_batch, int64_t *n_ws,
                         int64_t *n_iws) {
    int64_t B = max_batch, n = 0, width = gd_engine_max_width(e);
    n += gd_round_up(B * e->n_features);
    for (int32_t l = 0; l < e->n_layers; l++) {
        n += gd_round_up(B * e->layers[l].n_out);
        if (gd_engine_keeps_z(&e->layers[l])) n += gd_round_up(B * e->layers[l].n_out);
        if (e->layers[l].kind == GD_OP_DROPOUT) n += gd_round_up(B * e->layers[l].n_out);
    }
    /* penalty block sums: doubles, counted in T elements (ws is sized for the f32
     * engine in floats and for the f64 engine in doubles: count for the worse case) */
    n += gd_round_up(gd_engine_penalty_blocks(e) * 2 * 2);
    n += 2 * gd_round_up(B * width);
    n += gd_round_up(B * e->n_outputs);
    n += 2 * gd_round_up(B);
    n += gd_round_up(B * GD_MAX_METRICS);
    n += gd_round_up(B * e->n_outputs);
    *n_ws = n;
    *n_iws = 2 * gd_round_up(B);
}

/* Nadam's step-t scalars (Keras 3: u_k = beta_1·(1 - 0.5·0.96ᵏ), Πₜ = u_1···u_t):
 * c_m = u_{t+1} / (1 - Πₜ·u_{t+1}), c_g = (1 - u_t) / (1 - Πₜ), bias_2 = 1 - beta_2ᵗ;
 * *prod = Πₜ. state = [t', Πₜ'] of an earlier step: used when t' == t - 1, else the
 * product is recomputed from k = 1. Only reads state. */
static void gd_nadam_coefficients(double beta_1, double beta_2, int64_t t,
                                  const double *state, double *c_m, double *c_g,
                                  double *bias_2, double *prod) {
    double u_t = beta_1 * (1.0 - 0.5 * pow(0.96, (double)t));
    double u_next = beta_1 * (1.0 - 0.5 * pow(0.96, (double)(t + 1)));
    double p;
    if (state && state[0] == (double)(t - 1)) {
        p = state[1] * u_t;
    } else {
        p = 1.0;
        for (int64_t k = 1; k <= t; k++) p *= beta_1 * (1.0 - 0.5 * pow(0.96, (double)k));
    }
    *c_m = u_next / (1.0 - p * u_next);
    *c_g = (1.0 - u_t) / (1.0 - p);
    *bias_2 = 1.0 - pow(beta_2, (double)t);
    *prod = p;
}

/* GD_PHASE_PROFILE (CMake option, off by default; a developer's tool): thread 0 of
 * each training run adds the TSC cycles between the marks of a step to one slot per
 * phase (the gather, each op's forward, the loss, each op's backward, the penalty,
 * the optimizer, the step's end), and the sums are printed to stderr at exit. The
 * team meets at barriers, so thread 0's time of a phase includes its waits. */
#define GD_PHASE_OPS 8
#define GD_PHASE_SLOTS (2 * GD_PHASE_OPS + 5)
#if defined(GD_PHASE_PROFILE) && (defined(__x86_64__) || defined(__i386__))
#include <stdio.h>
#include <stdlib.h>
#include <x86intrin.h>
static uint64_t gd_phase_cycles[GD_PHASE_SLOTS];
static int64_t gd_phase_steps;
static uint64_t gd_phase_t_; /* thread 0's last mark */
static void gd_phase_name(int k, char *buf, size_t size) {
    if (k == 0) snprintf(buf, size, "gather");
    else if (k <= GD_PHASE_OPS) snprintf(buf, size, "forward op %d", k - 1);
    else if (k == GD_PHASE_OPS + 1) snprintf(buf, size, "loss");
    else if (k <= 2 * GD_PHASE_OPS + 1) snprintf(buf, size, "backward op %d", k - GD_PHASE_OPS - 2);
    else if (k == 2 * GD_PHASE_OPS + 2) snprintf(buf, size, "penalty");
    else if (k == 2 * GD_PHASE_OPS + 3) snprintf(buf, size, "optimizer");
    else snprintf(buf, size, "step end");
}
static void gd_phase_report(void) {
    char name[32];
    if (gd_phase_steps == 0) return;
    fprintf(stderr, "gradiente phase profile: %lld steps, thousands of TSC cycles per step\n",
            (long long)gd_phase_steps);
    for (int k = 0; k < GD_PHASE_SLOTS; k++) {
        if (gd_phase_cycles[k] == 0) continue;
        gd_phase_name(k, name, sizeof name);
        fprintf(stderr, "  %-16s %9.2f\n", name,
                (double)gd_phase_cycles[k] / 1e3 / (double)gd_phase_steps);
    }
}
#define GD_PHASE_BEGIN()                                                                 \
    do {                                                                                 \
        if (GD_THREAD_ID() == 0) gd_phase_t_ = __rdtsc();                                \
    } while (0)
#define GD_PHASE_MARK(slot)                                                              \
    do {                                                                                 \
        if (GD_THREAD_ID() == 0) {                                                       \
            uint64_t gd_now_ = __rdtsc();                                                \
            int gd_k_ = (slot);                                                          \
            if (gd_k_ >= 0 && gd_k_ < GD_PHASE_SLOTS)                                   \
                gd_phase_cycles[gd_k_] += gd_now_ - gd_phase_t_;                         \
            gd_phase_t_ = gd_now_;                                                       \
        }                                                                                \
    } while (0)
#define GD_PHASE_STEP()                                                                  \
    do {                                                                                 \
        if (GD_THREAD_ID() == 0) {                                                       \
            static int gd_registered_;                                                   \
            if (!gd_registered_) { gd_registered_ = 1; atexit(gd_phase_report); }       \
            gd_phase_steps++;                                                            \
        }                                                                                \
    } while (0)
#else
#define GD_PHASE_BEGIN() ((void)0)
#define GD_PHASE_MARK(slot) ((void)0)
#define GD_PHASE_STEP() ((void)0)
#endif
/* Slots: the op's forward and backward (ops past GD_PHASE_OPS share the last). */
#define GD_PHASE_FWD(l) (1 + ((l) < GD_PHASE_OPS ? (l) : GD_PHASE_OPS - 1))
#define GD_PHASE_BWD(l) (GD_PHASE_OPS + 2 + ((l) < GD_PHASE_OPS ? (l) : GD_PHASE_OPS - 1))
#define GD_PHASE_LOSS (GD_PHASE_OPS + 1)
#define GD_PHASE_PENALTY (2 * GD_PHASE_OPS + 2)
#define GD_PHASE_OPTIM (2 * GD_PHASE_OPS + 3)
#define GD_PHASE_END (2 * GD_PHASE_OPS + 4)

#define GD_T float
#define GD_SFX f32
#include "gd_engine_impl.h"
#undef GD_T
#undef GD_SFX

#define GD_T double
#define GD_SFX f64
#include "gd_engine_impl.h"
#undef GD_T
#undef GD_SFX
