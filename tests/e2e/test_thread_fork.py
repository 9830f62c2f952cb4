"""A process whose last thread is not its main thread ends when that thread returns.

Two ways to get there: a thread other than the main one calls os.fork() (in the child that
thread is the only one: it prints, returns, and the child must exit 0), and an application that
embeds Python leaves main() through pthread_exit(NULL) while a thread of its own still runs
Python code (tests/e2e/embed_exit.c). The process ends when its last thread ends, so any thread
the profiler kept would keep it alive forever. The profiler starts none, so both processes end
as they do without it. The child's waitpid is polled with a deadline inside the program, and the
embedding program runs under a timeout, so a hang is a failure, not a hung test.
"""
import os

import harness

EMBED_EXIT = os.environ.get("MP_EMBED_EXIT", "")

PROGRAM = """
import os, threading, time
keep = [bytearray(1000) for _ in range(1000)]
def run():
    more = [bytes(100) for _ in range(1000)]
    pid = os.fork()
    if pid == 0:
        print("child", len(more), flush=True)
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            print("child exit", os.waitstatus_to_exitcode(status), flush=True)
            return
        time.sleep(0.02)
    print("hung", flush=True)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
t = threading.Thread(target=run)
t.start()
t.join()
"""


class LastThread(harness.ProfiledTestCase):
    def test_fork_from_a_thread(self):
        script = self.write("thread_fork.py", PROGRAM)
        plain = self.run_bounded(script, preload=False)
        self.assertEqual(plain.stdout, b"child 1000\nchild exit 0\n", harness.describe(plain))
        for rate in ("1", "4096"):
            with self.subTest(rate=rate):
                # 3.12+ warn about fork() in a process with threads: the test forks from one on
                # purpose, so the warning is silenced.
                proc = self.run_bounded(script, MPROFILE_RATE=rate, MPROFILE_SEED=1,
                                        python_args=["-W", "ignore::DeprecationWarning"])
                self.assertFinished(proc)
                self.assertEqual(proc.stdout, plain.stdout, harness.describe(proc))
                self.assertEqual(proc.returncode, 0, harness.describe(proc))

    def test_embedding_program_leaves_main_with_pthread_exit(self):
        if not EMBED_EXIT or not os.path.exists(EMBED_EXIT):
            self.skipTest("no embedding program for this interpreter")
        plain = harness.run_bounded([EMBED_EXIT], timeout=30, cwd=self.dir,
                                    env=harness.clean_env())
        self.assertEqual((plain.returncode, plain.stdout),
                         (0, b"main done\nworker done 1000\n"), harness.describe(plain))
        proc = harness.run_bounded([EMBED_EXIT], timeout=30, cwd=self.dir, env=harness.clean_env(
            LD_PRELOAD=harness.PRELOAD, MPROFILE_RATE=1, MPROFILE_OUT=self.dir + "/embed.snap"))
        self.assertFalse(proc.timed_out, "the process hung\n" + harness.describe(proc))
        self.assertEqual(proc.returncode, 0, harness.describe(proc))
        self.assertEqual(proc.stdout, plain.stdout)
        self.assertEqual(proc.stderr, b"")
        # The exit snapshot was written and holds main()'s buffers.
        snap = harness.load(self.dir + "/embed.snap")
        held = [t for t in snap.traces if t.size >= 10000
                and (t.traceback[-1].filename, t.traceback[-1].lineno) == ("<string>", 1)]
        self.assertEqual(len(held), 100)


if __name__ == "__main__":
    harness.main()
