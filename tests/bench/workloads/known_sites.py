"""Known allocation sites and sizes, kept alive until exit (the accuracy benchmark).

Each SITE line allocates a known number of bytes objects of one size and keeps them; the exit
snapshot holds them. Sizes span small (pymalloc), medium and large (mmap) blocks:

    site       objects  payload each
    tiny        40000        64 B
    small       20000       400 B
    medium       2000      6000 B
    large         200   100 KiB
    huge           16     2 MiB

A bytes object of n payload bytes is one block of n + 33 bytes (PyBytesObject); the list that
holds a site's objects is allocated on the same line. The exact figures come from an exact-mode
run of this file, equal to tracemalloc's. BENCH_SCALE scales the object counts."""
import os

SCALE = float(os.environ.get("BENCH_SCALE", "1"))


def n(count):
    return max(1, int(count * SCALE))


tiny = [bytes(64) for _ in range(n(40000))]  # SITE tiny
small = [bytes(400) for _ in range(n(20000))]  # SITE small
medium = [bytes(6000) for _ in range(n(2000))]  # SITE medium
large = [bytes(100 * 1024) for _ in range(n(200))]  # SITE large
huge = [bytes(2 * 1024 * 1024) for _ in range(n(16))]  # SITE huge
