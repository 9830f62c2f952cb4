"""A large live heap: about a million small objects (dicts, tuples, strings, ints) from a few
dozen sites, held until exit; the profiler-memory benchmark. BENCH_SCALE scales it."""
import os

SCALE = float(os.environ.get("BENCH_SCALE", "1"))


class Record:
    __slots__ = ("key", "value", "tags")

    def __init__(self, key, value, tags):
        self.key = key
        self.value = value
        self.tags = tags


def build(n):
    by_key = {}
    for i in range(n):
        key = "key-%08d" % i
        by_key[key] = Record(key, i * 3, (i % 7, "t%d" % (i % 100), [i] if i % 3 else None))
    return by_key


def index(heap):
    out = {}
    for key, rec in heap.items():
        out.setdefault(rec.value % 1000, []).append(key)
    return out


HEAP = build(int(250_000 * SCALE))
INDEX = index(HEAP)
