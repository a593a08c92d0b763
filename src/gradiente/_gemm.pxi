# GEMM wrapper (included by _ckernels.pyx).

def gemm(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] c,
         bint trans_a, bint trans_b, double alpha, double beta, int n_threads):
    """c = alpha · op(a) · op(b) + beta · c, in place (both transposes is not offered)."""
    cdef int64_t m = c.shape[0], n = c.shape[1]
    cdef int64_t k = a.shape[0] if trans_a else a.shape[1]
    cdef int64_t lda = a.shape[1], ldb = b.shape[1], ldc = c.shape[1]
    cdef int status = GD_OK
    cdef const floating *ap = &a[0, 0] if a.shape[0] * a.shape[1] > 0 else NULL
    cdef const floating *bp = &b[0, 0] if b.shape[0] * b.shape[1] > 0 else NULL
    cdef floating *cp = &c[0, 0] if m * n > 0 else NULL
    if m == 0 or n == 0:
        return
    with nogil:
        if floating is float:
            if trans_a:
                status = gd_gemm_tn_f32(m, n, k, <float>alpha, ap, lda, bp, ldb, <float>beta, cp, ldc, n_threads)
            elif trans_b:
                status = gd_gemm_nt_f32(m, n, k, <float>alpha, ap, lda, bp, ldb, <float>beta, cp, ldc, n_threads)
            else:
                status = gd_gemm_nn_f32(m, n, k, <float>alpha, ap, lda, bp, ldb, <float>beta, cp, ldc, n_threads)
        else:
            if trans_a:
                status = gd_gemm_tn_f64(m, n, k, alpha, ap, lda, bp, ldb, beta, cp, ldc, n_threads)
            elif trans_b:
                status = gd_gemm_nt_f64(m, n, k, alpha, ap, lda, bp, ldb, beta, cp, ldc, n_threads)
            else:
                status = gd_gemm_nn_f64(m, n, k, alpha, ap, lda, bp, ldb, beta, cp, ldc, n_threads)
    _check(status)
