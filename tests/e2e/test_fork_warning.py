"""Python 3.12+ warns (DeprecationWarning on stderr) when a process with more than one thread
calls fork(). A single-threaded program under the profiler is still single-threaded, so its
fork prints nothing, also after it took a signal dump (no thread is started for dumps).
Skipped on 3.11, which has no such warning.
"""
import subprocess

import harness

PROGRAM = """
import os, signal, sys
keep = [bytearray(1000) for _ in range(1000)]
if sys.argv[1] == "dump":
    os.kill(os.getpid(), signal.SIGUSR2)
pid = os.fork()
if pid == 0:
    more = [bytes(100) for _ in range(100)]
    os._exit(0)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


class ForkWarning(harness.ProfiledTestCase):
    def setUp(self):
        super().setUp()
        newer = subprocess.run(
            [harness.PYTHON, "-c", "import sys; print(sys.version_info >= (3, 12))"],
            capture_output=True, timeout=60).stdout.strip()
        if newer != b"True":
            self.skipTest("no fork warning before Python 3.12")

    def test_single_threaded_fork_is_silent(self):
        script = self.write("forks.py", PROGRAM)
        plain = self.run_bounded(script, ["plain"], preload=False)
        self.assertEqual((plain.returncode, plain.stdout, plain.stderr), (0, b"", b""))
        for rate in ("1", "4096"):
            for first in ("plain", "dump"):
                with self.subTest(rate=rate, first=first):
                    proc = self.run_bounded(script, [first], MPROFILE_RATE=rate,
                                            MPROFILE_SEED=9, python_args=["-W", "default"])
                    self.assertFinished(proc)
                    self.assertEqual((proc.returncode, proc.stdout, proc.stderr),
                                     (0, b"", b""), harness.describe(proc))


if __name__ == "__main__":
    harness.main()
