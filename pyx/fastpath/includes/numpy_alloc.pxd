# numpy allocation calls that numpy's own .pxd leaves out because they steal a reference to the
# descriptor: declared with a raw descriptor pointer so Cython does not count it; callers
# Py_INCREF the descriptor first.
cimport numpy as cnp

cdef extern from "numpy/arrayobject.h":
    ctypedef struct RawDescr "PyArray_Descr":
        pass
    object PyArray_Empty(int nd, cnp.npy_intp* dims, RawDescr* descr, int fortran)
