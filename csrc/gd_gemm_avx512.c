/* GEMM, AVX-512F variant: the driver of gd_gemm_tmpl.h on a 6 x (4 zmm) register tile
 * (6x64 floats, 6x32 doubles: 24 accumulators, 4 B registers, 1 broadcast).
 * Built with the AVX-512 flags (CMake, by file suffix); called only through the
 * dispatch table when the CPU has AVX-512. */
#include "gd_internal.h"
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include "gd_gemm_x86.h"

#define NV 4
#define MR 6
#define KC 256
#define MC 144

#define T float
#define GD_TB 8
#define GD_TRANSPOSE_BLOCK gd_transpose8x8_f32
#define V __m512
#define VL 16
#define GD_SFX f32_avx512
#define NC 512
#define V_ZERO() _mm512_setzero_ps()
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_STORE(p, v) _mm512_storeu_ps((p), (v))
#define V_BCAST(x) _mm512_set1_ps(x)
#define V_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define V_MUL(a, b) _mm512_mul_ps((a), (b))
#define GD_HAS_MASK 1
#define V_LOADN(p, n) _mm512_maskz_loadu_ps((__mmask16)((1u << (n)) - 1u), (p))
#define V_STOREN(p, v, n) _mm512_mask_storeu_ps((p), (__mmask16)((1u << (n)) - 1u), (v))
#define V_NZMASK(p) _mm512_cmp_ps_mask(_mm512_loadu_ps(p), _mm512_setzero_ps(), _CMP_NEQ_UQ)
#define V_FMA_IF(a, b, c, on) \
    _mm512_mask3_fmadd_ps((a), (b), (c), (__mmask16)(0u - (unsigned)(on)))
#define V_ANYBITS(v) _mm512_test_epi32_mask(_mm512_castps_si512(v), _mm512_castps_si512(v))
#define V_NZ(v) _mm512_cmp_ps_mask((v), _mm512_setzero_ps(), _CMP_NEQ_UQ)
#define V_COMPRESS(k, v) _mm512_maskz_compress_ps((__mmask16)(k), (v))
#define V_EXPANDLOAD(k, p) _mm512_maskz_expandloadu_ps((__mmask16)(k), (p))
#include "gd_gemm_tmpl.h"
#include "gd_gemm_isa_end.h"
#undef V_FMA
#undef V_MUL

#define T double
#define GD_TB 4
#define GD_TRANSPOSE_BLOCK gd_transpose4x4_f64
#define V __m512d
#define VL 8
#define GD_SFX f64_avx512
#define NC 256
#define V_ZERO() _mm512_setzero_pd()
#define V_LOAD(p) _mm512_loadu_pd(p)
#define V_STORE(p, v) _mm512_storeu_pd((p), (v))
#define V_BCAST(x) _mm512_set1_pd(x)
#define V_FMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define V_MUL(a, b) _mm512_mul_pd((a), (b))
#define GD_HAS_MASK 1
#define V_LOADN(p, n) _mm512_maskz_loadu_pd((__mmask8)((1u << (n)) - 1u), (p))
#define V_STOREN(p, v, n) _mm512_mask_storeu_pd((p), (__mmask8)((1u << (n)) - 1u), (v))
#define V_NZMASK(p) _mm512_cmp_pd_mask(_mm512_loadu_pd(p), _mm512_setzero_pd(), _CMP_NEQ_UQ)
#define V_FMA_IF(a, b, c, on) \
    _mm512_mask3_fmadd_pd((a), (b), (c), (__mmask8)(0u - (unsigned)(on)))
#define V_ANYBITS(v) _mm512_test_epi64_mask(_mm512_castpd_si512(v), _mm512_castpd_si512(v))
#define V_NZ(v) _mm512_cmp_pd_mask((v), _mm512_setzero_pd(), _CMP_NEQ_UQ)
#define V_COMPRESS(k, v) _mm512_maskz_compress_pd((__mmask8)(k), (v))
#define V_EXPANDLOAD(k, p) _mm512_maskz_expandloadu_pd((__mmask8)(k), (p))
#include "gd_gemm_tmpl.h"

#endif
