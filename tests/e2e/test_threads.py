"""Threads allocating at once (RAW allocations from a thread without Python state: test_embed)."""
import harness

PROGRAM = """
import threading
keep = [[] for _ in range(4)]
def work(n):
    for i in range(5000):
        keep[n].append(bytes(200 + n))
threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


class Threads(harness.ProfiledTestCase):
    def test_concurrent_threads_exact(self):
        script = self.write("threads.py", PROGRAM)
        proc = self.run_python(script, MPROFILE_RATE=1)
        self.assertRanCleanly(proc)
        [path] = self.snapshots()
        snap = harness.load(path)
        sizes = {}
        for trace in snap.traces:
            frame = trace.traceback[-1]  # the newest frame
            if frame.filename == script and frame.lineno == 6:
                sizes[trace.size] = sizes.get(trace.size, 0) + 1
        # bytes(200 + n): a 33-byte header plus the data, 5000 of each thread's size (the
        # lists' item arrays, grown by the same line, are larger).
        objects = {size: count for size, count in sizes.items() if size < 1000}
        self.assertEqual(objects, {233 + n: 5000 for n in range(4)})


if __name__ == "__main__":
    harness.main()
