"""A fixed workload, run in a subprocess under tracemalloc or under mprofile, that prints the
live memory of its own lines as JSON, for test_compat.py.

    python workload.py tracemalloc FRAMES N
    python workload.py mprofile FRAMES N RATE

Its allocation sites avoid freelists and caches, so that their counts are the same under any
tracer: bytes and bytearray of fixed sizes, and instances of a class with __slots__, stored
into a list allocated beforehand. Output: {"lineno": {line: [size, count]}, "traceback":
[[frames newest first, size, count], ...], "slots_found": objects whose get_object_traceback
points at their line (mprofile only), "slots_size": sys.getsizeof of one of them}.
"""

import json
import sys

THIS_FILE = __file__


class Slots:
    __slots__ = ("a", "b", "c")


def make_bytearrays(keep, start, n):
    for i in range(n):
        keep[start + i] = bytearray(3000)  # LINE: bytearray


def workload(keep, n, width=200):
    for i in range(n):
        keep[i] = bytes(1000)  # LINE: bytes
    make_bytearrays(keep, n, n)
    for i in range(n):
        keep[2 * n + i] = b"x" * width  # LINE: repeat
    for i in range(n):
        keep[3 * n + i] = Slots()  # LINE: slots


def own_stats(snapshot):
    """Statistics of the traces whose newest frame is in this file."""
    by_line = {}
    for stat in snapshot.statistics("lineno"):
        frame = stat.traceback[0]
        if frame.filename == THIS_FILE:
            by_line[frame.lineno] = [stat.size, stat.count]
    by_traceback = []
    for stat in snapshot.statistics("traceback"):
        if stat.traceback[-1].filename == THIS_FILE:
            frames = [[f.filename, f.lineno] for f in reversed(stat.traceback)]
            by_traceback.append([frames, stat.size, stat.count])
    by_traceback.sort()
    return by_line, by_traceback


def begin_tracemalloc(frames, rate):
    import tracemalloc

    tracemalloc.start(frames)


def end_tracemalloc(keep, n, result):
    import tracemalloc

    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    return snapshot


def begin_mprofile(frames, rate):
    import mprofile

    mprofile.start(max_frames=frames, sample_rate=rate)


def end_mprofile(keep, n, result):
    import mprofile

    snapshot = mprofile.take_snapshot()
    result["sample_rate"] = snapshot.sample_rate
    found = [mprofile.get_object_traceback(obj) for obj in keep[3 * n:]]
    result["slots_found"] = sum(tb is not None for tb in found)
    result["slots_found_lines"] = sorted({tb[-1].lineno for tb in found if tb is not None})
    mprofile.stop()
    return snapshot


TOOLS = {
    "tracemalloc": (begin_tracemalloc, end_tracemalloc),
    "mprofile": (begin_mprofile, end_mprofile),
}


def main():
    tool, frames, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rate = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    begin, end = TOOLS[tool]
    keep = [None] * (4 * n)
    result = {}
    begin(frames, rate)
    workload(keep, n)  # the same stack under both tools
    snapshot = end(keep, n, result)
    result["lineno"], result["traceback"] = own_stats(snapshot)
    result["slots_size"] = sys.getsizeof(keep[3 * n])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
