"""How the package finds and starts the library, each case in a fresh subprocess: the original's
auto-start from MPROFILERATE / MPROFILEFRAMES, a preload that samples from start-up, the copy of
the package staged in the build tree, and an installed copy."""

import os
import subprocess
import sys
import tempfile
import unittest

import support

PROBE = """
import json, sys
early = bytes(123456)  # LINE: early
import mprofile
out = {"tracing": mprofile.is_tracing(), "path": mprofile._lib.path,
       "preloaded": mprofile._lib.preloaded}
if out["tracing"]:
    out["rate"] = mprofile.get_sample_rate()
    out["frames"] = mprofile.get_traceback_limit()
    snap = mprofile.take_snapshot()
    out["early"] = [t.size for t in snap.traces
                    if t.traceback[-1].filename == __file__ and t.traceback[-1].lineno == 3]
print(json.dumps(out))
"""

LIBRARY_ENV = ("LD_PRELOAD", "MPROFILE_LIBRARY", "MPROFILE_RATE", "MPROFILERATE",
               "MPROFILEFRAMES", "PYTHONPATH")


def setUpModule():
    support.skip_if_unsupported()


class LoadingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.probe = os.path.join(cls.tmp.name, "probe.py")
        with open(cls.probe, "w", encoding="utf-8") as f:
            f.write(PROBE)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def probe_with(self, env, drop=()):
        result, stderr = support.run_json([self.probe], env=env, drop=drop)
        return result, stderr

    def test_autostart_from_environment(self):
        result, _ = self.probe_with({"MPROFILERATE": "1", "MPROFILEFRAMES": "5"})
        self.assertTrue(result["tracing"])
        self.assertEqual(result["rate"], 1)
        self.assertEqual(result["frames"], 5)

    def test_autostart_default_frames(self):
        result, _ = self.probe_with({"MPROFILERATE": "0"}, drop=("MPROFILEFRAMES",))
        self.assertTrue(result["tracing"])
        self.assertEqual(result["rate"], 0)
        self.assertEqual(result["frames"], 128)

    def test_no_autostart_without_rate(self):
        result, _ = self.probe_with({"MPROFILEFRAMES": "5"}, drop=("MPROFILERATE",))
        self.assertFalse(result["tracing"])

    def test_bad_autostart_warns_and_runs_on(self):
        result, stderr = self.probe_with({"MPROFILERATE": "lots"})
        self.assertFalse(result["tracing"])
        self.assertIn("MPROFILERATE", stderr)
        self.assertIn("RuntimeWarning", stderr)

    def test_preload_samples_from_start_up(self):
        if support.MODE != "preload":
            self.skipTest("needs the preload")
        result, _ = self.probe_with(
            {"MPROFILE_RATE": "1", "MPROFILERATE": "1", "MPROFILE_AT_EXIT": "0"})
        self.assertTrue(result["preloaded"])
        self.assertTrue(result["tracing"])
        self.assertEqual(result["rate"], 1)  # the library's own rate; MPROFILERATE is ignored
        # bytes(123456) was allocated before mprofile was imported
        self.assertEqual(result["early"], [123456 + sys.getsizeof(b"")])

    def test_preload_sampled_rate_is_the_librarys(self):
        if support.MODE != "preload":
            self.skipTest("needs the preload")
        result, _ = self.probe_with({"MPROFILE_RATE": "64k", "MPROFILE_AT_EXIT": "0"})
        self.assertTrue(result["tracing"])
        self.assertEqual(result["rate"], 65536)

    @unittest.skipUnless(os.environ.get("MPROFILE_TEST_STAGE_DIR"), "no staged package")
    def test_staged_package_finds_the_build_tree_library(self):
        if support.MODE != "dlopen":
            self.skipTest("run once, in the dlopen mode")
        stage = os.environ["MPROFILE_TEST_STAGE_DIR"]
        result, _ = self.probe_with({"PYTHONPATH": stage, "MPROFILERATE": "1"},
                                    drop=LIBRARY_ENV)
        self.assertFalse(result["preloaded"])
        self.assertTrue(result["tracing"])
        self.assertEqual(os.path.realpath(result["path"]),
                         os.path.realpath(os.environ["MPROFILE_TEST_EXPECT_LIBRARY"]))

    @unittest.skipUnless(os.environ.get("MPROFILE_TEST_BINARY_DIR"), "no build tree to install")
    def test_installed_package_finds_the_installed_library(self):
        if support.MODE != "dlopen":
            self.skipTest("run once, in the dlopen mode")
        prefix = os.path.join(self.tmp.name, "prefix")
        subprocess.run([os.environ["MPROFILE_TEST_CMAKE"], "--install",
                        os.environ["MPROFILE_TEST_BINARY_DIR"], "--prefix", prefix],
                       check=True, stdout=subprocess.DEVNULL)
        site = os.path.join(prefix, os.environ["MPROFILE_TEST_PYTHON_INSTALL_DIR"])
        result, _ = self.probe_with({"PYTHONPATH": site, "MPROFILERATE": "1"}, drop=LIBRARY_ENV)
        self.assertFalse(result["preloaded"])
        self.assertTrue(result["tracing"])
        self.assertTrue(os.path.realpath(result["path"]).startswith(os.path.realpath(prefix)),
                        result["path"])


if __name__ == "__main__":
    unittest.main()
