"""In processes that are not Python the library stays dormant: no output, no change, also with
the native heap asked for (MPROFILE_NATIVE=1: no slot is rewritten)."""
import os
import subprocess

import harness


class Dormant(harness.ProfiledTestCase):
    def run_both(self, cmd):
        plain = subprocess.run(cmd, cwd=self.dir, env=harness.clean_env(),
                               capture_output=True, timeout=60)
        preloaded = subprocess.run(cmd, cwd=self.dir,
                                   env=harness.clean_env(LD_PRELOAD=harness.PRELOAD,
                                                         MPROFILE_RATE=1, MPROFILE_LOG="debug",
                                                         MPROFILE_NATIVE=1),
                                   capture_output=True, timeout=60)
        self.assertEqual(preloaded.stdout, plain.stdout)
        self.assertEqual(preloaded.stderr, plain.stderr)
        self.assertEqual(preloaded.returncode, plain.returncode)
        self.assertEqual(os.listdir(self.dir), [], "the library wrote files")

    def test_shell(self):
        self.run_both(["sh", "-c", "echo hello; echo err >&2; exit 4"])

    def test_ls(self):
        self.run_both(["ls", "-l", "/usr"])

    def test_c_program(self):
        self.run_both([os.environ["MP_HELLO"], "5"])

    def test_python_child_of_shell_is_profiled(self):
        # The preload is inherited: sh stays dormant, the Python it starts is profiled.
        environ = harness.clean_env(LD_PRELOAD=harness.PRELOAD, MPROFILE_RATE=1,
                                    MPROFILE_OUT=self.dir + "/child.%p.snap")
        proc = subprocess.run(["sh", "-c", "%s -c 'x = bytearray(123456)'" % harness.PYTHON],
                              cwd=self.dir, env=environ, capture_output=True, timeout=60)
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(proc.stderr, b"")
        self.assertEqual(len(self.snapshots("child.*.snap")), 1)


if __name__ == "__main__":
    harness.main()
