"""`pip install .`: the mprofile package, libmprofile.so and the mprofile and mprofile-report
commands, built by CMake (docs/install.md).

setuptools only packages what CMake built. The build_cmake step configures the project (Release,
no tests), builds it with two jobs and installs it into a staging tree laid out like the
installing interpreter's own scheme: bin/ beside lib/python3.X/site-packages/, with the library
and the launcher's helpers inside the package directory (CMAKE_INSTALL_LIBDIR and LIBEXECDIR
point there). The installed files name each other by relative paths (cmake/InstallPaths.cmake),
so the launcher in the scripts directory finds the library in the package once pip has put both
in place. build_py takes the package directory from the staging tree, build_scripts the two
commands.

The wheel holds ELF binaries for this machine, so it is tagged for this interpreter and platform
(has_ext_modules), not as a pure-Python wheel.
"""
import importlib.util
import os
import re
import shutil
import sys
import sysconfig

from setuptools import Command, setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

# setuptools has no build_scripts of its own; this is its copy of distutils' (imported after
# setuptools, the distutils name resolves to it).
from distutils.command.build_scripts import build_scripts  # noqa: E402

SOURCE_DIR = os.path.dirname(os.path.abspath(__file__))
COMMANDS = ["mprofile", "mprofile-report"]

# setuptools 66 builds wheels with the wheel package's bdist_wheel; without it the error would
# be "invalid command 'bdist_wheel'". pip's build isolation would install it, but offline builds
# run without isolation (docs/install.md).
if "bdist_wheel" in sys.argv and importlib.util.find_spec("wheel") is None:
    sys.exit("mprofile: building the wheel needs the wheel package in this environment: "
             "pip install --no-index --find-links /usr/share/python-wheels wheel "
             "(Debian: apt-get install python3-wheel-whl)")


def project_version():
    """The version in CMakeLists.txt's project(), the one every part of mprofile carries."""
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt"), encoding="utf-8") as f:
        match = re.search(r"project\(mprofile\s+VERSION\s+([0-9.]+)", f.read())
    if not match:
        sys.exit("mprofile: no project(mprofile VERSION ...) in CMakeLists.txt")
    return match.group(1)


def scheme_layout():
    """(bin, package parent) relative to a common root, as this interpreter installs them.

    A virtualenv gives ("bin", "lib/python3.X/site-packages"), as do ~/.local (pip --user) and
    a --prefix; Debian's /usr/bin/python3 gives ("bin", "lib/python3.X/dist-packages") under
    /usr/local. The wheel holds binaries, so it is installed into platlib.
    """
    scripts = sysconfig.get_path("scripts")
    root = os.path.dirname(scripts)
    return os.path.basename(scripts), os.path.relpath(sysconfig.get_path("platlib"), root)


class build_cmake(Command):
    """Configures, builds and installs the project with CMake into a staging tree."""

    description = "build libmprofile.so and the commands with CMake"
    user_options = []

    def initialize_options(self):
        self.build_temp = None
        self.stage = None
        self.package_parent = None
        self.bindir = None

    def finalize_options(self):
        self.set_undefined_options("build", ("build_temp", "build_temp"))
        self.stage = os.path.join(os.path.abspath(self.build_temp), "stage")

    def run(self):
        bindir, self.package_parent = scheme_layout()
        build_dir = os.path.join(os.path.abspath(self.build_temp), "cmake")
        package_dir = self.package_parent + "/mprofile"
        cmake = "cmake"
        self.spawn([cmake, "-S", SOURCE_DIR, "-B", build_dir,
                    "-DCMAKE_BUILD_TYPE=Release",
                    "-DMPROFILE_BUILD_TESTS=OFF",
                    "-DCMAKE_INSTALL_PREFIX=" + self.stage,
                    "-DCMAKE_INSTALL_BINDIR=" + bindir,
                    "-DCMAKE_INSTALL_LIBDIR=" + package_dir,
                    "-DCMAKE_INSTALL_LIBEXECDIR=" + package_dir + "/libexec",
                    "-DMPROFILE_PYTHON_INSTALL_DIRS=" + self.package_parent])
        self.spawn([cmake, "--build", build_dir, "--parallel",
                    os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "2")])
        # A fresh staging tree: nothing of an earlier build may end up in the wheel.
        shutil.rmtree(self.stage, ignore_errors=True)
        self.spawn([cmake, "--install", build_dir])
        self.bindir = os.path.join(self.stage, bindir)

    def staged_package(self):
        return os.path.join(self.stage, self.package_parent, "mprofile")


def copy_regular_files(source, destination):
    """Copies a staged directory, modes kept. Symbolic links (the library's soname and
    development links) are left out: a wheel would turn each into a second copy of the library,
    and every installed file names the library by its real file name."""
    shutil.rmtree(destination, ignore_errors=True)
    shutil.copytree(source, destination, ignore=lambda directory, names: [
        name for name in names
        if name == "__pycache__" or os.path.islink(os.path.join(directory, name))])


class build_py_cmake(build_py):
    """The package directory as CMake installed it: the modules, their generated _version.py
    and _build_config.py, libmprofile.so and libexec/ (the launcher's helpers)."""

    def run(self):
        self.run_command("build_cmake")
        staged = self.get_finalized_command("build_cmake").staged_package()
        copy_regular_files(staged, os.path.join(self.build_lib, "mprofile"))


class build_scripts_cmake(build_scripts):
    """The launcher (a shell script) and mprofile-report (an ELF binary), copied as they are:
    setuptools' own step would read each as a Python script to rewrite its #! line."""

    def run(self):
        self.run_command("build_cmake")
        bindir = self.get_finalized_command("build_cmake").bindir
        self.mkpath(self.build_dir)
        for name in COMMANDS:
            self.copy_file(os.path.join(bindir, name), os.path.join(self.build_dir, name))

    def get_source_files(self):
        return []


class BinaryDistribution(Distribution):
    """Tags the wheel for this interpreter and platform: it holds ELF binaries."""

    def has_ext_modules(self):
        return True


setup(
    version=project_version(),
    package_dir={"": "lib/python"},
    packages=["mprofile"],
    distclass=BinaryDistribution,
    scripts=COMMANDS,
    cmdclass={
        "build_cmake": build_cmake,
        "build_py": build_py_cmake,
        "build_scripts": build_scripts_cmake,
    },
)
