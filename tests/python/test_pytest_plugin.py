"""The pytest plugin (mprofile.pytest_plugin), run the way a user runs it: pytest in a
subprocess of this interpreter on a test file with limit_memory and limit_leaks markers, with the
library preloaded or loaded by the package (the mode of this CTest entry). Skipped where this
interpreter has no pytest (Debian's python3-pytest serves /usr/bin/python3.11)."""
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import unittest

import support

try:
    import pytest  # noqa: F401 (only whether it is there)
except ImportError:
    pytest = None

TESTS = '''
import pytest

keep = []

@pytest.mark.limit_memory("4 MB")
def test_peak_over_the_limit():
    blocks = [bytearray(1024 * 1024) for _ in range(8)]   # 8 MiB at the peak, freed at the end
    del blocks

@pytest.mark.limit_memory("4 MB")
def test_peak_under_the_limit():
    blocks = [bytearray(1024 * 1024) for _ in range(2)]
    del blocks

@pytest.mark.limit_leaks("1 MB")
def test_leak_over_the_limit():
    keep.extend(bytearray(512 * 1024) for _ in range(6))   # 3 MiB left behind

@pytest.mark.limit_leaks("1 MB")
def test_no_leak():
    blocks = [bytearray(512 * 1024) for _ in range(6)]
    del blocks

@pytest.mark.limit_memory("24 MB")
def test_failing_on_its_own():
    assert 1 == 2

def test_unmarked():
    assert sum(range(10)) == 45
'''


def setUpModule():
    support.skip_if_unsupported()
    if pytest is None:
        raise unittest.SkipTest("no pytest for %s" % sys.executable)


class PytestPlugin(unittest.TestCase):
    def run_pytest(self, *args):
        directory = tempfile.mkdtemp(prefix="mprofile-pytest-")
        path = os.path.join(directory, "test_limits.py")
        with open(path, "w") as f:
            f.write(textwrap.dedent(TESTS))
        env = dict(os.environ)
        env.pop("PYTEST_ADDOPTS", None)
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "mprofile.pytest_plugin", "-p", "no:cacheprovider",
             "-rA", path, *args],
            cwd=directory, env=env, capture_output=True, text=True, timeout=300)
        return proc, path

    def outcomes(self, output):
        """{test name: PASSED/FAILED} from pytest's -rA summary."""
        return dict((name, state) for state, name in
                    re.findall(r"^(PASSED|FAILED) \S+::(\w+)", output, re.M))

    def test_limits_fail_and_pass_the_right_tests(self):
        proc, path = self.run_pytest()
        out = proc.stdout
        self.assertEqual(proc.returncode, 1, out + proc.stderr)
        self.assertEqual(self.outcomes(out), {
            "test_peak_over_the_limit": "FAILED",
            "test_peak_under_the_limit": "PASSED",
            "test_leak_over_the_limit": "FAILED",
            "test_no_leak": "PASSED",
            "test_failing_on_its_own": "FAILED",
            "test_unmarked": "PASSED",
        }, out)
        # The failures name the limit, the measured size exactly (exact mode) and the top site.
        self.assertRegex(out, r"limit_memory: peak memory 8\.\d MiB \(exactly\) is over the "
                              r"limit of 3\.8 MiB")
        self.assertRegex(out, r"8\.0 MiB  %s:8 \(test_peak_over_the_limit\)" % re.escape(path))
        self.assertRegex(out, r"limit_leaks: memory left allocated 3\.0 MiB \(exactly\) is "
                              r"over the limit of 976\.6 KiB")
        self.assertRegex(out, r"3\.0 MiB  %s:18 \(test_leak_over_the_limit" % re.escape(path))
        # A test that failed by itself keeps its own failure.
        self.assertIn("assert 1 == 2", out)

    def test_sampled_limits_give_the_error(self):
        proc, _ = self.run_pytest("--mprofile-rate=64K", "-k", "over_the_limit")
        out = proc.stdout
        self.assertEqual(self.outcomes(out), {"test_peak_over_the_limit": "FAILED",
                                              "test_leak_over_the_limit": "FAILED"}, out)
        self.assertRegex(out, r"limit_memory: peak memory [\d.]+ MiB \(estimated, standard "
                              r"error [\d.]+ KiB at one sample per 65536 bytes\)")

    def test_report_of_every_test(self):
        proc, path = self.run_pytest("--mprofile", "-k", "under or no_leak or unmarked")
        out = proc.stdout
        self.assertEqual(proc.returncode, 0, out + proc.stderr)
        self.assertIn("mprofile: memory of the tests' calls", out)
        self.assertIn("exact mode", out)
        self.assertRegex(out, r"test_limits.py::test_no_leak: peak 3\.0 MiB, left allocated (\d+ B|\d\.\d KiB)\n")
        self.assertRegex(out, r"test_limits.py::test_peak_under_the_limit: peak 2\.\d MiB")

    def test_bad_limit_is_a_usage_error(self):
        directory = tempfile.mkdtemp(prefix="mprofile-pytest-")
        path = os.path.join(directory, "test_bad.py")
        with open(path, "w") as f:
            f.write("import pytest\n@pytest.mark.limit_memory('lots')\ndef test_x():\n    pass\n")
        proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "mprofile.pytest_plugin",
                               "-p", "no:cacheprovider", path], cwd=directory,
                              capture_output=True, text=True, timeout=120)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("not a memory size: 'lots'", proc.stdout + proc.stderr)


if __name__ == "__main__":
    unittest.main()
