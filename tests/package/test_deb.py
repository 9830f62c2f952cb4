"""The Debian package as docs/install.md builds it (the deb presets: prefix /usr, cpack -G DEB),
its fields and files, then installed with apt-get into a bare Debian 12 chroot (debootstrap's
minbase, made once and cached: make-bookworm-chroot.sh), where apt has to bring in its
dependencies, and used there: a program profiled by `mprofile run python3`, the snapshot read by
`mprofile-report`, the module imported by python3.

The chroot is never changed: each run mounts an overlay on it, in a mount namespace of its own,
and throws the overlay away. Skipped (77) when the chroot cannot be made (not root, no
debootstrap, no network to the Debian mirror the first time).

Environment (tests/package/CMakeLists.txt): MP_CMAKE, MP_CPACK, MP_SOURCE_DIR, MP_VERSION,
MP_DEB_BUILD_DIR (the package's build tree, kept between runs), MP_BOOKWORM_CHROOT (optional).
"""
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import unittest

import support

HERE = os.path.dirname(os.path.abspath(__file__))
CHROOT = os.environ.get("MP_BOOKWORM_CHROOT", "/var/cache/mprofile/bookworm")
MULTIARCH = sysconfig.get_config_var("MULTIARCH")  # Debian's python: x86_64-linux-gnu
LIBRARY = "/usr/lib/%s/libmprofile.so.%s" % (MULTIARCH, os.environ["MP_VERSION"])

# Runs as root in a private mount namespace: the overlay, /proc and /dev vanish with it.
INSIDE = r"""
CHROOT=$1 TMP=$2 DEB=$3
mount --make-rprivate /
mkdir "$TMP/upper" "$TMP/work" "$TMP/root"
mount -t overlay overlay -o "lowerdir=$CHROOT,upperdir=$TMP/upper,workdir=$TMP/work" "$TMP/root"
mount --bind /proc "$TMP/root/proc"
mount --rbind /dev "$TMP/root/dev"
cp "$DEB" "$TMP/program.py" "$TMP/root/tmp/"
inside() {
    chroot "$TMP/root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
        LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive sh -euc "cd /tmp && $1"
}
echo "=== install"
inside "apt-get install -y -q ./$(basename "$DEB")"
echo "=== run"
inside "mprofile run --rate 1 -o /tmp/snap.%p.%n.snap python3 /tmp/program.py"
echo "=== report"
inside "mprofile-report -n 3 /tmp/snap.*.1.snap"
echo "=== import"
inside "python3 -c 'import mprofile; print(mprofile.__version__, mprofile._lib.path)'"
"""


def build_package(out_dir):
    """Configures (deb preset), builds and packages; returns the .deb's path."""
    build_dir = os.environ["MP_DEB_BUILD_DIR"]
    cmake = os.environ["MP_CMAKE"]
    support.run([cmake, "--preset", "deb", "-B", build_dir], cwd=os.environ["MP_SOURCE_DIR"])
    support.run([cmake, "--build", build_dir, "--parallel", "2"])
    support.run([os.environ["MP_CPACK"], "--config", os.path.join(build_dir, "CPackConfig.cmake"),
                 "-B", out_dir], cwd=build_dir)
    debs = [name for name in os.listdir(out_dir) if name.endswith(".deb")]
    if len(debs) != 1:
        raise AssertionError("cpack made %r" % debs)
    return os.path.join(out_dir, debs[0])


def sections(output):
    """{"install": text, "run": text, ...} from the === markers of INSIDE."""
    return dict(re.findall(r"^=== (\w+)\n(.*?)(?=^=== |\Z)", output, re.M | re.S))


class DebTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mprofile-deb-")
        # Removed even when setUpClass fails half-way (tearDownClass would not run).
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.deb = build_package(os.path.join(cls.tmp, "out"))

    def test_fields(self):
        fields = support.run(["dpkg-deb", "--field", self.deb])
        self.assertRegex(fields, r"(?m)^Package: mprofile$")
        self.assertRegex(fields, r"(?m)^Version: %s$" % re.escape(os.environ["MP_VERSION"]))
        depends = re.search(r"(?m)^Depends: (.*)$", fields).group(1)
        self.assertRegex(depends, r"\blibc6 \(>= [0-9.]+\)")
        self.assertRegex(depends, r"\bpython3\b")

    def test_files(self):
        listing = support.run(["dpkg-deb", "--contents", self.deb])
        files = {line.split()[5].lstrip(".") for line in listing.splitlines()}
        for path in ["/usr/bin/mprofile", "/usr/bin/mprofile-report", LIBRARY,
                     "/usr/lib/%s/libmprofile.so.0" % MULTIARCH,
                     "/usr/lib/python3/dist-packages/mprofile/__init__.py",
                     "/usr/lib/python3/dist-packages/mprofile/_version.py",
                     "/usr/lib/python3/dist-packages/mprofile/_build_config.py",
                     "/usr/libexec/mprofile/check-config", "/usr/libexec/mprofile/spawn",
                     "/usr/libexec/mprofile/attach",
                     "/usr/share/man/man1/mprofile.1.gz",
                     "/usr/share/man/man1/mprofile-report.1.gz",
                     "/usr/share/doc/mprofile/copyright"]:
            self.assertIn(path, files)
        self.assertFalse([f for f in files if f.startswith("/usr/local")])

    def test_installs_and_profiles_in_a_bare_bookworm(self):
        with open(os.path.join(self.tmp, "program.py"), "w") as f:
            f.write(support.PROGRAM)
        result = subprocess.run(["unshare", "-m", "sh", "-euc", INSIDE, "sh", CHROOT, self.tmp,
                                 self.deb], capture_output=True, text=True,
                                env=support.clean_env())
        output = result.stdout + result.stderr
        self.assertEqual(result.returncode, 0, output)
        steps = sections(result.stdout)
        # python3 was not there: apt brought it in as a dependency.
        self.assertRegex(steps["install"], r"(?m)^Setting up python3 ")
        self.assertRegex(steps["install"], r"(?m)^Setting up mprofile ")
        preloaded = steps["run"].split("preloaded:", 1)[1].strip()
        self.assertEqual(os.path.normpath(preloaded), LIBRARY)
        self.assertIn("/tmp/program.py:%d: size=" % support.ALLOC_LINE, steps["report"])
        version, path = steps["import"].split()
        self.assertEqual(version, os.environ["MP_VERSION"])
        self.assertEqual(os.path.normpath(path), LIBRARY)


def make_chroot():
    """Makes or completes the chroot; skips the test when it cannot be made."""
    if os.geteuid() != 0:
        support.skip("needs root (debootstrap, chroot, mounts)")
    if not os.path.exists(os.path.join(CHROOT, ".mprofile-ready")) \
            and shutil.which("debootstrap") is None:
        support.skip("no chroot at %s and no debootstrap to make one" % CHROOT)
    result = subprocess.run([os.path.join(HERE, "make-bookworm-chroot.sh"), CHROOT],
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.stdout.write(result.stdout + result.stderr)
        support.skip("could not make the Debian 12 chroot %s (no network to the Debian "
                     "mirror?); see the messages above" % CHROOT)


if __name__ == "__main__":
    make_chroot()
    unittest.main()
