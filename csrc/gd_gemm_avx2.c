/* GEMM, AVX2+FMA variant: the driver of gd_gemm_tmpl.h on a 6 x (2 ymm) register tile
 * (6x16 floats, 6x8 doubles: 12 accumulators, 2 B registers, 1 broadcast).
 * Built with the AVX2+FMA flags (CMake, by file suffix); called only through the
 * dispatch table when the CPU has AVX2 and FMA. */
#include "gd_internal.h"
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include "gd_gemm_x86.h"

#define NV 2
#define MR 6
#define KC 256
#define MC 144

#define T float
#define GD_TB 8
#define GD_TRANSPOSE_BLOCK gd_transpose8x8_f32
#define V __m256
#define VL 8
#define GD_SFX f32_avx2
#define NC 512
#define V_ZERO() _mm256_setzero_ps()
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_STORE(p, v) _mm256_storeu_ps((p), (v))
#define V_BCAST(x) _mm256_set1_ps(x)
#define V_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define V_MUL(a, b) _mm256_mul_ps((a), (b))
#define GD_HAS_MASK 1
#define GD_MASK8(n) _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define V_LOADN(p, n) _mm256_maskload_ps((p), GD_MASK8(n))
#define V_STOREN(p, v, n) _mm256_maskstore_ps((p), GD_MASK8(n), (v))
#define V_NZMASK(p) (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p), _mm256_setzero_ps(), _CMP_NEQ_UQ))
#include "gd_gemm_tmpl.h"
#include "gd_gemm_isa_end.h"
#undef V_FMA
#undef V_MUL

#define T double
#define GD_TB 4
#define GD_TRANSPOSE_BLOCK gd_transpose4x4_f64
#define V __m256d
#define VL 4
#define GD_SFX f64_avx2
#define NC 256
#define V_ZERO() _mm256_setzero_pd()
#define V_LOAD(p) _mm256_loadu_pd(p)
#define V_STORE(p, v) _mm256_storeu_pd((p), (v))
#define V_BCAST(x) _mm256_set1_pd(x)
#define V_FMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define V_MUL(a, b) _mm256_mul_pd((a), (b))
#define GD_HAS_MASK 1
#define GD_MASK4(n) _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3))
#define V_LOADN(p, n) _mm256_maskload_pd((p), GD_MASK4(n))
#define V_STOREN(p, v, n) _mm256_maskstore_pd((p), GD_MASK4(n), (v))
#define V_NZMASK(p) (unsigned)_mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(p), _mm256_setzero_pd(), _CMP_NEQ_UQ))
#include "gd_gemm_tmpl.h"

#endif
