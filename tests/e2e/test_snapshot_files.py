"""Snapshot files: private, complete, and where they were asked for.

* The temporary file is not predictable: a symlink planted at the name a naive writer would use
  (`PATH.<pid>.tmp`, opened with O_CREAT|O_TRUNC) must not be followed. The victim it points at
  stays untouched and the snapshot is a regular file that loads, for an API dump and for the
  exit snapshot.
* Snapshot files have mode 0600 (they describe the program's memory), and no temporary file is
  left behind.
* Two threads dumping to the same path at once, many times, while a third one reads it: every
  file that shows up at the path loads (with a shared temporary name, the second writer would
  still be writing into the file the first one renamed into place).
* A relative MPROFILE_OUT is resolved at start: a program that chdir("/")s still writes into
  the directory it was started in.
* MPROFILE_OUT naming an existing directory, or a file in a directory that does not exist: one
  `mprofile: MPROFILE_OUT=` line, nothing written, and the program runs as without the
  profiler.
"""
import os
import stat

import harness

API_DUMP = """
import os, sys
import mprofile
out = sys.argv[1]
os.symlink(sys.argv[2], "%s.%d.tmp" % (out, os.getpid()))
keep = [bytearray(1000) for _ in range(100)]
mprofile.dump(out)
print("dumped")
"""

EXIT_DUMP = """
import os, sys
out = sys.argv[1]
os.symlink(sys.argv[2], "%s.%d.tmp" % (out, os.getpid()))
keep = [bytearray(1000) for _ in range(100)]
print("exiting")
"""

EVERY_KIND = """
import os, signal, sys, time
import mprofile
keep = [bytearray(1000) for _ in range(100)]
os.kill(os.getpid(), signal.SIGUSR2)
mprofile.dump(os.path.join(sys.argv[1], "api.snap"))
print("done")
"""

CONCURRENT = """
import ctypes, os, pickle, sys, threading
dump = ctypes.CDLL(None).mprofile_dump
dump.argtypes = [ctypes.c_char_p]
dump.restype = ctypes.c_int
path = sys.argv[1].encode()
keep = [bytearray(100) for _ in range(5000)]
def dumper():
    # 50 dumps, each with its peak companion (written the same way, beside the path).
    for _ in range(50):
        dump(path)
dumpers = [threading.Thread(target=dumper) for _ in range(2)]
for t in dumpers:
    t.start()
bad = []
reads = 0
def complete(data):
    # Loaded and dropped at once, so that the next dumps do not include it.
    return len(pickle.loads(data).traces) >= 5000
# Every file that shows up at the path, while the two threads keep replacing it, is whole: it
# ends with pickle's STOP opcode, and one read in 20 is loaded in full.
while any(t.is_alive() for t in dumpers) or reads == 0:
    try:
        with open(sys.argv[1], "rb") as f:
            data = f.read()
    except FileNotFoundError:
        continue
    try:
        if not data.endswith(b".") or (reads % 20 == 0 and not complete(data)):
            bad.append("%d bytes" % len(data))
    except Exception as exc:
        bad.append(repr(exc))
    reads += 1
for t in dumpers:
    t.join()
print("bad", bad[:3])
"""

CHDIR = """
import os, signal
keep = [bytearray(1000) for _ in range(100)]
os.chdir("/")
os.kill(os.getpid(), signal.SIGUSR2)
print("in", os.getcwd())
"""

PLAIN = """
import sys
print("output", sum(len(bytes(i)) for i in range(1000)))
sys.exit(2)
"""


def leftovers(directory):
    return [name for name in os.listdir(directory) if name.endswith(".tmp")]


class SnapshotFiles(harness.ProfiledTestCase):
    def check_symlink_not_followed(self, program, name):
        script = self.write(name + ".py", program)
        out = os.path.join(self.dir, name + ".snap")
        victim = self.write(name + ".victim", "precious\n")
        proc = self.run_bounded(script, [out, victim], MPROFILE_RATE=1, MPROFILE_OUT=out,
                                PYTHONPATH=harness.PACKAGE_DIR)
        self.assertFinished(proc)
        self.assertEqual(proc.returncode, 0, harness.describe(proc))
        with open(victim, "rb") as f:
            self.assertEqual(f.read(), b"precious\n")
        mode = os.lstat(out).st_mode
        self.assertTrue(stat.S_ISREG(mode), "not a regular file: %o" % mode)
        self.assertEqual(stat.S_IMODE(mode), 0o600)
        self.assertGreaterEqual(len(harness.load(out).traces), 100)

    def test_planted_symlink_api_dump(self):
        self.check_symlink_not_followed(API_DUMP, "api")

    def test_planted_symlink_exit_snapshot(self):
        self.check_symlink_not_followed(EXIT_DUMP, "exit")

    def test_mode_and_no_temporary_files(self):
        script = self.write("kinds.py", EVERY_KIND)
        out = os.path.join(self.dir, "out")
        os.mkdir(out)
        proc = self.run_bounded(script, [out], MPROFILE_RATE=1, PYTHONPATH=harness.PACKAGE_DIR,
                                MPROFILE_OUT=out + "/%p.%n.snap")
        self.assertFinished(proc)
        self.assertEqual((proc.returncode, proc.stdout, proc.stderr), (0, b"done\n", b""),
                         harness.describe(proc))
        names = sorted(os.listdir(out))
        # The signal dump, the exit snapshot and the API dump, each with its peak companion;
        # nothing else.
        self.assertEqual(len([n for n in names if not harness.is_peak_companion(n)]), 3, names)
        self.assertEqual(len(names), 6, names)
        self.assertEqual(leftovers(out), [])
        for name in names:
            path = os.path.join(out, name)
            self.assertEqual(stat.S_IMODE(os.lstat(path).st_mode), 0o600, name)
            harness.load(path)

    def test_two_threads_dump_to_one_path(self):
        script = self.write("concurrent.py", CONCURRENT)
        out = os.path.join(self.dir, "same.snap")
        proc = self.run_bounded(script, [out], MPROFILE_RATE=1, MPROFILE_AT_EXIT=0)
        self.assertFinished(proc)
        self.assertEqual(proc.returncode, 0, harness.describe(proc))
        self.assertEqual(proc.stdout, b"bad []\n", harness.describe(proc))
        harness.load(out)
        self.assertEqual(leftovers(self.dir), [])

    def test_relative_path_after_chdir(self):
        script = self.write("chdir.py", CHDIR)
        os.mkdir(os.path.join(self.dir, "snaps"))
        proc = self.run_bounded(script, MPROFILE_RATE=1, MPROFILE_OUT="snaps/x.%n.snap")
        self.assertFinished(proc)
        self.assertEqual((proc.returncode, proc.stdout, proc.stderr), (0, b"in /\n", b""),
                         harness.describe(proc))
        # The signal dump and the exit snapshot, both after the chdir.
        names = sorted(os.listdir(os.path.join(self.dir, "snaps")))
        self.assertEqual(names, ["x.1.peak.snap", "x.1.snap", "x.2.peak.snap", "x.2.snap"])
        self.assertFalse(os.path.exists("/snaps/x.1.snap"))

    def test_unusable_output_path(self):
        script = self.write("plain.py", PLAIN)
        plain = self.run_bounded(script, preload=False)
        existing = os.path.join(self.dir, "a_directory")
        os.mkdir(existing)
        for out in (existing, existing + "/", os.path.join(self.dir, "missing", "x.%n.snap")):
            with self.subTest(MPROFILE_OUT=out):
                before = sorted(os.listdir(self.dir))
                proc = self.run_bounded(script, MPROFILE_RATE=1, MPROFILE_OUT=out)
                self.assertFinished(proc)
                self.assertEqual(proc.stdout, plain.stdout)
                self.assertEqual(proc.returncode, plain.returncode)
                lines = proc.stderr.decode().splitlines()
                self.assertEqual(len(lines), 1, lines)
                self.assertTrue(lines[0].startswith("mprofile: MPROFILE_OUT="), lines[0])
                self.assertEqual(sorted(os.listdir(self.dir)), before)
                self.assertEqual(os.listdir(existing), [])


if __name__ == "__main__":
    harness.main()
