"""Snapshots on time (MPROFILE_INTERVAL) and on growth (MPROFILE_DUMP_GROWTH), within the file
budget (MPROFILE_MAX_FILES).

* Interval: a program that runs for about 1.5 s with MPROFILE_INTERVAL=0.2 gets numbered
  snapshots with trigger "interval", a timer thread of its own (named mprofile-timer, every
  signal blocked) only then, and keeps only MPROFILE_MAX_FILES of them, the newest; the exit
  snapshot is not counted and stays.
* Growth: in exact mode, a program that grows by 1 MiB steps to 12 MiB gets one snapshot each
  time the live bytes pass the previous growth snapshot's by MPROFILE_DUMP_GROWTH=2m; with a
  budget of 2, only the 2 newest stay, each with its peak companion when the peak moved.
* A file the process did not write (the user replaced one of its snapshots) is never removed.
"""
import os
import signal

import harness

INTERVAL = """
import os, sys, time
keep = []
end = time.monotonic() + 1.5
while time.monotonic() < end:
    keep.append(bytearray(50_000))
    time.sleep(0.01)
tasks = os.listdir("/proc/self/task")
names = sorted(open("/proc/self/task/%s/comm" % t).read().strip() for t in tasks)
blocked = [open("/proc/self/task/%s/status" % t).read().split("SigBlk:")[1].split()[0]
           for t in tasks
           if open("/proc/self/task/%s/comm" % t).read().strip() == "mprofile-timer"]
print(" ".join(names), blocked)
"""

GROWTH = """
import os, sys, time
keep = []
for step in range(12):
    keep.append(bytearray(1 << 20))
    if step == 6 and len(sys.argv) > 1:
        # Replace the first growth snapshot with a file of the user's.
        first = sorted(n for n in os.listdir(sys.argv[1]) if ".peak." not in n)[0]
        path = os.path.join(sys.argv[1], first)
        with open(path + ".new", "w") as f:
            f.write("mine")
        os.replace(path + ".new", path)
        print("replaced", first, flush=True)
print("done")
"""


class Periodic(harness.ProfiledTestCase):

    def test_interval_snapshots_within_the_budget(self):
        script = self.write("interval.py", INTERVAL)
        proc = self.run_bounded(script, MPROFILE_RATE=65536, MPROFILE_INTERVAL="0.2",
                                MPROFILE_MAX_FILES=3)
        self.assertFinished(proc)
        self.assertEqual(proc.returncode, 0, harness.describe(proc))
        self.assertIn(b"mprofile-timer", proc.stdout)
        # Signals meant for the program never land on the timer: every one is blocked there.
        mask = int(proc.stdout.split(b"['")[1].split(b"']")[0], 16)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1,
                    signal.SIGUSR2, signal.SIGCHLD, signal.SIGALRM, signal.SIGPIPE,
                    signal.SIGRTMIN, signal.SIGRTMAX):
            self.assertTrue(mask >> (sig - 1) & 1, sig)
        files = self.snapshots()
        kinds = [(harness.load(p).trigger, int(p.split(".")[-2])) for p in files]
        interval = sorted(n for kind, n in kinds if kind == "interval")
        # Never more than the budget. One fewer when the process ended in the middle of a tick
        # (the oldest goes before the new one is written).
        self.assertIn(len(interval), (2, 3), kinds)
        # The newest three are kept.
        exit_numbers = [n for kind, n in kinds if kind == "exit"]
        self.assertEqual(len(exit_numbers), 1, kinds)
        self.assertGreaterEqual(interval[0], 4, kinds)  # at least 6 were written
        # No gap: every number from the oldest kept on is there (the exit snapshot may come
        # before the last tick, which can fall in the middle of the exit).
        numbers = sorted(interval + exit_numbers)
        self.assertEqual(numbers, list(range(interval[0], interval[0] + len(numbers))), kinds)
        # The newest interval snapshot's timeline has points from the timer.
        newest = harness.load([p for p in files if p.endswith(".%d.snap" % interval[-1])][0])
        self.assertGreater(len(newest.timeline), 5)

    def test_no_thread_without_an_interval(self):
        script = self.write("interval.py", INTERVAL)
        proc = self.run_bounded(script, MPROFILE_RATE=65536)
        self.assertFinished(proc)
        self.assertNotIn(b"mprofile-timer", proc.stdout)

    def growth(self, budget, replace=False):
        script = self.write("growth.py", GROWTH)
        out = os.path.join(self.dir, "out")
        os.mkdir(out)
        proc = self.run_bounded(script, [out] if replace else [], MPROFILE_RATE=1,
                                MPROFILE_DUMP_GROWTH="2m", MPROFILE_MAX_FILES=budget,
                                MPROFILE_AT_EXIT=0, MPROFILE_OUT=out + "/g.%n.snap")
        self.assertFinished(proc)
        self.assertEqual(proc.returncode, 0, harness.describe(proc))
        return out, proc

    def test_growth_snapshots(self):
        out, _ = self.growth(100)
        names = sorted(os.listdir(out), key=lambda n: int(n.split(".")[1]))
        mains = [n for n in names if not harness.is_peak_companion(n)]
        snaps = [harness.load(os.path.join(out, n)) for n in mains]
        self.assertTrue(all(s.trigger == "growth" for s in snaps))
        # 12 MiB in 1 MiB steps, plus the interpreter's own memory: about 6 passes of 2 MiB.
        self.assertTrue(5 <= len(snaps) <= 8, [s.live_bytes for s in snaps])
        for before, after in zip(snaps, snaps[1:]):
            self.assertGreaterEqual(after.live_bytes - before.live_bytes, 2 << 20)
        # While memory only grows, every growth snapshot has a new peak, so a companion.
        self.assertEqual(len(names), 2 * len(mains), names)

    def test_growth_within_the_budget_keeps_others_files(self):
        out, proc = self.growth(2, replace=True)
        replaced = proc.stdout.split()[1].decode()
        names = sorted(os.listdir(out))
        self.assertIn(replaced, names)  # the user's file stays
        with open(os.path.join(out, replaced)) as f:
            self.assertEqual(f.read(), "mine")
        ours = [n for n in names if n != replaced and not harness.is_peak_companion(n)]
        self.assertEqual(len(ours), 2, names)
        peaks = [n for n in names if harness.is_peak_companion(n)]
        self.assertLessEqual(len(peaks), 2, names)
        for name in ours + peaks:
            harness.load(os.path.join(out, name))


if __name__ == "__main__":
    harness.main()
