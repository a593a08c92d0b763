/* Thread-count helpers: what the build and the OpenMP runtime offer. */
#include "gd_internal.h"

int gd_openmp_enabled(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int gd_max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
