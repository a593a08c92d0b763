/* Private GEMM template: the blocked, packed driver and its register-tile micro-kernel,
 * written once and included by gd_gemm.c, gd_gemm_avx2.c and gd_gemm_avx512.c, twice
 * each (float, then double). No include guard: it is meant to be included repeatedly.
 *
 * The including file defines, before each inclusion:
 *   T            element type (float or double)
 *   GD_SFX       name suffix, e.g. f32_avx512 (the functions are gd_gemm_nn_<GD_SFX>, ...)
 *   V            register type; VL lanes per register; NV registers per tile row
 *   MR           rows of the register tile (its columns are NR = NV * VL)
 *   KC, MC, NC   cache blocks over k, m, n (MC a multiple of MR, NC a multiple of NR)
 *   V_ZERO()  V_LOAD(p)  V_STORE(p, v)  V_BCAST(x)  V_FMA(a, b, c) = a*b + c (fused
 *   where the ISA has it)  V_MUL(a, b)
 *
 * Algorithm (per thread, on its own block of C):
 *   for jc over n by NC, pc over k by KC:
 *       B block kc×nc: packed into NR-column panels (nt always; nn/tn when it is
 *       reused by enough row tiles), otherwise read in place (rows are contiguous
 *       along n for nn and tn); a partial last panel is always packed, zero-padded;
 *       for ic over m by MC: A block mc×kc packed into MR-row panels when it is reused
 *           by enough column panels, otherwise broadcast in place through (rs, cs)
 *           strides; for ir by MR, jr by NR: the micro-kernel.
 * Every element of C is one chain of fused multiply-adds over p = 0..k-1 inside each
 * KC block, blocks added in order: the per-element operations depend only on the
 * shape (KC is fixed), never on how rows or columns are split across threads.
 */

#ifndef GD_GEMM_TMPL_ONCE
#define GD_GEMM_TMPL_ONCE
#include <stdlib.h>
#include "gd_internal.h"
#if defined(__GNUC__) || defined(__clang__)
#define GD_ALWAYS_INLINE inline __attribute__((always_inline))
#define GD_THREAD_LOCAL __thread
#else
#define GD_ALWAYS_INLINE inline
#define GD_THREAD_LOCAL __declspec(thread)
#endif
/* Work (2·m·n·k flops) below which a call outside a parallel region runs on one
 * thread (measured: benchmarks/bench_gemm.py). */
#ifndef GD_GEMM_MIN_PAR_FLOPS
#define GD_GEMM_MIN_PAR_FLOPS 1.0e6
#endif
/* Rows of a thread's block from which B is packed (nn, tn; nt always packs). */
#ifndef GD_PACK_B_MIN_ROWS
#define GD_PACK_B_MIN_ROWS 96
#endif
/* Columns of a thread's block from which A is packed. */
#ifndef GD_PACK_A_MIN_COLS
#define GD_PACK_A_MIN_COLS 256
#endif
#endif /* GD_GEMM_TMPL_ONCE */

#ifndef GD_CAT
#define GD_CAT_(a, b) a##b
#define GD_CAT(a, b) GD_CAT_(a, b)
#endif
#define GD_FN(name) GD_CAT(name, GD_SFX)
#define NR (NV * VL)

/* ---- micro-kernel: C[mr, NR] = alpha * A[mr, kc] · B[kc, NR] + beta * C ---------- */
/* A element (r, p) is a[r*rsa + p*csa]; B row p is b + p*ldb (NR contiguous elements). */
static GD_ALWAYS_INLINE void GD_FN(gd_ukr_body_)(const int mr, int64_t kc,
        const T *restrict a, int64_t rsa, int64_t csa, const T *restrict b, int64_t ldb,
        T *restrict c, int64_t ldc, T alpha, T beta) {
    V acc[MR][NV];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = V_ZERO();
    for (int64_t p = 0; p < kc; p++) {
        V bv[NV];
        for (int v = 0; v < NV; v++) bv[v] = V_LOAD(b + v * VL);
        for (int r = 0; r < mr; r++) {
            V av = V_BCAST(a[r * rsa]);
            for (int v = 0; v < NV; v++) acc[r][v] = V_FMA(av, bv[v], acc[r][v]);
        }
        a += csa;
        b += ldb;
    }
    V va = V_BCAST(alpha);
    if (beta == (T)0) {
        for (int r = 0; r < mr; r++)
            for (int v = 0; v < NV; v++) V_STORE(c + r * ldc + v * VL, V_MUL(va, acc[r][v]));
    } else if (beta == (T)1) {
        for (int r = 0; r < mr; r++)
            for (int v = 0; v < NV; v++) {
                T *cp = c + r * ldc + v * VL;
                V_STORE(cp, V_FMA(va, acc[r][v], V_LOAD(cp)));
            }
    } else {
        V vb = V_BCAST(beta);
        for (int r = 0; r < mr; r++)
            for (int v = 0; v < NV; v++) {
                T *cp = c + r * ldc + v * VL;
                V_STORE(cp, V_FMA(va, acc[r][v], V_MUL(vb, V_LOAD(cp))));
            }
    }
}

typedef void (*GD_FN(gd_ukr_t_))(int64_t, const T *restrict, int64_t, int64_t,
                                 const T *restrict, int64_t, T *restrict, int64_t, T, T);

#define GD_UKR_DEF(R)                                                                    \
static void GD_FN(gd_ukr##R##_)(int64_t kc, const T *restrict a, int64_t rsa,           \
        int64_t csa, const T *restrict b, int64_t ldb, T *restrict c, int64_t ldc,       \
        T alpha, T beta) {                                                               \
    GD_FN(gd_ukr_body_)(R, kc, a, rsa, csa, b, ldb, c, ldc, alpha, beta);                \
}
GD_UKR_DEF(1)
#if MR >= 2
GD_UKR_DEF(2)
#endif
#if MR >= 3
GD_UKR_DEF(3)
#endif
#if MR >= 4
GD_UKR_DEF(4)
#endif
#if MR >= 5
GD_UKR_DEF(5)
#endif
#if MR >= 6
GD_UKR_DEF(6)
#endif
#if MR >= 7
GD_UKR_DEF(7)
#endif
#if MR >= 8
GD_UKR_DEF(8)
#endif
#undef GD_UKR_DEF

static const GD_FN(gd_ukr_t_) GD_FN(gd_ukr_table_)[MR + 1] = {
    0, GD_FN(gd_ukr1_),
#if MR >= 2
    GD_FN(gd_ukr2_),
#endif
#if MR >= 3
    GD_FN(gd_ukr3_),
#endif
#if MR >= 4
    GD_FN(gd_ukr4_),
#endif
#if MR >= 5
    GD_FN(gd_ukr5_),
#endif
#if MR >= 6
    GD_FN(gd_ukr6_),
#endif
#if MR >= 7
    GD_FN(gd_ukr7_),
#endif
#if MR >= 8
    GD_FN(gd_ukr8_),
#endif
};

/* A partial tile (fewer than NR columns): the same kernel on a stack copy of the tile,
 * so each element sees exactly the operations of a full tile. */
static void GD_FN(gd_ukr_edge_)(int mr, int ncol, int64_t kc, const T *a, int64_t rsa,
                                int64_t csa, const T *b, int64_t ldb, T *c, int64_t ldc,
                                T alpha, T beta) {
    V tv[MR * NV];
    T *t = (T *)tv;
    if (beta != (T)0)
        for (int r = 0; r < mr; r++)
            for (int j = 0; j < ncol; j++) t[r * NR + j] = c[r * ldc + j];
    GD_FN(gd_ukr_table_)[mr](kc, a, rsa, csa, b, ldb, t, NR, alpha, beta);
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < ncol; j++) c[r * ldc + j] = t[r * NR + j];
}

/* ---- packing ------------------------------------------------------------------- */

/* B block (kc rows of op(B), columns j0..j0+nc) into NR-column panels, zero-padded:
 * panel q holds element (p, j) at dst[q*kc*NR + p*NR + j]. trans: B stored [n, k]. */
static void GD_FN(gd_pack_b_)(int trans, int64_t kc, int64_t nc, const T *b, int64_t ldb,
                              T *restrict dst) {
    for (int64_t j0 = 0; j0 < nc; j0 += NR) {
        int64_t w = nc - j0 < NR ? nc - j0 : NR;
        if (!trans) {
            for (int64_t p = 0; p < kc; p++) {
                const T *src = b + p * ldb + j0;
                T *d = dst + p * NR;
                int64_t j = 0;
                for (; j < w; j++) d[j] = src[j];
                for (; j < NR; j++) d[j] = 0;
            }
        } else {
            int64_t j = 0;
            for (; j + 4 <= w; j += 4) {
                const T *s0 = b + (j0 + j) * ldb, *s1 = s0 + ldb, *s2 = s1 + ldb,
                        *s3 = s2 + ldb;
                T *d = dst + j;
                for (int64_t p = 0; p < kc; p++) {
                    d[p * NR + 0] = s0[p];
                    d[p * NR + 1] = s1[p];
                    d[p * NR + 2] = s2[p];
                    d[p * NR + 3] = s3[p];
                }
            }
            for (; j < w; j++) {
                const T *s = b + (j0 + j) * ldb;
                for (int64_t p = 0; p < kc; p++) dst[p * NR + j] = s[p];
            }
            if (w < NR)
                for (int64_t p = 0; p < kc; p++)
                    for (int64_t jj = w; jj < NR; jj++) dst[p * NR + jj] = 0;
        }
        dst += kc * NR;
    }
}

/* A block (rows i0.. of op(A), mc rows, kc columns) into MR-row panels: panel q holds
 * element (r, p) at dst[q*kc*MR + p*MR + r] (a partial last panel keeps stride MR).
 * trans: A stored [k, m]. */
static void GD_FN(gd_pack_a_)(int trans, int64_t mc, int64_t kc, const T *a, int64_t lda,
                              T *restrict dst) {
    for (int64_t i0 = 0; i0 < mc; i0 += MR) {
        int64_t h = mc - i0 < MR ? mc - i0 : MR;
        if (trans) {
            for (int64_t p = 0; p < kc; p++) {
                const T *src = a + p * lda + i0;
                for (int64_t r = 0; r < h; r++) dst[p * MR + r] = src[r];
            }
        } else {
            for (int64_t r = 0; r < h; r++) {
                const T *src = a + (i0 + r) * lda;
                for (int64_t p = 0; p < kc; p++) dst[p * MR + r] = src[p];
            }
        }
        dst += kc * MR;
    }
}

/* ---- per-thread workspace: grown once, 64-byte aligned, reused ----------------- */
static GD_THREAD_LOCAL T *GD_FN(gd_ws_) = 0;
#define GD_WS_ELEMS ((int64_t)MC * KC + (int64_t)KC * NC + (int64_t)KC * NR)

static T *GD_FN(gd_workspace_)(void) {
    if (!GD_FN(gd_ws_)) {
        void *p = 0;
        if (posix_memalign(&p, 64, (size_t)GD_WS_ELEMS * sizeof(T)) != 0) return 0;
        GD_FN(gd_ws_) = (T *)p;
    }
    return GD_FN(gd_ws_);
}

/* ---- one thread's share: rows [m0, m1) x columns [n0, n1) of C ------------------ */
/* lay: 0 nn, 1 nt, 2 tn. */
static int GD_FN(gd_gemm_part_)(int lay, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
                                int64_t k, T alpha, const T *a, int64_t lda, const T *b,
                                int64_t ldb, T beta, T *c, int64_t ldc) {
    int64_t mp = m1 - m0, np = n1 - n0;
    if (mp <= 0 || np <= 0) return GD_OK;
    /* Packing pays when a block is reused enough; it never changes the arithmetic. */
    int pack_b = (lay == 1) || (mp >= GD_PACK_B_MIN_ROWS);
    int pack_a = (np >= GD_PACK_A_MIN_COLS) && (mp >= 2 * MR);
    int need_ws = pack_a || pack_b || (np % NR != 0);
    T *ws = need_ws ? GD_FN(gd_workspace_)() : 0;
    if (need_ws && !ws) return GD_ENOMEM;
    T *wa = ws, *wb = ws ? ws + (int64_t)MC * KC : 0;
    T *wt = ws ? wb + (int64_t)KC * NC : 0;

    for (int64_t jc = n0; jc < n1; jc += NC) {
        int64_t nc = n1 - jc < NC ? n1 - jc : NC;
        int64_t nfull = (nc / NR) * NR; /* columns in full panels */
        for (int64_t pc = 0; pc < k; pc += KC) {
            int64_t kc = k - pc < KC ? k - pc : KC;
            T bet = pc == 0 ? beta : (T)1;
            if (pack_b) {
                const T *bs = lay == 1 ? b + jc * ldb + pc : b + pc * ldb + jc;
                GD_FN(gd_pack_b_)(lay == 1, kc, nc, bs, ldb, wb);
            } else if (nfull < nc) {
                GD_FN(gd_pack_b_)(0, kc, nc - nfull, b + pc * ldb + jc + nfull, ldb, wt);
            }
            for (int64_t ic = m0; ic < m1; ic += MC) {
                int64_t mc = m1 - ic < MC ? m1 - ic : MC;
                if (pack_a) {
                    const T *as = lay == 2 ? a + pc * lda + ic : a + ic * lda + pc;
                    GD_FN(gd_pack_a_)(lay == 2, mc, kc, as, lda, wa);
                }
                for (int64_t ir = 0; ir < mc; ir += MR) {
                    int mr = (int)(mc - ir < MR ? mc - ir : MR);
                    const T *ap;
                    int64_t rsa, csa;
                    if (pack_a) {
                        ap = wa + ir * kc; rsa = 1; csa = MR;
                    } else if (lay == 2) {
                        ap = a + pc * lda + ic + ir; rsa = 1; csa = lda;
                    } else {
                        ap = a + (ic + ir) * lda + pc; rsa = lda; csa = 1;
                    }
                    GD_FN(gd_ukr_t_) ukr = GD_FN(gd_ukr_table_)[mr];
                    T *crow = c + (ic + ir) * ldc + jc;
                    for (int64_t jr = 0; jr < nc; jr += NR) {
                        const T *bp;
                        int64_t ldbp;
                        if (pack_b) {
                            bp = wb + (jr / NR) * kc * NR; ldbp = NR;
                        } else if (jr < nfull) {
                            bp = b + pc * ldb + jc + jr; ldbp = ldb;
                        } else {
                            bp = wt; ldbp = NR;
                        }
                        if (jr < nfull)
                            ukr(kc, ap, rsa, csa, bp, ldbp, crow + jr, ldc, alpha, bet);
                        else
                            GD_FN(gd_ukr_edge_)(mr, (int)(nc - jr), kc, ap, rsa, csa, bp,
                                                ldbp, crow + jr, ldc, alpha, bet);
                    }
                }
            }
        }
    }
    return GD_OK;
}

/* C = beta * C when k == 0 (beta == 0: C is written, never read). */
static void GD_FN(gd_scale_c_)(int64_t m0, int64_t m1, int64_t n, T beta, T *c, int64_t ldc) {
    for (int64_t i = m0; i < m1; i++) {
        T *ci = c + i * ldc;
        if (beta == (T)0) for (int64_t j = 0; j < n; j++) ci[j] = 0;
        else if (beta != (T)1) for (int64_t j = 0; j < n; j++) ci[j] *= beta;
    }
}

/* Thread `tid` of `nt`: its block of C (rows, or columns when that balances better). */
static int GD_FN(gd_gemm_share_)(int lay, int64_t m, int64_t n, int64_t k, T alpha,
                                 const T *a, int64_t lda, const T *b, int64_t ldb, T beta,
                                 T *c, int64_t ldc, int tid, int nt) {
    int64_t lo, hi;
    if (k == 0) {
        gd_static_range(m, 1, tid, nt, &lo, &hi);
        GD_FN(gd_scale_c_)(lo, hi, n, beta, c, ldc);
        return GD_OK;
    }
    int64_t rt = (m + MR - 1) / MR, ct = (n + NR - 1) / NR;
    int64_t row_cost = ((rt + nt - 1) / nt) * MR * n;
    int64_t col_cost = ((ct + nt - 1) / nt) * NR * m;
    if (row_cost <= col_cost) {
        gd_static_range(m, MR, tid, nt, &lo, &hi);
        return GD_FN(gd_gemm_part_)(lay, lo, hi, 0, n, k, alpha, a, lda, b, ldb, beta, c,
                                    ldc);
    }
    gd_static_range(n, NR, tid, nt, &lo, &hi);
    return GD_FN(gd_gemm_part_)(lay, 0, m, lo, hi, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* Outside a parallel region: open one above the threshold. Inside one: every thread
 * of the team takes its share, then all meet at a barrier (C is complete for all). */
static int GD_FN(gd_gemm_run_)(int lay, int64_t m, int64_t n, int64_t k, T alpha,
                               const T *a, int64_t lda, const T *b, int64_t ldb, T beta,
                               T *c, int64_t ldc, int n_threads) {
    if (m <= 0 || n <= 0) return GD_OK;
    int fork = gd_fork_threads(n_threads, 2.0 * (double)m * (double)n * (double)k,
                               GD_GEMM_MIN_PAR_FLOPS);
    if (fork == 0) {
        int st = GD_FN(gd_gemm_share_)(lay, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                                       GD_THREAD_ID(), GD_TEAM_SIZE());
        GD_PRAGMA(omp barrier)
        return st;
    }
    if (fork == 1)
        return GD_FN(gd_gemm_share_)(lay, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, 0, 1);
    int status = GD_OK;
    GD_PRAGMA(omp parallel num_threads(fork))
    {
        int st = GD_FN(gd_gemm_share_)(lay, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                                       GD_THREAD_ID(), GD_TEAM_SIZE());
        if (st != GD_OK) {
            GD_PRAGMA(omp critical(gd_gemm_status))
            status = st;
        }
    }
    return status;
}

int GD_CAT(gd_gemm_nn_, GD_SFX)(int64_t m, int64_t n, int64_t k, T alpha, const T *a,
                                int64_t lda, const T *b, int64_t ldb, T beta, T *c,
                                int64_t ldc, int n_threads) {
    return GD_FN(gd_gemm_run_)(0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, n_threads);
}
int GD_CAT(gd_gemm_nt_, GD_SFX)(int64_t m, int64_t n, int64_t k, T alpha, const T *a,
                                int64_t lda, const T *b, int64_t ldb, T beta, T *c,
                                int64_t ldc, int n_threads) {
    return GD_FN(gd_gemm_run_)(1, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, n_threads);
}
int GD_CAT(gd_gemm_tn_, GD_SFX)(int64_t m, int64_t n, int64_t k, T alpha, const T *a,
                                int64_t lda, const T *b, int64_t ldb, T beta, T *c,
                                int64_t ldc, int n_threads) {
    return GD_FN(gd_gemm_run_)(2, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, n_threads);
}

#undef GD_WS_ELEMS
#undef NR
#undef GD_FN
