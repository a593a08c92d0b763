/* The training engine, written once for both dtypes: included by gd_engine.c with
 * GD_T (float or double) and GD_SFX (f32 or f64) defined. See gd_engine_t in
 * gd_kernels.h for the model description and gd_engine.c for the workspace layout.
 *
 * One parallel region runs a whole run of steps; every kernel is called by every
 * thread of the team and shares its loops with it (the kernels' "inside a parallel
 * region" mode). The few serial pieces (sums, the step counter) run in `omp single`,
 * whose implicit barrier keeps the team in step. */

#define GD_CAT2(a, b) a##_##b
#define GD_CAT(a, b) GD_CAT2(a, b)
#define GD_FN(name) GD_CAT(name, GD_SFX)

/* Pointers into the workspace for a batch of up to e->max_batch rows. */
typedef struct {
    GD_T *xb;                          /* gathered input rows                   */
    GD_T *a[GD_ENGINE_MAX_LAYERS];     /* each op's own output buffer           */
    GD_T *z[GD_ENGINE_MAX_LAYERS];     /* dense: Z = X·W + b when its activation
                                          needs it (gd_act_needs_input), else NULL */
    const GD_T *y[GD_ENGINE_MAX_LAYERS]; /* each op's output in this pass: a[l], or
                                          its input when the op is the identity */
    GD_T *mask[GD_ENGINE_MAX_LAYERS];  /* dropout: this step's mask, else NULL  */
    double *partials;                  /* L1/L2 penalty block sums              */
    GD_T *d[2];                        /* ping-pong gradient buffers            */
    GD_T *tb;                          /* gathered targets                      */
    GD_T *swb;                         /* gathered sample weights               */
    GD_T *row_loss;
    GD_T *row_metric;
    GD_T *p;                           /* probabilities when the softmax is fused */
    int32_t *lb;                       /* gathered labels                       */
    int32_t *row_nonzero;              /* predict (no labels): each input row's
                                          count of nonzeros, in lb's place          */
    int32_t *hit;                      /* fused argmax hits                     */
    int64_t *nonzero_sums;             /* the team's three slots (one cache line
                                          apart) where the gather adds its counts   */
    int64_t gathers;                   /* gathers so far in this run            */
    const GD_T *x_in;                  /* the step's input rows (xb, or rows of
                                          e->x read in place) ...                  */
    int64_t x_nonzero;                 /* ... and their count of nonzeros       */
} GD_FN(gd_ws);

static void GD_FN(gd_ws_carve)(const gd_engine_t *e, GD_FN(gd_ws) *w,
                                int64_t *nonzero_sums) {
    int64_t B = e->max_batch, off = 0, width = gd_engine_max_width(e);
    GD_T *ws = (GD_T *)e->ws;
    w->xb = ws + off; off += gd_round_up(B * e->n_features);
    for (int32_t l = 0; l < e->n_layers; l++) {
        w->a[l] = ws + off;
        off += gd_round_up(B * e->layers[l].n_out);
    }
    for (int32_t l = 0; l < e->n_layers; l++) {
        w->z[l] = 0;
        if (gd_engine_keeps_z(&e->layers[l])) {
            w->z[l] = ws + off;
            off += gd_round_up(B * e->layers[l].n_out);
        }
    }
    for (int32_t l = 0; l < e->n_layers; l++) {
        w->mask[l] = 0;
        if (e->layers[l].kind == GD_OP_DROPOUT) {
            w->mask[l] = ws + off;
            off += gd_round_up(B * e->layers[l].n_out);
        }
    }
    w->partials = (double *)(void *)(ws + off);
    off += gd_round_up(gd_engine_penalty_blocks(e) * 2 *
                       (int64_t)(sizeof(double) / sizeof(GD_T)));
    w->d[0] = ws + off; off += gd_round_up(B * width);
    w->d[1] = ws + off; off += gd_round_up(B * width);
    w->tb = ws + off; off += gd_round_up(B * e->n_outputs);
    w->swb = ws + off; off += gd_round_up(B);
    w->row_loss = ws + off; off += gd_round_up(B);
    w->row_metric = ws + off; off += gd_round_up(B * GD_MAX_METRICS);
    w->p = ws + off; off += gd_round_up(B * e->n_outputs);
    w->lb = e->iws;
    w->row_nonzero = e->iws;
    w->hit = e->iws + gd_round_up(B);
    w->nonzero_sums = nonzero_sums;
    w->gathers = 0;
    w->x_in = 0;
    w->x_nonzero = -1;
}

/* The activation op l applies in this pass (the fused softmax is left to the loss). */
static inline int GD_FN(gd_op_act)(const gd_engine_t *e, int32_t l, int fold_softmax) {
    if (fold_softmax && e->skip_last_act && l == e->n_layers - 1) return GD_ACT_LINEAR;
    return e->layers[l].act;
}

/* The row of x at position pos of the run: through the index, or pos itself. */
static inline int64_t GD_FN(gd_row)(const gd_engine_t *e, int64_t pos) {
    return e->index ? e->index[pos] : pos;
}

/* Whether row[0 .. F) holds a NaN or an infinity (branch-free: it vectorises). */
static inline int GD_FN(gd_row_nonfinite)(const GD_T *row, int64_t F) {
    int found = 0;
    for (int64_t j = 0; j < F; j++) found |= (row[j] - row[j]) != 0;
    return found;
}

/* This thread's share of a batch's input, m rows of F: the columns are split where a
 * first dense layer's sparse products split them (gd_spmm_cut; the even threads take
 * columns [0, cut) of their rows, the odd ones [cut, F)), so that each core later
 * reads the half of the batch it wrote or scanned. */
static void GD_FN(gd_input_share)(int64_t m, int64_t F, int tid, int nt, int64_t *c0,
                                  int64_t *c1, int64_t *lo, int64_t *hi) {
    int64_t cut = nt > 1 ? gd_spmm_cut(F) : F;
    *c0 = 0;
    *c1 = F;
    if (cut < F) {
        int half = tid & 1;
        *c0 = half ? cut : 0;
        *c1 = half ? F : cut;
        gd_static_range(m, 1, tid >> 1, gd_spmm_half_threads(half, nt), lo, hi);
    } else {
        gd_static_range(m, 1, tid, nt, lo, hi);
    }
}

/* The team's sum of each thread's `nonzero`, on every thread, after a barrier; kept
 * in w (x_nonzero, the count of x_in's m*F elements). Three slots in rotation: the
 * slot a call clears was last read two calls ago, before the previous call's
 * barrier, and is next added to after this call's. */
static void GD_FN(gd_input_count)(GD_FN(gd_ws) *w, const GD_T *x_in, int64_t nonzero) {
    int64_t *slot = w->nonzero_sums + (w->gathers % 3) * GD_ENGINE_PART_STRIDE;
    int64_t *next = w->nonzero_sums + ((w->gathers + 1) % 3) * GD_ENGINE_PART_STRIDE;
    w->gathers++;
    if (GD_THREAD_ID() == 0) *next = 0;
    GD_PRAGMA(omp atomic update)
    *slot += nonzero;
    GD_PRAGMA(omp barrier)
    GD_PRAGMA(omp atomic read)
    nonzero = *slot;
    w->x_nonzero = nonzero;
    w->x_in = x_in;
}

/* Copy batch rows [start, start + m) (through index) into the workspace, each thread
 * its share (gd_input_share), counting the nonzeros it copied; all threads, ending in
 * a barrier, with w->x_nonzero the batch's count (the dense layer's choice of
 * products needs it). */
static void GD_FN(gd_gather)(const gd_engine_t *e, GD_FN(gd_ws) *w, int64_t start,
                             int64_t m, int with_targets) {
    const GD_T *x = (const GD_T *)e->x;
    const GD_T *t = (const GD_T *)e->targets;
    const GD_T *sw = (const GD_T *)e->sample_weight;
    int64_t F = e->n_features, O = e->n_outputs;
    int tid = GD_THREAD_ID(), nt = GD_TEAM_SIZE();
    int64_t c0, c1, lo, hi, nonzero = 0;
    GD_FN(gd_input_share)(m, F, tid, nt, &c0, &c1, &lo, &hi);
    if (e->packed) {
        /* from the packed copy, the records GD_PACK_AHEAD rows on already on their way
         * and the offsets GD_PACK_OFF_AHEAD rows on before them (the first rows' asked
         * for up front) */
        const unsigned char *pk = (const unsigned char *)e->packed;
        for (int64_t i = lo; i < hi && i < lo + GD_PACK_OFF_AHEAD; i++)
            GD_PREFETCH(e->packed_off + GD_FN(gd_row)(e, start + i));
        for (int64_t i = lo; i < hi && i < lo + GD_PACK_AHEAD; i++)
            gd_prefetch_record(e, GD_FN(gd_row)(e, start + i));
        for (int64_t i = lo; i < hi; i++) {
            if (i + GD_PACK_OFF_AHEAD < hi)
                GD_PREFETCH(e->packed_off + GD_FN(gd_row)(e, start + i + GD_PACK_OFF_AHEAD));
            if (i + GD_PACK_AHEAD < hi)
                gd_prefetch_record(e, GD_FN(gd_row)(e, start + i + GD_PACK_AHEAD));
            int64_t r = GD_FN(gd_row)(e, start + i);
            nonzero += GD_FN(gd_unpack_cols)(pk + e->packed_off[r], F, c0, c1, w->xb + i * F);
        }
    } else {
        for (int64_t i = lo; i < hi; i++) {
            const GD_T *src = x + GD_FN(gd_row)(e, start + i) * F;
            GD_T *dst = w->xb + i * F;
            for (int64_t j = c0; j < c1; j++) dst[j] = src[j];
            nonzero += GD_FN(gd_count_nonzero)(c1 - c0, dst + c0);
        }
    }
    if (with_targets) {
        int onehot = 0;
        for (int32_t j = 0; j < e->n_metrics; j++)
            if (e->metrics[j] != GD_METRIC_SPARSE_ACC && e->metrics[j] != GD_METRIC_CAT_ACC)
                onehot = 1;
        gd_static_range(m, 1, tid, nt, &lo, &hi);
        for (int64_t i = lo; i < hi; i++) {
            int64_t r = GD_FN(gd_row)(e, start + i);
            if (e->sparse) {
                w->lb[i] = e->labels[r];
                if (onehot) { /* a metric on targets: the labels as one-hot rows */
                    GD_T *td = w->tb + i * O;
                    for (int64_t j = 0; j < O; j++) td[j] = 0;
                    td[e->labels[r]] = 1;
                }
            } else {
                const GD_T *ts = t + r * O;
                GD_T *td = w->tb + i * O;
                for (int64_t j = 0; j < O; j++) td[j] = ts[j];
            }
            w->swb[i] = sw ? sw[r] : (GD_T)1;
        }
    }
    GD_FN(gd_input_count)(w, w->xb, nonzero);
}

/* Rows [r0, r0 + m) of the input, in order and read in place: each thread counts the
 * nonzeros of its rows (each row's count in w->row_nonzero) and, with check, looks for
 * NaN and inf in them (*bad set when found); all threads, ending in a barrier,
 * w->x_nonzero the rows' count. Whole rows
 * per thread, not gd_input_share's halves: predict's rows come from memory, where
 * long runs stream faster (measured on MNIST's test set, one process alternating:
 * halves 1.06-1.18x the time of the earlier check then count, whole rows 0.98x). */
static void GD_FN(gd_scan_rows)(const gd_engine_t *e, GD_FN(gd_ws) *w, int64_t r0,
                                int64_t m, int check, int *bad) {
    int64_t F = e->n_features, lo, hi, nonzero = 0;
    const GD_T *x = (const GD_T *)e->x + r0 * F;
    int found = 0;
    gd_static_range(m, 1, GD_THREAD_ID(), GD_TEAM_SIZE(), &lo, &hi);
    for (int64_t i = lo; i < hi; i++) {
        const GD_T *row = x + i * F;
        int64_t c = GD_FN(gd_count_nonzero)(F, row);
        nonzero += c;
        w->row_nonzero[i] = (int32_t)c;
        if (check) found |= GD_FN(gd_row_nonfinite)(row, F);
    }
    if (found) {
        GD_PRAGMA(omp atomic write)
        *bad = 1;
    }
    GD_FN(gd_input_count)(w, x, nonzero);
}

/* Forward through every op; returns the last op's output (logits when fused). With
 * 0 < grain < m, each row gets the bits that forwards of grain rows each would give it
 * (gd_dense_fwd_counted), and the input's rows are counted in w->row_nonzero
 * (gd_scan_rows). */
static int GD_FN(gd_forward)(const gd_engine_t *e, GD_FN(gd_ws) *w, const GD_T *in,
                             int64_t m, int64_t grain, int fold_softmax, int training,
                             int nt, const GD_T **out) {
    const GD_T *params = (const GD_T *)e->params;
    int status = GD_OK;
    for (int32_t l = 0; l < e->n_layers; l++) {
        const gd_layer_t *L = &e->layers[l];
        int act = GD_FN(gd_op_act)(e, l, fold_softmax);
        if (L->kind == GD_OP_DENSE) {
            const GD_T *b = L->b_off >= 0 ? params + L->b_off : 0;
            GD_T *z = gd_act_needs_input(act) ? w->z[l] : 0;
            /* scratch for a sparse input's products: the gradient buffer, idle now */
            int first = in == w->x_in;
            /* rows read in place were counted one by one (gd_scan_rows); gathered
             * rows were not, and their labels lie in row_nonzero's place */
            int counted = first && grain && w->x_in != w->xb;
            int s = GD_FN(gd_dense_fwd_counted)(m, L->n_in, L->n_out, in, params + L->w_off,
                                                b, act, w->a[l], z, w->d[1],
                                                first ? w->x_nonzero : -1, grain,
                                                counted ? w->row_nonzero : 0, nt);
            if (s != GD_OK) status = s;
        } else if (L->kind == GD_OP_DROPOUT) {
            if (training && L->rate > 0) {
                uint64_t key = gd_dropout_key(L->seed, *e->iterations, l);
                GD_FN(gd_dropout_fwd)(m, L->n_out, L->rate, key, L->share_rows,
                                      L->share_cols, in, w->a[l], w->mask[l], nt);
            }
        } else if (act != GD_ACT_LINEAR) {
            GD_FN(gd_act_fwd)(m, L->n_out, act, in, w->a[l], nt);
        }
        /* an identity op's output is its input */
        int identity = L->kind == GD_OP_DROPOUT ? !(training && L->rate > 0)
                                                : (L->kind == GD_OP_ACT && act == GD_ACT_LINEAR);
        w->y[l] = identity ? in : w->a[l];
        in = w->y[l];
        GD_PHASE_MARK(training ? GD_PHASE_FWD(l) : -1);
    }
    *out = in;
    return status;
}

/* Loss (and dz into w->d[0] when want_grad) and metrics for m rows; the sums are
 * added serially by one thread, in row order, one batch of `grain` rows at a time
 * (grain <= 0: the m rows are one batch), as calls of one batch each would add them;
 * with pen, each batch's loss is followed by its rows times *pen (gd_add_penalty's
 * term, which training adds after its backward). */
static void GD_FN(gd_loss_metrics)(const gd_engine_t *e, GD_FN(gd_ws) *w, const GD_T *y,
                                   int64_t m, int64_t grain, const double *pen,
                                   int want_grad, double *sums, int nt) {
    int64_t O = e->n_outputs;
    GD_T scale = (GD_T)1 / (GD_T)m;
    GD_T *dz = want_grad ? w->d[0] : 0;
    const GD_T *p = y;
    int need_p = 0;
    if (e->fused_xent) {
        GD_FN(gd_softmax_xent)(m, O, y, e->sparse ? w->lb : 0, e->sparse ? 0 : w->tb, w->swb,
                               e->from_logits, scale, dz, w->row_loss, w->hit, nt);
        for (int32_t j = 0; j < e->n_metrics; j++)
            if (e->metrics[j] != GD_METRIC_SPARSE_ACC && e->metrics[j] != GD_METRIC_CAT_ACC)
                need_p = 1;
        if (need_p) {
            if (e->skip_last_act) {
                GD_FN(gd_act_fwd)(m, O, GD_ACT_SOFTMAX, y, w->p, nt);
                p = w->p;
            }
        }
    } else {
        GD_FN(gd_loss)(m, O, e->loss, y, w->tb, w->swb, scale, dz, w->row_loss, nt);
    }
    for (int32_t j = 0; j < e->n_metrics; j++) {
        int metric = e->metrics[j];
        if (e->fused_xent && (metric == GD_METRIC_SPARSE_ACC || metric == GD_METRIC_CAT_ACC))
            continue; /* from the fused kernel's hits */
        GD_FN(gd_metric)(m, O, metric, e->metric_k[j], p, w->lb, w->tb,
                         w->row_metric + j * e->max_batch, nt);
    }
    /* no barrier after: the sums are read after the run, and the buffers summed here
     * are next written after later barriers, which this thread reaches only when done
     * (training's backward; gd_engine_eval has one of its own before the next gather) */
    GD_PRAGMA(omp single nowait)
    for (int64_t i0 = 0; i0 < m; i0 += grain > 0 ? grain : m) {
        int64_t i1 = grain > 0 && i0 + grain < m ? i0 + grain : m;
        double s = 0;
        for (int64_t i = i0; i < i1; i++) s += (double)w->row_loss[i];
        sums[0] += s;
        for (int32_t j = 0; j < e->n_metrics; j++) {
            int metric = e->metrics[j];
            const GD_T *wt = e->metric_weighted[j] ? w->swb : 0;
            double sj = 0;
            if (e->fused_xent && (metric == GD_METRIC_SPARSE_ACC || metric == GD_METRIC_CAT_ACC)) {
                for (int64_t i = i0; i < i1; i++)
                    sj += wt ? (double)wt[i] * (double)w->hit[i] : (double)w->hit[i];
            } else {
                const GD_T *rm = w->row_metric + j * e->max_batch;
                for (int64_t i = i0; i < i1; i++)
                    sj += wt ? (double)wt[i] * (double)rm[i] : (double)rm[i];
            }
            sums[1 + j] += sj;
        }
        double sw = 0;
        for (int64_t i = i0; i < i1; i++) sw += (double)w->swb[i];
        sums[1 + e->n_metrics] += sw;
        sums[2 + e->n_metrics] += (double)(i1 - i0);
        if (pen) sums[0] += (double)(i1 - i0) * *pen;
    }
}

/* Backward from dz in w->d[0]: every op's weight gradients into e->grads. */
static int GD_FN(gd_backward)(const gd_engine_t *e, GD_FN(gd_ws) *w, const GD_T *x_in,
                              int64_t m, int nt) {
    const GD_T *params = (const GD_T *)e->params;
    GD_T *grads = (GD_T *)e->grads;
    GD_T *dcur = w->d[0], *dnext = w->d[1];
    int status = GD_OK;
    for (int32_t l = e->n_layers - 1; l >= 0; l--) {
        const gd_layer_t *L = &e->layers[l];
        const GD_T *in = l == 0 ? x_in : w->y[l - 1];
        int act = GD_FN(gd_op_act)(e, l, 1);
        int need_dx = l > 0;
        if (L->kind == GD_OP_DENSE) {
            GD_T *db = L->b_off >= 0 ? grads + L->b_off : 0;
            int s = GD_FN(gd_dense_bwd_counted)(m, L->n_in, L->n_out, in, params + L->w_off,
                                                w->y[l], w->z[l], dcur, act,
                                                need_dx ? dnext : 0, grads + L->w_off, db,
                                                in == w->x_in ? w->x_nonzero : -1, nt);
            if (s != GD_OK) status = s;
        } else if (L->kind == GD_OP_DROPOUT) {
            if (!(L->rate > 0)) continue; /* identity */
            if (need_dx) GD_FN(gd_dropout_bwd)(m, L->n_out, L->rate, w->mask[l], dcur, dnext, nt);
        } else if (act != GD_ACT_LINEAR) {
            if (need_dx) GD_FN(gd_act_bwd)(m, L->n_out, act, in, w->y[l], dcur, dnext, nt);
        } else {
            continue; /* identity: the gradient passes through unchanged */
        }
        GD_T *tmp = dcur; dcur = dnext; dnext = tmp;
        GD_PHASE_MARK(GD_PHASE_BWD(l));
    }
    return status;
}

/* The L1/L2 penalty of every regularized weight array, in layer order (W, then b);
 * with want_grad its gradient is added to e->grads. Every thread returns the same
 * value (each array's block sums are added after the team's barrier). */
static double GD_FN(gd_penalty)(const gd_engine_t *e, GD_FN(gd_ws) *w, int want_grad, int nt) {
    const GD_T *params = (const GD_T *)e->params;
    GD_T *grads = (GD_T *)e->grads;
    double total = 0;
    for (int32_t l = 0; l < e->n_layers; l++) {
        const gd_layer_t *L = &e->layers[l];
        if (L->kind != GD_OP_DENSE) continue;
        if (L->kernel_l1 != 0 || L->kernel_l2 != 0)
            total += GD_FN(gd_l1l2_penalty)(L->n_in * L->n_out, params + L->w_off, L->kernel_l1,
                                            L->kernel_l2, want_grad ? grads + L->w_off : 0,
                                            w->partials, nt);
        if (L->b_off >= 0 && (L->bias_l1 != 0 || L->bias_l2 != 0))
            total += GD_FN(gd_l1l2_penalty)(L->n_out, params + L->b_off, L->bias_l1,
                                            L->bias_l2, want_grad ? grads + L->b_off : 0,
                                            w->partials, nt);
    }
    return total;
}

/* Adds m times the penalty to the loss sum (Keras adds the penalty to each batch's
 * mean loss, and the epoch's loss weights batches by their size). */
static void GD_FN(gd_add_penalty)(const gd_engine_t *e, GD_FN(gd_ws) *w, int64_t m,
                                  int want_grad, double *sums, int nt) {
    if (!gd_engine_penalty_blocks(e)) return;
    double pen = GD_FN(gd_penalty)(e, w, want_grad, nt);
    GD_PRAGMA(omp single nowait) /* read after the run */
    sums[0] += (double)m * pen;
}

/* One optimizer update of every parameter (all threads of the team) at learning rate
 * lr: clipping, weight decay, then the optimizer's kernel; the step number is
 * t = iterations + 1. */
static void GD_FN(gd_optimizer_step)(const gd_engine_t *e, double lr, int nt) {
    GD_T *wp = (GD_T *)e->params;
    GD_T *g = (GD_T *)e->grads;
    GD_T *s0 = (GD_T *)e->slot0, *s1 = (GD_T *)e->slot1, *s2 = (GD_T *)e->slot2;
    int64_t n = e->n_params;
    double t = (double)(*e->iterations + 1);
    if (e->clip_mode != GD_CLIP_NONE)
        GD_FN(gd_clip_grads)(n, e->n_clip_blocks, e->clip_blocks, g, e->clip_mode, e->clip,
                             e->clip_scratch, nt);
    if (e->weight_decay != 0) {
        GD_T factor = (GD_T)(1.0 - lr * e->weight_decay);
        if (e->decay_segments == 0) {
            GD_FN(gd_scale)(n, wp, factor, nt);
        } else {
            for (int64_t j = 0; j < e->n_decay_segments; j++)
                GD_FN(gd_scale)(e->decay_segments[2 * j + 1], wp + e->decay_segments[2 * j],
                                factor, nt);
        }
    }
    switch (e->opt) {
    case GD_OPT_SGD:
        GD_FN(gd_sgd_step)(n, wp, g, s0, (GD_T)lr, (GD_T)e->momentum, e->nesterov, nt);
        break;
    case GD_OPT_ADAM: {
        double alpha = lr * sqrt(1.0 - pow(e->beta_2, t)) / (1.0 - pow(e->beta_1, t));
        GD_FN(gd_adam_step)(n, wp, g, s0, s1, e->amsgrad ? s2 : 0, (GD_T)alpha,
                            (GD_T)e->beta_1, (GD_T)e->beta_2, (GD_T)e->epsilon, nt);
        break;
    }
    case GD_OPT_RMSPROP:
        GD_FN(gd_rmsprop_step)(n, wp, g, s0, e->momentum > 0 ? s1 : 0, e->centered ? s2 : 0,
                               (GD_T)lr, (GD_T)e->rho, (GD_T)e->momentum, (GD_T)e->epsilon,
                               nt);
        break;
    case GD_OPT_ADAGRAD:
        GD_FN(gd_adagrad_step)(n, wp, g, s0, (GD_T)lr, (GD_T)e->epsilon, nt);
        break;
    case GD_OPT_NADAM: {
        double c_m, c_g, bias_2, prod;
        gd_nadam_coefficients(e->beta_1, e->beta_2, *e->iterations + 1, e->opt_state, &c_m,
                              &c_g, &bias_2, &prod);
        GD_FN(gd_nadam_step)(n, wp, g, s0, s1, (GD_T)lr, (GD_T)c_m, (GD_T)c_g, (GD_T)bias_2,
                             (GD_T)e->beta_1, (GD_T)e->beta_2, (GD_T)e->epsilon, nt);
        /* every thread has read opt_state (the step's loop ended in a barrier) */
        GD_PRAGMA(omp single)
        if (e->opt_state) {
            e->opt_state[0] = t;
            e->opt_state[1] = prod;
        }
        break;
    }
    case GD_OPT_ADAMAX:
        GD_FN(gd_adamax_step)(n, wp, g, s0, s1, (GD_T)lr, (GD_T)(1.0 - pow(e->beta_1, t)),
                              (GD_T)e->beta_1, (GD_T)e->beta_2, (GD_T)e->epsilon, nt);
        break;
    case GD_OPT_ADADELTA:
        GD_FN(gd_adadelta_step)(n, wp, g, s0, s1, (GD_T)lr, (GD_T)e->rho, (GD_T)e->epsilon,
                                nt);
        break;
    default:
        break;
    }
}

/* Every thread of the team reserves its GEMM workspace; a failure anywhere is seen by
 * all after the barrier, so the whole team skips the run together (no thread can
 * leave the others waiting at a barrier). */
static int GD_FN(gd_reserve_team)(int *status) {
    int st = GD_FN(gd_gemm_reserve)(), run;
    if (st != GD_OK) {
        GD_PRAGMA(omp critical(gd_engine_status))
        *status = st;
    }
    GD_PRAGMA(omp barrier)
    GD_PRAGMA(omp critical(gd_engine_status))
    run = *status == GD_OK;
    GD_PRAGMA(omp barrier)
    return run;
}

int GD_FN(gd_engine_train)(const gd_engine_t *e, int64_t start, int64_t n_steps,
                           int64_t batch, double *sums, int n_threads) {
    if (batch < 1 || batch > e->max_batch || n_steps < 0 || start < 0 ||
        e->n_layers < 1 || e->n_layers > GD_ENGINE_MAX_LAYERS)
        return GD_EINVAL;
    int64_t end = start + n_steps * batch;
    if (end > e->n_samples) end = e->n_samples;
    if (n_steps > 0 && start >= end) return GD_EINVAL;
    int status = GD_OK;
    int nt = n_threads < 1 ? 1 : n_threads;
    int64_t sums_nz[3 * GD_ENGINE_PART_STRIDE] = {0};
    GD_PRAGMA(omp parallel num_threads(nt))
    {
        GD_FN(gd_ws) w;
        GD_FN(gd_ws_carve)(e, &w, sums_nz);
        int run = GD_FN(gd_reserve_team)(&status); /* the same answer on every thread */
        for (int64_t s = 0; run && s < n_steps; s++) {
            int64_t r0 = start + s * batch;
            if (r0 >= end) break;
            int64_t m = end - r0 < batch ? end - r0 : batch;
            const GD_T *y = 0;
            GD_PHASE_BEGIN();
            GD_FN(gd_gather)(e, &w, r0, m, 1);
            GD_PHASE_MARK(0);
            int s1 = GD_FN(gd_forward)(e, &w, w.xb, m, 0, 1, 1, nt, &y);
            GD_FN(gd_loss_metrics)(e, &w, y, m, 0, 0, 1, sums, nt);
            GD_PHASE_MARK(GD_PHASE_LOSS);
            int s2 = GD_FN(gd_backward)(e, &w, w.xb, m, nt);
            GD_FN(gd_add_penalty)(e, &w, m, 1, sums, nt);
            GD_PHASE_MARK(GD_PHASE_PENALTY);
            GD_FN(gd_optimizer_step)(e, e->lr_steps ? e->lr_steps[s] : e->learning_rate, nt);
            GD_PHASE_MARK(GD_PHASE_OPTIM);
            if (s1 != GD_OK || s2 != GD_OK) {
                GD_PRAGMA(omp critical(gd_engine_status))
                status = s1 != GD_OK ? s1 : s2;
            }
            /* no barrier: the next read of the counter (the optimizer and dropout of
             * the next step, or Python after the region) comes after one */
            GD_PRAGMA(omp single nowait)
            *e->iterations += 1;
            GD_PHASE_MARK(GD_PHASE_END);
            GD_PHASE_STEP();
        }
    }
    return status;
}

/* Whether rows [r0, r0 + m) of the input (through index) are all finite; this
 * thread's share, the team's answer in *bad after the loop's barrier. */
static void GD_FN(gd_check_rows)(const gd_engine_t *e, int64_t r0, int64_t m, int *bad) {
    const GD_T *x = (const GD_T *)e->x;
    int64_t F = e->n_features;
    GD_PRAGMA(omp for schedule(static))
    for (int64_t i = 0; i < m; i++) {
        if (GD_FN(gd_row_nonfinite)(x + GD_FN(gd_row)(e, r0 + i) * F, F)) {
            GD_PRAGMA(omp atomic write)
            *bad = 1;
        }
    }
}

int GD_FN(gd_engine_eval)(const gd_engine_t *e, int64_t start, int64_t count,
                          int64_t batch, int with_loss, double *sums, void *out,
                          int check_x, int n_threads) {
    if (batch < 1 || batch > e->max_batch || count < 0 || start < 0 ||
        start + count > e->n_samples || e->n_layers < 1 ||
        e->n_layers > GD_ENGINE_MAX_LAYERS)
        return GD_EINVAL;
    int status = GD_OK, bad = 0;
    int nt = n_threads < 1 ? 1 : n_threads;
    int64_t O = e->n_outputs;
    int64_t sums_nz[3 * GD_ENGINE_PART_STRIDE] = {0};
    int gather = e->index || with_loss;
    /* As many whole batches as the workspace holds go through each forward, every
     * batch with the bits of its own (the weights are read once per span, not once per
     * batch); evaluate's sums are added batch by batch, as one batch per call adds
     * them. predict reads its rows in place. */
    int64_t span = e->max_batch / batch * batch;
    GD_PRAGMA(omp parallel num_threads(nt))
    {
        GD_FN(gd_ws) w;
        GD_FN(gd_ws_carve)(e, &w, sums_nz);
        int run = GD_FN(gd_reserve_team)(&status); /* the same answer on every thread */
        /* the penalty of the weights, which evaluation does not change (the same value
         * on every thread; a team's barrier inside) */
        double pen = 0;
        int with_pen = with_loss && gd_engine_penalty_blocks(e) && run;
        if (with_pen) pen = GD_FN(gd_penalty)(e, &w, 0, nt);
        for (int64_t r0 = start; run && r0 < start + count; r0 += span) {
            int64_t m = start + count - r0 < span ? start + count - r0 : span;
            if (check_x || !gather) {
                /* both end in a barrier */
                if (gather)
                    GD_FN(gd_check_rows)(e, r0, m, &bad);
                else
                    GD_FN(gd_scan_rows)(e, &w, r0, m, check_x, &bad);
                int stop;
                GD_PRAGMA(omp atomic read)
                stop = bad;
                if (stop) break; /* every thread read the same value */
            }
            const GD_T *y = 0;
            const GD_T *in;
            if (gather) {
                GD_FN(gd_gather)(e, &w, r0, m, with_loss);
                in = w.xb;
            } else {
                in = (const GD_T *)e->x + r0 * e->n_features; /* rows in order: no copy */
            }
            gd_team_inference = 1;
            int s1 = GD_FN(gd_forward)(e, &w, in, m, batch, with_loss, 0, nt, &y);
            gd_team_inference = 0;
            if (with_loss) {
                GD_FN(gd_loss_metrics)(e, &w, y, m, batch, with_pen ? &pen : 0, 0, sums,
                                       nt);
                /* the thread summing this batch (omp single nowait) reads the sample
                 * weights, which the next batch's gather overwrites before any barrier
                 * (training meets barriers in between; evaluation must wait here) */
                GD_PRAGMA(omp barrier)
            }
            if (out) {
                GD_T *o = (GD_T *)out + (r0 - start) * O;
                if (with_loss && e->skip_last_act) {
                    GD_FN(gd_act_fwd)(m, O, GD_ACT_SOFTMAX, y, o, nt);
                } else {
                    GD_PRAGMA(omp for schedule(static))
                    for (int64_t i = 0; i < m * O; i++) o[i] = y[i];
                }
            }
            if (s1 != GD_OK) {
                GD_PRAGMA(omp critical(gd_engine_status))
                status = s1;
            }
        }
    }
    return bad ? GD_ENONFINITE : status;
}

#undef GD_CAT2
#undef GD_CAT
#undef GD_FN
