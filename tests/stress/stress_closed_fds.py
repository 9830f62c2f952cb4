"""A program that closes every descriptor (os.closerange, as daemons do), then opens its own
files at the lowest numbers and takes signal dumps and forks in a loop while a thread
allocates. The profiler must not write into, read from or close any of the program's
descriptors: the log holds exactly the program's lines, every child's write succeeds, every
signal gives a snapshot, and the program ends as without the profiler.
"""
import stress_harness

PROGRAM = """
import glob, os, signal, sys, threading, time
profiled, outdir, logpath = sys.argv[1] == "profiled", sys.argv[2], sys.argv[3]
if not profiled:
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
os.closerange(3, 256)
spare = os.open("/dev/null", os.O_RDONLY)
log = os.open(logpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
stop = threading.Event()
def churn():
    held = []
    while not stop.is_set():
        held.append(bytes(200))
        if len(held) > 2000:
            del held[:1000]
t = threading.Thread(target=churn)
t.start()
problems = []
for i in range(60):
    os.write(log, b"parent %d\\n" % i)
    os.kill(os.getpid(), signal.SIGUSR2)
    if profiled:
        deadline = time.monotonic() + 5
        while not glob.glob(os.path.join(outdir, "*.%d.snap" % (i + 1))):
            if time.monotonic() > deadline:
                problems.append("no snapshot %d" % (i + 1))
                break
            time.sleep(0.001)
    pid = os.fork()
    if pid == 0:
        try:
            os.write(log, b"child %d\\n" % i)
        except OSError:
            os._exit(3)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        problems.append("child %d status %d" % (i, os.waitstatus_to_exitcode(status)))
    if len(problems) > 2:
        break
    if i % 20 == 19:
        for path in glob.glob(os.path.join(outdir, "*.snap")):
            if not path.endswith((".%d.snap" % (i + 1))):
                os.unlink(path)
stop.set()
t.join()
with open(logpath, "rb") as f:
    text = f.read()
expected = b"".join(b"parent %d\\nchild %d\\n" % (i, i) for i in range(60))
print("problems", problems[:5])
print("log as written", text == expected, repr(text[:200]) if text != expected else "")
print(sorted(os.listdir("/proc/self/fd")))
"""


class ClosedDescriptors(stress_harness.StressTestCase):
    def test_closerange_then_signals_and_forks(self):
        script = self.write("closed.py", PROGRAM)
        args = ["-W", "ignore::DeprecationWarning"]  # fork() with threads, on 3.12+
        plain = self.run_program(script, ["plain", self.dir, self.dir + "/log"],
                                 preload=False, python_args=args)
        for rate in ("1", "4096"):
            with self.subTest(rate=rate):
                proc = self.run_program(script, ["profiled", self.dir, self.dir + "/log"],
                                        python_args=args, MPROFILE_RATE=rate,
                                        MPROFILE_SEED=6, MPROFILE_AT_EXIT=0,
                                        MPROFILE_OUT=self.dir + "/%p.%n.snap")
                self.assertSameAsPlain(plain, proc)


if __name__ == "__main__":
    stress_harness.main()
