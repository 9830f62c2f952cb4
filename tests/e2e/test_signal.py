"""SIGUSR2 writes a snapshot while the program runs; the program finishes normally."""
import os
import signal
import subprocess
import time

import harness

PROGRAM = """
import sys
keep = [bytearray(1 << 20) for _ in range(8)]
print("ready", flush=True)
line = sys.stdin.readline()
print("got", line.strip())
"""


class SignalDump(harness.ProfiledTestCase):
    def wait_for(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [p for p in self.snapshots() if not p.endswith(".tmp")]
            if len(done) >= count:
                return done
            time.sleep(0.05)
        self.fail("expected %d snapshots, found %s" % (count, self.snapshots()))

    def run_with_signals(self, signals, **env):
        script = self.write("server.py", PROGRAM)
        environ = harness.clean_env(LD_PRELOAD=harness.PRELOAD, MPROFILE_AT_EXIT=0,
                                    MPROFILE_OUT=self.dir + "/dump.%n.snap", **env)
        proc = subprocess.Popen([harness.PYTHON, script], cwd=self.dir, env=environ,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        self.assertEqual(proc.stdout.readline(), b"ready\n")
        for i, sig in enumerate(signals):
            os.kill(proc.pid, sig)
            self.wait_for(i + 1)
        out, err = proc.communicate(b"finish\n", timeout=60)
        return proc, out, err

    def test_two_signals_two_files(self):
        proc, out, err = self.run_with_signals([signal.SIGUSR2, signal.SIGUSR2])
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(out, b"got finish\n")
        self.assertEqual(err, b"")
        files = self.snapshots()
        self.assertEqual([os.path.basename(f) for f in files], ["dump.1.snap", "dump.2.snap"])
        for path in files:
            snap = harness.load(path)
            self.assertEqual(snap.pid, proc.pid)
            # The eight 1 MiB buffers are live and large enough to be sampled for sure.
            self.assertGreaterEqual(sum(t.size for t in snap.traces), 8 << 20)

    def test_configured_signal(self):
        proc, out, err = self.run_with_signals([signal.SIGUSR1], MPROFILE_SIGNAL="USR1")
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(out, b"got finish\n")
        self.assertEqual(len(self.snapshots()), 1)


if __name__ == "__main__":
    harness.main()
