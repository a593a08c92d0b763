# cython: language_level=3, cdivision=True
"""Thin nogil wrappers over the C kernels in csrc/ (private: gradiente validates first).

Each wrapper takes typed memoryviews that encode the layout, passes pointers to C
inside ``with nogil:`` and returns None (outputs are passed in) unless it says so.
No shape or dtype is checked twice here: ``gradiente._validate`` and the callers
above have done it.
"""
from libc.stdint cimport int64_t, int32_t
from cython cimport floating

import numpy as _np

cdef extern from *:
    """
    #ifndef GD_COMPILER_ID
    #define GD_COMPILER_ID "unknown"
    #endif
    """
    const char *GD_COMPILER_ID


def dispatch_init(int cap):
    """Fill the kernel table with the best variant up to ``cap``; return the GEMM ISA."""
    return gd_dispatch_init(cap)


def cpu_isa():
    return gd_cpu_isa()


def dispatch_isa(str slot):
    b = slot.encode()
    return gd_dispatch_isa(b)


def dispatch_slots():
    """The names of the dispatch table's slots."""
    cdef int i = 0
    cdef const char *name
    out = []
    while True:
        name = gd_dispatch_slot_name(i)
        if name == NULL:
            return out
        out.append(name.decode())
        i += 1


def openmp_enabled():
    return bool(gd_openmp_enabled())


def max_threads():
    return gd_max_threads()


def compiler():
    return GD_COMPILER_ID.decode()


class NonFiniteInput(ValueError):
    """The engine found NaN or inf in its input rows (gd_engine_eval with check_x)."""


cdef inline void _check(int status) except *:
    if status == GD_ENONFINITE:
        raise NonFiniteInput("the input holds NaN or infinity")
    if status == GD_ENOMEM:
        raise MemoryError("gradiente: a kernel could not allocate its workspace")
    elif status != GD_OK:
        raise RuntimeError(f"gradiente: kernel failed with status {status}")


include "_gemm.pxi"
include "_kernels.pxi"
include "_engine.pxi"
