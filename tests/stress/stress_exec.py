"""exec from a profiled process: the program os.execv()s the interpreter on itself for several
generations, each holding memory and taking a signal dump before it execs. Every image is
profiled from its start, keeps the pid, finds the descriptors the program left open and no
other, and its dumps never replace an earlier image's file (the %n numbering skips existing
names): the files are one per signal dump plus the last image's exit snapshot.
"""
import glob
import os

import stress_harness

GENERATIONS = 6

PROGRAM = """
import glob, os, signal, sys, time
profiled, outdir, generation = sys.argv[1] == "profiled", sys.argv[2], int(sys.argv[3])
if not profiled:
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
keep = [bytearray(1000 + generation) for _ in range(2000)]
os.kill(os.getpid(), signal.SIGUSR2)
if profiled:
    deadline = time.monotonic() + 5
    while len([p for p in glob.glob(os.path.join(outdir, "%d.*.snap" % os.getpid()))
               if ".peak." not in p]) <= generation:
        if time.monotonic() > deadline:
            print("generation", generation, "no snapshot")
            sys.exit(1)
        time.sleep(0.005)
print("generation", generation, flush=True)
if generation + 1 < GENERATIONS:
    os.execv(sys.executable, [sys.executable, *sys.argv[:3], str(generation + 1)])
print(sorted(os.listdir("/proc/self/fd")))
""".replace("GENERATIONS", str(GENERATIONS))


class Exec(stress_harness.StressTestCase):
    def test_exec_generations(self):
        script = self.write("execs.py", PROGRAM)
        plain = self.run_program(script, ["plain", self.dir, "0"], preload=False)
        for rate in ("1", "4096"):
            for run in range(3):
                out = os.path.join(self.dir, "%s-%d" % (rate, run))
                os.mkdir(out)
                proc = self.run_program(script, ["profiled", out, "0"], MPROFILE_RATE=rate,
                                        MPROFILE_SEED=run, MPROFILE_OUT=out + "/%p.%n.snap")
                self.assertSameAsPlain(plain, proc)
                names = sorted(n for n in os.listdir(out) if ".peak." not in n)
                self.assertEqual(len(names), GENERATIONS + 1, names)
                self.assertEqual(len({n.split(".")[0] for n in names}), 1, names)


if __name__ == "__main__":
    stress_harness.main()
