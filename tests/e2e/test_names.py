"""Function names (metadata frame_names, docs/format.md "Function names"): every Python frame of
the traces is named after its code object's co_qualname, and a line shared by two functions
takes the name first in byte order."""
import json
import os

import harness

# The program writes, for each line of its own file, the qualnames of the code objects whose
# instructions map to it (co_lines), so the expected names come from the interpreter under test.
PROGRAM = """
import json, os, sys
keep = []
class Handler:
    def get(self):
        def parse():
            return [bytearray(100) for _ in range(50)]
        return parse()
    @staticmethod
    def static():
        keep.append(bytearray(2000))
def outer():
    key = lambda item: keep.append(bytearray(3000)) or item
    return sorted([3, 1, 2], key=key)
def recurse(n):
    return bytearray(700) if n == 0 else recurse(n - 1)
for _ in range(ROUNDS):
    keep.append(Handler().get())
    Handler.static()
    outer()
    keep.append(recurse(5))
    if os.environ.get("CLEAR") and _ == 0:
        import mprofile
        mprofile.clear_traces()
lines = {}
def visit(code):
    for _, _, line in code.co_lines():
        if line is not None:
            lines.setdefault(line, set()).add(code.co_qualname)
    for const in code.co_consts:
        if hasattr(const, "co_lines"):
            visit(const)
visit(compile(open(__file__).read(), __file__, "exec"))
with open(os.environ["EXPECTED"], "w") as f:
    json.dump({line: sorted(names) for line, names in lines.items()}, f)
"""


class FunctionNames(harness.ProfiledTestCase):
    def run_program(self, rounds, **env):
        script = self.write("names.py", PROGRAM.replace("ROUNDS", str(rounds)))
        expected_path = os.path.join(self.dir, "expected.json")
        proc = self.run_python(script, EXPECTED=expected_path, PYTHONPATH=harness.PACKAGE_DIR,
                               **env)
        self.assertRanCleanly(proc)
        [snap_path] = self.snapshots()
        with open(expected_path) as f:
            candidates = {int(line): names for line, names in json.load(f).items()}
        return script, harness.load(snap_path), candidates

    def program_frames(self, snapshot, script):
        return {frame for trace in snapshot.traces for frame in trace.traceback
                if frame.filename == script}

    def check_names(self, script, snapshot, candidates):
        names = dict(snapshot.frame_names)
        frames = self.program_frames(snapshot, script)
        self.assertTrue(frames)
        for frame in frames:
            key = (frame.filename, frame.lineno)
            self.assertIn(key, names, "frame %s has no name" % (key,))
            self.assertIn(names[key], candidates[frame.lineno], "line %d" % frame.lineno)
        return names

    def test_exact_mode_names_every_frame(self):
        script, snapshot, candidates = self.run_program(3, MPROFILE_RATE=1)
        names = self.check_names(script, snapshot, candidates)
        # 3.11's list comprehension is a function of its own on the same line.
        self.assertEqual(names[(script, 7)], "Handler.get.<locals>.parse")
        self.assertEqual(names[(script, 8)], "Handler.get")
        self.assertEqual(names[(script, 11)], "Handler.static")
        self.assertEqual(names[(script, 16)], "recurse")
        self.assertEqual(names[(script, 18)], "<module>")
        # Line 13 runs in outer (making the lambda) and in the lambda (allocating): one frame,
        # named by the first name in byte order.
        self.assertEqual(names[(script, 13)], "outer")
        self.assertEqual(candidates[13], ["outer", "outer.<locals>.<lambda>"])
        # Every entry names a frame of the traces, with the same tuple object.
        all_frames = {(f.filename, f.lineno) for t in snapshot.traces for f in t.traceback}
        self.assertLessEqual(set(names), all_frames)

    def test_sampled_mode_names(self):
        script, snapshot, candidates = self.run_program(200, MPROFILE_RATE=4096)
        self.check_names(script, snapshot, candidates)

    def test_names_after_clear_traces(self):
        # clear_traces() starts the frame table over: frames made after it are named again.
        script, snapshot, candidates = self.run_program(3, MPROFILE_RATE=1, CLEAR=1)
        names = self.check_names(script, snapshot, candidates)
        self.assertEqual(names[(script, 13)], "outer")

    def test_tracemalloc_still_reads_the_snapshot(self):
        script, snapshot, _ = self.run_program(3, MPROFILE_RATE=1)
        stats = snapshot.statistics("traceback")
        self.assertTrue(stats)
        self.assertTrue(all(isinstance(name, str) for _, name in snapshot.frame_names))


if __name__ == "__main__":
    harness.main()
