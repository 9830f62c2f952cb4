"""The profiler's tables reach MPROFILE_MAX_MEMORY (8 MiB) in exact mode: 300,000 live objects,
each allocated under its own file name, while signal dumps are taken. One line says so
(`mprofile: the profiler's tables reached MPROFILE_MAX_MEMORY ...`), new samples are dropped
and counted, and the program runs on exactly as without the profiler; the snapshots load and
record the drops.
"""
import glob
import os

import stress_harness

PROGRAM = """
import os, signal, sys
if sys.argv[1] != "profiled":
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
keep = []
for i in range(300000):
    keep.append(eval(compile("[%d]" % i, "keep_%d.py" % i, "eval")))
    if i % 50000 == 0:
        os.kill(os.getpid(), signal.SIGUSR2)
print("kept", len(keep))
print(sorted(os.listdir("/proc/self/fd")))
"""

BUDGET = r"^mprofile: the profiler's tables reached MPROFILE_MAX_MEMORY"


class Budget(stress_harness.StressTestCase):
    def test_table_budget(self):
        script = self.write("keeps.py", PROGRAM)
        plain = self.run_program(script, ["plain"], preload=False)
        proc = self.run_program(script, ["profiled"], MPROFILE_RATE=1,
                                MPROFILE_MAX_MEMORY="8m")
        self.assertSameAsPlain(plain, proc, expected=[BUDGET])
        files = sorted((p for p in glob.glob(os.path.join(self.dir, "*.snap"))
                        if ".peak." not in p), key=os.path.getmtime)
        # Six signal dumps and the exit snapshot (their peak companions aside).
        self.assertEqual(len(files), 7, files)
        import tracemalloc
        last = tracemalloc.Snapshot.load(files[-1])
        self.assertGreater(last.dropped_samples, 0)
        self.assertIsInstance(last.memory_budget_reached, float)


if __name__ == "__main__":
    stress_harness.main()
