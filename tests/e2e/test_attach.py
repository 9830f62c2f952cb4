"""`mprofile attach PID` / `mprofile detach PID` (docs/attach.md): a Python process started
without the preload is profiled from a point on (gdb on 3.11 to 3.13, sys.remote_exec on 3.14+),
and is otherwise unchanged: its output, exit status and threads. The errors are one
"mprofile:" line and a non-zero status, and leave the target as it was."""
import os
import subprocess
import sys
import time

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_TOOL = os.path.join(HERE, "..", "..", "tools", "attach", "attach.py")
GDB = "/usr/bin/gdb"


def tool_command():
    """The generated tool of the build tree when there is one, else the source (the sid chroot
    sees only the source tree and the library)."""
    launcher = os.environ.get("MP_LAUNCHER", "")
    built = os.path.join(os.path.dirname(os.path.dirname(launcher)), "attach", "attach")
    if launcher and os.access(built, os.X_OK):
        return [built]
    return [sys.executable, SOURCE_TOOL]


def python_version():
    out = subprocess.run([harness.PYTHON, "-c", "import sys; print(*sys.version_info[:2])"],
                         capture_output=True, text=True, check=True, env=harness.clean_env())
    return tuple(int(x) for x in out.stdout.split())


VERSION = python_version()
REMOTE_EXEC = VERSION >= (3, 14)

# The target: blocks allocated before the attach (freed after it), a go file it polls for
# (its main thread keeps running Python code, so it reaches safe points), then a known number of
# bytearrays from a known line, then another go file and its exit status.
TARGET = """\
import os, sys, time, threading
go = sys.argv[1]
def wait(name):
    while not os.path.exists(go + name):
        time.sleep(0.002)
old = [bytearray(100) for _ in range(1000)]
print("ready", threading.active_count(), flush=True)
wait(".1")
del old
keep = [bytearray(4321) for _ in range(50)]  # line 10
print("allocated", flush=True)
wait(".2")
print("done", threading.active_count(), flush=True)
sys.exit(3)
"""
KNOWN_LINE = 10


class Attach(harness.ProfiledTestCase):
    def setUp(self):
        super().setUp()
        if not REMOTE_EXEC and not os.access(GDB, os.X_OK):
            self.skipTest("attaching to Python %d.%d needs %s" % (VERSION + (GDB,)))
        self.target_py = self.write("target.py", TARGET)
        self.go = os.path.join(self.dir, "go")
        self.procs = []
        self.addCleanup(self.kill_all)

    def kill_all(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()

    def start(self, args, stdin=subprocess.DEVNULL, **env):
        """A Python process with no preload of the library (only sanitizer runtimes, if any)."""
        environ = harness.clean_env(**env)
        first = os.environ.get("MP_PRELOAD_FIRST")
        if first:
            environ["LD_PRELOAD"] = first
        proc = subprocess.Popen([harness.PYTHON, *args], cwd=self.dir, env=environ,
                                stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        self.procs.append(proc)
        return proc

    def tool(self, *args):
        env = harness.clean_env(MPROFILE_LIBRARY=harness.LIB)
        return subprocess.run(tool_command() + list(args), cwd=self.dir, env=env,
                              capture_output=True, text=True, timeout=120)

    def assertFailsWith(self, result, text):
        self.assertEqual(result.returncode, 1, result.stderr)
        lines = result.stderr.splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertTrue(lines[0].startswith("mprofile: "), result.stderr)
        self.assertIn(text, lines[0])

    def mapped(self, pid):
        with open("/proc/%d/maps" % pid) as f:
            return "libmprofile" in f.read()

    def threads(self, pid):
        with open("/proc/%d/status" % pid) as f:
            return [l for l in f if l.startswith("Threads:")][0].split()[1]

    def test_exact_after_attach(self):
        target = self.start([self.target_py, self.go])
        self.assertEqual(target.stdout.readline(), b"ready 1\n")
        threads = self.threads(target.pid)
        out = os.path.join(self.dir, "attach.%p.%n.snap")
        started = time.monotonic()
        result = self.tool("attach", str(target.pid), "-r", "1", "-o", out)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("attached to process %d" % target.pid, result.stderr)
        self.assertLess(time.monotonic() - started, 30)
        self.assertEqual(self.threads(target.pid), threads)
        open(self.go + ".1", "w").close()
        self.assertEqual(target.stdout.readline(), b"allocated\n")
        result = self.tool("detach", str(target.pid))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("detached from process %d" % target.pid, result.stderr)
        # The target runs on after the detach, its hooks a pass-through.
        self.assertEqual(self.threads(target.pid), threads)
        open(self.go + ".2", "w").close()
        stdout, stderr = target.communicate(timeout=60)
        self.assertEqual(stdout, b"done 1\n")
        self.assertEqual(stderr, b"")
        self.assertEqual(target.returncode, 3)

        snaps = self.snapshots("attach.*.snap")
        self.assertEqual(len(snaps), 1, snaps)  # no exit snapshot once detached
        snapshot = harness.load(snaps[0])
        known = [t for t in snapshot.traces
                 if t.traceback[0].filename == self.target_py and t.traceback[0].lineno == KNOWN_LINE]
        # Exact mode: every buffer of the 50 bytearrays (4321 bytes, the terminating zero, and on
        # 3.15 the header of the bytes object that holds them).
        self.assertEqual(sum(1 for t in known if 4321 < t.size < 4600), 50)
        # Nothing from before the attach (the old blocks were freed through the new hooks).
        self.assertEqual([t for t in snapshot.traces if t.traceback[0].filename == self.target_py
                          and t.traceback[0].lineno == 6], [])

    def test_duration_and_reattach(self):
        target = self.start([self.target_py, self.go])
        target.stdout.readline()
        out = os.path.join(self.dir, "d.%p.%n.snap")
        result = self.tool("attach", str(target.pid), "-r", "1", "-o", out, "--duration", "0.3")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("snapshot: " + out.replace("%p", str(target.pid)).replace("%n", "1"),
                      result.stderr)
        # Attached again; the target's exit writes the exit snapshot.
        result = self.tool("attach", str(target.pid), "-r", "1", "-o", out)
        self.assertEqual(result.returncode, 0, result.stderr)
        result = self.tool("attach", str(target.pid), "-r", "1", "-o", out)
        self.assertFailsWith(result, "already attached")
        open(self.go + ".1", "w").close()
        open(self.go + ".2", "w").close()
        stdout, stderr = target.communicate(timeout=60)
        self.assertEqual((stdout, stderr, target.returncode),
                         (b"allocated\ndone 1\n", b"", 3))
        snaps = self.snapshots("d.*.snap")
        self.assertEqual(len(snaps), 2, snaps)
        at_exit = harness.load(snaps[1])
        self.assertEqual(sum(1 for t in at_exit.traces if t.traceback[0].lineno == KNOWN_LINE
                             and 4321 < t.size < 4600), 50)

    def test_blocked_target_times_out(self):
        # The main thread sleeps in a system call and no other thread runs Python code: no
        # safe point comes; the target must be left as it was.
        # It blocks reading its input until the test writes a line, after the tool gave up.
        target = self.start(["-c", "import sys; print('ready', flush=True); "
                                   "sys.stdin.readline(); print('woke')"], stdin=subprocess.PIPE)
        self.assertEqual(target.stdout.readline(), b"ready\n")
        time.sleep(0.2)  # from print() into the read(2)
        result = self.tool("attach", str(target.pid), "--timeout", "1")
        self.assertFailsWith(result, "safe point within 1 s")
        self.assertIsNone(target.poll())
        if not REMOTE_EXEC:
            self.assertFalse(self.mapped(target.pid))
        stdout, stderr = target.communicate(b"go\n", timeout=60)
        self.assertEqual((stdout, stderr, target.returncode), (b"woke\n", b"", 0))

    def test_not_python(self):
        sleeper = subprocess.Popen(["sleep", "100"])
        self.addCleanup(sleeper.wait)
        self.addCleanup(sleeper.kill)
        self.assertFailsWith(self.tool("attach", str(sleeper.pid)), "is not a Python process")

    def test_no_such_process(self):
        self.assertFailsWith(self.tool("attach", "999999999"), "no such process")
        self.assertFailsWith(self.tool("detach", "999999999"), "no such process")

    def test_detach_not_attached(self):
        target = self.start([self.target_py, self.go])
        target.stdout.readline()
        self.assertFailsWith(self.tool("detach", str(target.pid)), "not attached")

    def test_bad_setting(self):
        target = self.start([self.target_py, self.go])
        target.stdout.readline()
        self.assertFailsWith(self.tool("attach", str(target.pid), "-r", "lots"),
                             "MPROFILE_RATE=lots is invalid")
        self.assertFailsWith(self.tool("attach", str(target.pid), "-o", "/nonexistent/x.snap"),
                             "/nonexistent")

    def test_remote_debug_disabled(self):
        if not REMOTE_EXEC:
            self.skipTest("sys.remote_exec is 3.14+")
        for env, args in (({"PYTHON_DISABLE_REMOTE_DEBUG": "1"}, []),
                          ({}, ["-X", "disable-remote-debug"])):
            target = self.start(args + [self.target_py, self.go], **env)
            target.stdout.readline()
            self.assertFailsWith(self.tool("attach", str(target.pid)),
                                 "remote debugging is disabled")


if __name__ == "__main__":
    harness.main()
