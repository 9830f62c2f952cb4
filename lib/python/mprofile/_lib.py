"""Finding libmprofile.so and binding its C API (include/mprofile/mprofile.h) with ctypes.

The package holds no state of its own about what is sampled: everything lives in the library, so
that a process profiled through LD_PRELOAD and one that loads the library from Python behave the
same way. This module answers two questions, once, at import:

* Which libmprofile.so? If one is already mapped into the process (LD_PRELOAD, or loaded by an
  embedder), that one, since its hooks are the ones installed. Otherwise the first of: the file
  named by MPROFILE_LIBRARY; a libmprofile.so* in the package directory; the path recorded in
  _build_config.py when CMake staged or installed the package; "libmprofile.so.0" through the
  dynamic loader's search path.
* How to call it? Through ctypes.PyDLL, which holds the GIL during the call and does not release
  it: mprofile_start() installs the allocator hooks of a running interpreter and CPython requires
  the GIL for that; the other calls are short, and holding the GIL makes them atomic with respect
  to Python code.
"""

import ctypes
import errno
import glob
import os

LIBRARY_ENV = "MPROFILE_LIBRARY"
SONAME = "libmprofile.so.0"
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class Counters(ctypes.Structure):
    """struct mprofile_counters."""

    _fields_ = [
        (name, ctypes.c_uint64)
        for name in (
            "samples",
            "dropped",
            "live_blocks",
            "live_bytes",
            "peak_bytes",
            "dumps",
            "dump_failures",
            "overhead_bytes",
            "stacks",
            "frames",
        )
    ]


def _mapped_library():
    """The path of a libmprofile.so already mapped into this process, or None."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="surrogateescape") as maps:
            for line in maps:
                fields = line.split(None, 5)
                if len(fields) < 6:
                    continue
                path = fields[5].rstrip("\n")
                if path.endswith(" (deleted)"):
                    path = path[: -len(" (deleted)")]
                if os.path.basename(path).startswith("libmprofile.so"):
                    return path
    except OSError:
        pass
    return None


def _global_scope_has_library():
    """True when mprofile_start resolves in the global scope (a preload, seen without /proc)."""
    try:
        ctypes.CDLL(None).mprofile_start
    except AttributeError:
        return False
    return True


def _build_tree_candidates():
    """Library paths recorded by CMake next to the package (see lib/python/CMakeLists.txt)."""
    try:
        from . import _build_config
    except ImportError:
        return []
    found = []
    for path in getattr(_build_config, "LIBRARIES", ()):
        if not os.path.isabs(path):
            path = os.path.normpath(os.path.join(_PACKAGE_DIR, path))
        found.append(path)
    return found


def candidates():
    """The libraries to try, in order, when none is loaded yet; each is a path or a soname."""
    explicit = os.environ.get(LIBRARY_ENV)
    if explicit:
        return [explicit]
    found = sorted(glob.glob(os.path.join(_PACKAGE_DIR, "libmprofile.so*")))
    found += _build_tree_candidates()
    found.append(SONAME)
    return found


def _dlopen(path):
    """Loads the library into a running interpreter.

    Loaded this way, the library's constructor only reads its configuration: the hooks wait for
    mprofile_start(). The library itself turns the at-exit snapshot off in that case unless
    MPROFILE_AT_EXIT is set, so that merely importing mprofile leaves no file behind; nothing
    here touches os.environ, which other threads may be reading.
    """
    return ctypes.PyDLL(path)


def load():
    """Returns (PyDLL handle, path, preloaded) or raises ImportError naming what was tried."""
    path = _mapped_library()
    if path is not None:
        return ctypes.PyDLL(path), path, True
    if _global_scope_has_library():
        return ctypes.PyDLL(None), "<global scope>", True
    errors = []
    for path in candidates():
        if os.sep in path and not os.path.exists(path):
            errors.append("%s: no such file" % path)
            continue
        try:
            return _dlopen(path), path, False
        except OSError as exc:
            errors.append(str(exc))
    raise ImportError(
        "mprofile: cannot load libmprofile.so (set %s to its path, or run under "
        "LD_PRELOAD=/path/to/libmprofile.so); tried: %s" % (LIBRARY_ENV, "; ".join(errors))
    )


def _bind(lib, path):
    """Declares the C signatures; a missing symbol means a library older than the package."""
    u64p = ctypes.POINTER(ctypes.c_uint64)
    signatures = {
        "mprofile_start": (ctypes.c_int, [ctypes.c_uint64, ctypes.c_int]),
        "mprofile_stop": (ctypes.c_int, []),
        "mprofile_is_tracing": (ctypes.c_int, []),
        "mprofile_clear_traces": (None, []),
        "mprofile_get_sample_rate": (ctypes.c_uint64, []),
        "mprofile_get_traceback_limit": (ctypes.c_int, []),
        "mprofile_get_traced_memory": (None, [u64p, u64p]),
        "mprofile_reset_peak": (None, []),
        "mprofile_get_counters": (None, [ctypes.POINTER(Counters)]),
        "mprofile_dump": (ctypes.c_int, [ctypes.c_char_p]),
        "mprofile_snapshot": (
            ctypes.c_int,
            [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t)],
        ),
        "mprofile_peak_snapshot": (
            ctypes.c_int,
            [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t)],
        ),
        "mprofile_block_stack": (
            ctypes.c_int,
            [
                ctypes.c_void_p,
                ctypes.c_char_p,
                ctypes.c_size_t,
                ctypes.POINTER(ctypes.c_char_p),
                ctypes.POINTER(ctypes.c_uint),
                ctypes.c_int,
            ],
        ),
    }
    for name, (restype, argtypes) in signatures.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise ImportError("mprofile: %s lacks %s; it is older than this package" % (path, name))
        fn.restype = restype
        fn.argtypes = argtypes


lib, path, preloaded = load()
_bind(lib, path)

# The snapshot buffer comes from the library's malloc(): free it with the same libc.
_libc = ctypes.CDLL(None)
_libc.free.restype = None
_libc.free.argtypes = [ctypes.c_void_p]


def start(sample_rate, max_frames):
    """mprofile_start(): 0 or a negative errno."""
    return lib.mprofile_start(sample_rate, max_frames)


def stop():
    lib.mprofile_stop()


def is_tracing():
    return bool(lib.mprofile_is_tracing())


def clear_traces():
    lib.mprofile_clear_traces()


def sample_rate():
    """The library's rate in bytes: 1 in exact mode, 0 if sampling never started."""
    return int(lib.mprofile_get_sample_rate())


def traceback_limit():
    return int(lib.mprofile_get_traceback_limit())


def traced_memory():
    current, peak = ctypes.c_uint64(), ctypes.c_uint64()
    lib.mprofile_get_traced_memory(ctypes.byref(current), ctypes.byref(peak))
    return current.value, peak.value


def reset_peak():
    lib.mprofile_reset_peak()


def counters():
    out = Counters()
    lib.mprofile_get_counters(ctypes.byref(out))
    return out


def dump(path):
    """mprofile_dump(): path is bytes, or None for the MPROFILE_OUT pattern."""
    return lib.mprofile_dump(path)


def snapshot_bytes(peak=False):
    """The pickled snapshot (of the peak with peak) as bytes, or raises OSError with the
    library's errno."""
    buf = ctypes.c_void_p()
    size = ctypes.c_size_t()
    fn = lib.mprofile_peak_snapshot if peak else lib.mprofile_snapshot
    rc = fn(ctypes.byref(buf), ctypes.byref(size))
    if rc < 0:
        raise OSError(-rc, "%s: %s" % (fn.__name__, os.strerror(-rc)))
    try:
        return ctypes.string_at(buf.value, size.value)
    finally:
        _libc.free(buf)


def block_stack(address, limit):
    """Frames (filename, lineno), newest first, of the sampled block at address, or []."""
    limit = max(1, limit)
    names = (ctypes.c_char_p * limit)()
    lines = (ctypes.c_uint * limit)()
    size = 1 << 16
    while True:
        # The library copies the file names into this buffer (its own tables can be freed by
        # clear_traces() in another thread at any time).
        buffer = ctypes.create_string_buffer(size)
        n = lib.mprofile_block_stack(address, buffer, size, names, lines, limit)
        if n != -errno.ENOSPC:
            break
        size *= 4
    if n < 0:
        raise OSError(-n, "mprofile_block_stack: %s" % os.strerror(-n))
    return [(names[i].decode("utf-8", "surrogatepass"), lines[i]) for i in range(n)]


ENOTSUP = errno.ENOTSUP
EALREADY = errno.EALREADY
EINVAL = errno.EINVAL
