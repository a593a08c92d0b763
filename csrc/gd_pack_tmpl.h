/* Private template: packed rows (gd_pack_palette_*, gd_pack_rows_size_*, gd_pack_rows_*,
 * gd_unpack_rows_*; the record format and the contracts are in gd_kernels.h) and the
 * engine's per-row unpack (gd_unpack_cols_*, gd_internal.h). Included by gd_gemm_tmpl.h after
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
 * x, 40k unpacked, 18-24k unpacked with the prefetch). Data with at most 256 distinct
 * values (images scaled from bytes: MNIST has 255) stores a byte per value, an index
 * into a palette of the exact values: 16 MB for MNIST's 188 MB instead of 43. */

#ifndef GD_PACK_TMPL_ONCE
#define GD_PACK_TMPL_ONCE
#include <math.h>
#include <stdlib.h>
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

/* A set of at most GD_PAL_MAX bit patterns (zero-extended to 64 bits), each with its
 * index in order of insertion: open addressing in GD_PAL_SLOTS slots (a quarter full
 * at most, so a lookup is about one probe). */
#define GD_PAL_MAX 256
#define GD_PAL_SLOTS 1024
typedef struct {
    uint64_t key[GD_PAL_SLOTS];
    int16_t idx[GD_PAL_SLOTS]; /* -1: empty */
    int count;
} gd_pal_map;
static inline void gd_pal_clear(gd_pal_map *m) {
    m->count = 0;
    for (int i = 0; i < GD_PAL_SLOTS; i++) m->idx[i] = -1;
}
/* The slot holding k, or the empty slot where it would go. */
static inline unsigned gd_pal_slot(const gd_pal_map *m, uint64_t k) {
    unsigned s = (unsigned)((k * 0x9E3779B97F4A7C15ull) >> 54);
    while (m->idx[s] >= 0 && m->key[s] != k) s = (s + 1) & (GD_PAL_SLOTS - 1);
    return s;
}
/* Adds k as the next index unless present; 0 when it is absent and the set is full. */
static inline int gd_pal_add(gd_pal_map *m, uint64_t k) {
    unsigned s = gd_pal_slot(m, k);
    if (m->idx[s] >= 0) return 1;
    if (m->count == GD_PAL_MAX) return 0;
    m->key[s] = k;
    m->idx[s] = (int16_t)m->count++;
    return 1;
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

static inline uint64_t GD_FN(gd_pal_key_)(T v) {
    uint64_t k = 0;
    memcpy(&k, &v, sizeof v);
    return k;
}

/* The bytes of a record of f columns holding `count` values (a byte each with a
 * palette). */
static inline int64_t GD_FN(gd_pack_bytes_)(int64_t f, int64_t count, int palette) {
    int64_t value_bytes = palette ? count : count * (int64_t)sizeof(T);
    return GD_PACK_HEADER + 8 * gd_pack_words(f) + (value_bytes + 7) / 8 * 8;
}

/* A record with raw values, as gd_pack_row_ writes it, rewritten at out with each
 * value's index in the palette map (0 for a value not in it: never, when the palette
 * is x's own). */
static void GD_FN(gd_pal_index_)(int64_t f, const unsigned char *raw, const gd_pal_map *map,
                                 unsigned char *out) {
    int64_t head = GD_PACK_HEADER + 8 * gd_pack_words(f);
    int32_t h[4];
    memcpy(h, raw, GD_PACK_HEADER);
    memcpy(out, raw, (size_t)head);
    const T *v = (const T *)(const void *)(raw + head);
    unsigned char *ix = out + head;
    for (int32_t t = 0; t < h[3]; t++) {
        int id = map->idx[gd_pal_slot(map, GD_FN(gd_pal_key_)(v[t]))];
        ix[t] = (unsigned char)(id < 0 ? 0 : id);
    }
    int64_t end = GD_FN(gd_pack_bytes_)(f, h[3], 1);
    memset(ix + h[3], 0, (size_t)(end - head - h[3]));
}

/* dst[c0 .. c1) from a record's bit words and its values from `values` on: T each, or
 * with pal a byte each indexing it. */
static GD_ALWAYS_INLINE void GD_FN(gd_unpack_scalar_)(const uint64_t *bits, int64_t c0,
                                                      int64_t c1, const void *values,
                                                      const T *pal, T *dst) {
    const T *v = (const T *)values;
    const unsigned char *ix = (const unsigned char *)values;
    for (int64_t j = c0; j < c1; j++) dst[j] = 0;
    for (int64_t q = c0 / 64; q * 64 < c1; q++) {
        uint64_t w = bits[q];
        if (q * 64 < c0) w &= ~(uint64_t)0 << (c0 - q * 64);
        if (c1 - q * 64 < 64) w &= ((uint64_t)1 << (c1 - q * 64)) - 1;
        for (; w; w &= w - 1) dst[q * 64 + GD_CTZ64(w)] = pal ? pal[*ix++] : *v++;
    }
}

/* Columns [c0, c1) of a record into dst[c0 .. c1), bit for bit, with c0 either 0 or
 * gd_spmm_cut(f) and c1 either that cut or f; pal: the palette of a record of indices,
 * NULL for raw values. Returns the nonzeros of those columns. */
int64_t GD_CAT(gd_unpack_cols_, GD_SFX)(const void *record, int64_t f, const T *pal,
                                        int64_t c0, int64_t c1, T *dst) {
    const unsigned char *rec = (const unsigned char *)record;
    int32_t h[4];
    memcpy(h, rec, GD_PACK_HEADER);
    const uint64_t *bits = (const uint64_t *)(const void *)(rec + GD_PACK_HEADER);
    const unsigned char *start = (const unsigned char *)(bits + gd_pack_words(f));
    int64_t skip = c0 ? h[2] : 0;
    if (pal) {
        /* scalar: an AVX-512 version (index bytes expanded, then a masked gather from
         * the palette) took 1.0-1.04x the time of this loop in training */
        GD_FN(gd_unpack_scalar_)(bits, c0, c1, start + skip, pal, dst);
    } else {
        const T *vals = (const T *)(const void *)start + skip;
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
        GD_FN(gd_unpack_scalar_)(bits, c0, c1, vals, 0, dst);
#endif
    }
    if (c0 > 0) return h[1];
    return c1 == f ? (int64_t)h[0] + h[1] : h[0];
}

int GD_CAT(gd_pack_palette_, GD_SFX)(int64_t n, int64_t f, const T *x, T *pal,
                                     int n_threads) {
    int64_t cut = gd_spmm_cut(f), head = GD_PACK_HEADER + 8 * gd_pack_words(f);
    int fork = gd_fork_threads(n_threads, (double)n * (double)f, GD_PACK_MIN_PAR_ELEMS);
    int over = 0; /* more than GD_PAL_MAX values, or no memory: no palette */
    gd_pal_map all;
    gd_pal_clear(&all);
    GD_PRAGMA(omp parallel num_threads(fork > 0 ? fork : 1) if (fork > 1))
    {
        int64_t lo, hi;
        int32_t h[4];
        int stop = 0;
        gd_pal_map mine;
        gd_pal_clear(&mine);
        /* a row's raw record, its values padded to 8 bytes */
        unsigned char *raw = (unsigned char *)malloc((size_t)GD_FN(gd_pack_bytes_)(f, f, 0));
        if (!raw) stop = 1;
        gd_static_range(n, 1, GD_THREAD_ID(), GD_TEAM_SIZE(), &lo, &hi);
        for (int64_t i = lo; i < hi && !stop; i++) {
            if (i % 64 == 0) {
                GD_PRAGMA(omp atomic read)
                stop = over;
                if (stop) break;
            }
            GD_FN(gd_pack_row_)(f, cut, x + i * f, raw, h);
            const T *v = (const T *)(const void *)(raw + head);
            for (int32_t t = 0; t < h[3] && !stop; t++)
                stop = !gd_pal_add(&mine, GD_FN(gd_pal_key_)(v[t]));
        }
        free(raw);
        GD_PRAGMA(omp critical(gd_pack_palette))
        {
            int full = over || stop;
            for (int s = 0; s < GD_PAL_SLOTS && !full; s++)
                if (mine.idx[s] >= 0 && !gd_pal_add(&all, mine.key[s])) full = 1;
            if (full) {
                GD_PRAGMA(omp atomic write)
                over = 1;
            }
        }
    }
    if (over) return -1;
    /* the palette in increasing bit pattern: the same for any thread count */
    uint64_t keys[GD_PAL_MAX];
    int count = 0;
    for (int s = 0; s < GD_PAL_SLOTS; s++)
        if (all.idx[s] >= 0) keys[count++] = all.key[s];
    if (count == 0) return -1; /* nothing stored: no palette */
    for (int a = 1; a < count; a++) {
        uint64_t k = keys[a];
        int b = a;
        for (; b > 0 && keys[b - 1] > k; b--) keys[b] = keys[b - 1];
        keys[b] = k;
    }
    for (int a = 0; a < count; a++) memcpy(&pal[a], &keys[a], sizeof(T));
    return count;
}

int64_t GD_CAT(gd_pack_rows_size_, GD_SFX)(int64_t n, int64_t f, const T *x, int n_pal,
                                           int64_t *off, int n_threads) {
    int64_t cut = gd_spmm_cut(f);
    int fork = gd_fork_threads(n_threads, (double)n * (double)f, GD_PACK_MIN_PAR_ELEMS);
    off[0] = 0;
    GD_PRAGMA(omp parallel num_threads(fork > 0 ? fork : 1) if (fork > 1))
    {
        int64_t lo, hi;
        int32_t h[4];
        gd_static_range(n, 1, GD_THREAD_ID(), GD_TEAM_SIZE(), &lo, &hi);
        for (int64_t i = lo; i < hi; i++) {
            GD_FN(gd_pack_row_)(f, cut, x + i * f, 0, h);
            off[i + 1] = GD_FN(gd_pack_bytes_)(f, h[3], n_pal > 0);
        }
    }
    for (int64_t i = 0; i < n; i++) off[i + 1] += off[i];
    return off[n];
}

int GD_CAT(gd_pack_rows_, GD_SFX)(int64_t n, int64_t f, const T *x, const T *pal, int n_pal,
                                  const int64_t *off, void *out, int n_threads) {
    int64_t cut = gd_spmm_cut(f);
    int fork = gd_fork_threads(n_threads, (double)n * (double)f, GD_PACK_MIN_PAR_ELEMS);
    int status = GD_OK;
    gd_pal_map map;
    gd_pal_clear(&map);
    for (int a = 0; a < n_pal && a < GD_PAL_MAX; a++) gd_pal_add(&map, GD_FN(gd_pal_key_)(pal[a]));
    GD_PRAGMA(omp parallel num_threads(fork > 0 ? fork : 1) if (fork > 1))
    {
        int64_t lo, hi;
        int32_t h[4];
        unsigned char *raw = 0;
        if (n_pal > 0) {
            raw = (unsigned char *)malloc((size_t)GD_FN(gd_pack_bytes_)(f, f, 0));
            if (!raw) {
                GD_PRAGMA(omp atomic write)
                status = GD_ENOMEM;
            }
        }
        gd_static_range(n, 1, GD_THREAD_ID(), GD_TEAM_SIZE(), &lo, &hi);
        if (n_pal <= 0) {
            for (int64_t i = lo; i < hi; i++)
                GD_FN(gd_pack_row_)(f, cut, x + i * f, (unsigned char *)out + off[i], h);
        } else if (raw) {
            for (int64_t i = lo; i < hi; i++) {
                GD_FN(gd_pack_row_)(f, cut, x + i * f, raw, h);
                GD_FN(gd_pal_index_)(f, raw, &map, (unsigned char *)out + off[i]);
            }
        }
        free(raw);
    }
    return status;
}

int64_t GD_CAT(gd_unpack_rows_, GD_SFX)(int64_t m, int64_t f, const void *packed,
                                        const int64_t *off, const T *pal,
                                        const int64_t *rows, T *dst, int n_threads) {
    int64_t total = 0;
    int fork = gd_fork_threads(n_threads, (double)m * (double)f, GD_PACK_MIN_PAR_ELEMS);
    GD_PRAGMA(omp parallel num_threads(fork > 0 ? fork : 1) if (fork > 1) reduction(+ : total))
    {
        int64_t lo, hi;
        gd_static_range(m, 1, GD_THREAD_ID(), GD_TEAM_SIZE(), &lo, &hi);
        for (int64_t i = lo; i < hi; i++)
            total += GD_CAT(gd_unpack_cols_, GD_SFX)(
                (const unsigned char *)packed + off[rows[i]], f, pal, 0, f, dst + i * f);
    }
    return total;
}

#undef GD_FN
