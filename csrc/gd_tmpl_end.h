/* Template epilogue (private): undo gd_tmpl_begin.h. */
#undef GD_TMPL_F32
#undef GD_TMPL_F64
#undef GD_T
#undef GD_FN
#undef GD_EXP
#undef GD_LOG
#undef GD_LOG1P
#undef GD_EXPM1
#undef GD_ERFC
#undef GD_TANH
#undef GD_SQRT
#undef GD_FABS
#undef GD_GEMM_NN
#undef GD_GEMM_NT
#undef GD_GEMM_TN
#undef GD_CLIP_LO
#undef GD_CLIP_HI
