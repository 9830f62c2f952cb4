"""SIGUSR2 writes a snapshot while the program runs; the program finishes normally. A handler
the program installed before the profiler's is called as the kernel would call it."""
import os
import shutil
import signal
import subprocess
import sys
import time

import harness

PROGRAM = """
import sys
keep = [bytearray(1 << 20) for _ in range(8)]
print("ready", flush=True)
line = sys.stdin.readline()
print("got", line.strip())
"""


class SignalDump(harness.ProfiledTestCase):
    def wait_for(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [p for p in self.snapshots() if not p.endswith(".tmp")]
            if len(done) >= count:
                return done
            time.sleep(0.05)
        self.fail("expected %d snapshots, found %s" % (count, self.snapshots()))

    def run_with_signals(self, signals, **env):
        script = self.write("server.py", PROGRAM)
        environ = harness.clean_env(LD_PRELOAD=harness.PRELOAD, MPROFILE_AT_EXIT=0,
                                    MPROFILE_OUT=self.dir + "/dump.%n.snap", **env)
        proc = subprocess.Popen([harness.PYTHON, script], cwd=self.dir, env=environ,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        self.assertEqual(proc.stdout.readline(), b"ready\n")
        for i, sig in enumerate(signals):
            os.kill(proc.pid, sig)
            self.wait_for(i + 1)
        out, err = proc.communicate(b"finish\n", timeout=60)
        return proc, out, err

    def test_two_signals_two_files(self):
        proc, out, err = self.run_with_signals([signal.SIGUSR2, signal.SIGUSR2])
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(out, b"got finish\n")
        self.assertEqual(err, b"")
        files = self.snapshots()
        self.assertEqual([os.path.basename(f) for f in files], ["dump.1.snap", "dump.2.snap"])
        for path in files:
            snap = harness.load(path)
            self.assertEqual(snap.pid, proc.pid)
            # The eight 1 MiB buffers are live and large enough to be sampled for sure.
            self.assertGreaterEqual(sum(t.size for t in snap.traces), 8 << 20)

    def test_configured_signal(self):
        proc, out, err = self.run_with_signals([signal.SIGUSR1], MPROFILE_SIGNAL="USR1")
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(out, b"got finish\n")
        self.assertEqual(len(self.snapshots()), 1)


# A C handler that records what it saw: how often it ran and which signals were blocked then.
CHAIN_HANDLER = r"""
#include <signal.h>
#include <string.h>
static volatile int calls, usr1_blocked, usr2_blocked;
static void handler(int sig) {
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    calls++;
    usr1_blocked = sigismember(&now, SIGUSR1);
    usr2_blocked = sigismember(&now, SIGUSR2);
}
int install(int sig, int flags) {
    struct sigaction a;
    memset(&a, 0, sizeof(a));
    a.sa_handler = handler;
    a.sa_flags = flags;
    sigemptyset(&a.sa_mask);
    sigaddset(&a.sa_mask, SIGUSR2);
    return sigaction(sig, &a, NULL);
}
int get_calls(void) { return calls; }
int get_usr1_blocked(void) { return usr1_blocked; }
int get_usr2_blocked(void) { return usr2_blocked; }
"""

CHAIN_PROGRAM = """
import ctypes, os, signal, sys, time
handler = ctypes.CDLL(sys.argv[1])
assert handler.install(signal.SIGUSR1, 0x80000000) == 0   # SA_RESETHAND
import mprofile
mprofile.start(sample_rate=4096)   # installs the profiler's handler over the program's
keep = [bytearray(100000) for _ in range(10)]
for _ in range(2):
    os.kill(os.getpid(), signal.SIGUSR1)
    time.sleep(0.2)
print(handler.get_calls(), handler.get_usr1_blocked(), handler.get_usr2_blocked())
"""


class ChainedHandler(harness.ProfiledTestCase):
    def test_previous_handler_keeps_its_mask_and_resethand(self):
        if shutil.which("cc") is None:
            self.skipTest("no C compiler to build the program's handler")
        source = self.write("handler.c", CHAIN_HANDLER)
        library = os.path.join(self.dir, "handler.so")
        subprocess.run(["cc", "-shared", "-fPIC", "-o", library, source], check=True)
        script = self.write("chain.py", CHAIN_PROGRAM)
        here = os.path.dirname(os.path.abspath(__file__))
        # No preload: mprofile.start() installs the hooks and the signal handler late, over the
        # handler the program installed first.
        proc = self.run_python(script, [library], preload=False,
                               PYTHONPATH=os.path.join(here, "..", "..", "lib", "python"),
                               MPROFILE_LIBRARY=harness.LIB, MPROFILE_SIGNAL="USR1",
                               MPROFILE_AT_EXIT=0, MPROFILE_OUT=self.dir + "/chain.%n.snap",
                               LD_PRELOAD=os.environ.get("MP_PRELOAD_FIRST", ""))
        self.assertRanCleanly(proc)
        # Called once (SA_RESETHAND), with its sa_mask and the signal itself blocked.
        self.assertEqual(proc.stdout.split(), [b"1", b"1", b"1"])
        # Both signals still wrote a snapshot.
        self.assertEqual(len(self.snapshots("chain.*.snap")), 2)


if __name__ == "__main__":
    harness.main()
