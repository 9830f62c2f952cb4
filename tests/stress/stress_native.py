"""The native heap under load (MPROFILE_NATIVE=1): 8 threads churn malloc, realloc, free, calloc
and partial munmaps in C without the GIL, 4 threads churn Python objects, one thread forks in a
loop (each child allocates natively and leaves through os._exit), another sends the dump signal
every millisecond, and C threads without Python state allocate; in exact mode and at one sample
per 4 KiB. The program must finish with the output, status, descriptors and stderr it has
without the profiler.
"""

import stress_harness
from stress_harness import harness

PROGRAM = stress_harness.PROGRAM_START + """
sys.path.insert(0, os.environ["EXT_DIR"])
import native_ext as ext

def native_churn():
    while not stop.is_set():
        ext.churn(2000)

def c_threads():
    while not stop.is_set():
        ext.free(ext.thread_malloc(3000))

def forker():
    while not stop.is_set():
        pid = os.fork()
        if pid == 0:
            ext.churn(200)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            problems.append("child status %d" % os.waitstatus_to_exitcode(status))
        time.sleep(0.01)

threads = [threading.Thread(target=native_churn) for n in range(8)]
threads += [threading.Thread(target=churn, args=(n,)) for n in range(4)]
threads += [threading.Thread(target=f) for f in (c_threads, forker, signaller)]
""" + stress_harness.PROGRAM_END


class NativeStress(stress_harness.StressTestCase):
    def test_native_heap_under_threads_forks_and_signals(self):
        harness.build_extension(self.dir)
        script = self.write("native_stress.py", PROGRAM)
        args = ["-W", "ignore::DeprecationWarning"]  # fork() with threads, on 3.12+
        plain = self.run_program(script, ["plain", self.dir, "1"], preload=False,
                                 python_args=args, EXT_DIR=self.dir)
        for rate in ("1", "4096"):
            with self.subTest(rate=rate):
                proc = self.run_program(script, ["profiled", self.dir, "4"], python_args=args,
                                        MPROFILE_RATE=rate, MPROFILE_SEED=11, MPROFILE_NATIVE=1,
                                        MPROFILE_AT_EXIT=0, EXT_DIR=self.dir)
                self.assertSameAsPlain(plain, proc)


if __name__ == "__main__":
    stress_harness.main()
