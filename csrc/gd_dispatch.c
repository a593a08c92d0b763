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
    int gd_gemm_reserve_##SFX(void);
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

/* The table: one slot per (kernel, dtype), each with the ISA it holds. */
static struct {
    gd_gemm_f32_fn nn_f32, nt_f32, tn_f32;
    gd_gemm_f64_fn nn_f64, nt_f64, tn_f64;
    int isa_f32, isa_f64;
    int (*reserve_f32)(void), (*reserve_f64)(void);
} gd_table = {
    gd_gemm_nn_f32_generic, gd_gemm_nt_f32_generic, gd_gemm_tn_f32_generic,
    gd_gemm_nn_f64_generic, gd_gemm_nt_f64_generic, gd_gemm_tn_f64_generic,
    GD_ISA_GENERIC, GD_ISA_GENERIC,
    gd_gemm_reserve_f32_generic, gd_gemm_reserve_f64_generic,
};

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

int gd_dispatch_init(int cap) {
    int isa = gd_cpu_isa();
    if (cap < isa) isa = cap < GD_ISA_GENERIC ? GD_ISA_GENERIC : cap;
    gd_table.nn_f32 = gd_gemm_nn_f32_generic;
    gd_table.nt_f32 = gd_gemm_nt_f32_generic;
    gd_table.tn_f32 = gd_gemm_tn_f32_generic;
    gd_table.nn_f64 = gd_gemm_nn_f64_generic;
    gd_table.nt_f64 = gd_gemm_nt_f64_generic;
    gd_table.tn_f64 = gd_gemm_tn_f64_generic;
    gd_table.reserve_f32 = gd_gemm_reserve_f32_generic;
    gd_table.reserve_f64 = gd_gemm_reserve_f64_generic;
    gd_table.isa_f32 = gd_table.isa_f64 = GD_ISA_GENERIC;
#if GD_X86
    if (isa >= GD_ISA_AVX512) {
        gd_table.nn_f32 = gd_gemm_nn_f32_avx512;
        gd_table.nt_f32 = gd_gemm_nt_f32_avx512;
        gd_table.tn_f32 = gd_gemm_tn_f32_avx512;
        gd_table.nn_f64 = gd_gemm_nn_f64_avx512;
        gd_table.nt_f64 = gd_gemm_nt_f64_avx512;
        gd_table.tn_f64 = gd_gemm_tn_f64_avx512;
        gd_table.reserve_f32 = gd_gemm_reserve_f32_avx512;
        gd_table.reserve_f64 = gd_gemm_reserve_f64_avx512;
        gd_table.isa_f32 = gd_table.isa_f64 = GD_ISA_AVX512;
    } else if (isa >= GD_ISA_AVX2) {
        gd_table.nn_f32 = gd_gemm_nn_f32_avx2;
        gd_table.nt_f32 = gd_gemm_nt_f32_avx2;
        gd_table.tn_f32 = gd_gemm_tn_f32_avx2;
        gd_table.nn_f64 = gd_gemm_nn_f64_avx2;
        gd_table.nt_f64 = gd_gemm_nt_f64_avx2;
        gd_table.tn_f64 = gd_gemm_tn_f64_avx2;
        gd_table.reserve_f32 = gd_gemm_reserve_f32_avx2;
        gd_table.reserve_f64 = gd_gemm_reserve_f64_avx2;
        gd_table.isa_f32 = gd_table.isa_f64 = GD_ISA_AVX2;
    }
#else
    (void)isa;
#endif
    return gd_table.isa_f32;
}

static const char *const gd_slot_names[] = {"gemm_f32", "gemm_f64"};

const char *gd_dispatch_slot_name(int i) {
    if (i < 0 || i >= (int)(sizeof gd_slot_names / sizeof gd_slot_names[0])) return NULL;
    return gd_slot_names[i];
}

int gd_dispatch_isa(const char *slot) {
    if (!slot) return -1;
    if (strcmp(slot, "gemm_f32") == 0) return gd_table.isa_f32;
    if (strcmp(slot, "gemm_f64") == 0) return gd_table.isa_f64;
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
