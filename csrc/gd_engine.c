/* The training engine: whole runs of steps in C, one parallel region per run.
 *
 * Workspace layout for batches of up to B = max_batch rows (T elements, each piece
 * rounded up to 16 elements so every piece starts 64-byte aligned when ws is):
 *   xb[B·F] | a_l[B·n_out_l] for each op | z_l[B·n_out_l] for each dense op whose
 *   activation needs its input | d0[B·W] | d1[B·W] | tb[B·O] | swb[B] |
 *   row_loss[B] | row_metric[B·GD_MAX_METRICS] | p[B·O]
 * with F input features, O outputs, W the widest op; int32 workspace: lb[B] | hit[B].
 */
#include <math.h>
#include "gd_internal.h"

#define GD_ENGINE_MAX_LAYERS 256

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

void gd_engine_workspace(const gd_engine_t *e, int64_t max_batch, int64_t *n_ws,
                         int64_t *n_iws) {
    int64_t B = max_batch, n = 0, width = gd_engine_max_width(e);
    n += gd_round_up(B * e->n_features);
    for (int32_t l = 0; l < e->n_layers; l++) {
        n += gd_round_up(B * e->layers[l].n_out);
        if (gd_engine_keeps_z(&e->layers[l])) n += gd_round_up(B * e->layers[l].n_out);
    }
    n += 2 * gd_round_up(B * width);
    n += gd_round_up(B * e->n_outputs);
    n += 2 * gd_round_up(B);
    n += gd_round_up(B * GD_MAX_METRICS);
    n += gd_round_up(B * e->n_outputs);
    *n_ws = n;
    *n_iws = 2 * gd_round_up(B);
}

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
