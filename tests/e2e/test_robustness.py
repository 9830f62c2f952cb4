"""Start-up variants that replace or wrap the allocators: the profiler keeps working (or says
once why it cannot), and the program is never disturbed."""
import harness

PROGRAM = """
keep = [bytearray(100000) for _ in range(50)]
print("ok")
"""

TRACEMALLOC_PROGRAM = """
import tracemalloc
a = [bytearray(100000) for _ in range(20)]
tracemalloc.start(10)
b = [bytearray(100000) for _ in range(20)]
seen = sum(s.count for s in tracemalloc.take_snapshot().statistics("lineno")
           if s.traceback[0].lineno == 5)
tracemalloc.stop()
c = [bytearray(100000) for _ in range(20)]
print("tracemalloc saw", seen)
"""


def held_by_line(snapshot, script, line):
    return sum(t.size for t in snapshot.traces
               if (t.traceback[-1].filename, t.traceback[-1].lineno) == (script, line))


class Robustness(harness.ProfiledTestCase):
    def check_profiled(self, python_args=(), **env):
        script = self.write("prog.py", PROGRAM)
        plain = self.run_python(script, preload=False, python_args=python_args, **env)
        proc = self.run_python(script, python_args=python_args, MPROFILE_RATE=4096,
                               MPROFILE_OUT=self.dir + "/x.snap", **env)
        self.assertEqual(proc.stdout, plain.stdout)
        self.assertEqual(proc.returncode, plain.returncode)
        self.assertEqual(proc.stderr, plain.stderr)
        snap = harness.load(self.dir + "/x.snap")
        # 50 buffers of 100000 bytes: at one sample per 4 KiB every one of them is sampled.
        self.assertGreaterEqual(held_by_line(snap, script, 2), 50 * 100000)

    def test_pythonmalloc_variants(self):
        for allocator in ("malloc", "pymalloc", "debug", "malloc_debug", "pymalloc_debug"):
            with self.subTest(PYTHONMALLOC=allocator):
                self.check_profiled(PYTHONMALLOC=allocator)

    def test_dev_mode(self):
        self.check_profiled(python_args=["-X", "dev"])

    def test_isolated_and_no_environment(self):
        for flag in ("-E", "-I", "-S"):
            with self.subTest(flag=flag):
                self.check_profiled(python_args=[flag])

    def test_tracemalloc_started_and_stopped_by_the_program(self):
        script = self.write("tm.py", TRACEMALLOC_PROGRAM)
        plain = self.run_python(script, preload=False)
        proc = self.run_python(script, MPROFILE_RATE=4096, MPROFILE_OUT=self.dir + "/x.snap")
        self.assertRanCleanly(proc)
        # tracemalloc, on top of the profiler's hooks, sees what it sees without them.
        self.assertEqual(proc.stdout, plain.stdout)
        snap = harness.load(self.dir + "/x.snap")
        # The profiler saw all three phases: before, during and after tracemalloc.
        for line in (3, 5, 9):
            self.assertGreaterEqual(held_by_line(snap, script, line), 20 * 100000, line)


if __name__ == "__main__":
    harness.main()
