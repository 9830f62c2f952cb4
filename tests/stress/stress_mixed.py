"""Mixed stacks under load (MPROFILE_STACKS=mixed with MPROFILE_NATIVE=1): the native stress
program (stress_native.py: C threads churning the heap without the GIL, Python threads, forks,
the dump signal every millisecond), plus a thread that loads, calls and unloads a library in a
loop, so that objects come and go while other threads unwind and snapshots name frames. The
program must finish with the output, status, descriptors and stderr it has without the
profiler, apart from libunwind's pipe, which it keeps at two descriptors of 256 and up
(unwind.c; test_mixed.py checks that): the descriptor list printed is of those below 256.
"""
import os
import subprocess

import stress_harness
import stress_native
from stress_harness import harness

PROGRAM = stress_native.PROGRAM.replace("""threads = [threading.Thread(target=native_churn) for n in range(8)]""", """import mixed_ext

def loader():
    while not stop.is_set():
        mixed_ext.dl_alloc(os.environ["DL_LIB"], 64)
        mixed_ext.chain(3000)

threads = [threading.Thread(target=native_churn) for n in range(6)]
threads += [threading.Thread(target=loader) for n in range(2)]""").replace(
    'print(sorted(os.listdir("/proc/self/fd")))',
    'print(sorted(fd for fd in os.listdir("/proc/self/fd") if int(fd) < 256))')


class MixedStress(stress_harness.StressTestCase):
    def test_mixed_stacks_under_threads_forks_unloads_and_signals(self):
        self.assertIn("def loader", PROGRAM)
        self.assertIn("int(fd) < 256", PROGRAM)
        harness.build_extension(self.dir)
        harness.build_extension(self.dir, "mixed_ext.c", cflags=["-fno-optimize-sibling-calls"])
        here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e")
        dl_lib = os.path.join(self.dir, "libmixedtest.so")
        subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", dl_lib,
                        os.path.join(here, "mixed_lib.c")], check=True)
        script = self.write("mixed_stress.py", PROGRAM)
        args = ["-W", "ignore::DeprecationWarning"]  # fork() with threads, on 3.12+
        plain = self.run_program(script, ["plain", self.dir, "1"], preload=False,
                                 python_args=args, EXT_DIR=self.dir, DL_LIB=dl_lib)
        proc = self.run_program(script, ["profiled", self.dir, "4"], python_args=args,
                                MPROFILE_RATE="4096", MPROFILE_SEED=11, MPROFILE_NATIVE=1,
                                MPROFILE_STACKS="mixed", MPROFILE_AT_EXIT=0, EXT_DIR=self.dir,
                                DL_LIB=dl_lib)
        self.assertSameAsPlain(plain, proc)
        # The signal snapshots name the unloaded library's frames.
        named = 0
        for path in self.snapshots():
            snap = harness.load(path)
            self.assertEqual(snap.stacks, "mixed")
            named += sum(1 for t in snap.traces
                         if t.traceback[-1].filename == "<native> lib_alloc (libmixedtest.so)")
        self.assertGreater(named, 0)


if __name__ == "__main__":
    stress_harness.main()
