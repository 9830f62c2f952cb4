"""_exit installed as a C signal handler (libc's _exit for SIGALRM, through ctypes; the timer
fires every millisecond) while threads allocate and free in exact mode. The signal can land
while the interrupted thread holds the profiler's lock or is inside the allocator: the process
must still end with status 14 (the signal number, passed to _exit), as it does without the
profiler, and leave no temporary file. Racy: 30 runs, each under a timeout. The program cannot
print its descriptors (it ends inside the handler).
"""
import os

import stress_harness

PROGRAM = """
import ctypes, signal, threading
libc = ctypes.CDLL(None)
libc.signal.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.signal.restype = ctypes.c_void_p
libc.signal(signal.SIGALRM, ctypes.cast(libc._exit, ctypes.c_void_p))
def churn():
    keep = [None] * 64
    i = 0
    while True:
        keep[i & 63] = bytes(64 + (i & 255))
        i += 1
def worker(block):
    if block:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    churn()
for n in range(4):
    # Half the workers block the signal, half may receive it.
    threading.Thread(target=worker, args=(n % 2 == 0,), daemon=True).start()
signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
churn()
"""


class ExitHandler(stress_harness.StressTestCase):
    def test_exit_from_a_signal_handler(self):
        script = self.write("handler_exit.py", PROGRAM)
        plain = self.run_program(script, preload=False, timeout=20)
        self.assertEqual(plain.returncode, 14, stress_harness.describe(plain))
        for run in range(30):
            out = os.path.join(self.dir, "run%d" % run)
            os.mkdir(out)
            proc = self.run_program(script, timeout=20, MPROFILE_RATE=1,
                                    MPROFILE_OUT=out + "/%p.%n.snap")
            self.assertSameAsPlain(plain, proc)
            self.assertEqual([n for n in os.listdir(out) if n.endswith(".tmp")], [],
                             "run %d" % run)


if __name__ == "__main__":
    stress_harness.main()
