"""mprofile: a low-overhead sampling memory profiler for CPython, with tracemalloc's API.

    import mprofile
    mprofile.start(sample_rate=128 * 1024)
    snap = mprofile.take_snapshot()      # a tracemalloc.Snapshot
    for stat in snap.statistics("lineno")[:10]:
        print(stat)

Give start() its arguments by keyword: its first parameter is max_frames, as in
tracemalloc.start(); with no sample_rate it records every allocation (exact mode), several times
slower than sampling.

The functions keep the names, arguments, defaults and errors of the original mprofile package,
which mirrored tracemalloc; results are tracemalloc objects. Sampling is done by libmprofile.so
(see _lib for how it is found): under LD_PRELOAD this module drives the library that is already
hooked into the interpreter; otherwise importing it loads the library and start() installs the
hooks into the running interpreter. See docs/python.md.

In sampled mode each allocation of s bytes is recorded with probability 1 - exp(-s/R), with the
weight s / (1 - exp(-s/R)) as its size, so sums of sizes (statistics, get_traced_memory) are
unbiased estimates of the true bytes. sample_rate 0 or 1 is exact mode: every allocation with its
exact size, like tracemalloc.
"""

import errno
import io
import operator
import os
import pickle
import sys
import warnings
from tracemalloc import (
    DomainFilter,
    Filter,
    Frame,
    Snapshot,
    Statistic,
    StatisticDiff,
    Trace,
    Traceback,
)

from . import _lib, _objects

try:
    from ._version import __version__
except ImportError:
    # The source tree itself (PYTHONPATH=lib/python): CMake writes _version.py into every copy
    # it stages or installs, from the project's version.
    __version__ = "0+unknown"

__all__ = [
    "DomainFilter",
    "Filter",
    "Frame",
    "NATIVE_DOMAIN",
    "NotSupportedError",
    "Snapshot",
    "Statistic",
    "StatisticDiff",
    "Trace",
    "Traceback",
    "clear_traces",
    "dump",
    "get_object_traceback",
    "get_sample_rate",
    "get_traceback_limit",
    "get_traced_memory",
    "get_tracemalloc_memory",
    "is_tracing",
    "reset_peak",
    "start",
    "stop",
    "take_snapshot",
]

MAX_FRAMES = 65535
# The trace domain of native heap blocks (MPROFILE_NATIVE=1): MPROFILE_NATIVE_DOMAIN in mprofile.h.
NATIVE_DOMAIN = 0x4D504E41
_MAX_RATE = 2**64 - 1


class NotSupportedError(RuntimeError):
    """libmprofile.so does not support this interpreter; the profiler stays off."""


# The sample_rate given to start(), returned as is by get_sample_rate() (0 stays 0, as in the
# original); None when sampling was switched on by the library itself (MPROFILE_RATE).
_requested_rate = None


def start(max_frames=128, sample_rate=0):
    """Starts sampling allocations, keeping at most max_frames frames per traceback.

    Pass the arguments by keyword: start(sample_rate=128 * 1024). The first parameter is
    max_frames, as in the original mprofile and tracemalloc.start(), so start(32768) keeps 32768
    frames in exact mode; it does not sample every 32 KiB.

    sample_rate is the mean number of bytes allocated between two samples, which costs a few
    percent; 0 (the default) and 1 trace every allocation with its exact size (the original
    mprofile's 0 did the same): exact mode, several times slower (docs/python.md). Raises ValueError
    for max_frames outside 1..65535 or a negative sample_rate, RuntimeError when already
    sampling, NotSupportedError when libmprofile.so does not support this Python.
    """
    global _requested_rate
    max_frames = operator.index(max_frames)
    sample_rate = operator.index(sample_rate)
    if not 1 <= max_frames <= MAX_FRAMES:
        raise ValueError("the number of frames must be in range [1; %d]" % MAX_FRAMES)
    if not 0 <= sample_rate <= _MAX_RATE:
        raise ValueError("the sample rate must be in range [0; %d] bytes" % _MAX_RATE)
    if _lib.is_tracing():
        raise RuntimeError("The profiler is already running.")
    rc = _lib.start(max(sample_rate, 1), max_frames)
    if rc == -_lib.EALREADY:
        raise RuntimeError("The profiler is already running.")
    if rc == -_lib.ENOTSUP:
        raise NotSupportedError(
            "mprofile: %s does not support Python %s; the profiler is off"
            % (_lib.path, sys.version.split()[0])
        )
    if rc == -_lib.EINVAL:
        raise ValueError("mprofile_start rejected max_frames=%d sample_rate=%d"
                         % (max_frames, sample_rate))
    if rc < 0:
        raise OSError(-rc, "mprofile_start: %s" % os.strerror(-rc))
    _requested_rate = sample_rate


def stop():
    """Stops sampling and forgets the traces, as tracemalloc.stop() and the original did.

    The allocator hooks stay installed as a pass-through, so that every block the profiler
    recorded still comes back to it when freed. Stopping when not sampling does nothing.
    """
    global _requested_rate
    _lib.stop()
    _lib.clear_traces()
    _requested_rate = None


def is_tracing():
    """True while allocations are being sampled."""
    return _lib.is_tracing()


def clear_traces():
    """Forgets the traces recorded so far; sampling goes on."""
    _lib.clear_traces()


def get_sample_rate():
    """The sample rate in bytes given to start(), or the library's when started by MPROFILE_RATE.

    Raises RuntimeError when not sampling, as the original did.
    """
    if not _lib.is_tracing():
        raise RuntimeError("The heap profiler is not started.")
    if _requested_rate is not None and max(_requested_rate, 1) == _lib.sample_rate():
        return _requested_rate
    return _lib.sample_rate()


def get_traceback_limit():
    """Frames kept per traceback; 1 when not sampling, as tracemalloc and the original."""
    if not _lib.is_tracing():
        return 1
    return _lib.traceback_limit()


def get_traced_memory():
    """(current, peak) bytes of the traced blocks: exact in exact mode, else estimates."""
    return _lib.traced_memory()


def reset_peak():
    """Sets the peak returned by get_traced_memory() to the current size, and the peak
    snapshot (take_snapshot(peak=True)) to the blocks alive now."""
    _lib.reset_peak()


def get_tracemalloc_memory():
    """Bytes used by the profiler's own tables (the original's name, after tracemalloc's)."""
    return int(_lib.counters().overhead_bytes)


class _SnapshotUnpickler(pickle.Unpickler):
    """Loads the library's snapshot pickle, which only refers to tracemalloc's classes."""

    _allowed = {("tracemalloc", "Snapshot"), ("tracemalloc", "_Traces")}

    def find_class(self, module, name):
        if (module, name) not in self._allowed:
            raise pickle.UnpicklingError("unexpected global %s.%s in a snapshot" % (module, name))
        return super().find_class(module, name)


def take_snapshot(peak=False):
    """A tracemalloc.Snapshot of the sampled blocks that are still alive.

    With peak=True, of the blocks that were alive when the estimated live memory was at its
    highest since the start, reset_peak() or clear_traces() (within 1/16 of the highest
    estimate: see docs/format.md); its is_peak attribute is True and peak_time says when.
    Raises RuntimeError when peak tracking is off (MPROFILE_PEAK=0).

    Besides traces and traceback_limit it carries the library's metadata as attributes:
    sample_rate (1 in exact mode), pid, time, python_version, mprofile_version, live_bytes,
    peak_bytes, dropped_samples, profiler_memory, samples, trigger, is_peak, peak_time,
    timeline (docs/format.md). Raises RuntimeError when not sampling.
    """
    if not _lib.is_tracing():
        raise RuntimeError(
            "the mprofile module must be tracing memory allocations to take a snapshot"
        )
    try:
        data = _lib.snapshot_bytes(peak=peak)
    except OSError as exc:
        if peak and exc.errno == errno.ENODATA:
            raise RuntimeError(
                "no peak snapshot: peak tracking is off (MPROFILE_PEAK=0)"
            )
        raise
    return _SnapshotUnpickler(io.BytesIO(data)).load()


def get_object_traceback(obj):
    """The tracemalloc.Traceback where obj was allocated, or None.

    None when the allocation of obj was not sampled (in sampled mode most are not), when it
    happened while the profiler was off, or when obj was not allocated by Python's allocators.
    """
    limit = _lib.traceback_limit()
    if limit <= 0:
        return None
    frames = _lib.block_stack(_objects.block_address(obj), limit)
    if not frames:
        return None
    return Traceback(tuple(frames))


def dump(path=None):
    """Writes a snapshot file of the sampled blocks, as the dump signal would.

    path defaults to the MPROFILE_OUT pattern (mprofile.%p.%n.snap). The file is written
    atomically and loads with tracemalloc.Snapshot.load(). Raises RuntimeError when the
    profiler was never started in this process, OSError when the file cannot be written.
    """
    raw = None if path is None else os.fsencode(os.fspath(path))
    rc = _lib.dump(raw)
    if rc == -_lib.ENOTSUP:
        raise RuntimeError("the profiler was never started in this process: nothing to dump")
    if rc < 0:
        raise OSError(-rc, os.strerror(-rc), path)


def _start_from_environment():
    """The original's auto-start: MPROFILERATE (bytes) starts sampling at import, with
    MPROFILEFRAMES frames (default 128). Nothing happens when sampling is already on (a preload
    with MPROFILE_RATE). A bad value or an unsupported Python gives a warning, not an error, so
    that the program runs on unprofiled.
    """
    rate = os.environ.get("MPROFILERATE", "")
    if not rate or _lib.is_tracing():
        return
    frames = os.environ.get("MPROFILEFRAMES", "") or "128"
    try:
        start(max_frames=int(frames), sample_rate=int(rate))
    except (ValueError, RuntimeError) as exc:
        warnings.warn(
            "mprofile: not started from MPROFILERATE=%r MPROFILEFRAMES=%r: %s"
            % (rate, frames, exc),
            RuntimeWarning,
            stacklevel=2,
        )


_start_from_environment()
