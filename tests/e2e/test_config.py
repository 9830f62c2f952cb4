"""Bad configuration: one "mprofile:" line on stderr, the profiler stays off, and the program
runs and exits exactly as without the profiler."""
import os

import harness

PROGRAM = """
import sys
print("output", sum(len(bytes(i)) for i in range(1000)))
sys.exit(2)
"""

BAD = [
    ({"MPROFILE_RATE": "abc"}, "MPROFILE_RATE"),
    ({"MPROFILE_RATE": "-1"}, "MPROFILE_RATE"),
    ({"MPROFILE_FRAMES": "0"}, "MPROFILE_FRAMES"),
    ({"MPROFILE_FRAMES": "70000"}, "MPROFILE_FRAMES"),
    ({"MPROFILE_SIGNAL": "SIGFOO"}, "MPROFILE_SIGNAL"),
    ({"MPROFILE_SIGNAL": "9"}, "MPROFILE_SIGNAL"),
    ({"MPROFILE_AT_EXIT": "perhaps"}, "MPROFILE_AT_EXIT"),
    ({"MPROFILE_SEED": "-3"}, "MPROFILE_SEED"),
    ({"MPROFILE_LOG": "verbose"}, "MPROFILE_LOG"),
    ({"MPROFILE_OUT": "/nonexistent/dir/x.snap"}, "MPROFILE_OUT"),
    ({"MPROFILE_OUT": "x.%z.snap"}, "MPROFILE_OUT"),
]


class BadConfiguration(harness.ProfiledTestCase):
    def test_each_bad_value(self):
        script = self.write("prog.py", PROGRAM)
        plain = self.run_python(script, preload=False)
        for env, variable in BAD:
            with self.subTest(env=env):
                proc = self.run_python(script, MPROFILE_OUT=env.get("MPROFILE_OUT",
                                       self.dir + "/x.snap"), **{k: v for k, v in env.items()
                                                                 if k != "MPROFILE_OUT"})
                self.assertEqual(proc.stdout, plain.stdout)
                self.assertEqual(proc.returncode, plain.returncode)
                lines = proc.stderr.decode().splitlines()
                self.assertEqual(len(lines), 1, lines)
                self.assertTrue(lines[0].startswith("mprofile: "), lines[0])
                self.assertIn(variable, lines[0])
                self.assertEqual(self.snapshots(), [])

    def test_read_only_directory(self):
        if os.geteuid() == 0:
            # root writes anywhere: use a path under a regular file instead.
            target = self.write("file", "x") + "/sub/x.snap"
        else:
            ro = os.path.join(self.dir, "ro")
            os.mkdir(ro, 0o500)
            target = ro + "/x.snap"
        script = self.write("prog.py", PROGRAM)
        proc = self.run_python(script, MPROFILE_OUT=target)
        self.assertEqual(proc.returncode, 2)
        lines = proc.stderr.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith("mprofile: MPROFILE_OUT"), lines[0])

    def test_dump_failure_is_reported_not_fatal(self):
        # The directory disappears after start-up: the exit dump fails, the program does not.
        sub = os.path.join(self.dir, "gone")
        os.mkdir(sub)
        script = self.write("prog.py", PROGRAM.replace(
            "import sys", "import sys, os\nos.rmdir(%r)" % sub))
        proc = self.run_python(script, MPROFILE_OUT=sub + "/x.snap")
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b"output", proc.stdout)
        lines = proc.stderr.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith("mprofile: cannot write the snapshot"), lines[0])


if __name__ == "__main__":
    harness.main()
