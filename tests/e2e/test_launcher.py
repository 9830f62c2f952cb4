"""The `mprofile` launcher: `mprofile run` preloads the library, `mprofile report` reads."""
import os
import subprocess

import harness

LAUNCHER = os.environ.get("MP_LAUNCHER", "")


class Launcher(harness.ProfiledTestCase):
    def launch(self, *args):
        # Sanitizer builds: their runtimes are preloaded first, the launcher adds the library.
        first = os.environ.get("MP_PRELOAD_FIRST")
        env = harness.clean_env(**({"LD_PRELOAD": first} if first else {}))
        return subprocess.run([LAUNCHER, *args], cwd=self.dir, env=env, capture_output=True,
                              timeout=120)

    def test_run_and_report(self):
        script = self.write("prog.py", "keep = [bytearray(50000) for _ in range(200)]\n"
                                       "print('done')\n")
        out = self.dir + "/run.%p.snap"
        proc = self.launch("run", "-r", "1", "-f", "5", "-o", out, harness.PYTHON, script)
        self.assertRanCleanly(proc)
        self.assertEqual(proc.stdout, b"done\n")
        [path] = self.snapshots("run.*.snap")
        snap = harness.load(path)
        self.assertEqual((snap.sample_rate, snap.traceback_limit), (1, 5))
        report = self.launch("report", "-n", "1", path)
        self.assertEqual(report.returncode, 0, report.stderr)
        rows = [l for l in report.stdout.decode().splitlines() if not l.startswith("#")]
        self.assertTrue(rows[0].startswith(script + ":1: size="), rows)

    def test_usage_errors(self):
        for args in ([], ["run"], ["run", "-r"], ["frobnicate"], ["run", "--bogus", "x"]):
            with self.subTest(args=args):
                proc = self.launch(*args)
                self.assertEqual(proc.returncode, 2)
                self.assertIn(b"usage: mprofile", proc.stderr)


if __name__ == "__main__":
    if not LAUNCHER:
        print("SKIP: MP_LAUNCHER is not set")
        raise SystemExit(77)
    harness.main()
