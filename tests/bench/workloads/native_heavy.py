"""Native-heavy: numpy arrays of 1 KiB to 8 MiB made, computed on and freed (their data buffers
are numpy's own malloc calls, which it reports with PyTraceMalloc_Track), zlib compression and
decompression of a 3 MB document in one call and through compressobj/decompressobj streams
(zlib's state comes from PyMem_RawMalloc, its output is bytes objects), and the C json encoder
on a 12,000-record structure. Needs numpy. BENCH_SCALE scales the number of rounds."""
import json
import os
import zlib

import numpy as np

ELEMENTS = [128, 2048, 32768, 131072, 1048576]  # float64: 1 KiB, 16 KiB, 256 KiB, 1 MiB, 8 MiB
DOC = [{"id": i, "name": "item-%d" % i, "price": i * 0.25, "tags": ["t%d" % (i % 13), "x"],
        "dims": {"w": i % 100, "h": i % 37, "unit": "mm"}, "ok": i % 3 == 0}
       for i in range(12_000)]
DATA = json.dumps(DOC).encode() * 2  # about 3 MB to compress


def arrays(rng):
    total = 0.0
    for n in ELEMENTS:
        for _ in range(max(1, 400_000 // n)):  # about 3 MB of each size per round
            a = rng.standard_normal(n)
            b = a * 2.0 + 1.0
            c = np.cumsum(np.abs(b))
            d = np.concatenate([c[: n // 2], a[n // 2:]])
            total += float(d.sum()) + float(c[-1])
    return total


def compress(i):
    if i % 2 == 0:
        return len(zlib.decompress(zlib.compress(DATA, 6)))
    co = zlib.compressobj(6)
    parts = [co.compress(DATA[i: i + 65536]) for i in range(0, len(DATA), 65536)]
    parts.append(co.flush())
    do = zlib.decompressobj()
    stream = b"".join(parts)
    total = 0
    for i in range(0, len(stream), 16384):
        total += len(do.decompress(stream[i: i + 16384]))
    return total + len(do.flush())


def rounds(n):
    rng = np.random.default_rng(7)
    total = 0.0
    for i in range(n):
        total += arrays(rng)
        total += compress(i)
        total += len(json.dumps(DOC))
    return total


rounds(max(1, int(10 * float(os.environ.get("BENCH_SCALE", "1")))))
