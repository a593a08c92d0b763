# GEMM wrapper (included by _ckernels.pyx).

def gemm(const floating[:, :] a, const floating[:, :] b, floating[:, :] c,
         bint trans_a, bint trans_b, double alpha, double beta, int n_threads):
    """c = alpha · op(a) · op(b) + beta · c, in place (both transposes is not offered).

    Each matrix may be a row-strided view (unit stride along its last axis): its row
    stride becomes the leading dimension handed to C.
    """
    cdef Py_ssize_t isz = sizeof(floating)
    cdef int64_t m = c.shape[0], n = c.shape[1]
    cdef int64_t k = a.shape[0] if trans_a else a.shape[1]
    cdef int status = GD_OK
    if m == 0 or n == 0:
        return
    if ((a.shape[1] > 1 and a.strides[1] != isz) or (b.shape[1] > 1 and b.strides[1] != isz)
            or (n > 1 and c.strides[1] != isz)):
        raise ValueError("gemm expects unit stride along the last axis of a, b and c")
    if a.strides[0] < 0 or b.strides[0] < 0 or c.strides[0] < 0:
        raise ValueError("gemm expects non-negative row strides")
    cdef int64_t lda = a.strides[0] // isz if a.shape[0] > 1 else a.shape[1]
    cdef int64_t ldb = b.strides[0] // isz if b.shape[0] > 1 else b.shape[1]
    cdef int64_t ldc = c.strides[0] // isz if m > 1 else n
    cdef const floating *ap = &a[0, 0] if a.shape[0] * a.shape[1] > 0 else NULL
    cdef const floating *bp = &b[0, 0] if b.shape[0] * b.shape[1] > 0 else NULL
    cdef floating *cp = &c[0, 0]
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


def spmm(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] c,
         bint trans_a, int n_threads):
    """c = op(a) · b skipping the zeros of a (gd_spmm_*); contiguous arrays, shapes checked
    by the caller."""
    cdef int64_t m = c.shape[0], n = c.shape[1]
    cdef int64_t k = a.shape[0] if trans_a else a.shape[1]
    if m == 0 or n == 0:
        return
    cdef floating[::1] scratch = _np.empty(max(m * n, 1), _np.float32 if floating is float else _np.float64)
    cdef const floating *ap = &a[0, 0] if a.shape[0] * a.shape[1] > 0 else NULL
    cdef const floating *bp = &b[0, 0] if b.shape[0] * b.shape[1] > 0 else NULL
    cdef floating *cp = &c[0, 0]
    with nogil:
        if floating is float:
            if trans_a:
                gd_spmm_tn_f32(m, n, k, ap, bp, cp, n_threads)
            else:
                gd_spmm_nn_f32(m, n, k, ap, bp, cp, &scratch[0], n_threads)
        else:
            if trans_a:
                gd_spmm_tn_f64(m, n, k, ap, bp, cp, n_threads)
            else:
                gd_spmm_nn_f64(m, n, k, ap, bp, cp, &scratch[0], n_threads)


def count_nonzero(const floating[::1] x):
    """How many elements of x are not zero (NaN counts)."""
    if x.shape[0] == 0:
        return 0
    if floating is float:
        return gd_count_nonzero_f32(x.shape[0], &x[0])
    return gd_count_nonzero_f64(x.shape[0], &x[0])


def pack_rows_size(const floating[:, ::1] x, int64_t[::1] off, int n_threads):
    """off[0] = 0, off[i + 1] = off[i] + the bytes of row i's packed record
    (gd_pack_rows_size_*); returns off[n]."""
    cdef int64_t n = x.shape[0], f = x.shape[1], total
    if off.shape[0] != n + 1:
        raise ValueError(f"off must hold {n + 1} offsets, got {off.shape[0]}")
    if f >= 2**31:
        raise ValueError(f"x has {f} columns; packed rows hold fewer than 2**31")
    if n == 0 or f == 0:
        off[:] = 0
        return 0
    with nogil:
        if floating is float:
            total = gd_pack_rows_size_f32(n, f, &x[0, 0], &off[0], n_threads)
        else:
            total = gd_pack_rows_size_f64(n, f, &x[0, 0], &off[0], n_threads)
    return total


def _packed_check(int64_t n, const int64_t[::1] off, const unsigned char[::1] out):
    if off.shape[0] != n + 1:
        raise ValueError(f"off must hold {n + 1} offsets, got {off.shape[0]}")
    if off[0] != 0 or off[n] > out.shape[0]:
        raise ValueError("off does not fit the packed buffer")
    if n and (<size_t>&out[0]) % 8 != 0:
        raise ValueError("the packed buffer must be 8-byte aligned")


def pack_rows(const floating[:, ::1] x, const int64_t[::1] off, unsigned char[::1] out,
              int n_threads):
    """Writes x's packed records at out + off[i] (gd_pack_rows_*; off from
    pack_rows_size on the same x)."""
    cdef int64_t n = x.shape[0], f = x.shape[1]
    _packed_check(n, off, out)
    if n == 0 or f == 0:
        return
    with nogil:
        if floating is float:
            gd_pack_rows_f32(n, f, &x[0, 0], &off[0], &out[0], n_threads)
        else:
            gd_pack_rows_f64(n, f, &x[0, 0], &off[0], &out[0], n_threads)


def unpack_rows(const unsigned char[::1] packed, const int64_t[::1] off,
                const int64_t[::1] rows, floating[:, ::1] dst, int n_threads):
    """dst[i] = packed row rows[i] (gd_unpack_rows_*); returns their nonzero count."""
    cdef int64_t m = dst.shape[0], f = dst.shape[1], n = off.shape[0] - 1, total, i
    _packed_check(n, off, packed)
    if rows.shape[0] != m:
        raise ValueError(f"rows holds {rows.shape[0]} entries for {m} rows of dst")
    cdef int64_t head = 16 + 8 * ((f + 63) // 64), r, count
    for i in range(m):
        r = rows[i]
        if r < 0 or r >= n:
            raise IndexError(f"rows[{i}] = {r} outside [0, {n})")
        if off[r + 1] - off[r] < head:
            raise ValueError(f"row {r}'s record does not hold {f} columns")
        count = (<const int32_t *>&packed[off[r] + 12])[0]
        if off[r + 1] - off[r] != head + (count * sizeof(floating) + 7) // 8 * 8:
            raise ValueError(f"row {r}'s record does not hold {f} columns")
    if m == 0 or f == 0:
        return 0
    with nogil:
        if floating is float:
            total = gd_unpack_rows_f32(m, f, &packed[0], &off[0], &rows[0], &dst[0, 0],
                                       n_threads)
        else:
            total = gd_unpack_rows_f64(m, f, &packed[0], &off[0], &rows[0], &dst[0, 0],
                                       n_threads)
    return total


def sparse_max_density(density=None):
    """The density at or below which dense layers skip their input's zeros; with a value,
    sets it (0 never, 1 always) and returns the previous one."""
    return gd_sparse_max_density(-1.0 if density is None else float(density))
