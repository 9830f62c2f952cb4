"""Native memory: blocks reported with PyTraceMalloc_Track (always on) and the native heap
(MPROFILE_NATIVE=1), through a C extension built for the interpreter under test."""
import math
import os
import subprocess

import harness

DOMAIN = 4242  # a tracked domain of the test extension's
FAKE_DOMAIN = 777

# Tracked blocks, as tracemalloc sees them: malloc + Track, Track of an address nobody
# allocated, a second Track of one address (replaces the first), Untrack.
TRACKED = """
import os, sys, tracemalloc
sys.path.insert(0, os.environ["EXT_DIR"])
import native_ext as ext
keep = []
for i in range(5):
    keep.append(ext.malloc_tracked(%(domain)d, 30000 + i))
ext.track(%(fake)d, 0x10000, 5555)
ext.track(%(fake)d, 0x20000, 1111)
ext.track(%(fake)d, 0x20000, 2222)
ext.track(%(fake)d, 0x30000, 9999)
ext.untrack(%(fake)d, 0x30000)
ext.track(%(domain)d, 0x10000, 4444)
if os.environ.get("TAKE_TRACEMALLOC"):
    tracemalloc.take_snapshot().dump(os.environ["TAKE_TRACEMALLOC"])
""" % {"domain": DOMAIN, "fake": FAKE_DOMAIN}

# Each native function on a line of its own (lines 6 to 21), with the bytes left live there.
NATIVE = """
import os, sys
sys.path.insert(0, os.environ["EXT_DIR"])
import native_ext as ext
keep = []
keep.append(ext.malloc(100000))
keep.append(ext.calloc(1000, 50))
keep.append(ext.realloc(1000, 70000))
keep.append(ext.reallocarray(100, 300))
keep.append(ext.posix_memalign(64, 12345))
keep.append(ext.aligned_alloc(64, 12288))
keep.append(ext.memalign(128, 5000))
keep.append(ext.valloc(9000))
keep.append(ext.pvalloc(9000))
keep.append(ext.mmap(1 << 20))
m = ext.mmap(8 * 4096); ext.munmap(m + 4096, 4096); ext.munmap(m, 4096)
keep.append(ext.mremap(4096, 5 * 4096))
f = ext.mmap(6 * 4096); ext.mmap_fixed(f + 4096, 2 * 4096)
t = ext.malloc(5000); ext.free(t)
keep.append(ext.malloc_tracked(%(domain)d, 33333))
keep.append(ext.thread_malloc(77777))
""" % {"domain": DOMAIN}
NATIVE_EXPECTED = {
    6: 100000, 7: 50000, 8: 70000, 9: 30000, 10: 12345, 11: 12288, 12: 5000, 13: 9000,
    14: 9000, 15: 1 << 20,
    16: 6 * 4096,  # 8 pages, the second unmapped, then the first: 6 pages left
    17: 5 * 4096,
    18: 6 * 4096,  # the two pages mapped over are a block of line 18's too, but unsampled
}


def require_numpy(test):
    check = subprocess.run([harness.PYTHON, "-c", "import numpy"], capture_output=True,
                           env=harness.clean_env())
    if check.returncode != 0:
        test.skipTest("numpy is not installed for %s" % harness.PYTHON)


def per_line(snapshot, domain, script):
    return harness.by_line(harness.in_domain(snapshot, domain), script)


class TrackedBlocks(harness.ProfiledTestCase):
    def setUp(self):
        super().setUp()
        harness.build_extension(self.dir)

    def tracemalloc_run(self, script):
        tm_path = self.dir + "/tracemalloc.pickle"
        tm = self.run_python(script, preload=False, python_args=["-X", "tracemalloc=128"],
                             TAKE_TRACEMALLOC=tm_path, EXT_DIR=self.dir)
        self.assertRanCleanly(tm)
        return harness.load(tm_path)

    def exact_run(self, script, native):
        """The snapshot of script in exact mode with MPROFILE_NATIVE=native."""
        out = "%s/native%s.snap" % (self.dir, native)
        proc = self.run_python(script, MPROFILE_RATE=1, MPROFILE_NATIVE=native, MPROFILE_OUT=out,
                               EXT_DIR=self.dir)
        self.assertRanCleanly(proc)
        return harness.load(out)

    def test_exact_equals_tracemalloc(self):
        script = self.write("tracked.py", TRACKED)
        theirs = self.tracemalloc_run(script)
        for native in ("0", "1"):
            ours = self.exact_run(script, native)
            for domain in (DOMAIN, FAKE_DOMAIN):
                expected = per_line(theirs, domain, script)
                self.assertTrue(expected)
                self.assertEqual(per_line(ours, domain, script), expected,
                                 "domain %d, MPROFILE_NATIVE=%s" % (domain, native))
            # Tracked blocks never appear in the native domain, also when malloc'ed.
            self.assertEqual(per_line(ours, harness.NATIVE_DOMAIN, script).get(7), None)

    def test_tracemalloc_running_too(self):
        # Both record: the interpreter's own PyTraceMalloc_Track is still called.
        script = self.write("tracked.py", TRACKED)
        out = self.dir + "/both.snap"
        tm_path = self.dir + "/tracemalloc.pickle"
        mp = self.run_python(script, python_args=["-X", "tracemalloc=128"], MPROFILE_RATE=1,
                             MPROFILE_OUT=out, TAKE_TRACEMALLOC=tm_path, EXT_DIR=self.dir)
        self.assertRanCleanly(mp)
        for snapshot in (harness.load(out), harness.load(tm_path)):
            self.assertEqual(per_line(snapshot, DOMAIN, script)[7], (5 * 30002, 5))

    def test_late_start(self):
        # No preload: the module loads the library into the running interpreter, after
        # native_ext was imported.
        program = TRACKED.replace(
            "keep = []",
            "import mprofile\nmprofile.start(1)\nkeep = []").replace(
            'if os.environ.get("TAKE_TRACEMALLOC"):',
            'assert mprofile.get_traced_memory()[0] >= 5 * 30002\n'
            'mprofile.dump(os.environ["OUT"])\nif 0:')
        script = self.write("late.py", program)
        out = self.dir + "/late.snap"
        sanitizers = os.environ.get("MP_PRELOAD_FIRST")  # they must still come first
        proc = self.run_python(script, preload=False, EXT_DIR=self.dir, OUT=out,
                               MPROFILE_LIBRARY=harness.LIB, PYTHONPATH=harness.PACKAGE_DIR,
                               **({"LD_PRELOAD": sanitizers} if sanitizers else {}))
        self.assertRanCleanly(proc)
        got = per_line(harness.load(out), DOMAIN, script)
        self.assertEqual(got[9], (5 * 30002, 5))


class NativeHeap(harness.ProfiledTestCase):
    def setUp(self):
        super().setUp()
        harness.build_extension(self.dir)

    def test_exact_sizes_per_call_site(self):
        script = self.write("native.py", NATIVE)
        mp = self.run_python(script, MPROFILE_RATE=1, MPROFILE_NATIVE=1, EXT_DIR=self.dir)
        self.assertRanCleanly(mp)
        [snap_path] = self.snapshots()
        snap = harness.load(snap_path)
        got = per_line(snap, harness.NATIVE_DOMAIN, script)
        for line, size in NATIVE_EXPECTED.items():
            self.assertEqual(got.get(line, (0, 0))[0], size, "line %d" % line)
        self.assertNotIn(19, got)  # malloc then free
        # malloc + Track: one trace, in the tracked domain only.
        self.assertNotIn(20, got)
        self.assertEqual(per_line(snap, DOMAIN, script)[20], (33333, 1))
        # A thread without Python state: tracemalloc's ("<unknown>", 0).
        unknown = [t for t in harness.in_domain(snap, harness.NATIVE_DOMAIN).traces
                   if t.traceback[0].filename == "<unknown>" and t.size == 77777]
        self.assertEqual(len(unknown), 1)
        # Python's own memory stays in domain 0 and is not seen twice: the program's native
        # blocks are the extension's, and the loader's memory for it at the import (line 4).
        self.assertLessEqual(set(got) - set(NATIVE_EXPECTED), {4})

    def test_errno_is_kept(self):
        program = """
        import os, sys
        sys.path.insert(0, os.environ["EXT_DIR"])
        import native_ext as ext
        print(all(ext.errno_kept(n) == (1, 1) for n in (10, 1000, 100000, 10000000)))
        """
        script = self.write("errno.py", program)
        for rate in ("1", "4096"):
            proc = self.run_python(script, MPROFILE_RATE=rate, MPROFILE_NATIVE=1,
                                   EXT_DIR=self.dir)
            self.assertRanCleanly(proc)
            self.assertEqual(proc.stdout, b"True\n", "MPROFILE_RATE=%s" % rate)

    def test_c_library_and_preloaded_allocator(self):
        # strdup allocates inside the C library; jemalloc (preloaded, where installed) carves
        # blocks from chunks it maps itself: each block is counted once, the chunks not at all.
        program = """
        import os, sys
        sys.path.insert(0, os.environ["EXT_DIR"])
        import native_ext as ext
        keep = [ext.strdup(300000)]
        keep.append(ext.malloc(100 << 20))
        """
        script = self.write("alloc.py", program)
        jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
        preloads = [harness.PRELOAD]
        if os.path.exists(jemalloc) and not os.environ.get("MP_PRELOAD_FIRST"):
            preloads.append(jemalloc + " " + harness.PRELOAD)
        for preload in preloads:
            out = self.dir + "/alloc.snap"
            proc = self.run_python(script, MPROFILE_RATE=1, MPROFILE_NATIVE=1, EXT_DIR=self.dir,
                                   MPROFILE_OUT=out, LD_PRELOAD=preload)
            self.assertRanCleanly(proc)
            got = per_line(harness.load(out), harness.NATIVE_DOMAIN, script)
            if not os.environ.get("MP_PRELOAD_FIRST"):  # AddressSanitizer has its own strdup
                self.assertEqual(got[5], (300001, 1), preload)
            self.assertEqual(got[6], (100 << 20, 1), preload)

    def test_signal_handlers_and_fork_handlers_that_map(self):
        # A handler that maps pages may interrupt the profiler holding its lock; fork handlers
        # of a library loaded before a late start run while the profiler's locks are held.
        program = """
        import os, sys
        sys.path.insert(0, os.environ["EXT_DIR"])
        import native_ext as ext
        ext.mapping_fork_handlers()
        if os.environ.get("LATE"):
            import mprofile
            mprofile.start(1)
        keep = [ext.mmap(1 << 20) for i in range(4)]
        ext.alarm_churn(300000)
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        print(os.waitpid(pid, 0)[1])
        """
        script = self.write("handlers.py", program)
        sanitizers = os.environ.get("MP_PRELOAD_FIRST")
        late_env = {"LD_PRELOAD": sanitizers} if sanitizers else {}
        runs = [
            self.run_bounded(script, MPROFILE_RATE=1, MPROFILE_NATIVE=1, EXT_DIR=self.dir),
            self.run_bounded(script, preload=False, MPROFILE_NATIVE=1, EXT_DIR=self.dir, LATE=1,
                             MPROFILE_LIBRARY=harness.LIB, PYTHONPATH=harness.PACKAGE_DIR,
                             **late_env),
        ]
        for proc in runs:
            self.assertFinished(proc)
            self.assertEqual((proc.returncode, proc.stdout, proc.stderr), (0, b"0\n", b""),
                             harness.describe(proc))

    def test_off_by_default(self):
        script = self.write("native.py", NATIVE)
        mp = self.run_python(script, MPROFILE_RATE=1, EXT_DIR=self.dir)
        self.assertRanCleanly(mp)
        [snap_path] = self.snapshots()
        snap = harness.load(snap_path)
        self.assertFalse(harness.in_domain(snap, harness.NATIVE_DOMAIN).traces)
        self.assertEqual(per_line(snap, DOMAIN, script)[20], (33333, 1))

    def test_sampled_within_four_standard_errors(self):
        program = """
        import os, sys
        sys.path.insert(0, os.environ["EXT_DIR"])
        import native_ext as ext
        keep = [ext.malloc(10000) for i in range(3000)]
        keep += [ext.mmap(256 * 1024) for i in range(40)]
        keep += [ext.calloc(10, 100) for i in range(20000)]
        """
        script = self.write("sampled.py", program)
        truth = {5: 3000 * 10000, 6: 40 * 256 * 1024, 7: 20000 * 1000}
        for seed in (1, 2, 3):
            out = "%s/seed%d.snap" % (self.dir, seed)
            proc = self.run_python(script, MPROFILE_RATE=harness.RATE, MPROFILE_SEED=seed,
                                   MPROFILE_NATIVE=1, MPROFILE_OUT=out, EXT_DIR=self.dir)
            self.assertRanCleanly(proc)
            got = per_line(harness.load(out), harness.NATIVE_DOMAIN, script)
            for line, true_bytes in truth.items():
                estimate = got.get(line, (0, 0))[0]
                se = math.sqrt(harness.RATE * true_bytes)
                self.assertLess(abs(estimate - true_bytes), 4 * se,
                                "seed %d line %d: estimate %d, truth %d, se %.0f"
                                % (seed, line, estimate, true_bytes, se))

    def test_pythonmalloc_malloc_counts_once(self):
        # Every object goes through malloc and through the PyMem hooks: the program's Python
        # lines are the same as without the native heap, and the native domain holds the
        # extension's blocks only.
        program = """
        import os, sys
        sys.path.insert(0, os.environ["EXT_DIR"])
        import native_ext as ext
        keep = [bytes(1000 + i) for i in range(500)]
        keep.append(ext.malloc(123456))
        keep += [bytearray(5000) for i in range(50)]
        """
        script = self.write("once.py", program)
        snaps = {}
        for native in ("0", "1"):
            out = "%s/native%s.snap" % (self.dir, native)
            proc = self.run_python(script, MPROFILE_RATE=1, MPROFILE_NATIVE=native,
                                   MPROFILE_OUT=out, PYTHONMALLOC="malloc", EXT_DIR=self.dir)
            self.assertRanCleanly(proc)
            snaps[native] = harness.load(out)
        python_lines = {line: v for line, v in per_line(snaps["0"], 0, script).items()}
        self.assertEqual(per_line(snaps["1"], 0, script), python_lines)
        self.assertEqual(per_line(snaps["1"], harness.NATIVE_DOMAIN, script),
                         {6: (123456, 1)})

    def test_fork_and_children(self):
        # A forked child that allocates natively, a non-Python child, and live native blocks
        # at exit: output and exit status unchanged.
        program = """
        import os, subprocess, sys
        sys.path.insert(0, os.environ["EXT_DIR"])
        import native_ext as ext
        keep = [ext.malloc(50000)]
        pid = os.fork()
        if pid == 0:
            keep.append(ext.malloc(60000))
            sys.exit(3)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
        print(subprocess.run([os.environ["HELLO"]], capture_output=True).stdout.decode().strip())
        sys.exit(5)
        """
        script = self.write("fork.py", program)
        plain = self.run_bounded(script, preload=False, EXT_DIR=self.dir, HELLO=os.environ["MP_HELLO"])
        mp = self.run_bounded(script, MPROFILE_RATE=1, MPROFILE_NATIVE=1, EXT_DIR=self.dir,
                              HELLO=os.environ["MP_HELLO"])
        self.assertFinished(mp)
        self.assertEqual((mp.returncode, mp.stdout, mp.stderr),
                         (plain.returncode, plain.stdout, plain.stderr))
        self.assertEqual(mp.returncode, 5)
        snaps = [harness.load(p) for p in self.snapshots()]
        self.assertEqual(len(snaps), 2)  # the parent's and the Python child's, not hello's
        sizes = sorted(per_line(s, harness.NATIVE_DOMAIN, script).get(8, (0, 0))[0]
                       for s in snaps)
        self.assertEqual(sizes, [0, 60000])

    def test_numpy_equals_tracemalloc(self):
        require_numpy(self)
        program = """
        import os, tracemalloc
        import numpy as np
        keep = []
        for n in (10, 100, 1000, 10000, 100000):
            keep.append(np.ones(n))
            keep.append(np.zeros((n, 3)))
        tmp = [np.arange(n) for n in range(1, 300)]
        del tmp[::2]
        big = np.empty(1 << 20); big2 = big * 2; del big
        keep.append(np.concatenate(keep[:3:2]))
        if os.environ.get("TAKE_TRACEMALLOC"):
            tracemalloc.take_snapshot().dump(os.environ["TAKE_TRACEMALLOC"])
        """
        script = self.write("arrays.py", program)
        theirs = self.tracemalloc_run(script)
        numpy_domain = 389047
        expected = per_line(theirs, numpy_domain, script)
        self.assertTrue(expected)
        for native in ("0", "1"):
            ours = self.exact_run(script, native)
            self.assertEqual(per_line(ours, numpy_domain, script), expected,
                             "MPROFILE_NATIVE=%s" % native)
            # The arrays' buffers are numpy's traces, not native ones.
            native_lines = per_line(ours, harness.NATIVE_DOMAIN, script)
            self.assertLess(sum(size for size, _ in native_lines.values()), 64 * 1024)

    def test_numpy_sampled_within_four_standard_errors(self):
        require_numpy(self)
        program = """
        import numpy as np
        keep = [np.empty(10000) for i in range(500)]
        keep += [np.zeros((1000, 125)) for i in range(20)]
        keep += [np.arange(2000) for i in range(3000)]
        """
        script = self.write("arrays.py", program)
        numpy_domain = 389047
        exact = self.dir + "/exact.snap"
        self.assertRanCleanly(self.run_python(script, MPROFILE_RATE=1, MPROFILE_OUT=exact))
        truth = per_line(harness.load(exact), numpy_domain, script)
        for native in ("0", "1"):
            for seed in (1, 2, 3):
                out = "%s/native%s-seed%d.snap" % (self.dir, native, seed)
                proc = self.run_python(script, MPROFILE_RATE=harness.RATE, MPROFILE_SEED=seed,
                                       MPROFILE_NATIVE=native, MPROFILE_OUT=out)
                self.assertRanCleanly(proc)
                got = per_line(harness.load(out), numpy_domain, script)
                for line in (3, 4, 5):
                    true_bytes = truth[line][0]
                    estimate = got.get(line, (0, 0))[0]
                    se = math.sqrt(harness.RATE * true_bytes)
                    self.assertLess(abs(estimate - true_bytes), 4 * se,
                                    "native %s seed %d line %d: estimate %d, truth %d"
                                    % (native, seed, line, estimate, true_bytes))

    tracemalloc_run = TrackedBlocks.tracemalloc_run
    exact_run = TrackedBlocks.exact_run


if __name__ == "__main__":
    harness.main()
