"""The process ends while threads allocate: daemon threads still allocating when the main thread
returns (the interpreter's finalization and the exit snapshot run under them), and os._exit
called while they allocate (the exit snapshot is taken from _exit). Racy: many runs of each,
in exact mode and at one sample per 4 KiB; every run must finish with the output, status,
descriptors and stderr it has without the profiler, and write exactly one snapshot.
"""
import glob
import os

import stress_harness

PROGRAM = """
import os, sys, threading, time
how, rounds = sys.argv[1], int(sys.argv[2])
def churn(n):
    held = []
    i = 0
    while True:
        held.append([bytes(32 + (i + n) % 300) for _ in range(4)])
        if len(held) > 500:
            del held[:250]
        i += 1
for n in range(8):
    threading.Thread(target=churn, args=(n,), daemon=True).start()
work = []
for i in range(rounds):
    work.append(str(i) * 3)
print(len(work))
print(sorted(os.listdir("/proc/self/fd")), flush=True)
if how == "_exit":
    os._exit(0)
"""


class ExitThreads(stress_harness.StressTestCase):
    def test_exit_while_threads_allocate(self):
        script = self.write("exit_threads.py", PROGRAM)
        for how in ("return", "_exit"):
            plain = self.run_program(script, [how, "20000"], preload=False)
            for rate in ("1", "4096"):
                for run in range(3):
                    with self.subTest(how=how, rate=rate, run=run):
                        out = os.path.join(self.dir, "%s-%s-%d" % (how, rate, run))
                        os.mkdir(out)
                        proc = self.run_program(script, [how, "20000"], timeout=30,
                                                MPROFILE_RATE=rate, MPROFILE_SEED=run,
                                                MPROFILE_OUT=out + "/%p.%n.snap")
                        self.assertSameAsPlain(plain, proc)
                        snapshots = [p for p in glob.glob(out + "/*") if ".peak." not in p]
                        self.assertEqual(len(snapshots), 1, os.listdir(out))


if __name__ == "__main__":
    stress_harness.main()
