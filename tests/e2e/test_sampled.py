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


if __name__ == "__main__":
    harness.main()
