"""The output directory becomes read-only while the program runs (a tmpfs remounted read-only;
chmod would not stop root). Dumps before succeed; after the remount the program runs on
unaffected (output, status, descriptors as without the profiler), and the first failing dump
prints one line, `mprofile: cannot write the snapshot ...: Read-only file system ...`, the
later ones nothing. Needs root to mount the tmpfs: otherwise it prints why and exits 77.
"""
import os
import signal
import subprocess

import stress_harness

PROGRAM = """
import os, signal, sys
if sys.argv[1] != "profiled":
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
keep = [bytearray(100) for i in range(1000)]
for i in range(3):
    os.kill(os.getpid(), signal.SIGUSR2)
print("before", flush=True)
sys.stdin.readline()
for i in range(100):
    os.kill(os.getpid(), signal.SIGUSR2)
    more = [bytes(64) for _ in range(20)]
print("after")
print(sorted(os.listdir("/proc/self/fd")))
"""

READ_ONLY = r"^mprofile: cannot write the snapshot .*Read-only file system"


class ReadOnly(stress_harness.StressTestCase):
    def run_remounting(self, script, mnt, preload, **env):
        environ = stress_harness.clean_env(**env)
        if preload:
            environ["LD_PRELOAD"] = stress_harness.LIB
        proc = subprocess.Popen([stress_harness.PYTHON, script,
                                 "profiled" if preload else "plain"],
                                cwd=self.dir, env=environ, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            first = proc.stdout.readline()
            subprocess.run(["mount", "-o", "remount,ro", mnt], check=True, timeout=30)
            out, err = proc.communicate(b"go\n", timeout=50)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            timed_out = True
        result = subprocess.CompletedProcess(proc.args, proc.returncode, first + out, err)
        result.timed_out = timed_out
        return result

    def mount(self, name):
        mnt = os.path.join(self.dir, name)
        os.mkdir(mnt)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt], check=True,
                       timeout=30)
        self.addCleanup(subprocess.run, ["umount", "-l", mnt], timeout=30)
        return mnt

    def test_directory_becomes_read_only(self):
        script = self.write("ro.py", PROGRAM)
        plain = self.run_remounting(script, self.mount("plain"), preload=False)
        for rate in ("1", "4096"):
            with self.subTest(rate=rate):
                mnt = self.mount("mnt" + rate)
                proc = self.run_remounting(script, mnt, preload=True, MPROFILE_RATE=rate,
                                           MPROFILE_SEED=3, MPROFILE_AT_EXIT=0,
                                           MPROFILE_OUT=mnt + "/%p.%n.snap")
                self.assertSameAsPlain(plain, proc, expected=[READ_ONLY])
                snapshots = [n for n in os.listdir(mnt) if ".peak." not in n]
                self.assertEqual(len(snapshots), 3, os.listdir(mnt))


if __name__ == "__main__":
    stress_harness.tmpfs_or_skip()
    stress_harness.main()
