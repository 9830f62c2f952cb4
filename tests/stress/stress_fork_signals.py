"""16 threads allocate and free while another thread forks in a loop (each child allocates a
little and leaves through os._exit(0)) and a third sends the dump signal to the process every
millisecond, for about 5 s, in exact mode and at one sample per 4 KiB.

Every dump is written by whichever thread the signal lands on, possibly in the middle of an
allocation of its own, of a fork, or while another thread holds the profiler's lock; a child
may be forked while a dump is being written. The program must finish with the output, status,
descriptors and stderr it has without the profiler; a child that hangs is reported by the
program (its waitpid is polled with a deadline). The dump files are removed as they come
(MPROFILE_AT_EXIT=0), to keep the disk use small.
"""
import stress_harness

PROGRAM = stress_harness.PROGRAM_START + """
def forker():
    while not stop.is_set():
        pid = os.fork()
        if pid == 0:
            little = [bytearray(100) for _ in range(50)]
            os._exit(0)
        deadline = time.monotonic() + 20
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                if os.waitstatus_to_exitcode(status) != 0:
                    problems.append("child status %d" % os.waitstatus_to_exitcode(status))
                break
            if time.monotonic() > deadline:
                problems.append("child hung")
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.001)

threads = [threading.Thread(target=churn, args=(n,)) for n in range(16)]
threads += [threading.Thread(target=forker), threading.Thread(target=signaller)]
""" + stress_harness.PROGRAM_END


class ForkSignals(stress_harness.StressTestCase):
    def test_fork_and_signals_while_threads_allocate(self):
        script = self.write("fork_signals.py", PROGRAM)
        args = ["-W", "ignore::DeprecationWarning"]  # fork() with threads, on 3.12+
        plain = self.run_program(script, ["plain", self.dir, "1"], preload=False,
                                 python_args=args)
        for rate in ("1", "4096"):
            with self.subTest(rate=rate):
                proc = self.run_program(script, ["profiled", self.dir, "5"], python_args=args,
                                        MPROFILE_RATE=rate, MPROFILE_SEED=11,
                                        MPROFILE_AT_EXIT=0)
                self.assertSameAsPlain(plain, proc)


if __name__ == "__main__":
    stress_harness.main()
