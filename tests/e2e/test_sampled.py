"""Sampled mode: each site's estimate is within 4 standard errors of the truth."""
import math
import os

import harness

PROGRAM = """
keep = []
def many_small():
    for i in range(100000):
        keep.append(bytes(100))
def some_medium():
    for i in range(2000):
        keep.append(bytearray(10000))
def few_large():
    for i in range(40):
        keep.append(bytearray(300000))
def mixed():
    for i in range(20000):
        keep.append(bytes(10 + (i * 7919) % 4000))
many_small()
some_medium()
few_large()
mixed()
"""
SITES = (5, 8, 11, 14)


class SampledMode(harness.ProfiledTestCase):
    def test_estimates_within_four_standard_errors(self):
        script = self.write("sites.py", PROGRAM)
        exact = self.run_python(script, MPROFILE_RATE=1, MPROFILE_OUT=self.dir + "/exact.snap")
        self.assertRanCleanly(exact)
        truth = harness.by_line(harness.load(self.dir + "/exact.snap"), script)

        for seed in (1, 2, 3, 4, 5):
            out = "%s/seed%d.snap" % (self.dir, seed)
            proc = self.run_python(script, MPROFILE_RATE=harness.RATE, MPROFILE_SEED=seed,
                                   MPROFILE_OUT=out)
            self.assertRanCleanly(proc)
            snap = harness.load(out)
            self.assertEqual(snap.sample_rate, harness.RATE)
            got = harness.by_line(snap, script)
            for line in SITES:
                true_bytes = truth[line][0]
                estimate = got.get(line, (0, 0))[0]
                se = math.sqrt(harness.RATE * true_bytes)
                self.assertLess(abs(estimate - true_bytes), 4 * se,
                                "seed %d line %d: estimate %d, truth %d, se %.0f"
                                % (seed, line, estimate, true_bytes, se))

    def test_same_seed_same_snapshot(self):
        # The interpreter's own start-up differs a little from run to run (import caches
        # refreshed on directory times, for one), so the same seed reproduces the samples of
        # what the program allocates after sampling starts: here from an mprofile_start() call.
        script = self.write("sites.py", "import ctypes\n"
                            "ctypes.PyDLL(None).mprofile_start(ctypes.c_uint64(%d), 128)\n" % harness.RATE
                            + PROGRAM)
        os.mkdir(self.dir + "/out")
        results = []
        for run in range(2):
            out = "%s/out/run%d.snap" % (self.dir, run)
            proc = self.run_python(script, MPROFILE_RATE=0, MPROFILE_SEED=99, MPROFILE_OUT=out)
            self.assertRanCleanly(proc)
            results.append(harness.by_line(harness.load(out), script))
        self.assertEqual(len(results[0]), 4)
        self.assertEqual(results[0], results[1])

    def test_code_objects_replaced_at_their_address(self):
        """Callers made afresh, each on its own line, dying between calls: each new one takes
        the dead one's address and bytecode, and its first sample comes with no sample in
        between (the making is not sampled), which must not bring back the dead one's line
        (the frames of the previous stack are reused while their code objects live)."""
        script = self.write("regen.py", REGENERATED)
        proc = self.run_python(script, MPROFILE_RATE=65536, MPROFILE_SEED=7)
        self.assertRanCleanly(proc)
        [snap_path] = self.snapshots()
        callers = []
        for trace in harness.load(snap_path).traces:
            frames = [(f.filename, f.lineno) for f in trace.traceback]
            if frames[-1] == (script, 7):
                self.assertEqual(frames[-2][0], "generated.py")
                callers.append(frames[-2][1])
        # 1 MiB per call: sampled with probability 1 - exp(-16).
        self.assertEqual(sorted(callers), list(range(3, 3 + 3 * 40, 3)))


# Forty callers, copies of template() each placed on its own line of "generated.py" (3, 6, ...
# 120), made, called and freed in turn: each new copy takes the address of the last one (the
# same size class of pymalloc, freed just before). inner() keeps 1 MiB for each.
REGENERATED = """
import types
keep = []
def template():
    inner()
def inner():
    keep.append(bytes(1 << 20))
def run(k):
    code = template.__code__.replace(co_firstlineno=3 * k + 2, co_filename="generated.py")
    types.FunctionType(code, globals())()
for k in range(40):
    run(k)
"""


if __name__ == "__main__":
    harness.main()
