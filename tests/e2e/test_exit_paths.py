"""Every way out of a process: the process ends, and writes at most one exit snapshot, its own.

* _exit installed as a C signal handler (SIGALRM every millisecond, through ctypes) while
  threads allocate and free in exact mode: the signal can land while the interrupted thread
  holds the profiler's lock, and the process must still end with status 14 (the signal's number,
  passed to _exit), never wait for a lock, and leave no temporary file. Racy: 12 runs, each
  under a timeout (a library that waited there hung about 9 runs in 10).
* A forked child whose exec fails (subprocess with preexec_fn forks, and the child leaves
  through _exit): that child ran no Python code of its own, so it writes no snapshot; every file
  carries the parent's pid.
* One exit snapshot per process however it ends: normal exit, sys.exit called in a thread,
  os._exit, an embedding application (MPROFILE_SIGNAL=none, so that only exit snapshots count).
* A program that os.execv()s itself keeps its pid: the second image's dumps must not replace
  the first image's file (with %n the numbering skips the names that exist).
"""
import glob
import os
import signal

import harness

EMBED = os.environ.get("MP_EMBED", "")
EMBED_EXIT = os.environ.get("MP_EMBED_EXIT", "")

EXIT_HANDLER = """
import ctypes, signal, threading
libc = ctypes.CDLL(None)
libc.signal.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.signal.restype = ctypes.c_void_p
libc.signal(signal.SIGALRM, ctypes.cast(libc._exit, ctypes.c_void_p))
def churn():
    keep = [None] * 64
    i = 0
    while True:
        keep[i & 63] = bytes(64)
        i += 1
def worker():
    # The signal goes to the main thread, as in programs whose workers block signals.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    churn()
for _ in range(2):
    threading.Thread(target=worker, daemon=True).start()
signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
churn()
"""

EXEC_FAILS = """
import os, subprocess
keep = [bytearray(1000) for _ in range(100)]
try:
    subprocess.Popen(["/nonexistent"], preexec_fn=lambda: None)
except FileNotFoundError:
    print("not found", os.getpid())
"""

ENDINGS = {
    "normal": """
        keep = [bytearray(1000) for _ in range(100)]
        print("end")
    """,
    "thread_sys_exit": """
        import sys, threading
        keep = [bytearray(1000) for _ in range(100)]
        def leave():
            more = [bytes(100) for _ in range(100)]
            sys.exit(3)
        t = threading.Thread(target=leave)
        t.start()
        t.join()
        print("end")
    """,
    "os_exit": """
        import os
        keep = [bytearray(1000) for _ in range(100)]
        print("end", flush=True)
        os._exit(4)
    """,
}

EXECS_ITSELF = """
import glob, os, signal, sys, time
second = len(sys.argv) > 1
keep = bytearray(555555 if second else 777777)
os.kill(os.getpid(), signal.SIGUSR2)
deadline = time.monotonic() + 10
while len([f for f in glob.glob("%d.*.snap" % os.getpid()) if ".peak." not in f]) < (2 if second else 1):
    if time.monotonic() > deadline:
        print("no snapshot", flush=True)
        break
    time.sleep(0.01)
if not second:
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, sys.argv[0], "again"])
print("done", os.getpid())
"""


def block_sizes(path):
    return {t.size for t in harness.load(path).traces}


class ExitPaths(harness.ProfiledTestCase):
    def test_exit_from_a_signal_handler(self):
        script = self.write("handler_exit.py", EXIT_HANDLER)
        plain = self.run_bounded(script, preload=False, timeout=20)
        self.assertEqual(plain.returncode, 14, harness.describe(plain))
        for run in range(12):
            proc = self.run_bounded(script, timeout=20, MPROFILE_RATE=1, MPROFILE_AT_EXIT=1,
                                    MPROFILE_OUT=self.dir + "/%p.%n.snap")
            self.assertFalse(proc.timed_out, "run %d hung\n%s" % (run, harness.describe(proc)))
            self.assertEqual(proc.returncode, 14, "run %d\n%s" % (run, harness.describe(proc)))
            self.assertEqual(proc.stderr, b"")
            self.assertEqual(glob.glob(self.dir + "/*.tmp"), [])

    def test_child_whose_exec_fails_writes_nothing(self):
        script = self.write("exec_fails.py", EXEC_FAILS)
        for rate in ("1", "4096"):
            with self.subTest(rate=rate):
                for path in self.snapshots():
                    os.unlink(path)
                proc = self.run_bounded(script, MPROFILE_RATE=rate, MPROFILE_SEED=2,
                                        MPROFILE_OUT=self.dir + "/%p.%n.snap")
                self.assertFinished(proc)
                self.assertEqual(proc.returncode, 0, harness.describe(proc))
                self.assertEqual(proc.stderr, b"")
                self.assertTrue(proc.stdout.startswith(b"not found "), proc.stdout)
                pid = int(proc.stdout.split()[-1])
                files = self.snapshots()
                self.assertEqual([os.path.basename(p) for p in files], ["%d.1.snap" % pid])
                for path in files:
                    self.assertEqual(harness.load(path).pid, pid)

    def test_one_exit_snapshot_per_process(self):
        for name, text in ENDINGS.items():
            with self.subTest(ending=name):
                script = self.write(name + ".py", text)
                plain = self.run_bounded(script, preload=False)
                out = os.path.join(self.dir, name)
                os.mkdir(out)
                proc = self.run_bounded(script, MPROFILE_RATE=1, MPROFILE_SIGNAL="none",
                                        MPROFILE_OUT=out + "/%p.%n.snap")
                self.assertFinished(proc)
                self.assertEqual((proc.returncode, proc.stdout, proc.stderr),
                                 (plain.returncode, plain.stdout, plain.stderr))
                files = [f for f in glob.glob(out + "/*") if not harness.is_peak_companion(f)]
                self.assertEqual(len(files), 1, files)
                harness.load(files[0])
        for program in (EMBED, EMBED_EXIT):
            if not program or not os.path.exists(program):
                continue
            with self.subTest(embedding=os.path.basename(program)):
                out = os.path.join(self.dir, os.path.basename(program))
                os.mkdir(out)
                proc = harness.run_bounded([program], timeout=30, cwd=self.dir,
                                           env=harness.clean_env(
                                               LD_PRELOAD=harness.PRELOAD, MPROFILE_RATE=1,
                                               MPROFILE_SIGNAL="none",
                                               MPROFILE_OUT=out + "/%p.%n.snap"))
                self.assertFinished(proc)
                self.assertEqual(proc.returncode, 0, harness.describe(proc))
                files = [f for f in glob.glob(out + "/*") if not harness.is_peak_companion(f)]
                self.assertEqual(len(files), 1, files)

    def test_exec_keeps_the_first_image_file(self):
        script = self.write("execs.py", EXECS_ITSELF)
        proc = self.run_bounded(script, MPROFILE_RATE=1, MPROFILE_OUT="%p.%n.snap")
        self.assertFinished(proc)
        self.assertEqual(proc.returncode, 0, harness.describe(proc))
        self.assertEqual(proc.stderr, b"")
        pid = int(proc.stdout.split()[-1])
        self.assertEqual(proc.stdout, b"done %d\n" % pid)
        names = sorted(os.path.basename(p) for p in self.snapshots())
        # The first image's signal dump, the second's signal dump and exit snapshot.
        self.assertEqual(names, ["%d.%d.snap" % (pid, n) for n in (1, 2, 3)])

        def holds(path, size):
            return any(size <= s <= size + 64 for s in block_sizes(path))
        first = [p for p in self.snapshots() if holds(p, 777777)]
        second = [p for p in self.snapshots() if holds(p, 555555)]
        self.assertEqual([os.path.basename(p) for p in first], ["%d.1.snap" % pid])
        self.assertEqual(len(second), 2)
        for path in self.snapshots():
            self.assertEqual(harness.load(path).pid, pid)


if __name__ == "__main__":
    harness.main()
