/* CPU probe and the function table (STYLE §6). One table, filled once by
 * gd_dispatch_init (module import, under the GIL; tests call it again to force an
 * ISA): the generic variant in every slot, then the best variant the CPU supports up
 * to the cap. A slot is never NULL. The public GEMM names are defined here and call
 * through the table. */
#include <string.h>
#include "gd_internal.h"

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define GD_X86 1
#else
#define GD_X86 0
#endif

#define GD_GEMM_PROTOS(T, SFX)                                                           \
    int gd_gemm_nn_##SFX(int64_t, int64_t, int64_t, T, const T *, int64_t, const T *,    \
                         int64_t, T, T *, int64_t, int);                                 \
    int gd_gemm_nt_##SFX(int64_t, int64_t, int64_t, T, const T *, int64_t, const T *,    \
                         int64_t, T, T *, int64_t, int);                                 \
    int gd_gemm_tn_##SFX(int64_t, int64_t, int64_t, T, const T *, int64_t, const T *,    \
                         int64_t, T, T *, int64_t, int);                                 \
    int gd_gemm_reserve_##SFX(void);                                                     \
    void gd_spmm_nn_##SFX(int64_t, int64_t, int64_t, const T *, const T *, T *, T *, int);\
    void gd_spmm_tn_##SFX(int64_t, int64_t, int64_t, const T *, const T *, T *, int);    \
    int64_t gd_count_nonzero_##SFX(int64_t, const T *);                               \
    int64_t gd_pack_rows_size_##SFX(int64_t, int64_t, const T *, int64_t *, int);         \
    void gd_pack_rows_##SFX(int64_t, int64_t, const T *, const int64_t *, void *, int);   \
    int64_t gd_unpack_rows_##SFX(int64_t, int64_t, const void *, const int64_t *,         \
                                 const int64_t *, T *, int);                              \
    int64_t gd_unpack_cols_##SFX(const void *, int64_t, int64_t, int64_t, T *);
GD_GEMM_PROTOS(float, f32_generic)
GD_GEMM_PROTOS(double, f64_generic)
#if GD_X86
GD_GEMM_PROTOS(float, f32_avx2)
GD_GEMM_PROTOS(double, f64_avx2)
GD_GEMM_PROTOS(float, f32_avx512)
GD_GEMM_PROTOS(double, f64_avx512)
#endif

typedef int (*gd_gemm_f32_fn)(int64_t, int64_t, int64_t, float, const float *, int64_t,
                              const float *, int64_t, float, float *, int64_t, int);
typedef int (*gd_gemm_f64_fn)(int64_t, int64_t, int64_t, double, const double *, int64_t,
                              const double *, int64_t, double, double *, int64_t, int);
typedef void (*gd_spmm_f32_fn)(int64_t, int64_t, int64_t, const float *, const float *,
                               float *, int);
typedef void (*gd_spmm_f64_fn)(int64_t, int64_t, int64_t, const double *, const double *,
                               double *, int);
typedef void (*gd_spnn_f32_fn)(int64_t, int64_t, int64_t, const float *, const float *,
                               float *, float *, int);
typedef void (*gd_spnn_f64_fn)(int64_t, int64_t, int64_t, const double *, const double *,
                               double *, double *, int);

/* The table: one slot per (kernel, dtype), each with the ISA it holds. */
static struct {
    gd_gemm_f32_fn nn_f32, nt_f32, tn_f32;
    gd_gemm_f64_fn nn_f64, nt_f64, tn_f64;
    int isa_f32, isa_f64;
    int (*reserve_f32)(void), (*reserve_f64)(void);
    gd_spnn_f32_fn spnn_f32;
    gd_spmm_f32_fn sptn_f32;
    gd_spnn_f64_fn spnn_f64;
    gd_spmm_f64_fn sptn_f64;
    int64_t (*nnz_f32)(int64_t, const float *);
    int64_t (*nnz_f64)(int64_t, const double *);
    int64_t (*pksize_f32)(int64_t, int64_t, const float *, int64_t *, int);
    int64_t (*pksize_f64)(int64_t, int64_t, const double *, int64_t *, int);
    void (*pack_f32)(int64_t, int64_t, const float *, const int64_t *, void *, int);
    void (*pack_f64)(int64_t, int64_t, const double *, const int64_t *, void *, int);
    int64_t (*unpack_f32)(int64_t, int64_t, const void *, const int64_t *, const int64_t *,
                          float *, int);
    int64_t (*unpack_f64)(int64_t, int64_t, const void *, const int64_t *, const int64_t *,
                          double *, int);
    int64_t (*ucols_f32)(const void *, int64_t, int64_t, int64_t, float *);
    int64_t (*ucols_f64)(const void *, int64_t, int64_t, int64_t, double *);
} gd_table = {
    gd_gemm_nn_f32_generic, gd_gemm_nt_f32_generic, gd_gemm_tn_f32_generic,
    gd_gemm_nn_f64_generic, gd_gemm_nt_f64_generic, gd_gemm_tn_f64_generic,
    GD_ISA_GENERIC, GD_ISA_GENERIC,
    gd_gemm_reserve_f32_generic, gd_gemm_reserve_f64_generic,
    gd_spmm_nn_f32_generic, gd_spmm_tn_f32_generic,
    gd_spmm_nn_f64_generic, gd_spmm_tn_f64_generic,
    gd_count_nonzero_f32_generic, gd_count_nonzero_f64_generic,
    gd_pack_rows_size_f32_generic, gd_pack_rows_size_f64_generic,
    gd_pack_rows_f32_generic, gd_pack_rows_f64_generic,
    gd_unpack_rows_f32_generic, gd_unpack_rows_f64_generic,
    gd_unpack_cols_f32_generic, gd_unpack_cols_f64_generic,
};

/* ---- the optimizer kernels (gd_optim*.c): one slot per dtype ------------------- */
/* X(name, params, args) lists every optimizer kernel with its parameters in T. */
#define GD_OPTIM_LIST(X, T)                                                              \
    X(sgd_step, (int64_t n, T *w, const T *g, T *v, T lr, T momentum, int nesterov,      \
                 int n_threads), (n, w, g, v, lr, momentum, nesterov, n_threads))        \
    X(adam_step, (int64_t n, T *w, const T *g, T *m, T *v, T *vhat, T alpha, T beta_1,   \
                  T beta_2, T epsilon, int n_threads),                                   \
      (n, w, g, m, v, vhat, alpha, beta_1, beta_2, epsilon, n_threads))                  \
    X(rmsprop_step, (int64_t n, T *w, const T *g, T *v, T *mom, T *avg, T lr, T rho,     \
                     T momentum, T epsilon, int n_threads),                              \
      (n, w, g, v, mom, avg, lr, rho, momentum, epsilon, n_threads))                     \
    X(adagrad_step, (int64_t n, T *w, const T *g, T *acc, T lr, T epsilon,               \
                     int n_threads), (n, w, g, acc, lr, epsilon, n_threads))             \
    X(adamax_step, (int64_t n, T *w, const T *g, T *m, T *u, T lr, T bias_1, T beta_1,   \
                    T beta_2, T epsilon, int n_threads),                                 \
      (n, w, g, m, u, lr, bias_1, beta_1, beta_2, epsilon, n_threads))                   \
    X(nadam_step, (int64_t n, T *w, const T *g, T *m, T *v, T lr, T c_m, T c_g,          \
                   T bias_2, T beta_1, T beta_2, T epsilon, int n_threads),              \
      (n, w, g, m, v, lr, c_m, c_g, bias_2, beta_1, beta_2, epsilon, n_threads))         \
    X(adadelta_step, (int64_t n, T *w, const T *g, T *ag, T *ad, T lr, T rho, T epsilon, \
                      int n_threads), (n, w, g, ag, ad, lr, rho, epsilon, n_threads))    \
    X(scale, (int64_t n, T *w, T factor, int n_threads), (n, w, factor, n_threads))      \
    X(clip_grads, (int64_t n, int64_t n_blocks, const int64_t *blocks, T *g, int mode,   \
                   double clip, double *scratch, int n_threads),                         \
      (n, n_blocks, blocks, g, mode, clip, scratch, n_threads))

#define GD_OPTIM_FIELD(name, params, args) void(*name) params;

/* prototypes of every variant: gd_<name>_<dtype>_<isa> */
#define GD_OPTIM_PROTO_ISA(T, SFX)                                                       \
    GD_OPTIM_LIST(GD_OPTIM_PROTO_##SFX, T)
#define GD_OPTIM_PROTO_f32_generic(name, params, args) void gd_##name##_f32_generic params;
#define GD_OPTIM_PROTO_f64_generic(name, params, args) void gd_##name##_f64_generic params;
#define GD_OPTIM_PROTO_f32_avx2(name, params, args) void gd_##name##_f32_avx2 params;
#define GD_OPTIM_PROTO_f64_avx2(name, params, args) void gd_##name##_f64_avx2 params;
#define GD_OPTIM_PROTO_f32_avx512(name, params, args) void gd_##name##_f32_avx512 params;
#define GD_OPTIM_PROTO_f64_avx512(name, params, args) void gd_##name##_f64_avx512 params;
GD_OPTIM_PROTO_ISA(float, f32_generic)
GD_OPTIM_PROTO_ISA(double, f64_generic)
#if GD_X86
GD_OPTIM_PROTO_ISA(float, f32_avx2)
GD_OPTIM_PROTO_ISA(double, f64_avx2)
GD_OPTIM_PROTO_ISA(float, f32_avx512)
GD_OPTIM_PROTO_ISA(double, f64_avx512)
#endif

typedef struct { GD_OPTIM_LIST(GD_OPTIM_FIELD, float) int isa; } gd_optim_f32_slot;
typedef struct { GD_OPTIM_LIST(GD_OPTIM_FIELD, double) int isa; } gd_optim_f64_slot;

/* Fill a slot with one ISA's variants. */
#define GD_OPTIM_FILL_FN(DT, T, ISA, ISA_ID)                                              \
    static void gd_optim_fill_##DT##_##ISA(gd_optim_##DT##_slot *slot) {                  \
        GD_OPTIM_LIST(GD_OPTIM_SET_##DT##_##ISA, T)                                       \
        slot->isa = ISA_ID;                                                               \
    }
#define GD_OPTIM_SET_f32_generic(name, params, args) slot->name = gd_##name##_f32_generic;
#define GD_OPTIM_SET_f64_generic(name, params, args) slot->name = gd_##name##_f64_generic;
#define GD_OPTIM_SET_f32_avx2(name, params, args) slot->name = gd_##name##_f32_avx2;
#define GD_OPTIM_SET_f64_avx2(name, params, args) slot->name = gd_##name##_f64_avx2;
#define GD_OPTIM_SET_f32_avx512(name, params, args) slot->name = gd_##name##_f32_avx512;
#define GD_OPTIM_SET_f64_avx512(name, params, args) slot->name = gd_##name##_f64_avx512;
GD_OPTIM_FILL_FN(f32, float, generic, GD_ISA_GENERIC)
GD_OPTIM_FILL_FN(f64, double, generic, GD_ISA_GENERIC)
#if GD_X86
GD_OPTIM_FILL_FN(f32, float, avx2, GD_ISA_AVX2)
GD_OPTIM_FILL_FN(f64, double, avx2, GD_ISA_AVX2)
GD_OPTIM_FILL_FN(f32, float, avx512, GD_ISA_AVX512)
GD_OPTIM_FILL_FN(f64, double, avx512, GD_ISA_AVX512)
#endif

/* The optimizer slots (never NULL: filled statically with the generic variants). */
#define GD_OPTIM_INIT_f32(name, params, args) gd_##name##_f32_generic,
#define GD_OPTIM_INIT_f64(name, params, args) gd_##name##_f64_generic,
static gd_optim_f32_slot gd_optim_f32 = {GD_OPTIM_LIST(GD_OPTIM_INIT_f32, float)
                                         GD_ISA_GENERIC};
static gd_optim_f64_slot gd_optim_f64 = {GD_OPTIM_LIST(GD_OPTIM_INIT_f64, double)
                                         GD_ISA_GENERIC};

int gd_cpu_isa(void) {
#if GD_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return GD_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return GD_ISA_AVX2;
#endif
    return GD_ISA_GENERIC;
}

/* Every slot to the variant SFX (generic, avx2, avx512) compiled for ISA. */
#define GD_FILL_TABLE(ISA, SFX)                                                          \
    do {                                                                                 \
        gd_table.nn_f32 = gd_gemm_nn_f32_##SFX;                                          \
        gd_table.nt_f32 = gd_gemm_nt_f32_##SFX;                                          \
        gd_table.tn_f32 = gd_gemm_tn_f32_##SFX;                                          \
        gd_table.nn_f64 = gd_gemm_nn_f64_##SFX;                                          \
        gd_table.nt_f64 = gd_gemm_nt_f64_##SFX;                                          \
        gd_table.tn_f64 = gd_gemm_tn_f64_##SFX;                                          \
        gd_table.reserve_f32 = gd_gemm_reserve_f32_##SFX;                                \
        gd_table.reserve_f64 = gd_gemm_reserve_f64_##SFX;                                \
        gd_table.spnn_f32 = gd_spmm_nn_f32_##SFX;                                        \
        gd_table.sptn_f32 = gd_spmm_tn_f32_##SFX;                                        \
        gd_table.spnn_f64 = gd_spmm_nn_f64_##SFX;                                        \
        gd_table.sptn_f64 = gd_spmm_tn_f64_##SFX;                                        \
        gd_table.nnz_f32 = gd_count_nonzero_f32_##SFX;                                   \
        gd_table.nnz_f64 = gd_count_nonzero_f64_##SFX;                                   \
        gd_table.pksize_f32 = gd_pack_rows_size_f32_##SFX;                               \
        gd_table.pksize_f64 = gd_pack_rows_size_f64_##SFX;                               \
        gd_table.pack_f32 = gd_pack_rows_f32_##SFX;                                      \
        gd_table.pack_f64 = gd_pack_rows_f64_##SFX;                                      \
        gd_table.unpack_f32 = gd_unpack_rows_f32_##SFX;                                  \
        gd_table.unpack_f64 = gd_unpack_rows_f64_##SFX;                                  \
        gd_table.ucols_f32 = gd_unpack_cols_f32_##SFX;                                   \
        gd_table.ucols_f64 = gd_unpack_cols_f64_##SFX;                                   \
        gd_table.isa_f32 = gd_table.isa_f64 = (ISA);                                     \
        gd_optim_fill_f32_##SFX(&gd_optim_f32);                                          \
        gd_optim_fill_f64_##SFX(&gd_optim_f64);                                          \
    } while (0)

int gd_dispatch_init(int cap) {
    int isa = gd_cpu_isa();
    if (cap < isa) isa = cap < GD_ISA_GENERIC ? GD_ISA_GENERIC : cap;
    GD_FILL_TABLE(GD_ISA_GENERIC, generic);
#if GD_X86
    if (isa >= GD_ISA_AVX512)
        GD_FILL_TABLE(GD_ISA_AVX512, avx512);
    else if (isa >= GD_ISA_AVX2)
        GD_FILL_TABLE(GD_ISA_AVX2, avx2);
#else
    (void)isa;
#endif
    return gd_table.isa_f32;
}

static const char *const gd_slot_names[] = {"gemm_f32", "gemm_f64", "optim_f32",
                                            "optim_f64"};

const char *gd_dispatch_slot_name(int i) {
    if (i < 0 || i >= (int)(sizeof gd_slot_names / sizeof gd_slot_names[0])) return NULL;
    return gd_slot_names[i];
}

int gd_dispatch_isa(const char *slot) {
    if (!slot) return -1;
    if (strcmp(slot, "gemm_f32") == 0) return gd_table.isa_f32;
    if (strcmp(slot, "gemm_f64") == 0) return gd_table.isa_f64;
    if (strcmp(slot, "optim_f32") == 0) return gd_optim_f32.isa;
    if (strcmp(slot, "optim_f64") == 0) return gd_optim_f64.isa;
    return -1;
}

/* ---- the public GEMM names: through the table ---------------------------------- */
#define GD_GEMM_PUBLIC(L, T, SFX)                                                        \
    int gd_gemm_##L##_##SFX(int64_t m, int64_t n, int64_t k, T alpha, const T *a,        \
                            int64_t lda, const T *b, int64_t ldb, T beta, T *c,          \
                            int64_t ldc, int n_threads) {                                \
        return gd_table.L##_##SFX(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,          \
                                  n_threads);                                            \
    }
GD_GEMM_PUBLIC(nn, float, f32)
GD_GEMM_PUBLIC(nt, float, f32)
GD_GEMM_PUBLIC(tn, float, f32)
GD_GEMM_PUBLIC(nn, double, f64)
GD_GEMM_PUBLIC(nt, double, f64)
GD_GEMM_PUBLIC(tn, double, f64)

int gd_gemm_reserve_f32(void) { return gd_table.reserve_f32(); }
int gd_gemm_reserve_f64(void) { return gd_table.reserve_f64(); }

/* ---- the products that skip A's zeros, and the count that chooses them ---------- */
#define GD_SPMM_PUBLIC(T, SFX)                                                           \
    void gd_spmm_nn_##SFX(int64_t m, int64_t n, int64_t k, const T *a, const T *b, T *c, \
                          T *scratch, int n_threads) {                                   \
        gd_table.spnn_##SFX(m, n, k, a, b, c, scratch, n_threads);                       \
    }                                                                                    \
    void gd_spmm_tn_##SFX(int64_t m, int64_t n, int64_t k, const T *a, const T *b, T *c, \
                          int n_threads) {                                               \
        gd_table.sptn_##SFX(m, n, k, a, b, c, n_threads);                                \
    }
GD_SPMM_PUBLIC(float, f32)
GD_SPMM_PUBLIC(double, f64)

int64_t gd_count_nonzero_f32(int64_t n, const float *x) { return gd_table.nnz_f32(n, x); }
int64_t gd_count_nonzero_f64(int64_t n, const double *x) { return gd_table.nnz_f64(n, x); }

/* ---- packed rows ----------------------------------------------------------------- */
#define GD_PACK_PUBLIC(T, SFX)                                                           \
    int64_t gd_pack_rows_size_##SFX(int64_t n, int64_t f, const T *x, int64_t *off,      \
                                    int n_threads) {                                     \
        return gd_table.pksize_##SFX(n, f, x, off, n_threads);                           \
    }                                                                                    \
    void gd_pack_rows_##SFX(int64_t n, int64_t f, const T *x, const int64_t *off,        \
                            void *out, int n_threads) {                                  \
        gd_table.pack_##SFX(n, f, x, off, out, n_threads);                               \
    }                                                                                    \
    int64_t gd_unpack_rows_##SFX(int64_t m, int64_t f, const void *packed,               \
                                 const int64_t *off, const int64_t *rows, T *dst,        \
                                 int n_threads) {                                        \
        return gd_table.unpack_##SFX(m, f, packed, off, rows, dst, n_threads);           \
    }                                                                                    \
    int64_t gd_unpack_cols_##SFX(const void *record, int64_t f, int64_t c0, int64_t c1,  \
                                 T *dst) {                                               \
        return gd_table.ucols_##SFX(record, f, c0, c1, dst);                             \
    }
GD_PACK_PUBLIC(float, f32)
GD_PACK_PUBLIC(double, f64)

/* ---- the public optimizer names: through the table ------------------------------ */
#define GD_OPTIM_PUBLIC_f32(name, params, args) \
    void gd_##name##_f32 params { gd_optim_f32.name args; }
#define GD_OPTIM_PUBLIC_f64(name, params, args) \
    void gd_##name##_f64 params { gd_optim_f64.name args; }
GD_OPTIM_LIST(GD_OPTIM_PUBLIC_f32, float)
GD_OPTIM_LIST(GD_OPTIM_PUBLIC_f64, double)
