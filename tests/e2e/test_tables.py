"""The profiler's own tables: given back on clear_traces(), and bounded by MPROFILE_MAX_MEMORY.

* Exact mode over 200,000 code objects with generated file names fills the string, frame and
  stack tables with names no live block uses any more. After mprofile.clear_traces() the
  library's memory (mprofile.get_tracemalloc_memory(), the preloaded library's counter) must be
  back within 4 MiB of what it was before the loop (a library that kept its tables held about
  49 MiB more).
* MPROFILE_MAX_MEMORY=8m with exact mode and 300,000 live objects, each allocated under its own
  file name: one `mprofile: the profiler's tables reached MPROFILE_MAX_MEMORY` line, the program
  runs as without the profiler, and the exit snapshot loads with dropped_samples > 0 and
  memory_budget_reached a Unix time. Under the default budget the same program drops nothing
  and memory_budget_reached is None.
"""
import os

import harness

CLEARS = """
import mprofile
before = mprofile.get_tracemalloc_memory()
for i in range(200000):
    exec(compile("x = [1]", "gen_%d.py" % i, "exec"))
grown = mprofile.get_tracemalloc_memory()
mprofile.clear_traces()
after = mprofile.get_tracemalloc_memory()
print(before, grown, after)
"""

KEEPS = """
keep = []
for i in range(300000):
    keep.append(eval(compile("[%d]" % i, "keep_%d.py" % i, "eval")))
print("kept", len(keep))
"""

BUDGET_LINE = "mprofile: the profiler's tables reached MPROFILE_MAX_MEMORY"


class Tables(harness.ProfiledTestCase):
    def test_clear_traces_gives_the_tables_back(self):
        script = self.write("clears.py", CLEARS)
        proc = self.run_bounded(script, timeout=240, MPROFILE_RATE=1, MPROFILE_AT_EXIT=0,
                                PYTHONPATH=harness.PACKAGE_DIR)
        self.assertFinished(proc)
        self.assertEqual((proc.returncode, proc.stderr), (0, b""), harness.describe(proc))
        before, grown, after = map(int, proc.stdout.split())
        self.assertGreater(grown, before)
        self.assertLess(after - before, 4 << 20,
                        "before %d, after the loop %d, after clear_traces %d"
                        % (before, grown, after))

    def test_memory_budget(self):
        script = self.write("keeps.py", KEEPS)
        plain = self.run_bounded(script, preload=False, timeout=240)
        self.assertEqual(plain.stdout, b"kept 300000\n", harness.describe(plain))

        bounded = os.path.join(self.dir, "bounded.snap")
        proc = self.run_bounded(script, timeout=240, MPROFILE_RATE=1, MPROFILE_MAX_MEMORY="8m",
                                MPROFILE_OUT=bounded)
        self.assertFinished(proc)
        self.assertEqual((proc.returncode, proc.stdout), (plain.returncode, plain.stdout))
        lines = proc.stderr.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith(BUDGET_LINE), lines[0])
        snap = harness.load(bounded)
        self.assertGreater(snap.dropped_samples, 0)
        self.assertIsInstance(snap.memory_budget_reached, float)

        default = os.path.join(self.dir, "default.snap")
        proc = self.run_bounded(script, timeout=240, MPROFILE_RATE=1, MPROFILE_OUT=default)
        self.assertFinished(proc)
        self.assertEqual((proc.returncode, proc.stdout, proc.stderr),
                         (plain.returncode, plain.stdout, plain.stderr))
        snap = harness.load(default)
        self.assertEqual(snap.dropped_samples, 0)
        self.assertIsNone(snap.memory_budget_reached)


if __name__ == "__main__":
    harness.main()
