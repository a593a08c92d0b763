/* Private template: packed rows (gd_pack_rows_size_*, gd_pack_rows_*, gd_unpack_rows_*;
 * the record format and the contracts are in gd_kernels.h) and the engine's per-row
 * unpack (gd_unpack_cols_*, gd_internal.h). Included by gd_gemm_tmpl.h after
 * gd_spmm_tmpl.h, once per dtype and ISA, with the same macros. An ISA file may define,
 * for a register v and a lane mask k (bit l: lane l):
 *   V_ANYBITS(v)        lanes whose element has any bit set (+0.0 is the only one without)
 *   V_NZ(v)             lanes != 0 (NaN included)
 *   V_COMPRESS(k, v)    the lanes of k moved down to the first popcount(k) lanes
 *   V_EXPANDLOAD(k, p)  lane l: the next of p[0], p[1], ... when bit l of k is set, else 0
 * (AVX-512); without them each element goes through a scalar loop.
 *
 * Why: a training step gathers its batch's rows from all over the data set, which is
 * far larger than the caches, and waits on memory for every line. MNIST's rows are 81%
 * zeros: stored as bit words and their nonzero values they take 0.22 of the bytes and
 * the lines, and the next rows' few lines can be prefetched while the current one is
 * unpacked (measured on one core, 32 random rows of 784 floats: 98k cycles copied from
 * x, 40k unpacked, 18-24k unpacked with the prefetch). */

#ifndef GD_PACK_TMPL_ONCE
#define GD_PACK_TMPL_ONCE
#include <math.h>
#include <string.h>
/* The record's header: int32 nonzeros in [0, cut) and [cut, f), values stored in
 * [0, cut), values stored in all. */
#define GD_PACK_HEADER 16
/* Elements below which packing and unpacking run on one thread. */
#define GD_PACK_MIN_PAR_ELEMS 65536.0
static inline int64_t gd_pack_words(int64_t f) { return (f + 63) / 64; }
static inline void gd_pack_add_counts(int32_t *h, int in_hi, int32_t nonzero,
                                      int32_t stored) {
    h[in_hi] += nonzero;
    if (!in_hi) h[2] += stored;
    h[3] += stored;
}
#endif /* GD_PACK_TMPL_ONCE */

#define GD_FN(name) GD_CAT(name, GD_SFX)

/* Row x[0 .. f) as a record: its header in h and, with out, its bit words and values
 * written there. Returns the record's bytes. */
static GD_ALWAYS_INLINE int64_t GD_FN(gd_pack_row_)(int64_t f, int64_t cut, const T *x,
                                                    unsigned char *out, int32_t *h) {
    int64_t nw = gd_pack_words(f);
    T *vals = out ? (T *)(void *)(out + GD_PACK_HEADER + 8 * nw) : 0;
    h[0] = h[1] = h[2] = h[3] = 0;
    for (int64_t q = 0; q < nw; q++) {
        int64_t j0 = q * 64, len = f - j0 < 64 ? f - j0 : 64;
        uint64_t word = 0;
#ifdef V_COMPRESS
        /* cut is a multiple of 16, so no register straddles it */
        for (int64_t j = 0; j < len; j += VL) {
            int n = len - j < VL ? (int)(len - j) : VL;
            V v = n == VL ? V_LOAD(x + j0 + j) : V_LOADN(x + j0 + j, n);
            uint64_t any = V_ANYBITS(v);
            int stored = GD_POPCNT64(any);
            if (out && stored) V_STOREN(vals + h[3], V_COMPRESS(any, v), stored);
            word |= any << j;
            gd_pack_add_counts(h, j0 + j >= cut, GD_POPCNT64((uint64_t)V_NZ(v)), stored);
        }
#else
        /* branch-free: every element goes to the next slot of a local block, which
         * advances only past the stored ones (3-8x faster than a branch per element) */
        T kept[64];
        int32_t stored = 0, nonzero = 0;
        for (int64_t j = 0; j < len; j++) {
            T v = x[j0 + j];
            int any = (v != (T)0) | (signbit(v) != 0); /* -0.0 and NaN included */
            kept[stored] = v;
            stored += any;
            nonzero += v != (T)0;
            word |= (uint64_t)any << j;
        }
        if (out) memcpy(vals + h[3], kept, (size_t)stored * sizeof(T));
        /* a word never straddles the cut unless it is not a multiple of 64 */
        if (j0 + len <= cut || j0 >= cut) {
            gd_pack_add_counts(h, j0 >= cut, nonzero, stored);
        } else {
            int64_t split = cut - j0;
            uint64_t low = ((uint64_t)1 << split) - 1;
            int32_t nz_lo = 0;
            for (int64_t j = 0; j < split; j++) nz_lo += x[j0 + j] != (T)0;
            gd_pack_add_counts(h, 0, nz_lo, GD_POPCNT64(word & low));
            gd_pack_add_counts(h, 1, nonzero - nz_lo, stored - GD_POPCNT64(word & low));
        }
#endif
        if (out) memcpy(out + GD_PACK_HEADER + 8 * q, &word, 8);
    }
    int64_t value_bytes = (int64_t)h[3] * (int64_t)sizeof(T);
    int64_t padded = (value_bytes + 7) / 8 * 8;
    if (out) {
        memcpy(out, h, GD_PACK_HEADER);
        memset((unsigned char *)vals + value_bytes, 0, (size_t)(padded - value_bytes));
    }
    return GD_PACK_HEADER + 8 * nw + padded;
}

/* Columns [c0, c1) of a record into dst[c0 .. c1), bit for bit, with c0 either 0 or
 * gd_spmm_cut(f) and c1 either that cut or f. Returns the nonzeros of those columns. */
int64_t GD_CAT(gd_unpack_cols_, GD_SFX)(const void *record, int64_t f, int64_t c0,
                                        int64_t c1, T *dst) {
    const unsigned char *rec = (const unsigned char *)record;
    int32_t h[4];
    memcpy(h, rec, GD_PACK_HEADER);
    const uint64_t *bits = (const uint64_t *)(const void *)(rec + GD_PACK_HEADER);
    const T *vals = (const T *)(const void *)(bits + gd_pack_words(f)) + (c0 ? h[2] : 0);
#ifdef V_EXPANDLOAD
    /* c0 is a multiple of 16: each register's lanes lie in one bit word */
    for (int64_t j = c0; j < c1; j += VL) {
        int n = c1 - j < VL ? (int)(c1 - j) : VL;
        uint64_t k = (bits[j >> 6] >> (j & 63)) & (((uint64_t)1 << VL) - 1);
        V v = V_EXPANDLOAD(k, vals);
        if (n == VL) V_STORE(dst + j, v);
        else V_STOREN(dst + j, v, n);
        vals += GD_POPCNT64(k);
    }
#else
    for (int64_t j = c0; j < c1; j++) dst[j] = 0;
    for (int64_t q = c0 / 64; q * 64 < c1; q++) {
        uint64_t w = bits[q];
        if (q * 64 < c0) w &= ~(uint64_t)0 << (c0 - q * 64);
        if (c1 - q * 64 < 64) w &= ((uint64_t)1 << (c1 - q * 64)) - 1;
        while (w) {
            dst[q * 64 + GD_CTZ64(w)] = *vals++;
            w &= w - 1;
        }
    }
#endif
    if (c0 > 0) return h[1];
    return c1 == f ? (int64_t)h[0] + h[1] : h[0];
}

/* Every row's record: written at out + off[i] (out not NULL), or its bytes put in
 * off[i + 1] (out NULL); rows split statically over the threads. */
static void GD_FN(gd_pack_pass_)(int64_t n, int64_t f, const T *x, int64_t *off,
                                 unsigned char *out, int n_threads) {
    int64_t cut = gd_spmm_cut(f);
    int fork = gd_fork_threads(n_threads, (double)n * (double)f, GD_PACK_MIN_PAR_ELEMS);
    GD_PRAGMA(omp parallel num_threads(fork > 0 ? fork : 1) if (fork > 1))
    {
        int64_t lo, hi;
        int32_t h[4];
        gd_static_range(n, 1, GD_THREAD_ID(), GD_TEAM_SIZE(), &lo, &hi);
        for (int64_t i = lo; i < hi; i++) {
            if (out)
                GD_FN(gd_pack_row_)(f, cut, x + i * f, out + off[i], h);
            else
                off[i + 1] = GD_FN(gd_pack_row_)(f, cut, x + i * f, 0, h);
        }
    }
}

int64_t GD_CAT(gd_pack_rows_size_, GD_SFX)(int64_t n, int64_t f, const T *x, int64_t *off,
                                           int n_threads) {
    off[0] = 0;
    GD_FN(gd_pack_pass_)(n, f, x, off, 0, n_threads);
    for (int64_t i = 0; i < n; i++) off[i + 1] += off[i];
    return off[n];
}

void GD_CAT(gd_pack_rows_, GD_SFX)(int64_t n, int64_t f, const T *x, const int64_t *off,
                                   void *out, int n_threads) {
    GD_FN(gd_pack_pass_)(n, f, x, (int64_t *)off, (unsigned char *)out, n_threads);
}

int64_t GD_CAT(gd_unpack_rows_, GD_SFX)(int64_t m, int64_t f, const void *packed,
                                        const int64_t *off, const int64_t *rows, T *dst,
                                        int n_threads) {
    int64_t total = 0;
    int fork = gd_fork_threads(n_threads, (double)m * (double)f, GD_PACK_MIN_PAR_ELEMS);
    GD_PRAGMA(omp parallel num_threads(fork > 0 ? fork : 1) if (fork > 1) reduction(+ : total))
    {
        int64_t lo, hi;
        gd_static_range(m, 1, GD_THREAD_ID(), GD_TEAM_SIZE(), &lo, &hi);
        for (int64_t i = lo; i < hi; i++)
            total += GD_CAT(gd_unpack_cols_, GD_SFX)(
                (const unsigned char *)packed + off[rows[i]], f, 0, f, dst + i * f);
    }
    return total;
}

#undef GD_FN
