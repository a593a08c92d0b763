/* Private template: products whose left operand is mostly zeros (gd_spmm_nn_*,
 * gd_spmm_tn_*, gd_count_nonzero_*; contracts in gd_kernels.h). Included by
 * gd_gemm.c, gd_gemm_avx2.c and gd_gemm_avx512.c right after gd_gemm_tmpl.h, once per
 * dtype, with the same macros defined (T, V, VL, GD_SFX, KC, V_ZERO, V_LOAD, V_STORE,
 * V_BCAST, V_FMA, and V_LOADN / V_STOREN when GD_HAS_MASK). An ISA file may define
 * V_NZMASK(p): bit j set when p[j] != 0 (NaN included), j < VL; and
 * V_FMA_IF(a, b, c, on): V_FMA(a, b, c) when on is 1, c itself (every bit) when 0.
 *
 * Why: the input of a first layer of images is mostly zeros (81% of MNIST's pixels),
 * and a ReLU layer's output often is. Skipping them skips their multiply-adds.
 *
 * Algorithm: element C(i, j) = Σ_p a(i, p)·B[p, j] is summed as the dense GEMM sums
 * it (gd_gemm_tmpl.h): over p in KC blocks, each block one chain of fused multiply-adds
 * in increasing p starting from zero, the blocks added to C in order. The chain here
 * just leaves out the terms whose a(i, p) is zero, which add exactly zero: the result
 * equals the dense GEMM's while B is finite (a zero times inf or NaN is NaN there).
 * The nonzero positions of a block are 64-bit words of bits (built with vector
 * compares); each set bit costs one broadcast and the row's multiply-adds, the row of
 * accumulators (up to GD_SP_NV registers) staying in registers. A KC block's rows of
 * B are taken GD_SP_SUB at a time (one bit word), copied to a contiguous panel when
 * B's rows are longer than a pass, and each such panel (32 KB with AVX-512) serves
 * every row of C of the pass while it is in L1; a row's chain waits in memory between panels,
 * which changes no bit of it.
 *   nn: C = A·B, A [m, k]: row i of A is the list. With V_FMA_IF, two rows go
 *       through one pass under the rule of tn's columns (below). The k dimension is
 *       cut in two
 *       segments at gd_spmm_cut(k), a fixed point near k/2: C = S_lo + S_hi, each
 *       segment summed as the GEMM sums a product of its own (KC blocks from the
 *       segment's start), S_hi through the caller's scratch. In a team, the even
 *       threads sum S_lo and the odd ones S_hi: each thread then reads only its half
 *       of B's rows, the half whose gradient (tn below) and optimizer update it also
 *       computes, so the weights of a first layer stay in one core's cache instead of
 *       bouncing between two (measured: the seed model's Adam step took 44-65 µs
 *       after a row-split forward against 19-23 µs when its data was local). For
 *       inference (gd_team_inference) and a B of at most GD_SP_ROWS_MAX_B_BYTES or
 *       GD_SP_ROWS_MIN_PER_THREAD rows per thread, the threads split rows instead,
 *       each summing both segments of its rows (the same sums: only who computes
 *       them changes).
 *   tn: C = Aᵀ·B, A [k, m]: column j of A is the list; its words are gathered per
 *       chunk of 64 columns by scattering the set bits of each row of A. With
 *       V_FMA_IF, two neighbouring columns go through one pass over the union of
 *       their lists when at least half of it is common to both: each row of B is
 *       loaded once for both, and each column's multiply-add runs only at its own
 *       nonzeros (V_FMA_IF), so its chain is the same as alone. (Measured, one core,
 *       against the GEMM: MNIST's 32x784 batch by 128 columns 0.39x paired, 0.48x
 *       alone; a hidden layer's 256x1024 at density 0.3 by 1024, whose units share
 *       few rows, 0.50x with this rule, 0.65x always paired.) In a team,
 *       the rows of C below gd_spmm_cut(m) go to the even threads, the others to the
 *       odd ones (the same halves as nn's for a layer's weights).
 * Either way the arithmetic of an element never depends on the thread count.
 */

#ifndef GD_SPMM_TMPL_ONCE
#define GD_SPMM_TMPL_ONCE
/* Registers of accumulators per column pass. */
#define GD_SP_NV 8
#define GD_SP_REGS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
/* Under gd_team_inference, nn splits rows, not k, when B has at most this many bytes
 * (measured on predict of MNIST's test set, 2 threads, one batch of 32 per call:
 * 0.94-0.98x the time with the seed model's 401 KB first layer, 1.23x with the big
 * MLP's 3.2 MB one) ... */
#define GD_SP_ROWS_MAX_B_BYTES (512.0 * 1024.0)
/* ... or when every thread gets at least this many rows (predict's spans of 256 rows,
 * the big MLP, one process alternating: 0.73-1.07x the time of the k split, median
 * 0.89x over five processes, the same bits). */
#define GD_SP_ROWS_MIN_PER_THREAD 128
/* Rows of B per sub-block of a pass: one 64-bit word of a row's nonzeros (the bit
 * words are built per 64 rows of a KC block). */
#define GD_SP_SUB 64
#if defined(__GNUC__) || defined(__clang__)
#define GD_SP_ALIGN __attribute__((aligned(64)))
#else
#define GD_SP_ALIGN
#endif
/* A sub-block of B is copied to a contiguous panel when its passes will use its rows
 * at least this many times each on average: the copy then costs at most 1/8 of their
 * multiply-adds (measured with 32 MNIST images by a 784x1024 layer, 0.43x the GEMM's
 * time this way against 0.51x always copying; with 256 or at density 0.3, copying
 * wins: 0.35 against 0.52, 0.54 against 0.92). */
#define GD_SP_PACK_MIN 8
/* Columns of A whose bit words the tn kernel gathers at once: each panel of B is
 * copied once per chunk of them (128 against 64: a hidden layer's weight gradient,
 * 1024x256 by 1024 at density 0.38-0.5, took 0.95-0.97x the time, MNIST's 784x256 by
 * 1024 0.89-0.93x; MNIST's batch of 32 by 128 columns, copied never, the same). */
#ifndef GD_SP_TN_COLS
#define GD_SP_TN_COLS 128
#endif
#if defined(__GNUC__) || defined(__clang__)
#define GD_CTZ64(x) __builtin_ctzll(x)
/* Keeps a loaded vector in a register: without it GCC folds the load into both of the
 * paired pass's multiply-adds, loading B's row twice (measured: 41 against 32 µs). */
#define GD_SP_IN_REGISTER(v) __asm__("" : "+v"(v))
#define GD_POPCNT64(x) __builtin_popcountll(x)
#else
static inline int gd_ctz64_(uint64_t x) { int n = 0; while (!(x & 1u)) { x >>= 1; n++; } return n; }
static inline int gd_popcnt64_(uint64_t x) { int n = 0; while (x) { x &= x - 1; n++; } return n; }
#define GD_CTZ64(x) gd_ctz64_(x)
#define GD_SP_IN_REGISTER(v) ((void)0)
#define GD_POPCNT64(x) gd_popcnt64_(x)
#endif
/* Whether two lists go through one pass (gd_sp_pass2_): at least half of their union
 * is common to both. */
static GD_ALWAYS_INLINE int gd_sp_share_(uint64_t u1, uint64_t u2) {
    return 2 * GD_POPCNT64(u1 & u2) >= GD_POPCNT64(u1 | u2);
}
#endif /* GD_SPMM_TMPL_ONCE */

#if KC % GD_SP_SUB != 0
#error "the sparse products' sub-blocks need KC to be a multiple of GD_SP_SUB"
#endif
#define GD_FN(name) GD_CAT(name, GD_SFX)
#define GD_SP_NB (GD_SP_NV * VL)
#define GD_SP_WORDS ((KC + 63) / 64)

/* Bit j of the result: a[j] != 0 (NaN counts as nonzero), for j < len <= 64. */
static GD_ALWAYS_INLINE uint64_t GD_FN(gd_nz_word_)(const T *a, int64_t len) {
    uint64_t w = 0;
    int64_t j = 0;
#ifdef V_NZMASK
    for (; j + VL <= len; j += VL) w |= (uint64_t)V_NZMASK(a + j) << j;
#endif
    for (; j < len; j++) w |= (uint64_t)(a[j] != (T)0) << j;
    return w;
}

/* One column pass: acc = Σ over the set bits p of words[0..nw) (bit b of word q is
 * p = 64q + b) of a[p*sa]·B[p, 0 .. nv*VL) (the last register's first nl lanes when
 * part), B row p at b + p*ldb, the chain starting from ain's nv registers (a chain
 * left there by the pass over the rows before) or from zero when ain is NULL; then,
 * with aout, the chain goes to aout's nv registers, else C[0 .. ) = acc (first) or
 * C + acc. ain and aout hold nv whole registers (lanes past nl are never read back
 * into C). */
static GD_ALWAYS_INLINE void GD_FN(gd_sp_pass_)(const int nv, const int part, int nl,
        const uint64_t *words, int nw, const T *restrict a, int64_t sa,
        const T *restrict b, int64_t ldb, const T *ain, T *aout, T *restrict c,
        int first) {
#define GD_D(v) V acc##v = ((v) < nv && ain) ? V_LOAD(ain + (v) * VL) : V_ZERO();
    GD_SP_REGS(GD_D)
#undef GD_D
#if GD_HAS_MASK
#define GD_BL(bp, v) ((part && (v) == nv - 1) ? V_LOADN((bp) + (v) * VL, nl) \
                                              : V_LOAD((bp) + (v) * VL))
#else
    (void)nl;
    (void)part;
#define GD_BL(bp, v) V_LOAD((bp) + (v) * VL)
#endif
    for (int q = 0; q < nw; q++) {
        uint64_t wq = words[q];
        while (wq) {
            int64_t p = (int64_t)q * 64 + GD_CTZ64(wq);
            wq &= wq - 1;
            V av = V_BCAST(a[p * sa]);
            const T *bp = b + p * ldb;
#define GD_F(v) if ((v) < nv) acc##v = V_FMA(av, GD_BL(bp, v), acc##v);
            GD_SP_REGS(GD_F)
#undef GD_F
        }
    }
    if (aout) {
#define GD_A(v) if ((v) < nv) V_STORE(aout + (v) * VL, acc##v);
        GD_SP_REGS(GD_A)
#undef GD_A
        return;
    }
    /* C = acc, or C + acc in one rounding (the GEMM's beta = 1 epilogue). */
    V one = V_BCAST((T)1);
#if GD_HAS_MASK
#define GD_O(v)                                                                          \
    if ((v) < nv) {                                                                      \
        T *cp = c + (v) * VL;                                                            \
        if (part && (v) == nv - 1) {                                                     \
            V x = first ? acc##v : V_FMA(one, V_LOADN(cp, nl), acc##v);                  \
            V_STOREN(cp, x, nl);                                                         \
        } else {                                                                         \
            V_STORE(cp, first ? acc##v : V_FMA(one, V_LOAD(cp), acc##v));                \
        }                                                                                \
    }
#else
#define GD_O(v)                                                                          \
    if ((v) < nv) {                                                                      \
        T *cp = c + (v) * VL;                                                            \
        V_STORE(cp, first ? acc##v : V_FMA(one, V_LOAD(cp), acc##v));                    \
    }
#endif
    GD_SP_REGS(GD_O)
#undef GD_O
#undef GD_BL
}

#ifdef V_FMA_IF
/* The pass of gd_sp_pass_ for two rows of A at once (words w1, w2; rows a1, a2; into
 * c1, c2), all GD_SP_NV registers of columns: one walk over the union of the two
 * lists, each row of B loaded once; row i's multiply-adds run at its own bits only.
 * ain and aout as gd_sp_pass_'s, the second row's chain GD_SP_NB elements after the
 * first's. */
static GD_ALWAYS_INLINE void GD_FN(gd_sp_pass2_)(const uint64_t *w1, const uint64_t *w2,
                                                 int nw, const T *restrict a1,
                                                 const T *restrict a2, int64_t sa,
                                                 const T *restrict b, int64_t ldb,
                                                 const T *ain, T *aout,
                                                 T *restrict c1, T *restrict c2, int first) {
#define GD_D(v)                                                                          \
    V acc##v = ain ? V_LOAD(ain + (v) * VL) : V_ZERO();                                  \
    V bcc##v = ain ? V_LOAD(ain + GD_SP_NB + (v) * VL) : V_ZERO();
    GD_SP_REGS(GD_D)
#undef GD_D
    for (int q = 0; q < nw; q++) {
        uint64_t u1 = w1[q], u2 = w2[q], wq = u1 | u2;
        while (wq) {
            int bit = GD_CTZ64(wq);
            int64_t p = (int64_t)q * 64 + bit;
            wq &= wq - 1;
            int on1 = (int)((u1 >> bit) & 1u), on2 = (int)((u2 >> bit) & 1u);
            V av = V_BCAST(a1[p * sa]), bv = V_BCAST(a2[p * sa]);
            const T *bp = b + p * ldb;
#define GD_F(v)                                                                          \
    {                                                                                    \
        V bw = V_LOAD(bp + (v) * VL);                                                    \
        GD_SP_IN_REGISTER(bw);                                                           \
        acc##v = V_FMA_IF(av, bw, acc##v, on1);                                          \
        bcc##v = V_FMA_IF(bv, bw, bcc##v, on2);                                          \
    }
            GD_SP_REGS(GD_F)
#undef GD_F
        }
    }
    if (aout) {
#define GD_A(v) V_STORE(aout + (v) * VL, acc##v); V_STORE(aout + GD_SP_NB + (v) * VL, bcc##v);
        GD_SP_REGS(GD_A)
#undef GD_A
        return;
    }
    V one = V_BCAST((T)1);
#define GD_O(v)                                                                          \
    V_STORE(c1 + (v) * VL, first ? acc##v : V_FMA(one, V_LOAD(c1 + (v) * VL), acc##v));  \
    V_STORE(c2 + (v) * VL, first ? bcc##v : V_FMA(one, V_LOAD(c2 + (v) * VL), bcc##v));
    GD_SP_REGS(GD_O)
#undef GD_O
}
#endif

/* Columns [0, w) of one row of C, w <= GD_SP_NB: one pass (b and c already at the
 * pass's first column; ain, aout as gd_sp_pass_'s, GD_SP_NB elements). Without masked
 * registers, the last w % VL columns are summed one by one with the same chain. */
static void GD_FN(gd_sp_cols_)(const uint64_t *words, int nw, const T *a, int64_t sa,
                               const T *b, int64_t ldb, int64_t w, const T *ain, T *aout,
                               T *c, int first) {
    if (w == GD_SP_NB) {
        GD_FN(gd_sp_pass_)(GD_SP_NV, 0, VL, words, nw, a, sa, b, ldb, ain, aout, c, first);
        return;
    }
#if GD_HAS_MASK
    int nv = (int)((w + VL - 1) / VL), nl = (int)(w - (int64_t)(nv - 1) * VL);
    int part = nl < VL;
#else
    int nv = (int)(w / VL), nl = VL, part = 0;
#endif
    switch (nv) {
#define GD_CASE(v)                                                                       \
    case (v) + 1:                                                                        \
        if (part)                                                                        \
            GD_FN(gd_sp_pass_)((v) + 1, 1, nl, words, nw, a, sa, b, ldb, ain, aout, c,   \
                               first);                                                   \
        else                                                                             \
            GD_FN(gd_sp_pass_)((v) + 1, 0, VL, words, nw, a, sa, b, ldb, ain, aout, c,   \
                               first);                                                   \
        break;
        GD_SP_REGS(GD_CASE)
#undef GD_CASE
    default:
        break;
    }
#if !GD_HAS_MASK
    /* scalar tail (the generic variant, whose V_FMA is plain operators) */
    for (int64_t j = (int64_t)nv * VL; j < w; j++) {
        T s = ain ? ain[j] : (T)0;
        for (int q = 0; q < nw; q++) {
            uint64_t wq = words[q];
            while (wq) {
                int64_t p = (int64_t)q * 64 + GD_CTZ64(wq);
                wq &= wq - 1;
                s = V_FMA(a[p * sa], b[p * ldb + j], s);
            }
        }
        if (aout)
            aout[j] = s;
        else
            c[j] = first ? s : V_FMA((T)1, c[j], s);
    }
#endif
}

/* Sub-block q (of nw) of a KC block, in one pass: row 1 of A (at a1, its word w1;
 * elements sa apart) into row 1 of C (c1), its chain starting from acc after the
 * first sub-block and left there before the last; with pair, the next row too (A's
 * at a1 + da, its word w2, C's at c1 + dc, its chain at acc + GD_SP_NB) in one walk
 * (gd_sp_pass2_). Returns the rows done. */
static GD_ALWAYS_INLINE int GD_FN(gd_sp_sub_)(int pair, const uint64_t *w1,
                                              const uint64_t *w2, const T *a1, int64_t da,
                                              int64_t sa, const T *b, int64_t ldb, int64_t w,
                                              T *acc, int q, int nw, T *c1, int64_t dc,
                                              int first) {
    const T *ain = q > 0 ? acc : 0;
    T *aout = q + 1 < nw ? acc : 0;
#ifdef V_FMA_IF
    if (pair) {
        GD_FN(gd_sp_pass2_)(w1, w2, 1, a1, a1 + da, sa, b, ldb, ain, aout, c1, c1 + dc,
                            first);
        return 2;
    }
#else
    (void)pair;
    (void)w2;
    (void)da;
    (void)dc;
#endif
    GD_FN(gd_sp_cols_)(w1, 1, a1, sa, b, ldb, w, ain, aout, c1, first);
    return 1;
}

/* Rows [p0, p0 + kq) and columns [0, w) of B (row stride n, at bq): where the passes
 * over them should read them. words[0 .. nrows)[q] are the bit words that will walk
 * them; with GD_SP_PACK_MIN uses per row on average and rows longer than a pass, they
 * are copied to panel first (*ld: the row stride to read with). */
static const T *GD_FN(gd_sp_panel_)(const uint64_t (*words)[GD_SP_WORDS], int64_t nrows,
                                    int q, const T *bq, int64_t n, int64_t kq, int64_t w,
                                    T *panel, int64_t *ld) {
    int64_t uses = 0;
    *ld = n;
    if (n <= GD_SP_NB) return bq;
    for (int64_t r = 0; r < nrows; r++) uses += GD_POPCNT64(words[r][q]);
    if (uses < GD_SP_PACK_MIN * kq) return bq;
    /* register copies, unrolled for a whole pass: memcpy of a 512-byte row became
     * rep movs, and a loop of loads and stores a call of memmove */
    for (int64_t p = 0; p < kq; p++) {
        const T *src = bq + p * n;
        T *dst = panel + p * GD_SP_NB;
        if (w == GD_SP_NB) {
#define GD_C(v) V_STORE(dst + (v) * VL, V_LOAD(src + (v) * VL));
            GD_SP_REGS(GD_C)
#undef GD_C
        } else {
            for (int64_t j = 0; j < w; j++) dst[j] = src[j];
        }
    }
    *ld = GD_SP_NB;
    return panel;
}

/* Rows [r0, r1) of the product of A[m, k]'s columns [k0, k1) by B's rows [k0, k1),
 * into c (row stride n): the GEMM's sum over that segment, KC blocks from k0. Per KC
 * block, block of GD_SP_NN_ROWS rows and GD_SP_NB columns, B's panel is walked in
 * sub-blocks of GD_SP_SUB rows (one bit word), each sub-block then running over all
 * the rows: its GD_SP_SUB x GD_SP_NB elements (32 KB) stay in L1 across the rows,
 * each row's chain waiting in accs between sub-blocks (a store and a load: the same
 * chain, the same bits). When B's rows are longer than the panel, the sub-block is
 * first copied to a contiguous panel: rows 4 KB apart map to the same few sets of
 * L1 and evict each other. Measured on 256x1024x1024, one core, against the GEMM:
 * 0.34x the time at density 0.15, 0.47-0.54x at 0.3, 0.70-0.82x at 0.5 (the passes
 * over a whole KC block, straight from B: 0.59x, 0.92-0.96x and 1.17-1.35x). Blocks
 * of 128 rows against 64 (each panel copied half as often): 0.87-0.96x the time on one
 * core and 0.89-0.97x on two, 0.55x at density 0.1 (whose 64 rows used the panel too
 * little to copy it). Blocks of 256 rows (a training batch of the big MLP, whose two
 * threads each sum half of k over all 256 rows; accs of 128 KB) against 128: 0.92-0.98x
 * in four processes at density 0.38, 0.88-1.02x (median 0.94x) against 128 and
 * 0.80-0.93x against 64 in six more at 0.3. */
#ifndef GD_SP_NN_ROWS
#define GD_SP_NN_ROWS 256
#endif
static void GD_FN(gd_spmm_nn_part_)(int64_t r0, int64_t r1, int64_t n, int64_t k,
                                    int64_t k0, int64_t k1, const T *a, const T *b, T *c) {
    uint64_t words[GD_SP_NN_ROWS][GD_SP_WORDS];
    GD_SP_ALIGN T panel[GD_SP_SUB * GD_SP_NB];
    GD_SP_ALIGN T accs[GD_SP_NN_ROWS * GD_SP_NB];
    if (k1 <= k0) {
        for (int64_t r = r0; r < r1; r++)
            for (int64_t j = 0; j < n; j++) c[r * n + j] = 0;
        return;
    }
    for (int64_t pc = k0; pc < k1; pc += KC) {
        int64_t kc = k1 - pc < KC ? k1 - pc : KC;
        int nw = (int)((kc + 63) / 64);
        for (int64_t rb = r0; rb < r1; rb += GD_SP_NN_ROWS) {
            int64_t rn = r1 - rb < GD_SP_NN_ROWS ? r1 - rb : GD_SP_NN_ROWS;
            for (int64_t r = 0; r < rn; r++)
                for (int q = 0; q < nw; q++) {
                    int64_t len = kc - (int64_t)q * 64 < 64 ? kc - (int64_t)q * 64 : 64;
                    words[r][q] = GD_FN(gd_nz_word_)(a + (rb + r) * k + pc + (int64_t)q * 64,
                                                     len);
                }
            for (int64_t j0 = 0; j0 < n; j0 += GD_SP_NB) {
                int64_t w = n - j0 < GD_SP_NB ? n - j0 : GD_SP_NB;
                for (int q = 0; q < nw; q++) {
                    int64_t p0 = pc + (int64_t)q * GD_SP_SUB;
                    int64_t kq = k1 - p0 < GD_SP_SUB ? k1 - p0 : GD_SP_SUB;
                    int64_t ldq;
                    const T *bq = GD_FN(gd_sp_panel_)(words, rn, q, b + p0 * n + j0, n, kq, w,
                                                      panel, &ldq);
                    for (int64_t r = 0; r < rn;) {
                        /* two rows through one pass under tn's rule (below) */
                        int pair = w == GD_SP_NB && r + 1 < rn &&
                                   gd_sp_share_(words[r][q], words[r + 1][q]);
                        r += GD_FN(gd_sp_sub_)(pair, &words[r][q], &words[pair ? r + 1 : r][q],
                                               a + (rb + r) * k + p0, k, 1, bq, ldq, w,
                                               accs + r * GD_SP_NB, q, nw,
                                               c + (rb + r) * n + j0, n, pc == k0);
                    }
                }
            }
        }
    }
}

/* c[r0..r1) += s[r0..r1) (rows of n): C = S_lo + S_hi, one rounding. */
static void GD_FN(gd_spmm_add_rows_)(int64_t r0, int64_t r1, int64_t n, T *c, const T *s) {
    for (int64_t i = r0 * n; i < r1 * n; i++) c[i] = c[i] + s[i];
}

/* The bit words of column j of the tn chunk (below): returns their or. */
static GD_ALWAYS_INLINE uint64_t GD_FN(gd_sp_tn_words_)(
    const uint32_t (*cols)[GD_SP_TN_COLS], int64_t j, int nw, int ng, uint64_t *words) {
    uint64_t any = 0;
    for (int q = 0; q < nw; q++) {
        uint64_t hi = 2 * q + 1 < ng ? cols[2 * q + 1][j] : 0u;
        words[q] = (uint64_t)cols[2 * q][j] | hi << 32;
        any |= words[q];
    }
    return any;
}

/* Rows [r0, r1) of C[m, n] = Aᵀ·B, A stored [k, m], B [k, n]. Per chunk of
 * GD_SP_TN_COLS columns of A, KC block and GD_SP_NB columns of B, B's panel is walked
 * in sub-blocks of GD_SP_SUB rows, copied to a contiguous panel when B's rows are
 * longer, each running over all the chunk's columns with their chains waiting in
 * accs between sub-blocks (as gd_spmm_nn_part_). */
static void GD_FN(gd_spmm_tn_part_)(int64_t r0, int64_t r1, int64_t m, int64_t n,
                                    int64_t k, const T *a, const T *b, T *c) {
    /* bit p % 32 of cols[p / 32][j]: a(pc + p, c0 + j) != 0, built a row of A at a
     * time with a branch-free loop the compiler vectorises (a compare and a masked or
     * per register of A's row) */
    uint32_t cols[2 * GD_SP_WORDS][GD_SP_TN_COLS];
    uint64_t words[GD_SP_TN_COLS][GD_SP_WORDS];
    uint64_t any[GD_SP_TN_COLS];
    GD_SP_ALIGN T panel[GD_SP_SUB * GD_SP_NB];
    GD_SP_ALIGN T accs[GD_SP_TN_COLS * GD_SP_NB];
    if (k == 0) {
        for (int64_t r = r0; r < r1; r++)
            for (int64_t j = 0; j < n; j++) c[r * n + j] = 0;
        return;
    }
    for (int64_t c0 = r0; c0 < r1; c0 += GD_SP_TN_COLS) {
        int64_t w = r1 - c0 < GD_SP_TN_COLS ? r1 - c0 : GD_SP_TN_COLS;
        for (int64_t pc = 0; pc < k; pc += KC) {
            int64_t kc = k - pc < KC ? k - pc : KC;
            int nw = (int)((kc + 63) / 64), ng = (int)((kc + 31) / 32);
            for (int g = 0; g < ng; g++)
                for (int64_t j = 0; j < w; j++) cols[g][j] = 0;
            for (int64_t p = 0; p < kc; p++) {
                const T *row = a + (pc + p) * m + c0;
                uint32_t *cg = cols[p >> 5], bit = (uint32_t)1 << (p & 31);
                for (int64_t j = 0; j < w; j++) cg[j] |= row[j] != (T)0 ? bit : 0u;
            }
            for (int64_t j = 0; j < w; j++)
                any[j] = GD_FN(gd_sp_tn_words_)(cols, j, nw, ng, words[j]);
            for (int64_t j0 = 0; j0 < n; j0 += GD_SP_NB) {
                int64_t wc = n - j0 < GD_SP_NB ? n - j0 : GD_SP_NB;
                /* an all-zero column of A gives zeros (its chain is empty), or adds
                 * zero */
                if (pc == 0)
                    for (int64_t j = 0; j < w; j++) {
                        if (any[j]) continue;
                        T *cj = c + (c0 + j) * n + j0;
                        if (wc == GD_SP_NB) { /* unrolled: GCC turns a loop into a
                                                 memset, whose rep stos costs more */
#define GD_Z(v) V_STORE(cj + (v) * VL, V_ZERO());
                            GD_SP_REGS(GD_Z)
#undef GD_Z
                        } else {
                            for (int64_t t = 0; t < wc; t++) cj[t] = 0;
                        }
                    }
                for (int q = 0; q < nw; q++) {
                    int64_t p0 = pc + (int64_t)q * GD_SP_SUB;
                    int64_t kq = k - p0 < GD_SP_SUB ? k - p0 : GD_SP_SUB;
                    const T *aq = a + p0 * m + c0;
                    int64_t ldq;
                    const T *bq = GD_FN(gd_sp_panel_)(words, w, q, b + p0 * n + j0, n, kq, wc,
                                                      panel, &ldq);
                    for (int64_t j = 0; j < w;) {
                        if (!any[j]) {
                            j++;
                            continue;
                        }
                        /* two columns of A through one pass when at least half of the
                         * rows lit in either are lit in both (neighbours in images; a
                         * hidden layer's units rarely are) */
                        int pair = wc == GD_SP_NB && j + 1 < w && any[j + 1] &&
                                   gd_sp_share_(words[j][q], words[j + 1][q]);
                        j += GD_FN(gd_sp_sub_)(pair, &words[j][q], &words[pair ? j + 1 : j][q],
                                               aq + j, 1, m, bq, ldq, wc, accs + j * GD_SP_NB,
                                               q, nw, c + (c0 + j) * n + j0, n, pc == 0);
                    }
                }
            }
        }
    }
}

/* Thread tid of nt: its share of C (see the algorithm above). Inside a team it may
 * meet the others at one barrier (nn with two segments); the caller's barrier
 * follows. */
static void GD_FN(gd_spmm_share_)(int ta, int64_t m, int64_t n, int64_t k, const T *a,
                                  const T *b, T *c, T *scratch, int tid, int nt) {
    int64_t lo, hi;
    if (ta) { /* rows of C: [0, cut) on the even threads, [cut, m) on the odd ones */
        int64_t cut = nt > 1 ? gd_spmm_cut(m) : m;
        int half = cut < m ? tid & 1 : 0;
        int64_t h0 = half ? cut : 0, h1 = half ? m : cut;
        int ht = cut < m ? gd_spmm_half_threads(half, nt) : nt;
        gd_static_range(h1 - h0, 1, cut < m ? tid >> 1 : tid, ht, &lo, &hi);
        GD_FN(gd_spmm_tn_part_)(h0 + lo, h0 + hi, m, n, k, a, b, c);
        return;
    }
    int64_t cut = gd_spmm_cut(k);
    if (cut >= k) { /* one segment: rows split */
        gd_static_range(m, 1, tid, nt, &lo, &hi);
        GD_FN(gd_spmm_nn_part_)(lo, hi, n, k, 0, k, a, b, c);
        return;
    }
    if (nt == 1 ||
        (gd_team_inference && ((double)k * (double)n * sizeof(T) <= GD_SP_ROWS_MAX_B_BYTES ||
                               m >= (int64_t)GD_SP_ROWS_MIN_PER_THREAD * nt))) {
        /* both segments of this thread's rows: no barrier between the segments, and
         * each core reads only the rows it was given (B is read-only here, and small
         * enough that both cores hold it or read by enough rows to pay for both
         * reading all of it) */
        gd_static_range(m, 1, tid, nt, &lo, &hi);
        GD_FN(gd_spmm_nn_part_)(lo, hi, n, k, 0, cut, a, b, c);
        GD_FN(gd_spmm_nn_part_)(lo, hi, n, k, cut, k, a, b, scratch);
        GD_FN(gd_spmm_add_rows_)(lo, hi, n, c, scratch);
        return;
    }
    int half = tid & 1;
    gd_static_range(m, 1, tid >> 1, gd_spmm_half_threads(half, nt), &lo, &hi);
    if (half == 0)
        GD_FN(gd_spmm_nn_part_)(lo, hi, n, k, 0, cut, a, b, c);
    else
        GD_FN(gd_spmm_nn_part_)(lo, hi, n, k, cut, k, a, b, scratch);
    GD_PRAGMA(omp barrier)
    gd_static_range(m, 1, tid, nt, &lo, &hi);
    GD_FN(gd_spmm_add_rows_)(lo, hi, n, c, scratch);
}

/* Outside a parallel region: one opened above the GEMM's threshold (on the dense
 * flops). Inside one: every thread takes its rows, then all meet at a barrier. */
static void GD_FN(gd_spmm_run_)(int ta, int64_t m, int64_t n, int64_t k, const T *a,
                                const T *b, T *c, T *scratch, int n_threads) {
    if (m <= 0 || n <= 0) return;
    int fork = gd_fork_threads(n_threads, 2.0 * (double)m * (double)n * (double)k,
                               GD_GEMM_MIN_PAR_FLOPS);
#ifdef _OPENMP
    if (fork == 0) {
        GD_FN(gd_spmm_share_)(ta, m, n, k, a, b, c, scratch, omp_get_thread_num(),
                              omp_get_num_threads());
        GD_TEAM_BARRIER();
        return;
    }
    if (fork > 1) {
        GD_PRAGMA(omp parallel num_threads(fork))
        GD_FN(gd_spmm_share_)(ta, m, n, k, a, b, c, scratch, omp_get_thread_num(),
                              omp_get_num_threads());
        return;
    }
#else
    (void)fork;
#endif
    GD_FN(gd_spmm_share_)(ta, m, n, k, a, b, c, scratch, 0, 1);
}

void GD_CAT(gd_spmm_nn_, GD_SFX)(int64_t m, int64_t n, int64_t k, const T *a, const T *b,
                                 T *c, T *scratch, int n_threads) {
    GD_FN(gd_spmm_run_)(0, m, n, k, a, b, c, scratch, n_threads);
}
void GD_CAT(gd_spmm_tn_, GD_SFX)(int64_t m, int64_t n, int64_t k, const T *a, const T *b,
                                 T *c, int n_threads) {
    GD_FN(gd_spmm_run_)(1, m, n, k, a, b, c, 0, n_threads);
}

int64_t GD_CAT(gd_count_nonzero_, GD_SFX)(int64_t n, const T *x) {
    int64_t count = 0, i = 0;
    for (; i + 64 <= n; i += 64) count += GD_POPCNT64(GD_FN(gd_nz_word_)(x + i, 64));
    if (i < n) count += GD_POPCNT64(GD_FN(gd_nz_word_)(x + i, n - i));
    return count;
}

#undef GD_SP_NB
#undef GD_SP_WORDS
#undef GD_FN
