/* CPU probe and the function table. Until the ISA variants land, every slot is the
 * generic one. */
#include <string.h>
#include "gd_internal.h"

static int gd_selected_gemm = GD_ISA_GENERIC;

int gd_cpu_isa(void) {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
        return GD_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return GD_ISA_AVX2;
#endif
    return GD_ISA_GENERIC;
}

int gd_dispatch_init(int cap) {
    (void)cap;
    gd_selected_gemm = GD_ISA_GENERIC;
    return gd_selected_gemm;
}

static const char *const gd_slot_names[] = {"gemm_f32", "gemm_f64"};

const char *gd_dispatch_slot_name(int i) {
    if (i < 0 || i >= (int)(sizeof gd_slot_names / sizeof gd_slot_names[0])) return NULL;
    return gd_slot_names[i];
}

int gd_dispatch_isa(const char *slot) {
    if (strcmp(slot, "gemm_f32") == 0 || strcmp(slot, "gemm_f64") == 0)
        return gd_selected_gemm;
    return -1;
}
