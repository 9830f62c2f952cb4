"""Mixed Python and native stacks (MPROFILE_STACKS=mixed): native frames unwound with libunwind
and merged with the Python ones, through a C extension (mixed_ext.c) built for the interpreter
under test. Exact mode and unique sizes make each allocation's trace easy to find."""
import os
import re
import subprocess
import tracemalloc

import harness

CHAIN = 123457      # ext.chain: outer -> middle -> leaf_malloc
CALLBACK = 123461   # ext.chain again, from a Python function ext.callback calls
DLCLOSED = 123463   # lib_alloc in a library unloaded before the dump
THREAD = 123467     # ext.chain on a thread without Python state
PY_THREAD = 123469  # ext.chain on a Python thread
CHILD = 123479      # ext.chain in a forked child

PROGRAM = """
import os, sys, threading
sys.path.insert(0, os.environ["EXT_DIR"])
import mixed_ext as ext
def allocate():
    return ext.chain(%(chain)d)
def from_callback():
    return ext.chain(%(callback)d)
keep = [allocate()]
keep.append(ext.callback(from_callback))
keep.append(ext.dl_alloc(os.environ["DL_LIB"], %(dlclosed)d))
keep.append(ext.thread_chain(%(thread)d))
t = threading.Thread(target=lambda: keep.append(ext.chain(%(py_thread)d)))
t.start(); t.join()
""" % {"chain": CHAIN, "callback": CALLBACK, "dlclosed": DLCLOSED, "thread": THREAD,
       "py_thread": PY_THREAD}
# Lines of PROGRAM (the first line is empty).
LINE_ALLOCATE_CALL, LINE_CHAIN, LINE_FROM_CALLBACK, LINE_CALLBACK = 9, 6, 8, 10

FORK = """
import os, sys
sys.path.insert(0, os.environ["EXT_DIR"])
import mixed_ext as ext
pid = os.fork()
if pid == 0:
    keep = ext.chain(%d)
    os._exit(0)
os.waitpid(pid, 0)
""" % CHILD

NATIVE_NAME = re.compile(r"^<native> (?:(?P<function>.+) \((?P<object>[^()]+)\)|"
                         r"(?P<bare>.+)\+0x[0-9a-f]+|\?\?)$")


def newest_first(trace):
    return list(reversed(trace.traceback))


def native(frame):
    """(function or None, object or None) of a native frame; None for a Python frame."""
    if not frame.filename.startswith("<native> "):
        return None
    m = NATIVE_NAME.match(frame.filename)
    assert m, "badly formed native frame %r" % frame.filename
    assert frame.lineno == 0, frame
    return m.group("function"), m.group("object") or m.group("bare")


def is_interpreter(frame):
    """A frame of the interpreter's own object (its executable or libpython)."""
    n = native(frame)
    return n is not None and n[1] is not None and re.match(r"(lib)?python3", n[1]) is not None


class MixedStacks(harness.ProfiledTestCase):
    def setUp(self):
        super().setUp()
        harness.build_extension(self.dir, "mixed_ext.c",
                                cflags=["-fno-optimize-sibling-calls", "-fno-inline"])
        here = os.path.dirname(os.path.abspath(__file__))
        self.dl_lib = os.path.join(self.dir, "libmixedtest.so")
        subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", self.dl_lib,
                        os.path.join(here, "mixed_lib.c")], check=True, env=harness.clean_env())

    def run_program(self, script_text, stacks="mixed", **env):
        script = self.write("program.py", script_text)
        out = self.dir + "/%s.snap" % stacks
        proc = self.run_python(script, MPROFILE_RATE=1, MPROFILE_NATIVE=1, MPROFILE_STACKS=stacks,
                               MPROFILE_OUT=out, EXT_DIR=self.dir, DL_LIB=self.dl_lib, **env)
        self.assertRanCleanly(proc)
        return script, harness.load(out)

    def trace_of(self, snapshot, size):
        traces = [t for t in snapshot.traces if t.size == size]
        self.assertEqual(len(traces), 1, "one block of %d bytes" % size)
        return newest_first(traces[0])

    def assertChainOnTop(self, frames, ext_object):
        names = [native(f) for f in frames[:3]]
        self.assertEqual(names, [("leaf_malloc", ext_object), ("middle", ext_object),
                                 ("outer", ext_object)], frames[:6])

    def show(self, frames):
        if os.environ.get("MP_SHOW_STACKS"):
            print("\n".join("    %s:%d" % (f.filename, f.lineno) for f in frames))

    def assertNoEvaluationLoop(self, frames):
        for f in frames:
            n = native(f)
            self.assertFalse(n and n[0] and "EvalFrame" in n[0],
                             "an evaluation loop's frame was not replaced: %s" % frames)

    def test_chain_then_python_caller(self):
        script, snap = self.run_program(PROGRAM)
        self.assertEqual(snap.stacks, "mixed")
        ext_object = native(self.trace_of(snap, CHAIN)[0])[1]
        self.assertTrue(ext_object.startswith("mixed_ext"), ext_object)
        frames = self.trace_of(snap, CHAIN)
        self.show(frames)
        self.assertChainOnTop(frames, ext_object)
        # Between outer and the Python line that called it: the extension's function that
        # Python called, then the interpreter's call dispatch only (docs/compatibility.md).
        self.assertEqual(native(frames[3]), ("ext_chain", ext_object))
        first_py = next(i for i, f in enumerate(frames) if native(f) is None)
        for f in frames[4:first_py]:
            self.assertTrue(is_interpreter(f), "not the interpreter's: %s" % f)
        self.assertEqual((frames[first_py].filename, frames[first_py].lineno),
                         (script, LINE_CHAIN))
        self.assertEqual(frames[first_py + 1].lineno, LINE_ALLOCATE_CALL)
        self.assertNoEvaluationLoop(frames)
        # The program's entry point is the oldest frame: nothing was cut.
        self.assertTrue(native(frames[-1]) is not None, frames[-1])

    def test_callback_merges_in_order(self):
        script, snap = self.run_program(PROGRAM)
        frames = self.trace_of(snap, CALLBACK)
        ext_object = native(frames[0])[1]
        self.assertChainOnTop(frames, ext_object)
        self.assertNoEvaluationLoop(frames)
        # leaf, middle, outer, from_callback's line, cb_inner, cb_outer, the caller's line.
        wanted = [("native", "outer"), ("py", LINE_FROM_CALLBACK), ("native", "cb_inner"),
                  ("native", "cb_outer"), ("py", LINE_CALLBACK)]
        seen = []
        for f in frames:
            n = native(f)
            if n is None and f.filename == script:
                seen.append(("py", f.lineno))
            elif n is not None and n[1] == ext_object:
                seen.append(("native", n[0]))
        positions = [seen.index(w) for w in wanted]
        self.assertEqual(positions, sorted(positions), seen)

    def test_unloaded_library_still_named(self):
        _, snap = self.run_program(PROGRAM)
        frames = self.trace_of(snap, DLCLOSED)
        self.assertEqual(native(frames[0]), ("lib_alloc", "libmixedtest.so"), frames[:3])
        self.assertIn(self.dl_lib, [o[0] for o in snap.native_objects])

    def test_threads(self):
        script, snap = self.run_program(PROGRAM)
        frames = self.trace_of(snap, THREAD)
        ext_object = native(frames[0])[1]
        self.assertChainOnTop(frames, ext_object)
        self.assertEqual(native(frames[3]), ("thread_main", ext_object))
        self.assertTrue(all(native(f) is not None for f in frames), frames)  # no Python state
        frames = self.trace_of(snap, PY_THREAD)
        self.assertChainOnTop(frames, ext_object)
        self.assertNoEvaluationLoop(frames)
        self.assertIn(script, [f.filename for f in frames])

    def test_fork(self):
        script = self.write("fork.py", FORK)
        proc = self.run_python(script, MPROFILE_RATE=1, MPROFILE_NATIVE=1, MPROFILE_STACKS="mixed",
                               EXT_DIR=self.dir)
        self.assertRanCleanly(proc)
        found = []
        for path in self.snapshots():
            found += [newest_first(t) for t in harness.load(path).traces if t.size == CHILD]
        self.assertEqual(len(found), 1)
        self.assertEqual([native(f)[0] for f in found[0][:3]], ["leaf_malloc", "middle", "outer"])

    def test_python_frames_equal_a_python_stacks_run(self):
        # The Python frames of each trace are those a python-stacks run records.
        _, mixed = self.run_program(PROGRAM)
        _, python = self.run_program(PROGRAM, stacks="python")
        self.assertEqual(python.stacks, "python")
        for size in (CHAIN, CALLBACK, PY_THREAD):
            py_only = [(f.filename, f.lineno) for f in self.trace_of(mixed, size)
                       if native(f) is None]
            expected = [(f.filename, f.lineno) for f in self.trace_of(python, size)]
            self.assertEqual(py_only, expected)
            self.assertFalse(any(native(f) for f in self.trace_of(python, size)))

    def test_native_frames_cap(self):
        # MPROFILE_NATIVE_FRAMES caps native frames only: the Python frames all stay.
        script, snap = self.run_program(PROGRAM, MPROFILE_NATIVE_FRAMES=3)
        frames = self.trace_of(snap, CHAIN)
        self.assertEqual(sum(1 for f in frames if native(f) is not None), 3)
        self.assertEqual([(f.filename, f.lineno) for f in frames if native(f) is None][:2],
                         [(script, LINE_CHAIN), (script, LINE_ALLOCATE_CALL)])

    def test_object_traceback_has_the_python_frames(self):
        # mprofile.get_object_traceback reads the live table: native frames are named only in
        # snapshots, so it gives the Python frames, as with Python stacks.
        program = ("import mprofile\n"
                   "def make():\n"
                   "    return bytearray(100000)\n"
                   "x = make()\n"
                   "tb = mprofile.get_object_traceback(x)\n"
                   "print([(f.filename.rsplit('/', 1)[-1], f.lineno) for f in tb])\n")
        script = self.write("objtb.py", program)
        for stacks in ("python", "mixed"):
            proc = self.run_python(script, MPROFILE_STACKS=stacks, MPROFILE_RATE=1,
                                   PYTHONPATH=harness.PACKAGE_DIR)
            self.assertRanCleanly(proc)
            self.assertEqual(proc.stdout, b"[('objtb.py', 4), ('objtb.py', 3)]\n", stacks)

    def test_libunwind_mapped_only_when_asked(self):
        # Mapped with mixed stacks only. libunwind keeps a pipe for the life of the process:
        # its two descriptors are moved out of the program's low numbers (unwind.c), and the
        # program's own descriptors are those it has without the profiler.
        program = ("import os\nkeep = [bytes(1000) for _ in range(1000)]\n"
                   "print(any('libunwind' in l for l in open('/proc/self/maps')))\n"
                   "fds = {}\n"
                   "for fd in os.listdir('/proc/self/fd'):\n"
                   "    try: fds[int(fd)] = os.readlink('/proc/self/fd/' + fd)\n"
                   "    except OSError: pass\n"
                   "print(sorted(fd for fd in fds if fd < 256))\n"
                   "print(sorted(fds[fd].split(':')[0] for fd in fds if fd >= 256))\n")
        script = self.write("maps.py", program)
        plain = self.run_python(script, preload=False).stdout.splitlines()
        for stacks, mapped, high in (("python", b"False", b"[]"),
                                     ("mixed", b"True", b"['pipe', 'pipe']")):
            proc = self.run_python(script, MPROFILE_STACKS=stacks, MPROFILE_RATE=1)
            self.assertRanCleanly(proc)
            self.assertEqual(proc.stdout.splitlines(), [mapped, plain[1], high], stacks)

if __name__ == "__main__":
    harness.main()
