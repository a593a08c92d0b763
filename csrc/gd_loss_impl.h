/* gd_loss_* (private template, included by gd_loss.c per dtype). */

/* One row of a loss: returns lᵢ; when dp is given, writes s·∂lᵢ/∂p into it
 * (s = wᵢ · grad_scale). Formulas as in _reference.loss. */
static inline GD_T GD_FN(gd_loss_row)(int64_t n, int kind, const GD_T *p, const GD_T *t,
                                      GD_T s, GD_T *dp) {
    GD_T acc = 0, nn = (GD_T)(n > 0 ? n : 1);
    int64_t j;
    switch (kind) {
    case GD_LOSS_MSE:
        for (j = 0; j < n; j++) {
            GD_T d = p[j] - t[j];
            acc += d * d;
            if (dp != NULL) dp[j] = s * ((GD_T)2 * d / nn);
        }
        return acc / nn;
    case GD_LOSS_MAE:
        for (j = 0; j < n; j++) {
            GD_T d = p[j] - t[j];
            GD_T sg = d > 0 ? (GD_T)1 : (d < 0 ? (GD_T)-1 : d);
            acc += GD_FABS(d);
            if (dp != NULL) dp[j] = s * (sg / nn);
        }
        return acc / nn;
    case GD_LOSS_BCE:
        for (j = 0; j < n; j++) {
            GD_T pj = p[j], tj = t[j];
            GD_T c = pj < GD_CLIP_LO ? GD_CLIP_LO : (pj > GD_CLIP_HI ? GD_CLIP_HI : pj);
            acc += tj * GD_LOG(c) + ((GD_T)1 - tj) * GD_LOG((GD_T)1 - c);
            if (dp != NULL) {
                int active = pj >= GD_CLIP_LO && pj <= GD_CLIP_HI;
                GD_T g = active ? -(tj / c - ((GD_T)1 - tj) / ((GD_T)1 - c)) : (GD_T)0;
                dp[j] = s * (g / nn);
            }
        }
        return -acc / nn;
    case GD_LOSS_BCE_LOGITS:
        /* max(z,0) - z t + log1p(exp(-|z|)) equals -t log σ(z) - (1-t) log(1-σ(z)) and
         * takes exp of a non-positive number only (the form TensorFlow documents for
         * sigmoid_cross_entropy_with_logits) */
        for (j = 0; j < n; j++) {
            GD_T z = p[j], tj = t[j];
            acc += (z > 0 ? z : (GD_T)0) - z * tj + GD_LOG1P(GD_EXP(-GD_FABS(z)));
            if (dp != NULL) dp[j] = s * (((GD_T)1 / ((GD_T)1 + GD_EXP(-z)) - tj) / nn);
        }
        return acc / nn;
    case GD_LOSS_CCE: {
        /* q = p / Σp, c = clip(q), l = -Σ t log c; gq = -t/c where not clipped;
         * ∂l/∂pⱼ = (gqⱼ - Σₖ gqₖ qₖ) / Σp. dp holds gq between the passes. */
        GD_T total = 0, dot = 0;
        for (j = 0; j < n; j++) total += p[j];
        for (j = 0; j < n; j++) {
            GD_T q = p[j] / total, tj = t[j];
            GD_T c = q < GD_CLIP_LO ? GD_CLIP_LO : (q > GD_CLIP_HI ? GD_CLIP_HI : q);
            int active = q >= GD_CLIP_LO && q <= GD_CLIP_HI;
            GD_T gq = active ? -tj / c : (GD_T)0;
            acc += tj * GD_LOG(c);
            dot += gq * q;
            if (dp != NULL) dp[j] = gq;
        }
        if (dp != NULL)
            for (j = 0; j < n; j++) dp[j] = s * ((dp[j] - dot) / total);
        return -acc;
    }
    default:
        for (j = 0; dp != NULL && j < n; j++) dp[j] = 0;
        return 0;
    }
}

static void GD_FN(gd_loss_team)(int64_t m, int64_t n, int kind, const GD_T *p, const GD_T *t,
                                const GD_T *sample_weight, GD_T grad_scale, GD_T *dp,
                                GD_T *row_loss) {
    int64_t i;
    GD_PRAGMA(omp for schedule(static))
    for (i = 0; i < m; i++) {
        GD_T w = sample_weight != NULL ? sample_weight[i] : (GD_T)1;
        GD_T l = GD_FN(gd_loss_row)(n, kind, p + i * n, t + i * n, w * grad_scale,
                                    dp != NULL ? dp + i * n : NULL);
        row_loss[i] = w * l;
    }
}

void GD_FN(gd_loss)(int64_t m, int64_t n, int loss, const GD_T *p, const GD_T *t,
                    const GD_T *sample_weight, GD_T grad_scale, GD_T *dp, GD_T *row_loss,
                    int n_threads) {
    int nt = gd_fork_threads(n_threads, (double)m * (double)n * 10.0, GD_LOSS_MIN_PAR_WORK);
    if (nt > 1) {
        GD_PRAGMA(omp parallel num_threads(nt))
        GD_FN(gd_loss_team)(m, n, loss, p, t, sample_weight, grad_scale, dp, row_loss);
    } else {
        GD_FN(gd_loss_team)(m, n, loss, p, t, sample_weight, grad_scale, dp, row_loss);
    }
}
