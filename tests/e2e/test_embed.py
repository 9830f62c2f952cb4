"""An application that embeds the interpreter (tests/e2e/embed.c) is profiled like python."""
import os
import subprocess

import harness

EMBED = os.environ.get("MP_EMBED", "")


class Embedded(harness.ProfiledTestCase):
    def run_embed(self, *args):
        environ = harness.clean_env(LD_PRELOAD=harness.PRELOAD, MPROFILE_RATE=1,
                                    MPROFILE_OUT=self.dir + "/embed.snap")
        proc = subprocess.run([EMBED, *args], cwd=self.dir, env=environ, capture_output=True,
                              timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, b"")
        return harness.load(self.dir + "/embed.snap")

    def test_code_run_by_the_application(self):
        snap = self.run_embed()
        # keep = [bytearray(10000) for _ in range(100)], run by PyRun_SimpleString: the exit
        # snapshot is written before Py_FinalizeEx tears the module down.
        held = [t for t in snap.traces
                if (t.traceback[-1].filename, t.traceback[-1].lineno) == ("<string>", 1)
                and t.size >= 10000]
        self.assertEqual(len(held), 100)

    def test_raw_allocation_without_thread_state(self):
        snap = self.run_embed("native-thread")
        native = [t for t in snap.traces if t.size == 123457]
        self.assertEqual(len(native), 1)
        self.assertEqual([(f.filename, f.lineno) for f in native[0].traceback],
                         [("<unknown>", 0)])


if __name__ == "__main__":
    if not EMBED or not os.path.exists(EMBED):
        print("SKIP: no embedding program for this interpreter")
        raise SystemExit(77)
    harness.main()
