"""multiprocessing started from a thread that is not the main one, under each start method
(fork, forkserver, spawn), while other threads allocate: the fork happens in a thread, the
workers allocate and leave through os._exit (fork, forkserver) or exit (spawn), and each writes
its snapshot. The program must finish with the output, status, descriptors and stderr it has
without the profiler, and every worker must have written its snapshot.
"""
import glob
import os

import stress_harness

PROGRAM = """
import multiprocessing, os, sys, threading
def work(queue):
    held = [bytearray(20000) for _ in range(20)]
    queue.put(os.getpid())
def churn(stop):
    held = []
    while not stop.is_set():
        held.append(bytes(100))
        if len(held) > 1000:
            del held[:500]
def starter(method, pids, out):
    ctx = multiprocessing.get_context(method)
    queue = ctx.Queue()
    workers = [ctx.Process(target=work, args=(queue,)) for _ in range(3)]
    for w in workers:
        w.start()
    pids.extend(queue.get(timeout=60) for _ in workers)
    for w in workers:
        w.join(60)
        out.append("%s exit %s" % (method, w.exitcode))
if __name__ == "__main__":
    stop = threading.Event()
    churners = [threading.Thread(target=churn, args=(stop,)) for _ in range(4)]
    for t in churners:
        t.start()
    pids = []
    for method in ("fork", "forkserver", "spawn"):
        out = []
        t = threading.Thread(target=starter, args=(method, pids, out))
        t.start()
        t.join()
        print(*out)
    stop.set()
    for t in churners:
        t.join()
    with open(sys.argv[1], "w") as f:
        print(*pids, file=f)
    print(sorted(os.listdir("/proc/self/fd")))
"""


class StartMethods(stress_harness.StressTestCase):
    def test_start_methods_from_a_thread(self):
        script = self.write("methods.py", PROGRAM)
        args = ["-W", "ignore::DeprecationWarning"]  # fork() with threads, on 3.12+
        pids_file = os.path.join(self.dir, "pids")
        plain = self.run_program(script, [pids_file], preload=False, python_args=args)
        for rate in ("1", "4096"):
            with self.subTest(rate=rate):
                out = os.path.join(self.dir, "out-" + rate)
                os.mkdir(out)
                proc = self.run_program(script, [pids_file], python_args=args,
                                        MPROFILE_RATE=rate, MPROFILE_SEED=4,
                                        MPROFILE_OUT=out + "/%p.%n.snap")
                self.assertSameAsPlain(plain, proc)
                with open(pids_file) as f:
                    pids = [int(p) for p in f.read().split()]
                self.assertEqual(len(pids), 9)
                for pid in pids:
                    self.assertTrue(glob.glob("%s/%d.*.snap" % (out, pid)),
                                    "worker %d wrote no snapshot" % pid)


if __name__ == "__main__":
    stress_harness.main()
