"""Threads allocating at once, and RAW allocations from a thread without Python state."""
import os

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

    def test_raw_allocation_without_thread_state(self):
        embed = os.environ.get("MP_EMBED")
        if not embed or not os.path.exists(embed) or "3.11" not in harness.PYTHON:
            self.skipTest("needs the embedding test program (built for python3.11)")
        environ = harness.clean_env(LD_PRELOAD=harness.PRELOAD, MPROFILE_RATE=1,
                                    MPROFILE_OUT=self.dir + "/embed.snap")
        import subprocess
        proc = subprocess.run([embed, "native-thread"], cwd=self.dir, env=environ,
                              capture_output=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        snap = harness.load(self.dir + "/embed.snap")
        native = [t for t in snap.traces if t.size == 123457]
        self.assertEqual(len(native), 1)
        self.assertEqual([(f.filename, f.lineno) for f in native[0].traceback],
                         [("<unknown>", 0)])


if __name__ == "__main__":
    harness.main()
