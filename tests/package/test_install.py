"""`cmake --install` of the build under test, staged with DESTDIR: the layout, the Python package
in a directory Debian's interpreters search, and the staged tree working where it is (every
installed file names the others relative to itself, cmake/InstallPaths.cmake).

Environment (tests/package/CMakeLists.txt): MP_CMAKE, MP_BINARY_DIR, MP_PREFIX and the install
directories MP_BINDIR, MP_LIBDIR, MP_LIBEXECDIR, MP_MANDIR, MP_PYTHON_INSTALL_DIRS (;-separated),
MP_LIBRARY_NAME (the library's file name), MP_VERSION.
"""
import gzip
import json
import os
import re
import shutil
import tempfile
import unittest

import support

ENV = os.environ
PREFIX = ENV["MP_PREFIX"]


def interpreter_for(python_dir):
    """Debian's interpreter that searches python_dir: python3.X for lib/python3.X/...,
    python3 for the version-independent lib/python3/dist-packages."""
    match = re.search(r"python(3\.[0-9]+)/", python_dir + "/")
    return "/usr/bin/python" + (match.group(1) if match else "3")


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mprofile-install-")
        # Removed even when setUpClass fails half-way (tearDownClass would not run).
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.destdir = os.path.join(cls.tmp, "destdir")
        support.run([ENV["MP_CMAKE"], "--install", ENV["MP_BINARY_DIR"]],
                    env=support.clean_env(DESTDIR=cls.destdir))
        cls.root = cls.destdir + PREFIX

    def installed(self, *parts):
        path = os.path.join(self.root, *parts)
        self.assertTrue(os.path.exists(path), path)
        return path

    def python_dirs(self):
        return ENV["MP_PYTHON_INSTALL_DIRS"].split(";")

    def test_layout(self):
        for name in ("mprofile", "mprofile-report"):
            self.assertTrue(os.access(self.installed(ENV["MP_BINDIR"], name), os.X_OK), name)
        for name in ("check-config", "spawn", "attach"):
            self.installed(ENV["MP_LIBEXECDIR"], "mprofile", name)
        self.installed(ENV["MP_LIBDIR"], ENV["MP_LIBRARY_NAME"])
        self.installed(ENV["MP_LIBDIR"], "libmprofile.so.0")
        for python_dir in self.python_dirs():
            for name in ("__init__.py", "_lib.py", "_version.py", "_build_config.py"):
                self.installed(python_dir, "mprofile", name)

    def test_python_dirs_are_where_debians_interpreters_look(self):
        if PREFIX not in ("/usr", "/usr/local"):
            self.skipTest("prefix %s: the package is for PYTHONPATH" % PREFIX)
        for python_dir in self.python_dirs():
            python = interpreter_for(python_dir)
            searched = json.loads(support.run(
                [python, "-c", "import json, site; print(json.dumps(site.getsitepackages()))"]))
            self.assertIn(os.path.join(PREFIX, python_dir), searched, python)

    def test_installed_package_loads_the_installed_library(self):
        library = os.path.realpath(self.installed(ENV["MP_LIBDIR"], ENV["MP_LIBRARY_NAME"]))
        for python_dir in self.python_dirs():
            python = interpreter_for(python_dir)
            out = support.run([python, "-c", """if 1:
                import json, mprofile
                mprofile.start(sample_rate=1)
                data = bytearray(100000)
                stats = mprofile.take_snapshot().statistics("lineno")
                print(json.dumps([mprofile.__version__, mprofile._lib.path, stats[0].size]))
                """], env=support.clean_env(PYTHONPATH=self.installed(python_dir)),
                cwd=self.tmp)
            version, path, size = json.loads(out)
            self.assertEqual(version, ENV["MP_VERSION"])
            self.assertEqual(os.path.realpath(path), library)
            self.assertGreaterEqual(size, 100000)

    def test_launcher_and_report_use_the_installed_files(self):
        program = os.path.join(self.tmp, "program.py")
        with open(program, "w") as f:
            f.write(support.PROGRAM)
        # Through a symbolic link, as from a bin directory of one's own.
        link_dir = os.path.join(self.tmp, "links")
        os.makedirs(link_dir, exist_ok=True)
        launcher = os.path.join(link_dir, "mprofile")
        if not os.path.lexists(launcher):
            os.symlink(self.installed(ENV["MP_BINDIR"], "mprofile"), launcher)
        out = support.run([launcher, "run", "--rate", "1", "-o",
                           os.path.join(self.tmp, "snap.%p.%n.snap"), "/usr/bin/python3.11",
                           program], cwd=self.tmp)
        preloaded = out.split("preloaded:", 1)[1].strip()
        self.assertEqual(os.path.realpath(preloaded),
                         os.path.realpath(self.installed(ENV["MP_LIBDIR"], ENV["MP_LIBRARY_NAME"])))
        snapshot = [name for name in os.listdir(self.tmp)
                    if name.startswith("snap.") and not name.endswith(".peak.snap")]
        self.assertEqual(len(snapshot), 1, snapshot)
        snapshot = os.path.join(self.tmp, snapshot[0])
        site = "%s:%d: size=" % (program, support.ALLOC_LINE)
        report = support.run([self.installed(ENV["MP_BINDIR"], "mprofile-report"), "-n", "3",
                              snapshot])
        self.assertIn(site, report)
        # `mprofile report` runs the installed mprofile-report.
        self.assertEqual(support.run([launcher, "report", "-n", "3", snapshot]), report)

    def test_man_pages_document_every_option(self):
        for command in ("mprofile", "mprofile-report"):
            with gzip.open(self.installed(ENV["MP_MANDIR"], "man1", command + ".1.gz"), "rt") as f:
                page = f.read()
            self.assertIn(".TH %s 1" % command.upper(), page)
            self.assertIn("mprofile " + ENV["MP_VERSION"], page)
            usage = support.run([self.installed(ENV["MP_BINDIR"], command), "--help"])
            for option in set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", usage)):
                # roff spells "-" as "\-".
                self.assertTrue(option.replace("-", "\\-") in page,
                                "%s.1 lacks %s" % (command, option))


if __name__ == "__main__":
    unittest.main()
