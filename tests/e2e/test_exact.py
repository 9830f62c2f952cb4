"""Exact mode (MPROFILE_RATE=1): per-line bytes and counts equal tracemalloc's."""
import harness

# Sites from 16 B to 4 MiB. bytes and bytearray have no free lists, so how many blocks each
# line allocates does not depend on the interpreter's history.
PROGRAM = """
import os
keep = []
def small():
    for i in range(300):
        keep.append(bytes(16 + i % 3))
def medium():
    for i in range(200):
        keep.append(bytearray(1000))
        keep.append(b"m" * 5000)
def large():
    for i in range(8):
        keep.append(bytearray(64 * 1024))
    for i in range(3):
        keep.append(bytes(4 * 1024 * 1024))
def nested(depth):
    if depth == 0:
        keep.append(bytearray(777))
    else:
        nested(depth - 1)
small()
medium()
large()
nested(20)
if os.environ.get("TAKE_TRACEMALLOC"):
    import tracemalloc
    tracemalloc.take_snapshot().dump(os.environ["TAKE_TRACEMALLOC"])
"""


class ExactMode(harness.ProfiledTestCase):
    def test_lines_equal_tracemalloc(self):
        script = self.write("sites.py", PROGRAM)
        tm_path = self.dir + "/tracemalloc.pickle"
        tm = self.run_python(script, preload=False, python_args=["-X", "tracemalloc=128"],
                             TAKE_TRACEMALLOC=tm_path)
        self.assertRanCleanly(tm)
        mp = self.run_python(script, MPROFILE_RATE=1)
        self.assertRanCleanly(mp)
        [snap_path] = self.snapshots()

        ours = harness.load(snap_path)
        theirs = harness.load(tm_path)
        self.assertEqual(ours.sample_rate, 1)
        self.assertEqual(ours.traceback_limit, 128)
        expected = harness.by_line(theirs, script)
        got = harness.by_line(ours, script)
        # The program's allocation lines, all present with identical size and count.
        for line in (6, 9, 10, 13, 15, 18):
            self.assertIn(line, expected)
            self.assertEqual(got.get(line), expected[line], "line %d" % line)

        # Whole tracebacks too: same frames and same total_nframe for the program's traces.
        def tracebacks(snapshot):
            filtered = snapshot.filter_traces([harness.tracemalloc.Filter(True, script)])
            return sorted((tuple((f.filename, f.lineno) for f in s.traceback),
                           s.traceback.total_nframe, s.size, s.count)
                          for s in filtered.statistics("traceback")
                          if s.traceback[-1].lineno in (6, 9, 10, 13, 15, 18))
        self.assertEqual(tracebacks(ours), tracebacks(theirs))

    def test_frame_limit(self):
        script = self.write("sites.py", PROGRAM)
        mp = self.run_python(script, MPROFILE_RATE=1, MPROFILE_FRAMES=3)
        self.assertRanCleanly(mp)
        [snap_path] = self.snapshots()
        snap = harness.load(snap_path)
        self.assertEqual(snap.traceback_limit, 3)
        deep = [t for t in snap.traces
                if (t.traceback[-1].filename, t.traceback[-1].lineno) == (script, 18)]
        # bytearray(777): the object and its buffer.
        self.assertEqual(len(deep), 2)
        for trace in deep:
            self.assertEqual(len(trace.traceback), 3)
            # nested(20): 21 nested frames + the module frame.
            self.assertEqual(trace.traceback.total_nframe, 22)


if __name__ == "__main__":
    harness.main()
