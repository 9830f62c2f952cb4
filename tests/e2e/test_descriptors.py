"""The profiler holds no thread and no descriptor of the program's.

A profiled program sees the same /proc/self/task and /proc/self/fd as without the profiler, at
start, after signal dumps and in a forked child: the profiler keeps no helper thread and no
descriptor (a snapshot's temporary file is open only while it is written). Three ways a
descriptor of the profiler's would show:

* the list itself, in the program and in a Python child started with close_fds and pass_fds
  (which inherits LD_PRELOAD);
* a program that closes every descriptor (os.closerange, as daemons do) and opens files that
  take the lowest free numbers: a profiler that still wrote to its old numbers would write into
  the program's log (a stray byte per signal), or close the log in a forked child, and signal
  dumps would stop. The log must hold exactly the program's lines, the child's write must
  succeed, and every signal must still give a snapshot.
"""
import os

import harness

STATE = """
import glob, os, signal, sys, time
plain = sys.argv[1] == "plain"
outdir = sys.argv[2]
if plain:
    # Without the profiler the dump signal would kill the program.
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
def state(tag):
    print(tag, len(os.listdir("/proc/self/task")), sorted(os.listdir("/proc/self/fd")),
          flush=True)
def dump(count):
    os.kill(os.getpid(), signal.SIGUSR2)
    if plain:
        return
    deadline = time.monotonic() + 20
    while len([f for f in glob.glob(os.path.join(outdir, "%d.*.snap" % os.getpid()))
               if ".peak." not in f]) < count:
        if time.monotonic() > deadline:
            print("no snapshot", count, flush=True)
            return
        time.sleep(0.01)
keep = [bytearray(1000) for _ in range(1000)]
state("start")
for i in range(3):
    dump(i + 1)
state("after dumps")
pid = os.fork()
if pid == 0:
    more = [bytes(100) for _ in range(1000)]
    dump(1)
    state("child")
    os._exit(0)
os.waitpid(pid, 0)
state("parent after fork")
"""

POPEN = """
import os, subprocess, sys
fd = os.open(sys.argv[0], os.O_RDONLY)
keep = [bytearray(1000) for _ in range(1000)]
child = subprocess.Popen(
    [sys.executable, "-c", "import os; print(sorted(os.listdir('/proc/self/fd')))"],
    pass_fds=(fd,), close_fds=True, stdout=subprocess.PIPE)
out = child.communicate()[0].decode()
print("passed", fd, "child", out.strip(), "status", child.returncode)
"""

CLOSED = """
import glob, os, signal, sys, time
outdir, logpath = sys.argv[1], sys.argv[2]
keep = [bytearray(1000) for _ in range(1000)]
os.closerange(3, 256)
spare = os.open("/dev/null", os.O_RDONLY)
log = os.open(logpath, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
os.write(log, b"parent start\\n")
made = 0
for i in range(3):
    os.kill(os.getpid(), signal.SIGUSR2)
    deadline = time.monotonic() + 10
    while len([f for f in glob.glob(os.path.join(outdir, "*.snap")) if ".peak." not in f]) < i + 1:
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    else:
        made += 1
        continue
    break
pid = os.fork()
if pid == 0:
    try:
        os.write(log, b"child\\n")
    except OSError:
        os._exit(3)
    os._exit(0)
_, status = os.waitpid(pid, 0)
os.write(log, b"parent end\\n")
print("snapshots", made, "child", os.waitstatus_to_exitcode(status))
"""


class Descriptors(harness.ProfiledTestCase):
    def test_threads_and_descriptors_as_without_the_profiler(self):
        script = self.write("state.py", STATE)
        plain = self.run_bounded(script, ["plain", self.dir], preload=False)
        self.assertEqual(plain.returncode, 0, harness.describe(plain))
        for rate in ("1", "4096"):
            with self.subTest(rate=rate):
                for path in self.snapshots():
                    os.unlink(path)
                proc = self.run_bounded(script, ["profiled", self.dir], MPROFILE_RATE=rate,
                                        MPROFILE_SEED=5, MPROFILE_AT_EXIT=0,
                                        MPROFILE_OUT=self.dir + "/%p.%n.snap")
                self.assertFinished(proc)
                self.assertEqual(proc.returncode, 0, harness.describe(proc))
                self.assertEqual(proc.stdout.decode().splitlines(),
                                 plain.stdout.decode().splitlines())
                self.assertEqual(proc.stderr, b"")
                # Three dumps of the parent, one of the child.
                self.assertEqual(len(self.snapshots()), 4, self.snapshots())

    def test_python_child_with_close_fds_and_pass_fds(self):
        script = self.write("popen.py", POPEN)
        plain = self.run_bounded(script, preload=False)
        self.assertIn(b"status 0", plain.stdout, harness.describe(plain))
        proc = self.run_bounded(script, MPROFILE_RATE=1, MPROFILE_OUT=self.dir + "/%p.snap")
        self.assertFinished(proc)
        self.assertEqual(proc.returncode, 0, harness.describe(proc))
        self.assertEqual(proc.stdout, plain.stdout)
        self.assertEqual(proc.stderr, b"")
        # The parent and its child each wrote their exit snapshot.
        self.assertEqual(len(self.snapshots()), 2)

    def test_program_closes_every_descriptor(self):
        script = self.write("closed.py", CLOSED)
        log = os.path.join(self.dir, "program.log")
        for rate in ("1", "4096"):
            with self.subTest(rate=rate):
                for path in self.snapshots() + [log]:
                    if os.path.exists(path):
                        os.unlink(path)
                proc = self.run_bounded(script, [self.dir, log], MPROFILE_RATE=rate,
                                        MPROFILE_SEED=5, MPROFILE_AT_EXIT=0,
                                        MPROFILE_OUT=self.dir + "/%p.%n.snap")
                self.assertFinished(proc)
                self.assertEqual(proc.returncode, 0, harness.describe(proc))
                self.assertEqual(proc.stderr, b"")
                with open(log, "rb") as f:
                    self.assertEqual(f.read(), b"parent start\nchild\nparent end\n")
                self.assertEqual(proc.stdout, b"snapshots 3 child 0\n")
                for path in self.snapshots():
                    harness.load(path)


if __name__ == "__main__":
    harness.main()
