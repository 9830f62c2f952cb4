"""From a Python object to the address of the memory block that holds it.

The allocator hands out a block and CPython may put a pre-header in front of the object: the
GC header (PyGC_Head) for types that the garbage collector tracks, and from 3.11 on two more
pointers for the managed __dict__ (3.11) or the managed __dict__ and weak references (3.12+).
id(obj) is the address after them; the profiler recorded the block's start. This mirrors
_PyType_PreHeaderSize() in CPython's Include/internal/pycore_object.h:

    3.11:  IS_GC * sizeof(PyGC_Head) + HAS(MANAGED_DICT) * 2 * sizeof(PyObject *)
    3.12+: IS_GC * sizeof(PyGC_Head) + HAS(MANAGED_DICT | MANAGED_WEAKREF) * 2 * sizeof(PyObject *)

Free-threaded builds (3.13t) have no PyGC_Head in front of objects.
"""

import ctypes
import sys
import sysconfig

Py_TPFLAGS_MANAGED_WEAKREF = 1 << 3
Py_TPFLAGS_MANAGED_DICT = 1 << 4
Py_TPFLAGS_HAVE_GC = 1 << 14

_POINTER = ctypes.sizeof(ctypes.c_void_p)
# PyGC_Head is two uintptr_t on every version from 3.8 on.
_GC_HEAD = 0 if sysconfig.get_config_var("Py_GIL_DISABLED") else 2 * _POINTER

if sys.version_info >= (3, 12):
    _PREHEADER_FLAGS = Py_TPFLAGS_MANAGED_DICT | Py_TPFLAGS_MANAGED_WEAKREF
elif sys.version_info >= (3, 11):
    _PREHEADER_FLAGS = Py_TPFLAGS_MANAGED_DICT
else:
    _PREHEADER_FLAGS = 0


def preheader_size(tp):
    """Bytes between the start of the block and the object, for instances of type tp."""
    flags = tp.__flags__
    size = _GC_HEAD if flags & Py_TPFLAGS_HAVE_GC else 0
    if flags & _PREHEADER_FLAGS:
        size += 2 * _POINTER
    return size


def block_address(obj):
    """The address of the memory block the allocator returned for obj."""
    return id(obj) - preheader_size(type(obj))
