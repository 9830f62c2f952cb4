"""Large buffers: bytes, bytearray and list blocks of 64 KiB to 4 MiB, created, copied, sliced
and dropped (allocation by mmap and large malloc). BENCH_SCALE scales the number of rounds."""
import os
import random


def rounds(n):
    rng = random.Random(7)
    keep = []
    total = 0
    for i in range(n):
        size = int(64 * 1024 * 2 ** (rng.random() * 6))  # 64 KiB .. 4 MiB, log-uniform
        b = bytearray(size)
        b[:: 4096] = b"x" * len(b[:: 4096])
        c = bytes(b)
        d = c[size // 4: size // 2]
        total += len(d) + c.count(b"x")
        keep.append(d)
        if len(keep) > 16:
            keep.pop(rng.randrange(len(keep)))
        if i % 8 == 0:
            lst = [None] * (size // 64)  # a large pointer array through pymalloc's raw path
            total += len(lst)
    return total


rounds(int(800 * float(os.environ.get("BENCH_SCALE", "1"))))
