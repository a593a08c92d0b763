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
 * Algorithm (per thread, on its own block of C; no synchronisation inside):
 *   C with few columns (2n <= NR, m >= 2n) is computed as Cᵀ = op(B)ᵀ·op(A)ᵀ, written
 *   back through strides, so that the long dimension fills the registers;
 *   for jc over n by NC, pc over k by KC:
 *       B block kc×nc: packed into NR-column panels (Bᵀ always, with in-register
 *       transposes where the ISA file provides them; B when it is reused by enough
 *       row tiles), otherwise read in place (its rows are contiguous along n); a
 *       partial last panel is always packed, zero-padded to whole registers;
 *       for ic over m by MC: A block mc×kc packed into MR-row panels when it is reused
 *           by enough column panels, otherwise broadcast in place through (rs, cs)
 *           strides; for ir by MR (or 4), jr by NR: the micro-kernel, the narrowest
 *           one (nv registers) for a partial panel.
 * Numerics: every element of C is one chain of fused multiply-adds over p inside each
 * KC block, in increasing p, blocks added in order, then C = fma(beta, C, alpha*acc).
 * The chain depends only on the shape (KC is fixed), never on the tile that holds
 * the element, on packing, or on how rows or columns are split across threads.
 *
 * Threads: outside a parallel region a call above GD_GEMM_MIN_PAR_FLOPS opens one;
 * inside one, every thread of the team must make the same call: each takes its block
 * (gd_static_range over row tiles, or column panels when that balances better), then
 * all meet at one barrier. Workspace: one grow-once, 64-byte aligned buffer per OS
 * thread (and per ISA and dtype), so concurrent callers never share packing space.
 */

#ifndef GD_GEMM_TMPL_ONCE
#define GD_GEMM_TMPL_ONCE
#include <pthread.h>
#include <stdlib.h>
#include "gd_internal.h"
/* Work (2·m·n·k flops) below which a call outside a parallel region runs on one
 * thread. Measured on the 2-core AVX-512 dev machine: 2 threads are 3x slower than 1
 * at 2.6e5 and 5.2e5 flops (fork/join costs ~5 µs there) and start to win near 1e6. */
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

/* Partial registers: an ISA file that defines V_LOADN(p, n) / V_STOREN(p, v, n) (the
 * first n lanes) sets GD_HAS_MASK to 1, and partial tiles are then written in place. */
#ifndef GD_HAS_MASK
#define GD_HAS_MASK 0
#endif
/* Compute C with few columns as Cᵀ (see above). */
#ifndef GD_SWAP_THIN
#define GD_SWAP_THIN 1
#endif

#ifndef GD_CAT
#define GD_CAT_(a, b) a##b
#define GD_CAT(a, b) GD_CAT_(a, b)
#endif
#define GD_FN(name) GD_CAT(name, GD_SFX)
#define NR (NV * VL)

/* ---- micro-kernel: C[mr, nv*VL] = alpha * A[mr, kc] · B[kc, nv*VL] + beta * C ------ */
/* A element (r, p) is a[r*rsa + p*csa]; B row p is b + p*ldb (nv*VL contiguous
 * elements). mr <= MR and nv <= NV are compile-time constants in each instance. */
#ifndef GD_UKR_HELPERS
#define GD_UKR_HELPERS
/* The register tile as named variables (an array of 24 vector registers is too large
 * for GCC's scalar replacement and would live in memory): GD_TILE(X) applies X(r, v)
 * to every (row, register) pair up to 8 x 4; pairs beyond (mr, nv) are dead code. */
#define GD_TILE(X)                                                                       \
    X(0, 0) X(0, 1) X(0, 2) X(0, 3) X(1, 0) X(1, 1) X(1, 2) X(1, 3)                      \
    X(2, 0) X(2, 1) X(2, 2) X(2, 3) X(3, 0) X(3, 1) X(3, 2) X(3, 3)                      \
    X(4, 0) X(4, 1) X(4, 2) X(4, 3) X(5, 0) X(5, 1) X(5, 2) X(5, 3)                      \
    X(6, 0) X(6, 1) X(6, 2) X(6, 3) X(7, 0) X(7, 1) X(7, 2) X(7, 3)
#define GD_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define GD_COLS(X) X(0) X(1) X(2) X(3)
#endif

static GD_ALWAYS_INLINE void GD_FN(gd_ukr_body_)(const int mr, const int nv, int64_t kc,
        const T *restrict a, int64_t rsa, int64_t csa, const T *restrict b, int64_t ldb,
        T *restrict c, int64_t ldc, T alpha, T beta, int nlast) {
#define GD_DECL(r, v) V c##r##v = V_ZERO();
    GD_TILE(GD_DECL)
#undef GD_DECL
    /* The first step initialises the tile (a*b, the value of fma(a, b, 0)); kc >= 1.
     * Row by row: one broadcast, then its nv fused multiply-adds. */
#define GD_LB(v) V b##v = (v) < nv ? V_LOAD(b + (v) * VL) : V_ZERO();
#define GD_F0(r, v) if ((v) < nv) c##r##v = V_MUL(ar, b##v);
#define GD_F1(r, v) if ((v) < nv) c##r##v = V_FMA(ar, b##v, c##r##v);
#define GD_R0(r) if ((r) < mr) { V ar = V_BCAST(a[(r) * rsa]); \
                                 GD_F0(r, 0) GD_F0(r, 1) GD_F0(r, 2) GD_F0(r, 3) }
#define GD_R1(r) if ((r) < mr) { V ar = V_BCAST(a[(r) * rsa]); \
                                 GD_F1(r, 0) GD_F1(r, 1) GD_F1(r, 2) GD_F1(r, 3) }
    {
        GD_COLS(GD_LB)
        GD_ROWS(GD_R0)
        a += csa;
        b += ldb;
    }
    for (int64_t p = 1; p < kc; p++) {
        GD_COLS(GD_LB)
        GD_ROWS(GD_R1)
        a += csa;
        b += ldb;
    }
#undef GD_LB
#undef GD_F0
#undef GD_F1
#undef GD_R0
#undef GD_R1
    /* C = alpha*acc, then C = beta*C_old + (alpha*acc) in one rounding; C is read
     * only when beta != 0. */
    V va = V_BCAST(alpha), vb = V_BCAST(beta);
    const int rd = beta != (T)0;
#if GD_HAS_MASK
    /* nlast < VL: only the first nlast lanes of each row's last register are C's. */
#define GD_OUT(r, v)                                                                     \
    if ((r) < mr && (v) < nv) {                                                          \
        T *cp = c + (r) * ldc + (v) * VL;                                                \
        V x = V_MUL(va, c##r##v);                                                        \
        if ((v) == nv - 1 && nlast < VL) {                                               \
            if (rd) x = V_FMA(vb, V_LOADN(cp, nlast), x);                                \
            V_STOREN(cp, x, nlast);                                                      \
        } else {                                                                         \
            if (rd) x = V_FMA(vb, V_LOAD(cp), x);                                        \
            V_STORE(cp, x);                                                              \
        }                                                                                \
    }
#else
    (void)nlast;
#define GD_OUT(r, v)                                                                     \
    if ((r) < mr && (v) < nv) {                                                          \
        T *cp = c + (r) * ldc + (v) * VL;                                                \
        V x = V_MUL(va, c##r##v);                                                        \
        if (rd) x = V_FMA(vb, V_LOAD(cp), x);                                            \
        V_STORE(cp, x);                                                                  \
    }
#endif
    GD_TILE(GD_OUT)
#undef GD_OUT
}

typedef void (*GD_FN(gd_ukr_t_))(int64_t, const T *restrict, int64_t, int64_t,
                                 const T *restrict, int64_t, T *restrict, int64_t, T, T,
                                 int);

#define GD_UKR_DEF(R, N)                                                                 \
static void GD_FN(gd_ukr##R##_##N##_)(int64_t kc, const T *restrict a, int64_t rsa,     \
        int64_t csa, const T *restrict b, int64_t ldb, T *restrict c, int64_t ldc,       \
        T alpha, T beta, int nlast) {                                                    \
    GD_FN(gd_ukr_body_)(R, N, kc, a, rsa, csa, b, ldb, c, ldc, alpha, beta, nlast);      \
}
/* One instance per (rows, registers) pair: NV <= 4 and MR <= 8 are supported. */
#if NV >= 2
#define GD_UKR_N2(R) GD_UKR_DEF(R, 2)
#define GD_UKR_I2(R) , GD_FN(gd_ukr##R##_2_)
#else
#define GD_UKR_N2(R)
#define GD_UKR_I2(R)
#endif
#if NV >= 3
#define GD_UKR_N3(R) GD_UKR_DEF(R, 3)
#define GD_UKR_I3(R) , GD_FN(gd_ukr##R##_3_)
#else
#define GD_UKR_N3(R)
#define GD_UKR_I3(R)
#endif
#if NV >= 4
#define GD_UKR_N4(R) GD_UKR_DEF(R, 4)
#define GD_UKR_I4(R) , GD_FN(gd_ukr##R##_4_)
#else
#define GD_UKR_N4(R)
#define GD_UKR_I4(R)
#endif
#define GD_UKR_ROW(R) GD_UKR_DEF(R, 1) GD_UKR_N2(R) GD_UKR_N3(R) GD_UKR_N4(R)
#define GD_UKR_INIT(R) {0, GD_FN(gd_ukr##R##_1_) GD_UKR_I2(R) GD_UKR_I3(R) GD_UKR_I4(R)}

GD_UKR_ROW(1)
#if MR >= 2
GD_UKR_ROW(2)
#endif
#if MR >= 3
GD_UKR_ROW(3)
#endif
#if MR >= 4
GD_UKR_ROW(4)
#endif
#if MR >= 5
GD_UKR_ROW(5)
#endif
#if MR >= 6
GD_UKR_ROW(6)
#endif
#if MR >= 7
GD_UKR_ROW(7)
#endif
#if MR >= 8
GD_UKR_ROW(8)
#endif

/* gd_ukr_table_[mr][nv]: the kernel for an mr x (nv*VL) tile. */
static const GD_FN(gd_ukr_t_) GD_FN(gd_ukr_table_)[MR + 1][NV + 1] = {
    {0}, GD_UKR_INIT(1),
#if MR >= 2
    GD_UKR_INIT(2),
#endif
#if MR >= 3
    GD_UKR_INIT(3),
#endif
#if MR >= 4
    GD_UKR_INIT(4),
#endif
#if MR >= 5
    GD_UKR_INIT(5),
#endif
#if MR >= 6
    GD_UKR_INIT(6),
#endif
#if MR >= 7
    GD_UKR_INIT(7),
#endif
#if MR >= 8
    GD_UKR_INIT(8),
#endif
};
#undef GD_UKR_DEF
#undef GD_UKR_N2
#undef GD_UKR_N3
#undef GD_UKR_N4
#undef GD_UKR_I2
#undef GD_UKR_I3
#undef GD_UKR_I4
#undef GD_UKR_ROW
#undef GD_UKR_INIT

/* A tile written through (rsc, csc) strides, or with fewer than NR columns: the
 * narrowest kernel that covers it, on C directly when C is row-major and the width is
 * whole registers, else on a stack copy of the tile. Each element sees exactly the
 * operations of a full tile. */
static void GD_FN(gd_ukr_edge_)(int mr, int ncol, int64_t kc, const T *a, int64_t rsa,
                                int64_t csa, const T *b, int64_t ldb, T *c, int64_t rsc,
                                int64_t csc, T alpha, T beta) {
    int nv = (ncol + VL - 1) / VL;
    if (csc == 1 && (GD_HAS_MASK || nv * VL == ncol)) {
        GD_FN(gd_ukr_table_)[mr][nv](kc, a, rsa, csa, b, ldb, c, rsc, alpha, beta,
                                     ncol - (nv - 1) * VL);
        return;
    }
    V tv[MR * NV];
    T *t = (T *)tv;
    if (beta != (T)0)
        for (int r = 0; r < mr; r++)
            for (int j = 0; j < ncol; j++) t[r * NR + j] = c[r * rsc + j * csc];
    GD_FN(gd_ukr_table_)[mr][nv](kc, a, rsa, csa, b, ldb, t, NR, alpha, beta, VL);
    if (csc == 1) {
        for (int r = 0; r < mr; r++)
            for (int j = 0; j < ncol; j++) c[r * rsc + j] = t[r * NR + j];
    } else {
        for (int j = 0; j < ncol; j++)
            for (int r = 0; r < mr; r++) c[r * rsc + j * csc] = t[r * NR + j];
    }
}

/* ---- packing ------------------------------------------------------------------- */

/* Leading dimension of a packed B panel w columns wide: NR, or w rounded up to whole
 * registers for the last, partial panel (the kernel reads no further). */
#define GD_PANEL_LD(w) ((w) >= NR ? (int64_t)NR : (((int64_t)(w) + VL - 1) / VL) * VL)

/* B block (kc rows of op(B), columns j0..j0+nc) into NR-column panels, zero-padded to
 * whole registers: panel q starts at dst + q*kc*NR and holds element (p, j) at
 * [p*ld + j], ld = GD_PANEL_LD(its width). trans: B stored [n, k]. */
static void GD_FN(gd_pack_b_)(int trans, int64_t kc, int64_t nc, const T *b, int64_t ldb,
                              T *restrict dst) {
    for (int64_t j0 = 0; j0 < nc; j0 += NR) {
        int64_t w = nc - j0 < NR ? nc - j0 : NR;
        int64_t ld = GD_PANEL_LD(w);
        if (!trans) {
            for (int64_t p = 0; p < kc; p++) {
                const T *src = b + p * ldb + j0;
                T *d = dst + p * ld;
                int64_t j = 0;
                for (; j < w; j++) d[j] = src[j];
                for (; j < ld; j++) d[j] = 0;
            }
        } else {
            int64_t j = 0;
#ifdef GD_TRANSPOSE_BLOCK
            /* TB x TB blocks transposed in registers. */
            for (; j + GD_TB <= w; j += GD_TB) {
                const T *s = b + (j0 + j) * ldb;
                int64_t p = 0;
                for (; p + GD_TB <= kc; p += GD_TB)
                    GD_TRANSPOSE_BLOCK(s + p, ldb, dst + p * ld + j, ld);
                for (; p < kc; p++)
                    for (int64_t jj = 0; jj < GD_TB; jj++) dst[p * ld + j + jj] = s[jj * ldb + p];
            }
#endif
            for (; j + 4 <= w; j += 4) {
                const T *s0 = b + (j0 + j) * ldb, *s1 = s0 + ldb, *s2 = s1 + ldb,
                        *s3 = s2 + ldb;
                T *d = dst + j;
                for (int64_t p = 0; p < kc; p++) {
                    d[p * ld + 0] = s0[p];
                    d[p * ld + 1] = s1[p];
                    d[p * ld + 2] = s2[p];
                    d[p * ld + 3] = s3[p];
                }
            }
            for (; j < w; j++) {
                const T *s = b + (j0 + j) * ldb;
                for (int64_t p = 0; p < kc; p++) dst[p * ld + j] = s[p];
            }
            if (w < ld)
                for (int64_t p = 0; p < kc; p++)
                    for (int64_t jj = w; jj < ld; jj++) dst[p * ld + jj] = 0;
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
            /* The panel's rows read together, element p of each in turn: their lines
             * are fetched side by side, where a row at a time waits for each of its
             * lines in turn (2048^3 on one core: 99-100 GFLOP/s against 89-92). */
            const T *src = a + i0 * lda;
            /* a whole panel's rows by a constant count, which unrolls: one loop for
             * any height took 1.004-1.022x the time on two threads (big MLP shapes
             * and 2048^3, in-process A/B) */
            if (h == MR) {
                for (int64_t p = 0; p < kc; p++)
                    for (int r = 0; r < MR; r++) dst[p * MR + r] = src[r * lda + p];
            } else {
                for (int64_t p = 0; p < kc; p++)
                    for (int64_t r = 0; r < h; r++) dst[p * MR + r] = src[r * lda + p];
            }
        }
        dst += kc * MR;
    }
}

/* ---- per-thread workspace: grown once, 64-byte aligned, reused ----------------- */
/* One buffer per OS thread, allocated on its first packed call and kept: two Python
 * threads calling GEMM at once never share packing space, and the hot path never
 * allocates. A thread-specific key frees the buffer when its thread exits. */
static GD_THREAD_LOCAL T *GD_FN(gd_ws_) = 0;
static pthread_key_t GD_FN(gd_ws_key_);
static pthread_once_t GD_FN(gd_ws_once_) = PTHREAD_ONCE_INIT;
static int GD_FN(gd_ws_key_ok_) = 0;
static void GD_FN(gd_ws_key_init_)(void) {
    GD_FN(gd_ws_key_ok_) = pthread_key_create(&GD_FN(gd_ws_key_), free) == 0;
}
#define GD_WS_ELEMS ((int64_t)MC * KC + (int64_t)KC * NC + (int64_t)KC * NR)

static T *GD_FN(gd_workspace_)(void) {
    if (!GD_FN(gd_ws_)) {
        void *p = 0;
        if (posix_memalign(&p, 64, (size_t)GD_WS_ELEMS * sizeof(T)) != 0) return 0;
        GD_FN(gd_ws_) = (T *)p;
        pthread_once(&GD_FN(gd_ws_once_), GD_FN(gd_ws_key_init_));
        if (GD_FN(gd_ws_key_ok_)) pthread_setspecific(GD_FN(gd_ws_key_), p);
    }
    return GD_FN(gd_ws_);
}

/* The calling thread's workspace, allocated now (the engine reserves it on every
 * thread of its team before a run, so no GEMM inside the run can fail alone). */
int GD_CAT(gd_gemm_reserve_, GD_SFX)(void) {
    return GD_FN(gd_workspace_)() ? GD_OK : GD_ENOMEM;
}

/* ---- one thread's share: rows [m0, m1) x columns [n0, n1) of C ------------------ */
/* ta: A stored [k, m] (else [m, k]); tb: B stored [n, k] (else [k, n]);
 * ct: C stored transposed, element (i, j) at c[j*ldc + i] (the swapped problem
 * Cᵀ = op(B)ᵀ·op(A)ᵀ, used when C has few columns). */
static int GD_FN(gd_gemm_part_)(int ta, int tb, int ct, int64_t m0, int64_t m1, int64_t n0,
                                int64_t n1, int64_t k, T alpha, const T *a, int64_t lda,
                                const T *b, int64_t ldb, T beta, T *c, int64_t ldc) {
    int64_t mp = m1 - m0, np = n1 - n0;
    if (mp <= 0 || np <= 0) return GD_OK;
    /* Packing pays when a block is reused enough; it never changes the arithmetic. */
    int pack_b = tb || (mp >= GD_PACK_B_MIN_ROWS);
    int pack_a = (np >= GD_PACK_A_MIN_COLS) && (mp > 16 * MR);
    int need_ws = pack_a || pack_b || (np % NR != 0);
    T *ws = need_ws ? GD_FN(gd_workspace_)() : 0;
    if (need_ws && !ws) return GD_ENOMEM;
    T *wa = ws, *wb = ws ? ws + (int64_t)MC * KC : 0;
    T *wt = ws ? wb + (int64_t)KC * NC : 0;
    /* Row tiles: MR, or 4 when that splits a short block evenly (32 rows: 8 x 4
     * instead of 5 x 6 + 2); packed A panels keep MR. */
    int64_t mstep =
        (!pack_a && MR > 4 && mp <= 16 * MR && mp % MR != 0 && mp % 4 == 0) ? 4 : MR;
    int64_t rsc = ct ? 1 : ldc, csc = ct ? ldc : 1; /* C element (i, j) at i*rsc + j*csc */

    for (int64_t jc = n0; jc < n1; jc += NC) {
        int64_t nc = n1 - jc < NC ? n1 - jc : NC;
        int64_t nfull = ct ? 0 : (nc / NR) * NR; /* columns the kernel writes directly */
        for (int64_t pc = 0; pc < k; pc += KC) {
            int64_t kc = k - pc < KC ? k - pc : KC;
            T bet = pc == 0 ? beta : (T)1;
            int64_t nfb = (nc / NR) * NR; /* columns in full panels of B */
            if (pack_b) {
                const T *bs = tb ? b + jc * ldb + pc : b + pc * ldb + jc;
                GD_FN(gd_pack_b_)(tb, kc, nc, bs, ldb, wb);
            } else if (nfb < nc) {
                GD_FN(gd_pack_b_)(0, kc, nc - nfb, b + pc * ldb + jc + nfb, ldb, wt);
            }
            for (int64_t ic = m0; ic < m1; ic += MC) {
                int64_t mc = m1 - ic < MC ? m1 - ic : MC;
                if (pack_a) {
                    const T *as = ta ? a + pc * lda + ic : a + ic * lda + pc;
                    GD_FN(gd_pack_a_)(ta, mc, kc, as, lda, wa);
                }
                for (int64_t ir = 0; ir < mc; ir += mstep) {
                    int mr = (int)(mc - ir < mstep ? mc - ir : mstep);
                    const T *ap;
                    int64_t rsa, csa;
                    if (pack_a) {
                        ap = wa + ir * kc; rsa = 1; csa = MR;
                    } else if (ta) {
                        ap = a + pc * lda + ic + ir; rsa = 1; csa = lda;
                    } else {
                        ap = a + (ic + ir) * lda + pc; rsa = lda; csa = 1;
                    }
                    T *crow = c + (ic + ir) * rsc + jc * csc;
                    for (int64_t jr = 0; jr < nc; jr += NR) {
                        const T *bp;
                        int64_t ldbp;
                        if (pack_b) {
                            bp = wb + (jr / NR) * kc * NR; ldbp = GD_PANEL_LD(nc - jr);
                        } else if (jr < nfb) {
                            bp = b + pc * ldb + jc + jr; ldbp = ldb;
                        } else {
                            bp = wt; ldbp = GD_PANEL_LD(nc - jr);
                        }
                        if (jr < nfull)
                            GD_FN(gd_ukr_table_)[mr][NV](kc, ap, rsa, csa, bp, ldbp, crow + jr,
                                                         ldc, alpha, bet, VL);
                        else
                            GD_FN(gd_ukr_edge_)(mr, (int)(nc - jr < NR ? nc - jr : NR), kc,
                                                ap, rsa, csa, bp, ldbp, crow + jr * csc,
                                                rsc, csc, alpha, bet);
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
    int ta = lay == 2, tb = lay == 1, swap = 0;
    if (GD_SWAP_THIN && 2 * n <= NR && m >= 2 * n) {
        /* Few columns: compute Cᵀ = op(B)ᵀ·op(A)ᵀ so that m fills the registers.
         * op(B)ᵀ stored as B is transposed unless B was [n, k]; op(A)ᵀ likewise. */
        const T *tp = a; int64_t tl = lda, ti = m;
        a = b; lda = ldb; b = tp; ldb = tl; m = n; n = ti;
        int tat = ta;
        ta = !tb; tb = !tat;
        swap = 1;
    }
    int64_t rt = (m + MR - 1) / MR, cpn = (n + NR - 1) / NR;
    int64_t row_cost = ((rt + nt - 1) / nt) * MR * n;
    int64_t col_cost = ((cpn + nt - 1) / nt) * NR * m;
    /* Rows unless columns balance clearly better (by more than 1/16): a thread given
     * columns reads all of A for fewer columns of B, where a thread given rows reads
     * its rows of A once for every column. The seed model's dW (784x32 by 128 on two
     * threads, the costs 1% apart): 38-40 us split by rows against 52-55 us by
     * columns, medians of 3000 calls. */
    if (row_cost <= col_cost + col_cost / 16) {
        gd_static_range(m, MR, tid, nt, &lo, &hi);
        return GD_FN(gd_gemm_part_)(ta, tb, swap, lo, hi, 0, n, k, alpha, a, lda, b, ldb,
                                    beta, c, ldc);
    }
    gd_static_range(n, NR, tid, nt, &lo, &hi);
    return GD_FN(gd_gemm_part_)(ta, tb, swap, 0, m, lo, hi, k, alpha, a, lda, b, ldb, beta,
                                c, ldc);
}

/* Outside a parallel region: open one above the threshold. Inside one: every thread
 * of the team takes its share, then all meet at a barrier (C is complete for all). */
static int GD_FN(gd_gemm_run_)(int lay, int64_t m, int64_t n, int64_t k, T alpha,
                               const T *a, int64_t lda, const T *b, int64_t ldb, T beta,
                               T *c, int64_t ldc, int n_threads) {
    if (m <= 0 || n <= 0) return GD_OK;
    int fork = gd_fork_threads(n_threads, 2.0 * (double)m * (double)n * (double)k,
                               GD_GEMM_MIN_PAR_FLOPS);
#ifdef _OPENMP
    if (fork == 0) {
        int st = GD_FN(gd_gemm_share_)(lay, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                                       omp_get_thread_num(), omp_get_num_threads());
        GD_TEAM_BARRIER();
        return st;
    }
    if (fork > 1) {
        int status = GD_OK;
        GD_PRAGMA(omp parallel num_threads(fork))
        {
            int st = GD_FN(gd_gemm_share_)(lay, m, n, k, alpha, a, lda, b, ldb, beta, c,
                                           ldc, omp_get_thread_num(), omp_get_num_threads());
            if (st != GD_OK) {
                GD_PRAGMA(omp critical(gd_gemm_status))
                status = st;
            }
        }
        return status;
    }
#else
    (void)fork;
#endif
    return GD_FN(gd_gemm_share_)(lay, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, 0, 1);
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

/* the products that skip A's zeros, on the same macros */
#include "gd_spmm_tmpl.h"
/* packed rows, on the same macros */
#include "gd_pack_tmpl.h"

#undef GD_WS_ELEMS
#undef GD_HAS_MASK
#undef GD_SWAP_THIN
#undef GD_PANEL_LD
#undef NR
#undef GD_FN
