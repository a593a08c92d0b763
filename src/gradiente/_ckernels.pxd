# The C kernels as Cython sees them: a mirror of csrc/include/gradiente/gd_kernels.h.
from libc.stdint cimport int64_t, int32_t, uint64_t

cdef extern from "gradiente/gd_kernels.h" nogil:
    int GD_OK
    int GD_ENOMEM
    int GD_EINVAL
    int GD_ENONFINITE
    int GD_ISA_GENERIC
    int GD_ISA_AVX2
    int GD_ISA_AVX512

    int gd_dispatch_init(int cap)
    int gd_cpu_isa()
    int gd_dispatch_isa(const char *slot)
    const char *gd_dispatch_slot_name(int i)
    int gd_openmp_enabled()
    int gd_max_threads()

    int gd_gemm_nn_f32(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                       const float *b, int64_t ldb, float beta, float *c, int64_t ldc, int n_threads)
    int gd_gemm_nt_f32(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                       const float *b, int64_t ldb, float beta, float *c, int64_t ldc, int n_threads)
    int gd_gemm_tn_f32(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                       const float *b, int64_t ldb, float beta, float *c, int64_t ldc, int n_threads)
    int gd_gemm_nn_f64(int64_t m, int64_t n, int64_t k, double alpha, const double *a, int64_t lda,
                       const double *b, int64_t ldb, double beta, double *c, int64_t ldc, int n_threads)
    int gd_gemm_nt_f64(int64_t m, int64_t n, int64_t k, double alpha, const double *a, int64_t lda,
                       const double *b, int64_t ldb, double beta, double *c, int64_t ldc, int n_threads)
    int gd_gemm_tn_f64(int64_t m, int64_t n, int64_t k, double alpha, const double *a, int64_t lda,
                       const double *b, int64_t ldb, double beta, double *c, int64_t ldc, int n_threads)

    void gd_spmm_nn_f32(int64_t m, int64_t n, int64_t k, const float *a, const float *b,
                        float *c, float *scratch, int n_threads)
    void gd_spmm_tn_f32(int64_t m, int64_t n, int64_t k, const float *a, const float *b,
                        float *c, int n_threads)
    void gd_spmm_nn_f64(int64_t m, int64_t n, int64_t k, const double *a, const double *b,
                        double *c, double *scratch, int n_threads)
    void gd_spmm_tn_f64(int64_t m, int64_t n, int64_t k, const double *a, const double *b,
                        double *c, int n_threads)
    double gd_sparse_max_density(double density)
    int64_t gd_count_nonzero_f32(int64_t n, const float *x)
    int64_t gd_count_nonzero_f64(int64_t n, const double *x)
    int64_t gd_pack_rows_size_f32(int64_t n, int64_t f, const float *x, int64_t *off,
                                  int n_threads)
    int64_t gd_pack_rows_size_f64(int64_t n, int64_t f, const double *x, int64_t *off,
                                  int n_threads)
    void gd_pack_rows_f32(int64_t n, int64_t f, const float *x, const int64_t *off,
                          void *out, int n_threads)
    void gd_pack_rows_f64(int64_t n, int64_t f, const double *x, const int64_t *off,
                          void *out, int n_threads)
    int64_t gd_unpack_rows_f32(int64_t m, int64_t f, const void *packed,
                               const int64_t *off, const int64_t *rows, float *dst,
                               int n_threads)
    int64_t gd_unpack_rows_f64(int64_t m, int64_t f, const void *packed,
                               const int64_t *off, const int64_t *rows, double *dst,
                               int n_threads)

    void gd_act_fwd_f32(int64_t m, int64_t n, int act, const float *x, float *y, int n_threads)
    void gd_act_fwd_f64(int64_t m, int64_t n, int act, const double *x, double *y, int n_threads)
    int gd_act_needs_input(int act)
    void gd_act_bwd_f32(int64_t m, int64_t n, int act, const float *x, const float *y,
                        const float *dy, float *dx, int n_threads)
    void gd_act_bwd_f64(int64_t m, int64_t n, int act, const double *x, const double *y,
                        const double *dy, double *dx, int n_threads)
    int gd_dense_fwd_f32(int64_t m, int64_t k, int64_t n, const float *x, const float *w,
                         const float *b, int act, float *y, float *z, float *scratch,
                         int n_threads)
    int gd_dense_fwd_f64(int64_t m, int64_t k, int64_t n, const double *x, const double *w,
                         const double *b, int act, double *y, double *z, double *scratch,
                         int n_threads)
    int gd_dense_bwd_f32(int64_t m, int64_t k, int64_t n, const float *x, const float *w,
                         const float *y, const float *z, float *dy, int act, float *dx,
                         float *dw, float *db, int n_threads)
    int gd_dense_bwd_f64(int64_t m, int64_t k, int64_t n, const double *x, const double *w,
                         const double *y, const double *z, double *dy, int act, double *dx,
                         double *dw, double *db, int n_threads)
    void gd_softmax_xent_f32(int64_t m, int64_t n, const float *z, const int32_t *labels,
                             const float *targets, const float *sample_weight, int from_logits,
                             float grad_scale, float *dz, float *row_loss, int32_t *row_hit,
                             int n_threads)
    void gd_softmax_xent_f64(int64_t m, int64_t n, const double *z, const int32_t *labels,
                             const double *targets, const double *sample_weight, int from_logits,
                             double grad_scale, double *dz, double *row_loss, int32_t *row_hit,
                             int n_threads)
    void gd_loss_f32(int64_t m, int64_t n, int loss, const float *p, const float *t,
                     const float *sample_weight, float grad_scale, float *dp, float *row_loss,
                     int n_threads)
    void gd_loss_f64(int64_t m, int64_t n, int loss, const double *p, const double *t,
                     const double *sample_weight, double grad_scale, double *dp,
                     double *row_loss, int n_threads)

    uint64_t gd_dropout_key(uint64_t seed, int64_t step, int64_t layer)
    void gd_dropout_fwd_f32(int64_t m, int64_t n, double rate, uint64_t key, int share_rows,
                            int share_cols, const float *x, float *y, float *mask,
                            int n_threads)
    void gd_dropout_fwd_f64(int64_t m, int64_t n, double rate, uint64_t key, int share_rows,
                            int share_cols, const double *x, double *y, double *mask,
                            int n_threads)
    void gd_dropout_bwd_f32(int64_t m, int64_t n, double rate, const float *mask,
                            const float *dy, float *dx, int n_threads)
    void gd_dropout_bwd_f64(int64_t m, int64_t n, double rate, const double *mask,
                            const double *dy, double *dx, int n_threads)
    int64_t gd_l1l2_blocks(int64_t n)
    double gd_l1l2_penalty_f32(int64_t n, const float *w, double l1, double l2, float *g,
                               double *partials, int n_threads)
    double gd_l1l2_penalty_f64(int64_t n, const double *w, double l1, double l2, double *g,
                               double *partials, int n_threads)

    void gd_sgd_step_f32(int64_t n, float *w, const float *g, float *v, float lr,
                         float momentum, int nesterov, int n_threads)
    void gd_sgd_step_f64(int64_t n, double *w, const double *g, double *v, double lr,
                         double momentum, int nesterov, int n_threads)
    void gd_adam_step_f32(int64_t n, float *w, const float *g, float *m, float *v, float *vhat,
                          float alpha, float beta_1, float beta_2, float epsilon, int n_threads)
    void gd_adam_step_f64(int64_t n, double *w, const double *g, double *m, double *v,
                          double *vhat, double alpha, double beta_1, double beta_2,
                          double epsilon, int n_threads)

    void gd_rmsprop_step_f32(int64_t n, float *w, const float *g, float *v, float *mom,
                             float *avg, float lr, float rho, float momentum, float epsilon,
                             int n_threads)
    void gd_rmsprop_step_f64(int64_t n, double *w, const double *g, double *v, double *mom,
                             double *avg, double lr, double rho, double momentum,
                             double epsilon, int n_threads)
    void gd_adagrad_step_f32(int64_t n, float *w, const float *g, float *acc, float lr,
                             float epsilon, int n_threads)
    void gd_adagrad_step_f64(int64_t n, double *w, const double *g, double *acc, double lr,
                             double epsilon, int n_threads)
    void gd_adamax_step_f32(int64_t n, float *w, const float *g, float *m, float *u, float lr,
                            float bias_1, float beta_1, float beta_2, float epsilon,
                            int n_threads)
    void gd_adamax_step_f64(int64_t n, double *w, const double *g, double *m, double *u,
                            double lr, double bias_1, double beta_1, double beta_2,
                            double epsilon, int n_threads)
    void gd_nadam_step_f32(int64_t n, float *w, const float *g, float *m, float *v, float lr,
                           float c_m, float c_g, float bias_2, float beta_1, float beta_2,
                           float epsilon, int n_threads)
    void gd_nadam_step_f64(int64_t n, double *w, const double *g, double *m, double *v,
                           double lr, double c_m, double c_g, double bias_2, double beta_1,
                           double beta_2, double epsilon, int n_threads)
    void gd_adadelta_step_f32(int64_t n, float *w, const float *g, float *ag, float *ad,
                              float lr, float rho, float epsilon, int n_threads)
    void gd_adadelta_step_f64(int64_t n, double *w, const double *g, double *ag, double *ad,
                              double lr, double rho, double epsilon, int n_threads)
    void gd_scale_f32(int64_t n, float *w, float factor, int n_threads)
    void gd_scale_f64(int64_t n, double *w, double factor, int n_threads)
    void gd_clip_grads_f32(int64_t n, int64_t n_blocks, const int64_t *blocks, float *g,
                           int mode, double clip, double *scratch, int n_threads)
    void gd_clip_grads_f64(int64_t n, int64_t n_blocks, const int64_t *blocks, double *g,
                           int mode, double clip, double *scratch, int n_threads)

    void gd_metric_f32(int64_t m, int64_t n, int metric, int64_t k, const float *p,
                       const int32_t *labels, const float *t, float *row_out, int n_threads)
    void gd_metric_f64(int64_t m, int64_t n, int metric, int64_t k, const double *p,
                       const int32_t *labels, const double *t, double *row_out, int n_threads)

    int GD_MAX_METRICS
    ctypedef struct gd_layer_t:
        int32_t kind
        int32_t act
        int64_t n_in
        int64_t n_out
        int64_t w_off
        int64_t b_off
        double rate
        uint64_t seed
        int32_t share_rows
        int32_t share_cols
        double kernel_l1
        double kernel_l2
        double bias_l1
        double bias_l2

    ctypedef struct gd_engine_t:
        int32_t n_layers
        const gd_layer_t *layers
        int64_t n_features
        int64_t n_outputs
        int32_t fused_xent
        int32_t skip_last_act
        int32_t from_logits
        int32_t loss
        int32_t sparse
        int32_t n_metrics
        int32_t metrics[8]
        int32_t metric_k[8]
        int32_t metric_weighted[8]
        int32_t opt
        int32_t nesterov
        int32_t amsgrad
        int32_t centered
        double learning_rate
        double momentum
        double beta_1
        double beta_2
        double epsilon
        double rho
        double weight_decay
        int64_t n_decay_segments
        const int64_t *decay_segments
        int32_t clip_mode
        double clip
        int64_t n_clip_blocks
        const int64_t *clip_blocks
        double *clip_scratch
        double *opt_state
        const double *lr_steps
        int64_t n_params
        void *params
        void *grads
        void *slot0
        void *slot1
        void *slot2
        int64_t *iterations
        int64_t n_samples
        const void *x
        const int32_t *labels
        const void *targets
        const void *sample_weight
        const int64_t *index
        const void *packed
        const int64_t *packed_off
        int64_t max_batch
        void *ws
        int32_t *iws

    void gd_engine_workspace(const gd_engine_t *e, int64_t max_batch, int64_t *n_ws,
                             int64_t *n_iws)
    int gd_engine_train_f32(const gd_engine_t *e, int64_t start, int64_t n_steps, int64_t batch,
                            double *sums, int n_threads)
    int gd_engine_train_f64(const gd_engine_t *e, int64_t start, int64_t n_steps, int64_t batch,
                            double *sums, int n_threads)
    int gd_engine_eval_f32(const gd_engine_t *e, int64_t start, int64_t count, int64_t batch,
                           int with_loss, double *sums, void *out, int check_x, int n_threads)
    int gd_engine_eval_f64(const gd_engine_t *e, int64_t start, int64_t count, int64_t batch,
                           int with_loss, double *sums, void *out, int check_x, int n_threads)
