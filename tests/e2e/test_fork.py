"""os.fork(): parent and child each write their own snapshots, without deadlock."""
import os
import re

import harness

PROGRAM = """
import os, sys, threading
keep = []
stop = False
def churn():
    while not stop:
        keep.append(bytes(1000))
        if len(keep) > 2000:
            del keep[:1000]
t = threading.Thread(target=churn)
t.start()
children = []
for i in range(5):
    pid = os.fork()
    if pid == 0:
        mine = [bytearray(500000) for _ in range(4)]
        sys.exit(0)
    children.append(pid)
stop = True
t.join()
for pid in children:
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
print("parent", os.getpid(), "children", *children)
"""


class Fork(harness.ProfiledTestCase):
    def test_parent_and_children_write_their_own_files(self):
        script = self.write("forks.py", PROGRAM)
        # 3.12+ warn that fork() with a running thread may deadlock the child: that risk is
        # what this test exercises, so the warning is silenced, not the fork.
        proc = self.run_python(script, MPROFILE_RATE=4096, MPROFILE_SEED=3, timeout=120,
                               python_args=["-W", "ignore::DeprecationWarning"])
        self.assertRanCleanly(proc)
        pids = [int(x) for x in re.findall(rb"\d+", proc.stdout)]
        parent, children = pids[0], pids[1:]
        self.assertEqual(len(children), 5)
        files = {int(os.path.basename(p).split(".")[1]): p for p in self.snapshots()}
        self.assertEqual(sorted(files), sorted([parent] + children))
        for pid in children:
            snap = harness.load(files[pid])
            self.assertEqual(snap.pid, pid)
            # Each child holds 2 MB from line 16 of its own.
            held = sum(t.size for t in snap.traces
                       if (t.traceback[-1].filename, t.traceback[-1].lineno) == (script, 16))
            self.assertGreaterEqual(held, 4 * 500000)


if __name__ == "__main__":
    harness.main()
