"""A program with traces in several tracemalloc domains, for the report's
domain tests.

usage: domains_workload.py OLD_SNAPSHOT NEW_SNAPSHOT
Besides Python's own allocations (domain 0), it reports blocks through
PyTraceMalloc_Track, the C API extensions use (numpy passes its domain
389047), called with ctypes while tracemalloc runs: tracemalloc records
each with the Python traceback of the call, as for a real extension.
Domains: numpy's 389047, libmprofile's native domain 0x4D504E41, 7, and
2**31 + 5 and 2**32 - 1, which pickle as LONG1 (BININT is signed)."""
import ctypes
import sys
import tracemalloc

NUMPY = 389047
NATIVE = 0x4D504E41
HIGH = 2**31 + 5
TOP = 2**32 - 1

track = ctypes.pythonapi.PyTraceMalloc_Track
track.argtypes = [ctypes.c_uint, ctypes.c_size_t, ctypes.c_size_t]
track.restype = ctypes.c_int
untrack = ctypes.pythonapi.PyTraceMalloc_Untrack
untrack.argtypes = [ctypes.c_uint, ctypes.c_size_t]
untrack.restype = ctypes.c_int

_next = [0x10000]


def fake_block(domain, size):
    """A block reported by "C code": an address no Python object uses."""
    _next[0] += 0x1000
    if track(domain, _next[0], size) != 0:
        raise SystemExit("PyTraceMalloc_Track failed")
    return (domain, _next[0])


def arrays(n):
    # Python objects and numpy-like data on the same line: mixed rows.
    return [(bytearray(100 + i), fake_block(NUMPY, 8000 + 16 * i)) for i in range(n)]


def native_buffers(n):
    return [fake_block(NATIVE, 4096 * (1 + i % 3)) for i in range(n)]


def odd_domains():
    blocks = [fake_block(7, 300) for _ in range(5)]
    blocks.append(fake_block(HIGH, 12345))
    blocks.append(fake_block(TOP, 999))
    return blocks


def python_only(n):
    return [str(i) * 20 for i in range(n)]


def nested(depth, n):
    if depth == 0:
        return native_buffers(n) + [fake_block(NUMPY, 64)]
    return nested(depth - 1, n)


def main():
    tracemalloc.start(10)
    keep = [arrays(30), native_buffers(20), python_only(300), nested(3, 4)]
    tracemalloc.take_snapshot().dump(sys.argv[1])
    keep.append(odd_domains())
    keep.append(arrays(15))
    keep.append(native_buffers(7))
    for domain, addr in keep[1][:10]:  # some native blocks are freed
        untrack(domain, addr)
    del keep[2][:100]
    tracemalloc.take_snapshot().dump(sys.argv[2])
    tracemalloc.stop()


if __name__ == "__main__":
    main()
