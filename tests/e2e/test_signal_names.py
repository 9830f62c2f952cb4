"""Which signals MPROFILE_SIGNAL accepts, and the program's own signals under the profiler.

Faults (SEGV, BUS, FPE, ILL) must reach the program's crash handling, INT, TERM, HUP and ABRT
must stop it, CHLD and PIPE belong to it, and KILL and STOP cannot be caught: each of these,
by name or by number, gives one `mprofile: MPROFILE_SIGNAL=` line, the profiler stays off (no
snapshot) and the program runs as without it. USR1, USR2 and the real-time signals (RTMIN,
RTMIN+n, RTMAX-n, RTMAX, or the number of SIGRTMIN) are accepted and give a snapshot when the
process receives them. With the default dump signal, Ctrl-C still raises KeyboardInterrupt and
a crash still ends the program with SIGSEGV, exactly as without the profiler.
"""
import os
import signal
import subprocess
import time

import harness

PROGRAM = """
import sys
print("output", sum(len(bytes(i)) for i in range(1000)))
sys.exit(2)
"""

WAITS = """
import sys
keep = [bytearray(1 << 20) for _ in range(4)]
print("ready", flush=True)
print("got", sys.stdin.readline().strip())
"""

SLEEPS = """
import signal, time
# Python leaves SIGINT alone when it starts ignored (a test run from a background job): the
# comparison is about the profiler, so the program asks for Ctrl-C's usual behaviour itself.
signal.signal(signal.SIGINT, signal.default_int_handler)
keep = [bytearray(1000) for _ in range(1000)]
print("ready", flush=True)
time.sleep(60)
print("not interrupted")
"""

CRASHES = """
import ctypes
keep = [bytearray(1000) for _ in range(1000)]
print("crashing", flush=True)
ctypes.string_at(0)
"""

REFUSED = ["SEGV", "BUS", "FPE", "ILL", "CHLD", "INT", "TERM", "KILL", "STOP", "ABRT", "HUP",
           "PIPE", "11"]

ACCEPTED = {
    "USR1": signal.SIGUSR1,
    "USR2": signal.SIGUSR2,
    "SIGUSR1": signal.SIGUSR1,
    "RTMIN": signal.SIGRTMIN,
    "RTMIN+3": signal.SIGRTMIN + 3,
    "RTMAX": signal.SIGRTMAX,
    "RTMAX-2": signal.SIGRTMAX - 2,
    str(int(signal.SIGRTMIN)): signal.SIGRTMIN,
}


class SignalNames(harness.ProfiledTestCase):
    def start(self, script, **env):
        environ = harness.clean_env(LD_PRELOAD=harness.PRELOAD, **env)
        proc = subprocess.Popen([harness.PYTHON, script], cwd=self.dir, env=environ,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        self.addCleanup(self.stop, proc)
        return proc

    @staticmethod
    def stop(proc):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()

    def wait_for_snapshot(self, proc, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            done = [p for p in self.snapshots() if not p.endswith(".tmp")]
            if done:
                return done
            time.sleep(0.02)
        return self.snapshots()

    def test_refused_signals(self):
        script = self.write("prog.py", PROGRAM)
        plain = self.run_bounded(script, preload=False)
        for name in REFUSED:
            with self.subTest(MPROFILE_SIGNAL=name):
                for path in self.snapshots():
                    os.unlink(path)
                proc = self.run_bounded(script, MPROFILE_RATE=4096, MPROFILE_SIGNAL=name,
                                        MPROFILE_OUT=self.dir + "/x.%n.snap")
                self.assertFinished(proc)
                self.assertEqual(proc.stdout, plain.stdout)
                self.assertEqual(proc.returncode, plain.returncode)
                lines = proc.stderr.decode().splitlines()
                self.assertEqual(len(lines), 1, lines)
                self.assertTrue(lines[0].startswith("mprofile: MPROFILE_SIGNAL="), lines[0])
                self.assertEqual(self.snapshots(), [])

    def test_accepted_signals(self):
        script = self.write("waits.py", WAITS)
        for name, number in ACCEPTED.items():
            with self.subTest(MPROFILE_SIGNAL=name):
                for path in self.snapshots(peaks=True):
                    os.unlink(path)
                proc = self.start(script, MPROFILE_SIGNAL=name, MPROFILE_AT_EXIT=0,
                                  MPROFILE_RATE=4096,
                                  MPROFILE_OUT=self.dir + "/dump.%n.snap")
                self.assertEqual(proc.stdout.readline(), b"ready\n")
                os.kill(proc.pid, number)
                files = self.wait_for_snapshot(proc)
                out, err = proc.communicate(b"finish\n", timeout=60)
                self.assertEqual((proc.returncode, out, err), (0, b"got finish\n", b""))
                self.assertEqual([os.path.basename(p) for p in files], ["dump.1.snap"])
                snap = harness.load(files[0])
                self.assertEqual(snap.pid, proc.pid)
                self.assertGreaterEqual(sum(t.size for t in snap.traces), 4 << 20)

    def interrupted(self, preload):
        script = self.write("sleeps.py", SLEEPS)
        env = {"MPROFILE_RATE": "4096", "MPROFILE_OUT": self.dir + "/%p.%n.snap"}
        if preload:
            proc = self.start(script, **env)
        else:
            proc = subprocess.Popen([harness.PYTHON, script], cwd=self.dir,
                                    env=harness.clean_env(), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True)
            self.addCleanup(self.stop, proc)
        self.assertEqual(proc.stdout.readline(), b"ready\n")
        for attempt in range(6):
            os.kill(proc.pid, signal.SIGINT)
            try:
                out, err = proc.communicate(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue  # a signal the interpreter had not yet armed for: send it again
        else:
            self.fail("SIGINT did not end the program (preload=%s)" % preload)
        # The traceback's line depends on where the signal landed: only its last line counts.
        return proc.returncode, out, err.splitlines()[-1:]

    def test_ctrl_c_with_the_default_signal(self):
        plain = self.interrupted(preload=False)
        self.assertEqual(plain[2], [b"KeyboardInterrupt"])
        self.assertEqual(self.interrupted(preload=True), plain)

    def test_crash_ends_with_sigsegv(self):
        if "libasan" in os.environ.get("MP_PRELOAD_FIRST", ""):
            # A preloaded sanitizer runtime takes SIGSEGV itself and exits 1, profiler or not.
            self.skipTest("the sanitizer runtime handles SIGSEGV")
        script = self.write("crashes.py", CRASHES)
        plain = self.run_bounded(script, preload=False)
        self.assertEqual(plain.returncode, -signal.SIGSEGV, harness.describe(plain))
        proc = self.run_bounded(script, MPROFILE_RATE=4096)
        self.assertFinished(proc)
        self.assertEqual((proc.returncode, proc.stdout, proc.stderr),
                         (plain.returncode, plain.stdout, plain.stderr))


if __name__ == "__main__":
    harness.main()
