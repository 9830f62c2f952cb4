"""Shared helpers for the end-to-end tests: run a real Python program under the preloaded
library and read what it wrote.

Environment (set by CTest): MP_LIB is libmprofile.so, MP_PYTHON the interpreter under test.
The tests themselves run under any Python 3.11+ with tracemalloc.
"""
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import tracemalloc
import unittest

LIB = os.environ.get("MP_LIB", "")
# Sanitizer builds: the sanitizer runtimes must come first in LD_PRELOAD (docs/design.md).
PRELOAD = " ".join(filter(None, [os.environ.get("MP_PRELOAD_FIRST", ""), LIB]))
PYTHON = os.environ.get("MP_PYTHON", sys.executable)
RATE = 131072
# The mprofile Python package (lib/python), for programs that call the API.
PACKAGE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib", "python")
# Interpreters a test may start as subprocesses (":"-separated, set by CTest).
OTHER_PYTHONS = [p for p in os.environ.get("MP_OTHER_PYTHONS", "").split(":") if p]


def clean_env(**extra):
    """The environment without any MPROFILE_* or PYTHON* setting, plus extra."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MPROFILE", "PYTHON", "LD_PRELOAD"))}
    env.update({k: str(v) for k, v in extra.items()})
    return env


class ProfiledTestCase(unittest.TestCase):
    """Each test gets its own working directory, removed afterwards."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mprofile-e2e-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))
        return path

    def run_python(self, script, args=(), preload=True, python=None, timeout=120, input=None,
                   python_args=(), **env):
        """Runs script and returns the CompletedProcess (stdout/stderr as bytes)."""
        environ = clean_env(**env)
        if preload:
            environ["LD_PRELOAD"] = PRELOAD
            environ.setdefault("MPROFILE_OUT", os.path.join(self.dir, "mprofile.%p.%n.snap"))
        cmd = [python or PYTHON, *python_args, script, *args]
        return subprocess.run(cmd, cwd=self.dir, env=environ, capture_output=True,
                              timeout=timeout, input=input)

    def run_bounded(self, script, args=(), preload=True, python=None, timeout=60, input=None,
                    python_args=(), cwd=None, **env):
        """As run_python, in a session of its own, with hangs turned into a result (timed_out)
        instead of an exception: see the function run_bounded."""
        environ = clean_env(**env)
        if preload:
            environ["LD_PRELOAD"] = PRELOAD
            environ.setdefault("MPROFILE_OUT", os.path.join(self.dir, "mprofile.%p.%n.snap"))
        cmd = [python or PYTHON, *python_args, script, *args]
        return run_bounded(cmd, timeout=timeout, input=input, cwd=cwd or self.dir, env=environ)

    def assertFinished(self, proc):
        self.assertFalse(proc.timed_out, "the program hung\n" + describe(proc))

    def snapshots(self, pattern="*.snap", peaks=False):
        """The files matching pattern in the test's directory; without peaks, not the peak
        companions (NAME.peak.snap) written beside every snapshot."""
        found = sorted(glob.glob(os.path.join(self.dir, pattern)))
        return found if peaks else [p for p in found if not is_peak_companion(p)]

    def assertRanCleanly(self, proc):
        self.assertEqual(proc.returncode, 0,
                         "exit %d\nstdout:\n%s\nstderr:\n%s" % (
                             proc.returncode, proc.stdout.decode(errors="replace"),
                             proc.stderr.decode(errors="replace")))
        self.assertEqual(proc.stderr, b"", proc.stderr.decode(errors="replace"))


def is_peak_companion(path):
    name = os.path.basename(path)
    return ".peak." in name or name.endswith(".peak")


def run_bounded(cmd, timeout=60, input=None, **kwargs):
    """Runs cmd in a session of its own and returns the CompletedProcess with an extra attribute
    timed_out. On timeout the whole process group is killed with SIGKILL (a process whose only
    thread blocks every signal ignores SIGTERM; a hung forked child may hold the pipes open), so
    a hang becomes a result instead of a hung test."""
    proc = subprocess.Popen(cmd, start_new_session=True, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)
    timed_out = False
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
    result = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    result.timed_out = timed_out
    return result


def describe(proc):
    """The status and output of a CompletedProcess, for failure messages."""
    return "exit %s%s\nstdout:\n%s\nstderr:\n%s" % (
        proc.returncode, " (timed out, killed)" if getattr(proc, "timed_out", False) else "",
        proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))


def build_extension(directory, source="native_ext.c", cflags=()):
    """Compiles a test extension (tests/e2e/SOURCE) for the interpreter under test into
    directory, from that interpreter's own headers, and returns directory."""
    query = ("import sysconfig; print(sysconfig.get_paths()['include']); "
             "print(sysconfig.get_config_var('EXT_SUFFIX'))")
    include, suffix = subprocess.run([PYTHON, "-c", query], capture_output=True, text=True,
                                     check=True, env=clean_env()).stdout.split()
    name = os.path.splitext(source)[0]
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("no C compiler to build %s (the suite installs one)" % source)
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run([cc, "-shared", "-fPIC", "-O1", *cflags, "-I", include, "-o",
                    os.path.join(directory, name + suffix), os.path.join(here, source),
                    "-lpthread", "-ldl"], check=True, env=clean_env())
    return directory


def load(path):
    return tracemalloc.Snapshot.load(path)


NATIVE_DOMAIN = 0x4D504E41  # MPROFILE_NATIVE_DOMAIN


def in_domain(snapshot, domain):
    return snapshot.filter_traces([tracemalloc.DomainFilter(True, domain)])


def by_line(snapshot, filename):
    """{lineno: (size, count)} of the traces whose newest frame is in filename."""
    result = {}
    filtered = snapshot.filter_traces([tracemalloc.Filter(True, filename)])
    for stat in filtered.statistics("lineno"):
        frame = stat.traceback[0]
        result[frame.lineno] = (stat.size, stat.count)
    return result


def main():
    if not LIB or not os.path.exists(LIB):
        print("MP_LIB does not name the library", file=sys.stderr)
        sys.exit(1)
    if not os.path.exists(PYTHON):
        print("SKIP: interpreter %s is not installed" % PYTHON)
        sys.exit(77)
    unittest.main(verbosity=2)
