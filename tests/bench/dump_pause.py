"""The pause a snapshot imposes on an allocating thread, in exact mode with 1M live blocks.

    LD_PRELOAD=build/release/lib/libmprofile.so MPROFILE_RATE=1 MPROFILE_AT_EXIT=0 \
        /usr/bin/python3.11 tests/bench/dump_pause.py

Thread T allocates in a loop and records the longest gap between two iterations; the main
thread calls mprofile_dump() through ctypes.CDLL, which releases the GIL, so T waits only for
the profiler's lock (every allocation is sampled in exact mode). Each round prints the dump's
duration, T's longest gap during it, and T's longest gap in as long a run without a dump.
"""
import ctypes
import os
import threading
import time

ROUNDS = 5
keep = [object() for _ in range(1_000_000)]
lib = ctypes.CDLL(None)
lib.mprofile_dump.argtypes = [ctypes.c_char_p]
path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "mprofile-dump-pause.%d.snap" % os.getpid())
running = False
worst_gaps = []


def allocate():
    last = time.perf_counter()
    worst = 0.0
    while running:
        x = [1, 2, 3]
        now = time.perf_counter()
        worst = max(worst, now - last)
        last = now
    worst_gaps.append(worst)


def measure(dump):
    global running
    running = True
    thread = threading.Thread(target=allocate)
    thread.start()
    time.sleep(0.3)
    start = time.perf_counter()
    if dump:
        lib.mprofile_dump(path.encode())
    took = time.perf_counter() - start
    time.sleep(0.3)
    running = False
    thread.join()
    return took, worst_gaps[-1]


for _ in range(ROUNDS):
    took, worst = measure(True)
    _, quiet = measure(False)
    print("dump %.0f ms, longest gap during it %.1f ms, without a dump %.1f ms"
          % (took * 1e3, worst * 1e3, quiet * 1e3))
if os.path.exists(path):
    os.unlink(path)
