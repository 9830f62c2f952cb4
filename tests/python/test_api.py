"""The mprofile API in one process: the original package's behaviours (one object() traced with
the right line, max_frames=1, threads) and the tracemalloc-like semantics of every function.
Exact mode unless said otherwise, so that every number is deterministic."""

import os
import platform
import sys
import tempfile
import threading
import time
import tracemalloc
import unittest

import mprofile
import support

THIS_FILE = os.path.abspath(__file__)


def setUpModule():
    support.skip_if_unsupported()


def frames_at(snapshot, lineno, filename=THIS_FILE):
    """The traces whose newest frame is filename:lineno (a Traceback lists the oldest first)."""
    return [
        trace
        for trace in snapshot.traces
        if trace.traceback[-1].filename == filename and trace.traceback[-1].lineno == lineno
    ]


class Slots:
    __slots__ = ("a", "b")


class Plain:
    """Instances have a managed __dict__ (a pre-header from 3.11 on)."""


def nested_allocation(depth):
    if depth:
        return nested_allocation(depth - 1)
    return bytearray(5000)  # LINE: nested


def alloc_objects(out):
    for _ in range(200):
        out.append(object())  # LINE: thread
        time.sleep(0.0005)


class ApiTest(unittest.TestCase):
    def tearDown(self):
        mprofile.stop()

    def test_mode(self):
        """The library was found the way the test environment says."""
        self.assertEqual(mprofile._lib.preloaded, support.MODE == "preload")
        expected = os.environ.get("MPROFILE_LIBRARY") or os.environ.get("LD_PRELOAD")
        if expected:
            self.assertEqual(os.path.realpath(mprofile._lib.path), os.path.realpath(expected))

    def test_reexports_are_tracemalloc_classes(self):
        for name in ("Snapshot", "Statistic", "StatisticDiff", "Filter", "DomainFilter", "Frame",
                     "Traceback", "Trace"):
            self.assertIs(getattr(mprofile, name), getattr(tracemalloc, name))

    def test_profile_one(self):
        mprofile.start()
        line = sys._getframe().f_lineno + 1
        alloc_obj = object()
        snap = mprofile.take_snapshot()
        mprofile.stop()

        traces = frames_at(snap, line)
        self.assertEqual(len(traces), 1)
        self.assertEqual(traces[0].size, sys.getsizeof(alloc_obj))
        frame = traces[0].traceback[-1]
        self.assertEqual(frame.filename, THIS_FILE)
        self.assertEqual(frame.lineno, line)
        self.assertIsInstance(snap, tracemalloc.Snapshot)

    def test_lone_positional_argument_is_max_frames(self):
        # The original's and tracemalloc.start()'s signature, kept: exact mode with 32768
        # frames, not a rate of 32 KiB (docs/python.md tells to pass keywords).
        mprofile.start(32768)
        self.assertEqual(mprofile.get_traceback_limit(), 32768)
        self.assertEqual(mprofile.get_sample_rate(), 0)
        mprofile.stop()

    def test_profile_1frame(self):
        mprofile.start(1)
        self.assertEqual(mprofile.get_traceback_limit(), 1)
        line = support.line_of("# LINE: nested", THIS_FILE)
        data = nested_allocation(3)
        snap = mprofile.take_snapshot()
        mprofile.stop()

        self.assertEqual(snap.traceback_limit, 1)
        self.assertTrue(all(len(trace.traceback) == 1 for trace in snap.traces))
        traces = frames_at(snap, line)
        self.assertEqual(len(traces), 2)  # the bytearray object and its buffer
        self.assertEqual(sum(trace.size for trace in traces),
                         sys.getsizeof(data))
        # total_nframe counts the frames that were cut: nested_allocation x4, this test, ...
        self.assertGreater(traces[0].traceback.total_nframe, 5)

    def test_full_traceback(self):
        mprofile.start(max_frames=10)
        call_line = sys._getframe().f_lineno + 1
        data = nested_allocation(2)
        snap = mprofile.take_snapshot()
        line = support.line_of("# LINE: nested", THIS_FILE)
        traces = frames_at(snap, line)
        self.assertTrue(traces)
        frames = [(f.filename, f.lineno) for f in reversed(traces[0].traceback)]
        self.assertEqual(len(frames), 10)  # unittest's frames make many more
        self.assertGreater(traces[0].traceback.total_nframe, 10)
        self.assertEqual(frames[0], (THIS_FILE, line))
        self.assertEqual(frames[1], frames[2])  # the recursive call, newest first
        self.assertEqual(frames[1][0], THIS_FILE)
        self.assertEqual(frames[3], (THIS_FILE, call_line))
        del data

    def test_start_arguments(self):
        for bad in (0, -1, 65536):
            with self.assertRaises(ValueError):
                mprofile.start(max_frames=bad)
        with self.assertRaises(ValueError):
            mprofile.start(sample_rate=-1)
        with self.assertRaises(TypeError):
            mprofile.start(max_frames="10")
        with self.assertRaises(TypeError):
            mprofile.start(sample_rate=1.5)
        self.assertFalse(mprofile.is_tracing())
        mprofile.start(max_frames=65535, sample_rate=2**20)
        self.assertTrue(mprofile.is_tracing())

    def test_start_while_running(self):
        mprofile.start()
        with self.assertRaises(RuntimeError):
            mprofile.start()
        self.assertTrue(mprofile.is_tracing())
        mprofile.stop()
        self.assertFalse(mprofile.is_tracing())
        mprofile.stop()  # stopping twice is harmless, as in tracemalloc
        mprofile.start()
        self.assertTrue(mprofile.is_tracing())

    def test_sample_rate(self):
        with self.assertRaises(RuntimeError):
            mprofile.get_sample_rate()
        for given, in_snapshot in ((0, 1), (1, 1), (4096, 4096)):
            mprofile.start(sample_rate=given)
            self.assertEqual(mprofile.get_sample_rate(), given)
            self.assertEqual(mprofile.take_snapshot().sample_rate, in_snapshot)
            mprofile.stop()

    def test_traceback_limit(self):
        self.assertEqual(mprofile.get_traceback_limit(), 1)
        mprofile.start(max_frames=7)
        self.assertEqual(mprofile.get_traceback_limit(), 7)
        self.assertEqual(mprofile.take_snapshot().traceback_limit, 7)
        mprofile.stop()
        self.assertEqual(mprofile.get_traceback_limit(), 1)

    def test_traced_memory_and_peak(self):
        mprofile.start()
        before, _ = mprofile.get_traced_memory()
        data = bytes(1000000)
        current, peak = mprofile.get_traced_memory()
        self.assertGreaterEqual(current - before, sys.getsizeof(data))
        self.assertGreaterEqual(peak, current)
        del data
        current, peak = mprofile.get_traced_memory()
        self.assertGreaterEqual(peak - current, 1000000)
        mprofile.reset_peak()
        current, peak = mprofile.get_traced_memory()
        self.assertLess(peak - current, 100000)
        mprofile.stop()
        self.assertEqual(mprofile.get_traced_memory(), (0, 0))

    def test_clear_traces(self):
        mprofile.start()
        line = sys._getframe().f_lineno + 1
        data = bytes(100000)
        self.assertEqual(len(frames_at(mprofile.take_snapshot(), line)), 1)
        mprofile.clear_traces()
        self.assertTrue(mprofile.is_tracing())
        self.assertEqual(frames_at(mprofile.take_snapshot(), line), [])
        del data

    def test_stop_forgets_traces(self):
        mprofile.start()
        line = sys._getframe().f_lineno + 1
        data = bytes(100000)
        mprofile.stop()
        mprofile.start()
        self.assertEqual(frames_at(mprofile.take_snapshot(), line), [])
        del data

    def test_take_snapshot_needs_tracing(self):
        with self.assertRaises(RuntimeError):
            mprofile.take_snapshot()

    def test_snapshot_metadata(self):
        mprofile.start(max_frames=16)
        data = bytes(50000)
        snap = mprofile.take_snapshot()
        self.assertEqual(snap.pid, os.getpid())
        self.assertEqual(snap.python_version, platform.python_version())
        self.assertEqual(snap.mprofile_version, mprofile.__version__)
        self.assertEqual(snap.sample_rate, 1)
        self.assertEqual(snap.traceback_limit, 16)
        self.assertLess(abs(snap.time - time.time()), 60)
        self.assertGreaterEqual(snap.live_bytes, len(data))
        self.assertGreaterEqual(snap.peak_bytes, snap.live_bytes)
        self.assertEqual(snap.dropped_samples, 0)
        self.assertGreater(snap.profiler_memory, 0)
        self.assertGreater(snap.samples, 0)

    def test_snapshot_works_as_tracemalloc(self):
        mprofile.start()
        first = mprofile.take_snapshot()
        line = sys._getframe().f_lineno + 1
        data = [bytes(1000) for _ in range(100)]
        second = mprofile.take_snapshot()
        diff = [d for d in second.compare_to(first, "lineno")
                if d.traceback[0].filename == THIS_FILE and d.traceback[0].lineno == line]
        self.assertEqual(len(diff), 1)
        self.assertGreaterEqual(diff[0].size_diff, 100 * sys.getsizeof(data[0]))
        only = second.filter_traces([tracemalloc.Filter(True, THIS_FILE, line)])
        self.assertEqual(sum(trace.size for trace in only.traces),
                         diff[0].size)
        by_file = second.statistics("filename")
        self.assertIn(THIS_FILE, [stat.traceback[0].filename for stat in by_file])

    def test_dump(self):
        mprofile.start()
        line = sys._getframe().f_lineno + 1
        data = bytes(70000)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "one.snap")
            mprofile.dump(path)
            self.assertEqual(sorted(os.listdir(tmp)), ["one.peak.snap", "one.snap"])
            snap = tracemalloc.Snapshot.load(path)
            with self.assertRaises(OSError):
                mprofile.dump(os.path.join(tmp, "missing", "two.snap"))
        traces = frames_at(snap, line)
        self.assertEqual([trace.size for trace in traces], [sys.getsizeof(data)])
        self.assertEqual(snap.pid, os.getpid())

    def test_get_object_traceback(self):
        """Types without a freelist, with and without GC header and managed dict."""
        before = Slots()
        mprofile.start()
        line = sys._getframe().f_lineno + 1
        objects = [Slots(), Plain(), bytes(300), bytearray(b"x"), {1, 2}]
        for obj in objects:
            tb = mprofile.get_object_traceback(obj)
            self.assertIsNotNone(tb, type(obj).__name__)
            self.assertIsInstance(tb, tracemalloc.Traceback)
            newest = tb[-1]
            self.assertEqual((newest.filename, newest.lineno), (THIS_FILE, line),
                             type(obj).__name__)
        self.assertIsNone(mprofile.get_object_traceback(before))
        self.assertIsNone(mprofile.get_object_traceback(None))  # static, never allocated
        mprofile.stop()
        self.assertIsNone(mprofile.get_object_traceback(objects[0]))

    def test_get_tracemalloc_memory(self):
        mprofile.start()
        self.assertGreater(mprofile.get_tracemalloc_memory(), 0)

    def test_profile_concurrent(self):
        mprofile.start()
        lists = [[], []]
        threads = [threading.Thread(target=alloc_objects, args=(out,)) for out in lists]
        for thread in threads:
            thread.start()
        time.sleep(0.01)
        mprofile.take_snapshot()
        for thread in threads:
            thread.join()
        snap = mprofile.take_snapshot()
        mprofile.stop()
        line = support.line_of("# LINE: thread", THIS_FILE)
        traces = frames_at(snap, line)
        # each object() is 16 bytes; list growth is attributed to the same line
        objects = [trace for trace in traces if trace.size == sys.getsizeof(object())]
        self.assertEqual(len(objects), 400)


if __name__ == "__main__":
    unittest.main()
