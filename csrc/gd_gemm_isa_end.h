/* Private: undoes one instantiation's type and register macros of gd_gemm_tmpl.h (T, V,
 * VL, GD_SFX, NC, the V_* loads, stores, masks and V_FMA_IF), so that an ISA file can
 * define the next dtype's. V_FMA and V_MUL stay: gd_gemm.c shares its operator forms
 * across dtypes, and the x86 files undo theirs beside their definitions. No include
 * guard. */
#undef T
#undef GD_TB
#undef GD_TRANSPOSE_BLOCK
#undef V
#undef VL
#undef GD_SFX
#undef NC
#undef V_ZERO
#undef V_LOAD
#undef V_STORE
#undef V_BCAST
#undef V_LOADN
#undef V_STOREN
#undef V_NZMASK
#undef V_FMA_IF
#undef V_ANYBITS
#undef V_NZ
#undef V_COMPRESS
#undef V_EXPANDLOAD
