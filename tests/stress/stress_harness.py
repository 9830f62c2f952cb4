"""Shared by the stress tests: run one program with and without the profiler and compare.

Each scenario program prints, as its last line, sorted(os.listdir('/proc/self/fd')). A stress
test asserts that the profiled run finishes (a hang is killed, with its whole process group, and
fails the test), and that its exit status, stdout (so the descriptor list too) and stderr equal
those of the run without the profiler, apart from the `mprofile:` lines the scenario names: each
of those patterns must match exactly one line, and no other `mprofile:` line may appear.

Environment (set by CTest): MP_LIB is libmprofile.so, MP_PYTHON the interpreter under test.
Exit status 77 means skipped (a missing interpreter, no permission to mount a tmpfs).
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402  (the end-to-end tests' helpers)
from harness import clean_env, run_bounded  # noqa: E402

LIB = os.environ.get("MP_LIB", "")
PYTHON = os.environ.get("MP_PYTHON", sys.executable)


# Pieces of scenario programs (source text), shared by the scenarios that run threads for a
# while: the start, which reads the arguments "profiled|plain OUTDIR SECONDS"; churn(n), a
# thread body that allocates and frees small objects; signaller(), which sends the dump signal
# every millisecond and removes the dumps as they come; and the end, which runs the list
# `threads` for SECONDS and prints the problems found and the open descriptors.
PROGRAM_START = """
import glob, os, signal, sys, threading, time
profiled, outdir, seconds = sys.argv[1] == "profiled", sys.argv[2], float(sys.argv[3])
if not profiled:
    # Without the profiler the dump signal would kill the program.
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
stop = threading.Event()
problems = []

def churn(n):
    held = []
    i = 0
    while not stop.is_set():
        held.append(bytes(16 + (i * 7 + n) % 400))
        if len(held) > 200:
            del held[:100]
        i += 1

def signaller():
    me = os.getpid()
    n = 0
    while not stop.is_set():
        os.kill(me, signal.SIGUSR2)
        time.sleep(0.001)
        n += 1
        if n % 100 == 0:
            for path in glob.glob(os.path.join(outdir, "*.snap")):
                os.unlink(path)
"""
PROGRAM_END = """
for t in threads:
    t.start()
time.sleep(seconds)
stop.set()
for t in threads:
    t.join()
print("problems", problems)
print(sorted(os.listdir("/proc/self/fd")))
"""


def run(cmd, timeout, env, cwd, input=None):
    """CompletedProcess plus timed_out; on timeout the process group is killed."""
    return run_bounded(cmd, timeout=timeout, input=input, env=env, cwd=cwd)


def describe(proc):
    return "exit %s%s\nstdout (end):\n%s\nstderr (end):\n%s" % (
        proc.returncode, " (timed out, killed)" if proc.timed_out else "",
        proc.stdout.decode(errors="replace")[-3000:],
        proc.stderr.decode(errors="replace")[-3000:])


class StressTestCase(harness.ProfiledTestCase):
    """A working directory per test, as in the end-to-end tests."""

    def run_program(self, script, args=(), preload=True, timeout=50, python_args=(),
                    input=None, **env):
        environ = clean_env(**env)
        if preload:
            environ["LD_PRELOAD"] = LIB
            environ.setdefault("MPROFILE_OUT", os.path.join(self.dir, "%p.%n.snap"))
        return run([PYTHON, *python_args, script, *args], timeout, environ, self.dir, input)

    def assertSameAsPlain(self, plain, proc, expected=()):
        """proc (profiled) behaves as plain, apart from one stderr line per pattern of
        expected."""
        self.assertFalse(plain.timed_out, "the run without the profiler hung\n" +
                         describe(plain))
        self.assertFalse(proc.timed_out, "the profiled run hung\n" + describe(proc))
        self.assertEqual(proc.returncode, plain.returncode, describe(proc))
        self.assertEqual(proc.stdout.decode(errors="replace").splitlines(),
                         plain.stdout.decode(errors="replace").splitlines())
        lines = proc.stderr.decode(errors="replace").splitlines()
        for pattern in expected:
            matching = [line for line in lines if re.search(pattern, line)]
            self.assertEqual(len(matching), 1, "%r: %s" % (pattern, lines))
            lines.remove(matching[0])
        self.assertEqual(lines, plain.stderr.decode(errors="replace").splitlines())


def main():
    harness.main()


def tmpfs_or_skip(size="256k"):
    """Exits 77 (CTest's skip) with a message when this process cannot mount a tmpfs."""
    probe = tempfile.mkdtemp(prefix="mprofile-stress-mount-")
    try:
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", probe],
                              capture_output=True, timeout=30)
        if proc.returncode != 0:
            print("SKIP: cannot mount a tmpfs (needs root): %s"
                  % proc.stderr.decode(errors="replace").strip())
            sys.exit(77)
        subprocess.run(["umount", probe], check=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        print("SKIP: cannot mount a tmpfs: %s" % exc)
        sys.exit(77)
    finally:
        os.rmdir(probe)
