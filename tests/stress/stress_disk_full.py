"""The output directory fills up: a 256 KiB tmpfs, and signal dumps taken until it is full and
long after. The program runs on unaffected (output, status, descriptors as without the
profiler); the first failure prints one line, `mprofile: cannot write the snapshot ...: No space
left on device ...`, later failures print nothing; no temporary file is left behind.
Needs root to mount the tmpfs: otherwise it prints why and exits 77 (skipped).
"""
import os
import subprocess

import stress_harness

PROGRAM = """
import os, signal, sys
if sys.argv[1] != "profiled":
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
keep = [bytearray(100 + i % 50) for i in range(3000)]
total = 0
for i in range(300):
    os.kill(os.getpid(), signal.SIGUSR2)
    more = [bytes(64) for _ in range(20)]
    total += len(more)
print("total", total)
print(sorted(os.listdir("/proc/self/fd")))
"""

FULL = r"^mprofile: cannot write the snapshot .*No space left on device"


class DiskFull(stress_harness.StressTestCase):
    def mount(self, name):
        mnt = os.path.join(self.dir, name)
        os.mkdir(mnt)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt], check=True,
                       timeout=30)
        self.addCleanup(subprocess.run, ["umount", "-l", mnt], timeout=30)
        return mnt

    def test_dumps_until_the_disk_is_full(self):
        script = self.write("fills.py", PROGRAM)
        plain = self.run_program(script, ["plain"], preload=False)
        for rate in ("1", "4096"):
            with self.subTest(rate=rate):
                mnt = self.mount("mnt" + rate)
                proc = self.run_program(script, ["profiled"], MPROFILE_RATE=rate,
                                        MPROFILE_SEED=8, MPROFILE_AT_EXIT=0,
                                        MPROFILE_OUT=mnt + "/%p.%n.snap")
                self.assertSameAsPlain(plain, proc, expected=[FULL])
                names = os.listdir(mnt)
                if rate != "1":
                    # Sampled snapshots are small enough for some to fit; in exact mode even
                    # the first may not.
                    self.assertTrue(names, "no snapshot fitted at all")
                self.assertEqual([n for n in names if n.endswith(".tmp")], [])


if __name__ == "__main__":
    stress_harness.tmpfs_or_skip()
    stress_harness.main()
