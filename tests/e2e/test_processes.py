"""Every Python process writes its own snapshots: multiprocessing with each start method
(workers leave through os._exit), and a subprocess running another Python version."""
import os
import subprocess
import sys

import harness

PROGRAM = """
import multiprocessing, os, sys
held = []
def work(queue):
    held.extend([bytearray(300000) for _ in range(4)])
    queue.put(os.getpid())
if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1])
    queue = ctx.Queue()
    workers = [ctx.Process(target=work, args=(queue,)) for _ in range(2)]
    for w in workers:
        w.start()
    pids = sorted(queue.get() for _ in workers)
    for w in workers:
        w.join()
        assert w.exitcode == 0
    print(os.getpid(), *pids)
"""

CHILD = "keep = [bytearray(200000) for _ in range(5)]"


class Processes(harness.ProfiledTestCase):
    def run_method(self, method):
        script = self.write("workers.py", PROGRAM)
        proc = self.run_python(script, [method], MPROFILE_RATE=4096,
                               MPROFILE_OUT=self.dir + "/%p.snap")
        self.assertRanCleanly(proc)
        parent, *workers = [int(x) for x in proc.stdout.split()]
        files = {int(os.path.basename(p).split(".")[0]): p for p in self.snapshots()}
        self.assertIn(parent, files)
        for pid in workers:
            self.assertIn(pid, files, "worker %d wrote no snapshot" % pid)
            snap = harness.load(files[pid])
            self.assertEqual(snap.pid, pid)
            held = sum(t.size for t in snap.traces
                       if (t.traceback[-1].filename, t.traceback[-1].lineno) == (script, 5))
            # Four buffers of 300000 bytes, all sampled at one sample per 4 KiB.
            self.assertGreaterEqual(held, 4 * 300000)

    def test_fork(self):
        self.run_method("fork")

    def test_forkserver(self):
        self.run_method("forkserver")

    def test_spawn(self):
        self.run_method("spawn")

    def test_subprocess_running_another_python(self):
        others = [p for p in harness.OTHER_PYTHONS if os.path.exists(p) and p != harness.PYTHON]
        if not others:
            self.skipTest("no other Python version installed")
        parent = self.write("parent.py", """
            import subprocess, sys
            for python in sys.argv[1:]:
                subprocess.run([python, "-c", %r], check=True)
        """ % CHILD)
        proc = self.run_python(parent, others, MPROFILE_RATE=4096,
                               MPROFILE_OUT=self.dir + "/%p.snap")
        self.assertRanCleanly(proc)
        versions = sorted(harness.load(p).python_version for p in self.snapshots())
        # The parent's snapshot and one per child interpreter, each with its own version.
        self.assertEqual(len(versions), len(others) + 1, versions)


if __name__ == "__main__":
    harness.main()
