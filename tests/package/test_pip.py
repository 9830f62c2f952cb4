"""`pip install .` into a fresh virtualenv of Debian's python3.11, offline, as docs/install.md
says: the wheel package from Debian's /usr/share/python-wheels, then the build without isolation
and without an index. Then, with the venv's files only: a program run under the venv's
`mprofile run`, the module imported by the venv's python, the snapshot read by the venv's
`mprofile-report`.

A copy of the source tree is built (pip builds in the tree it is given: the checkout stays
clean). Skipped (77) only when python3-venv is missing.

Environment (tests/package/CMakeLists.txt): MP_SOURCE_DIR, MP_VERSION.
"""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import support

PYTHON = "/usr/bin/python3.11"
WHEELS = "/usr/share/python-wheels"


def copy_sources(destination):
    """The source tree without build trees, version control or bytecode."""
    top_level = {"build", ".git"}
    shutil.copytree(os.environ["MP_SOURCE_DIR"], destination, ignore=lambda directory, names: [
        name for name in names
        if name == "__pycache__" or name.endswith(".egg-info")
        or (directory == os.environ["MP_SOURCE_DIR"] and name in top_level)])


class PipTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mprofile-pip-")
        # Removed even when setUpClass fails half-way (tearDownClass would not run).
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.source = os.path.join(cls.tmp, "src")
        copy_sources(cls.source)
        cls.venv = os.path.join(cls.tmp, "venv")
        support.run([PYTHON, "-m", "venv", cls.venv])
        pip = [os.path.join(cls.venv, "bin", "pip"), "--disable-pip-version-check"]
        support.run(pip + ["install", "--no-index", "--find-links", WHEELS, "wheel"])
        support.run(pip + ["install", "--no-build-isolation", "--no-index", cls.source],
                    cwd=cls.tmp)

    def venv_python(self, code):
        return support.run([os.path.join(self.venv, "bin", "python"), "-c", code], cwd=self.tmp)

    def site_packages(self):
        return self.venv_python("import sysconfig; print(sysconfig.get_path('platlib'))").strip()

    def test_module_loads_the_library_inside_the_package(self):
        version, path, package = json.loads(self.venv_python(
            "import json, os, mprofile; print(json.dumps([mprofile.__version__, "
            "mprofile._lib.path, os.path.dirname(mprofile.__file__)]))"))
        self.assertEqual(version, os.environ["MP_VERSION"])
        self.assertEqual(package, os.path.join(self.site_packages(), "mprofile"))
        self.assertEqual(os.path.dirname(path), package)

    def test_run_and_report_with_the_venvs_commands(self):
        program = os.path.join(self.tmp, "program.py")
        with open(program, "w") as f:
            f.write(support.PROGRAM)
        bin_dir = os.path.join(self.venv, "bin")
        out = support.run([os.path.join(bin_dir, "mprofile"), "run", "--rate", "1", "-o",
                           os.path.join(self.tmp, "snap.%p.%n.snap"),
                           os.path.join(bin_dir, "python"), program], cwd=self.tmp)
        preloaded = out.split("preloaded:", 1)[1].strip()
        self.assertEqual(os.path.dirname(os.path.normpath(preloaded)),
                         os.path.join(self.site_packages(), "mprofile"))
        snapshot = [name for name in os.listdir(self.tmp)
                    if name.startswith("snap.") and not name.endswith(".peak.snap")]
        self.assertEqual(len(snapshot), 1, snapshot)
        report = support.run([os.path.join(bin_dir, "mprofile-report"), "-n", "3",
                              os.path.join(self.tmp, snapshot[0])])
        self.assertIn("%s:%d: size=" % (program, support.ALLOC_LINE), report)

    def test_pytest_plugin_entry_point(self):
        entry_points = json.loads(self.venv_python(
            "import json; from importlib.metadata import entry_points; "
            "print(json.dumps([[e.name, e.value] for e in entry_points(group='pytest11')]))"))
        self.assertIn(["mprofile", "mprofile.pytest_plugin"], entry_points)


if __name__ == "__main__":
    if subprocess.run([PYTHON, "-c", "import ensurepip"], capture_output=True).returncode:
        support.skip("%s has no ensurepip: python3-venv is not installed" % PYTHON)
    unittest.main()
