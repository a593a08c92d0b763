# The C kernels as Cython sees them: a mirror of csrc/include/gradiente/gd_kernels.h.
from libc.stdint cimport int64_t, int32_t

cdef extern from "gradiente/gd_kernels.h" nogil:
    int GD_OK
    int GD_ENOMEM
    int GD_EINVAL
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

    void gd_act_fwd_f32(int64_t m, int64_t n, int act, const float *x, float *y, int n_threads)
    void gd_act_fwd_f64(int64_t m, int64_t n, int act, const double *x, double *y, int n_threads)
    void gd_act_bwd_f32(int64_t m, int64_t n, int act, const float *y, const float *dy,
                        float *dx, int n_threads)
    void gd_act_bwd_f64(int64_t m, int64_t n, int act, const double *y, const double *dy,
                        double *dx, int n_threads)
    int gd_dense_fwd_f32(int64_t m, int64_t k, int64_t n, const float *x, const float *w,
                         const float *b, int act, float *y, int n_threads)
    int gd_dense_fwd_f64(int64_t m, int64_t k, int64_t n, const double *x, const double *w,
                         const double *b, int act, double *y, int n_threads)
    int gd_dense_bwd_f32(int64_t m, int64_t k, int64_t n, const float *x, const float *w,
                         const float *y, float *dy, int act, float *dx, float *dw, float *db,
                         int n_threads)
    int gd_dense_bwd_f64(int64_t m, int64_t k, int64_t n, const double *x, const double *w,
                         const double *y, double *dy, int act, double *dx, double *dw,
                         double *db, int n_threads)
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

    void gd_sgd_step_f32(int64_t n, float *w, const float *g, float *v, float lr,
                         float momentum, int nesterov, int n_threads)
    void gd_sgd_step_f64(int64_t n, double *w, const double *g, double *v, double lr,
                         double momentum, int nesterov, int n_threads)
    void gd_adam_step_f32(int64_t n, float *w, const float *g, float *m, float *v, float *vhat,
                          float alpha, float beta_1, float beta_2, float epsilon, int n_threads)
    void gd_adam_step_f64(int64_t n, double *w, const double *g, double *m, double *v,
                          double *vhat, double alpha, double beta_1, double beta_2,
                          double epsilon, int n_threads)
