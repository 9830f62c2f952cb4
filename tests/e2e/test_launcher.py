"""The `mprofile` launcher (docs/launcher.md): `mprofile run` preloads the library with options
for every MPROFILE_* variable, checks them before the program runs, and is otherwise invisible
(input, output, exit status, signals); `mprofile report` reads."""
import fcntl
import json
import os
import re
import resource
import signal
import subprocess
import termios
import time

import harness

LAUNCHER = os.environ.get("MP_LAUNCHER", "")
CONFIG_C = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib", "config.c")
NO_SNAPSHOT = b"mprofile: no snapshot was written (no Python process ran under the profiler?)\n"

# A Python program that prints its MPROFILE_* environment as JSON.
PRINT_ENV = ("import json, os; print(json.dumps({k: v for k, v in os.environ.items() "
             "if k.startswith('MPROFILE_')}))")


class Launcher(harness.ProfiledTestCase):
    def setUp(self):
        super().setUp()
        # The launcher's marker file goes to TMPDIR: a directory of the test's own, to see that
        # it is removed.
        self.tmp = os.path.join(self.dir, "tmp")
        os.mkdir(self.tmp)
        self.work = os.path.join(self.dir, "work")
        os.mkdir(self.work)

    def env(self, **extra):
        # Sanitizer builds: their runtimes are preloaded first, the launcher adds the library.
        first = os.environ.get("MP_PRELOAD_FIRST")
        env = harness.clean_env(TMPDIR=self.tmp, **extra)
        if first:
            env["LD_PRELOAD"] = first
        return env

    def launch(self, *args, input=None, preexec_fn=None, **extra):
        return subprocess.run([LAUNCHER, *args], cwd=self.work, env=self.env(**extra),
                              capture_output=True, timeout=60, input=input,
                              preexec_fn=preexec_fn)

    def popen(self, *args):
        return subprocess.Popen([LAUNCHER, *args], cwd=self.work, env=self.env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def lines(self, stderr):
        """stderr without the launcher's note on where snapshots go."""
        return b"".join(l for l in stderr.splitlines(True)
                        if not l.startswith(b"mprofile: snapshots go to "))

    def written(self):
        """The snapshots in the working directory, without the peak snapshots beside them."""
        return [p for p in self.snapshots("work/*.snap") if not p.endswith(".peak.snap")]

    def assertNothingLeft(self):
        self.assertEqual(os.listdir(self.tmp), [], "the marker file was left")

    def test_run_and_report(self):
        script = self.write("prog.py", "keep = [bytearray(50000) for _ in range(200)]\n"
                                       "print('done')\n")
        out = self.dir + "/run.%p.snap"
        proc = self.launch("run", "-r", "1", "-f", "5", "-o", out, harness.PYTHON, script)
        self.assertEqual(proc.returncode, 0, harness.describe(proc))
        self.assertEqual(proc.stdout, b"done\n")
        self.assertEqual(proc.stderr, b"mprofile: snapshots go to %s\n" % out.encode())
        [path] = [p for p in self.snapshots("run.*.snap") if not p.endswith(".peak.snap")]
        snap = harness.load(path)
        self.assertEqual((snap.sample_rate, snap.traceback_limit), (1, 5))
        report = self.launch("report", "-n", "1", path)
        self.assertEqual(report.returncode, 0, report.stderr)
        rows = [l for l in report.stdout.decode().splitlines() if not l.startswith("#")]
        self.assertTrue(rows[0].startswith(script + ":1: size="), rows)
        self.assertNothingLeft()

    def test_every_option_sets_its_variable(self):
        """Each option exports its variable; the child sees them (and the library took them:
        the program ran with the preload and wrote nothing unexpected to stderr)."""
        cases = [
            (["-r", "64k", "-o", "a.%p.%n.snap", "-f", "7", "--signal", "USR1", "--native",
              "--stacks", "python", "--native-frames", "9", "--no-peak", "--interval", "0",
              "--growth", "0", "--max-files", "3", "--max-memory", "64m",
              "--seed", "42", "--log", "warn"],
             {"MPROFILE_RATE": "64k", "MPROFILE_OUT": self.work + "/a.%p.%n.snap",
              "MPROFILE_FRAMES": "7", "MPROFILE_SIGNAL": "USR1", "MPROFILE_NATIVE": "1",
              "MPROFILE_STACKS": "python", "MPROFILE_NATIVE_FRAMES": "9", "MPROFILE_PEAK": "0",
              "MPROFILE_INTERVAL": "0", "MPROFILE_DUMP_GROWTH": "0", "MPROFILE_MAX_FILES": "3",
              "MPROFILE_MAX_MEMORY": "64m", "MPROFILE_SEED": "42",
              "MPROFILE_LOG": "warn"}),
            (["--rate=1m", "--output=b.%%.snap", "--frames=3", "--mixed",
              "--peak", "--interval=3600", "--growth=1g", "--max-files=100000",
              "--signal=RTMIN+1", "--no-exit-snapshot"],
             {"MPROFILE_RATE": "1m", "MPROFILE_OUT": self.work + "/b.%%.snap",
              "MPROFILE_FRAMES": "3", "MPROFILE_STACKS": "mixed", "MPROFILE_PEAK": "1",
              "MPROFILE_INTERVAL": "3600", "MPROFILE_DUMP_GROWTH": "1g",
              "MPROFILE_MAX_FILES": "100000", "MPROFILE_SIGNAL": "RTMIN+1",
              "MPROFILE_AT_EXIT": "0"}),
        ]
        for args, expected in cases:
            with self.subTest(args=args):
                proc = self.launch("run", *args, harness.PYTHON, "-c", PRINT_ENV)
                self.assertEqual(proc.returncode, 0, harness.describe(proc))
                self.assertEqual(self.lines(proc.stderr), b"", harness.describe(proc))
                self.assertEqual(json.loads(proc.stdout), expected)

    def test_every_variable_has_an_option(self):
        """Every variable lib/config.c reads is named in --help, beside its option."""
        with open(CONFIG_C) as f:
            names = set(re.findall(r'getenv_fn\("(MPROFILE_[A-Z_]+)"\)', f.read()))
        self.assertGreaterEqual(len(names), 15)
        proc = self.launch("--help")
        for name in sorted(names):
            self.assertIn(name.encode(), proc.stdout)

    def test_bad_values_stop_before_the_program(self):
        ran = os.path.join(self.dir, "ran")
        program = [harness.PYTHON, "-c", "open(%r, 'w')" % ran]
        cases = [
            (["-r", "128KB"], b"MPROFILE_RATE=128KB is invalid"),
            (["-f", "0"], b"MPROFILE_FRAMES=0 is invalid"),
            (["-o", "x.%q"], b"MPROFILE_OUT=x.%q is invalid"),
            (["-o", self.dir], b"names a directory"),
            (["-o", self.dir + "/missing/x.snap"], b"is not writable"),
            (["--signal", "TERM"], b"MPROFILE_SIGNAL=TERM is refused"),
            (["--stacks", "native"], b"MPROFILE_STACKS=native is invalid"),
            (["--native-frames", "129"], b"MPROFILE_NATIVE_FRAMES=129 is invalid"),
            (["--interval", "0.05"], b"MPROFILE_INTERVAL=0.05 is invalid"),
            (["--interval=1m"], b"MPROFILE_INTERVAL=1m is invalid"),
            (["--growth", "-1"], b"MPROFILE_DUMP_GROWTH=-1 is invalid"),
            (["--max-files", "0"], b"MPROFILE_MAX_FILES=0 is invalid"),
            (["--max-memory", "1m"], b"MPROFILE_MAX_MEMORY=1m is invalid"),
            (["--seed", "-3"], b"MPROFILE_SEED=-3 is invalid"),
            (["--log", "loud"], b"MPROFILE_LOG=loud is invalid"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                proc = self.launch("run", *args, *program)
                self.assertEqual(proc.returncode, 2, harness.describe(proc))
                self.assertTrue(proc.stderr.startswith(b"mprofile: "), proc.stderr)
                self.assertEqual(proc.stderr.count(b"\n"), 1, proc.stderr)
                self.assertIn(message, proc.stderr)
                self.assertEqual(proc.stdout, b"")
                self.assertFalse(os.path.exists(ran), "the program ran")
        # The environment's own settings are checked too: the library would refuse them.
        proc = self.launch("run", *program, MPROFILE_PEAK="maybe")
        self.assertEqual((proc.returncode, proc.stderr),
                         (2, b"mprofile: MPROFILE_PEAK=maybe is invalid: expected 1 or 0\n"))
        self.assertFalse(os.path.exists(ran), "the program ran")
        # Options win over the environment.
        proc = self.launch("run", "--peak", *program, MPROFILE_PEAK="maybe")
        self.assertEqual(proc.returncode, 0, harness.describe(proc))
        self.assertTrue(os.path.exists(ran))

    def test_usage_errors(self):
        for args in ([], ["run"], ["run", "-r"], ["run", "--rate"], ["frobnicate"],
                     ["run", "--bogus", "x"], ["run", "--native=1", "x"], ["run", "--", ]):
            with self.subTest(args=args):
                proc = self.launch(*args)
                self.assertEqual(proc.returncode, 2)
                self.assertIn(b"usage: mprofile", proc.stderr)
                self.assertEqual(proc.stdout, b"")

    def test_version_and_help(self):
        proc = self.launch("--version")
        self.assertEqual(proc.returncode, 0)
        self.assertRegex(proc.stdout.decode(), r"^mprofile \d+\.\d+\.\d+\n$")
        for args in (["--help"], ["-h"], ["help"], ["run", "--help"], ["run", "-r", "1", "-h"]):
            with self.subTest(args=args):
                proc = self.launch(*args)
                self.assertEqual((proc.returncode, proc.stderr), (0, b""))
                self.assertIn(b"usage: mprofile run [OPTION...]", proc.stdout)

    def test_attach_not_installed(self):
        proc = self.launch("attach", "1")
        if b"attach is not installed" not in proc.stderr:
            self.skipTest("the attach tool is built")
        self.assertEqual(proc.returncode, 1)
        self.assertRegex(proc.stderr.decode(), r"^mprofile: attach is not installed \(/.*\)\n$")

    def test_exit_status_input_and_output(self):
        script = self.write("upper.py", """\
            import sys
            sys.stdout.write(sys.stdin.read().upper())
            sys.exit(3)
            """)
        proc = self.launch("run", harness.PYTHON, script, input=b"some input\n")
        self.assertEqual(proc.returncode, 3)
        self.assertEqual(proc.stdout, b"SOME INPUT\n")
        self.assertEqual(self.lines(proc.stderr), b"")
        self.assertEqual(len(self.written()), 1)
        self.assertNothingLeft()

    def test_no_snapshot_written(self):
        for args, status in ((["true"], 0), (["sh", "-c", "echo out; exit 5"], 5)):
            with self.subTest(args=args):
                proc = self.launch("run", *args)
                self.assertEqual(proc.returncode, status)
                self.assertEqual(self.lines(proc.stderr), NO_SNAPSHOT)
                self.assertEqual(os.listdir(self.work), [])
                self.assertNothingLeft()
        # A snapshot of an earlier run is not one of this run's.
        self.assertEqual(self.launch("run", harness.PYTHON, "-c", "pass").returncode, 0)
        proc = self.launch("run", "true")
        self.assertEqual(self.lines(proc.stderr), NO_SNAPSHOT)
        # --log error: no notes at all.
        proc = self.launch("run", "--log", "error", "true")
        self.assertEqual((proc.returncode, proc.stderr), (0, b""))

    def test_death_by_signal(self):
        proc = self.launch("run", "sh", "-c", "kill -TERM $$")
        self.assertEqual(proc.returncode, -signal.SIGTERM)
        # A core-dumping signal: no core file wherever the system puts them.
        proc = self.launch("run", harness.PYTHON, "-c", "import os; os.abort()",
                           preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0)))
        self.assertEqual(proc.returncode, -signal.SIGABRT)

    def test_signals_reach_the_program(self):
        """The dump signal sent to the launcher writes a snapshot; SIGTERM sent to it ends the
        program, and the launcher dies of it too."""
        script = self.write("sleeper.py", """\
            import os, time
            print(os.getppid(), os.getpid(), flush=True)
            time.sleep(60)
            """)
        proc = self.popen("run", harness.PYTHON, script)
        try:
            # The program is the launcher's child (what the signals must be passed on to).
            self.assertEqual(proc.stdout.readline().split()[0], b"%d" % proc.pid)
            proc.send_signal(signal.SIGUSR2)
            deadline = time.monotonic() + 20
            while not self.written() and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertEqual(len(self.written()), 1)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
        finally:
            proc.kill()
            proc.wait()
        self.assertEqual(proc.returncode, -signal.SIGTERM, err)
        self.assertEqual(self.lines(err), b"")
        self.assertNothingLeft()

    def test_sigint_and_sigquit_as_the_launcher_got_them(self):
        """The program gets SIGINT and SIGQUIT with their default action, or ignored when the
        launcher was started with them ignored (nohup, a background job of a script), as it
        would without the launcher (sh starts background commands with both ignored)."""
        program = ("import signal; print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN, "
                   "signal.getsignal(signal.SIGQUIT) is signal.SIG_IGN)")
        for action, expected in ((signal.SIG_DFL, b"False False\n"),
                                 (signal.SIG_IGN, b"True True\n")):
            with self.subTest(action=action):
                def dispositions():
                    signal.signal(signal.SIGINT, action)
                    signal.signal(signal.SIGQUIT, action)

                proc = self.launch("run", harness.PYTHON, "-c", program, preexec_fn=dispositions)
                self.assertEqual((proc.returncode, proc.stdout), (0, expected), proc.stderr)

    def test_ctrl_c_reaches_the_program_once(self):
        """Ctrl-C at a terminal: the program (in the terminal's foreground group with the
        launcher) gets one SIGINT, not a second one from the launcher; Python's default
        KeyboardInterrupt then kills the program, and the launcher, with SIGINT."""
        script = self.write("interrupted.py", """\
            import signal, sys, time
            count = 0
            def handler(signum, frame):
                global count
                count += 1
            if sys.argv[1] == "count":
                signal.signal(signal.SIGINT, handler)
            open("ready", "w").close()
            deadline = time.monotonic() + 20
            while count == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.3)  # time for a second one to arrive
            sys.exit(10 + count)
            """)
        for mode, status in (("count", 11), ("default", -signal.SIGINT)):
            with self.subTest(mode=mode):
                master, slave = os.openpty()

                def controlling_terminal():
                    os.setsid()
                    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
                    # As an interactive shell starts a command (ctest may run with SIGINT
                    # ignored, which the program would inherit, as it should).
                    signal.signal(signal.SIGINT, signal.SIG_DFL)

                proc = subprocess.Popen(
                    [LAUNCHER, "run", harness.PYTHON, script, mode],
                    cwd=self.work, env=self.env(), stdin=slave, stdout=slave, stderr=slave,
                    preexec_fn=controlling_terminal)
                os.close(slave)
                try:
                    deadline = time.monotonic() + 20
                    ready = os.path.join(self.work, "ready")
                    while not os.path.exists(ready) and time.monotonic() < deadline:
                        time.sleep(0.01)
                    os.remove(ready)
                    os.write(master, b"\x03")
                    self.assertEqual(proc.wait(timeout=20), status)
                finally:
                    proc.kill()
                    proc.wait()
                    os.close(master)


if __name__ == "__main__":
    if not LAUNCHER:
        print("SKIP: MP_LAUNCHER is not set")
        raise SystemExit(77)
    harness.main()
