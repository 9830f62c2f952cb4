"""SIGTERM and SIGHUP: the exit snapshot first, then the same death.

* A program with the default dispositions: killed by SIGTERM (or SIGHUP), it dies of that signal
  exactly as without the profiler (the wait status), and its exit snapshot (trigger
  "terminate") and peak companion exist, with the program's memory in them.
* The handlers go in only once the interpreter runs, only for a default disposition:
  signal.getsignal() answers as without the profiler; a program's own SIGTERM handler runs and
  its exit is unchanged; with MPROFILE_AT_EXIT=0 nothing is installed.
* In exact mode with the main thread allocating all the time (the signal often lands while the
  thread holds the profiler's lock), every run still ends by SIGTERM with its snapshot.
* A second SIGTERM right after the first ends the process at once, leaving no temporary file.
* As PID 1 of a PID namespace, SIGTERM's default is to be ignored: the snapshot is written and
  the program runs on to its normal exit.
"""
import glob
import os
import shutil
import signal
import subprocess
import time

import harness

PROGRAM = """
import os, signal, sys, time

def caught(sig):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("SigCgt:"):
                return int(line.split()[1], 16) >> (sig - 1) & 1

mode = sys.argv[1]
keep = [bytearray(10_000) for _ in range(500)]  # KEEP
if mode == "own":
    def bye(sig, frame):
        os.write(1, b"bye\\n")  # print() may be in the middle of the "ready" line
        sys.exit(3)
    signal.signal(signal.SIGTERM, bye)
# The profiler installs its handlers from a pending call after a sample: wait for it (or 2 s).
deadline = time.monotonic() + 2
while mode != "own" and not caught(signal.SIGTERM) and time.monotonic() < deadline:
    keep.append(bytearray(100_000))
    time.sleep(0.001)
print("ready", caught(signal.SIGTERM), caught(signal.SIGHUP),
      signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or mode == "own",
      signal.getsignal(signal.SIGINT) is signal.default_int_handler, flush=True)
if mode == "busy":
    while True:
        keep.append(bytearray(64))
        if len(keep) > 20_000:
            del keep[600:]
elif mode == "pid1":
    sys.stdin.readline()
    print("exiting", flush=True)
else:
    time.sleep(60)
"""


class Terminate(harness.ProfiledTestCase):

    def start(self, mode, preload=True, prefix=(), **env):
        script = self.write("prog.py", PROGRAM)
        environ = harness.clean_env(**env)
        if preload:
            environ["LD_PRELOAD"] = harness.PRELOAD
            environ.setdefault("MPROFILE_OUT", os.path.join(self.dir, "%p.%n.snap"))
        proc = subprocess.Popen([*prefix, harness.PYTHON, script, mode], cwd=self.dir,
                                env=environ, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        self.addCleanup(self.kill, proc)
        ready = proc.stdout.readline().decode()
        if not ready.startswith("ready"):
            self.fail(ready + proc.stderr.read().decode())
        return proc, ready.split()[1:]

    @staticmethod
    def kill(proc):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            stream.close()

    def finish(self, proc, sig=None):
        if sig is not None:
            os.kill(proc.pid, sig)
        out, err = proc.communicate(timeout=60)
        return proc.returncode, out, err

    def test_default_disposition_dies_of_the_signal_with_a_snapshot(self):
        for sig in (signal.SIGTERM, signal.SIGHUP):
            with self.subTest(signal=sig.name):
                for path in self.snapshots(peaks=True):
                    os.unlink(path)
                plain, _ = self.start("wait", preload=False)
                expected = self.finish(plain, sig)
                self.assertEqual(expected[0], -sig)
                proc, ready = self.start("wait", MPROFILE_RATE=4096)
                self.assertEqual(ready, ["1", "1", "True", "True"])
                self.assertEqual(self.finish(proc, sig), expected)
                files = self.snapshots()
                self.assertEqual(len(files), 1, files)
                snap = harness.load(files[0])
                self.assertEqual(snap.trigger, "terminate")
                self.assertGreater(snap.live_bytes, 4_000_000)
                peak = self.snapshots("*.peak.snap", peaks=True)
                self.assertEqual(len(peak), 1)
                self.assertTrue(harness.load(peak[0]).is_peak)
                self.assertEqual(glob.glob(self.dir + "/.*.tmp"), [])

    def test_own_handler_runs_and_exit_is_unchanged(self):
        plain, _ = self.start("own", preload=False)
        expected = self.finish(plain, signal.SIGTERM)
        self.assertEqual(expected[:2], (3, b"bye\n"), expected)
        proc, _ = self.start("own", MPROFILE_RATE=4096)
        self.assertEqual(self.finish(proc, signal.SIGTERM), expected)
        files = self.snapshots()
        self.assertEqual(len(files), 1, files)
        self.assertEqual(harness.load(files[0]).trigger, "exit")

    def test_nothing_installed_without_the_exit_snapshot(self):
        proc, ready = self.start("wait", MPROFILE_RATE=4096, MPROFILE_AT_EXIT=0)
        self.assertEqual(ready[:2], ["0", "0"])
        self.assertEqual(self.finish(proc, signal.SIGTERM)[0], -signal.SIGTERM)
        self.assertEqual(self.snapshots(), [])

    def test_exact_mode_while_allocating(self):
        for attempt in range(5):
            with self.subTest(attempt=attempt):
                for path in self.snapshots(peaks=True):
                    os.unlink(path)
                proc, ready = self.start("busy", MPROFILE_RATE=1)
                self.assertEqual(ready[0], "1")
                time.sleep(0.05 * attempt)
                code, out, err = self.finish(proc, signal.SIGTERM)
                self.assertEqual((code, out, err), (-signal.SIGTERM, b"", b""))
                files = self.snapshots()
                self.assertEqual(len(files), 1, files)
                self.assertEqual(harness.load(files[0]).trigger, "terminate")

    def test_second_signal_is_not_delayed(self):
        proc, _ = self.start("busy", MPROFILE_RATE=1)
        os.kill(proc.pid, signal.SIGTERM)
        os.kill(proc.pid, signal.SIGTERM)
        code, out, err = self.finish(proc)
        self.assertEqual((code, err), (-signal.SIGTERM, b""))
        self.assertEqual(glob.glob(self.dir + "/.*.tmp"), [])
        for path in self.snapshots():
            harness.load(path)  # whatever was written is complete

    def test_pid_1_runs_on(self):
        unshare = shutil.which("unshare")
        if unshare is None or os.geteuid() != 0:
            self.skipTest("needs root and unshare for a PID namespace")
        proc, ready = self.start("pid1", prefix=[unshare, "--pid", "--fork", "--kill-child"],
                                 MPROFILE_RATE=4096)
        self.assertEqual(ready[0], "1")
        # The interpreter is the child of unshare, PID 1 in its namespace.
        with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as f:
            child = int(f.read().split()[0])
        os.kill(child, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while not self.snapshots() and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.stdin.write(b"go on\n")
        proc.stdin.flush()
        code, out, err = self.finish(proc)
        self.assertEqual((code, out, err), (0, b"exiting\n", b""))
        triggers = sorted(harness.load(p).trigger for p in self.snapshots())
        self.assertEqual(triggers, ["exit", "terminate"])
        self.assertTrue(all(os.path.basename(p).startswith("1.") for p in self.snapshots()))


if __name__ == "__main__":
    harness.main()
