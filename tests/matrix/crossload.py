"""Snapshots written under every interpreter load in every other interpreter's tracemalloc.

Each interpreter runs the same program with libmprofile.so preloaded in exact mode
(MPROFILE_RATE=1); then every interpreter loads every snapshot with tracemalloc.Snapshot.load
and reports what it sees on the program's allocation line, which must be the same everywhere.

Interpreters: MP_CROSSLOAD_PYTHONS (host paths, ':'-separated), plus python3.13, python3.14
and python3.15 of the Debian unstable chroot (MP_SID_CHROOT, default /var/cache/mprofile/sid)
when it exists and this runs as root. Exits 77 when fewer than two interpreters are found.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

LIB = os.environ.get("MP_LIB", "")
CHROOT = os.environ.get("MP_SID_CHROOT", "/var/cache/mprofile/sid")

PROGRAM = """\
keep = []
for i in range(64):
    keep.append(bytearray(100000 + i))
"""
LINE = 3

LOADER = """\
import json, sys, tracemalloc
out = {}
for path in sys.argv[2:]:
    snap = tracemalloc.Snapshot.load(path)
    big = [t.size for t in snap.traces
           if t.traceback[0].filename.endswith(sys.argv[1]) and t.traceback[0].lineno == %d
           and t.size >= 100000]
    out[path.rsplit("/", 1)[-1]] = [len(big), sum(big)]
print(json.dumps(out, sort_keys=True))
""" % LINE


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MPROFILE", "PYTHON", "LD_PRELOAD"))}
    env.update(extra)
    return env


class Host:
    def __init__(self, python, work):
        self.python, self.work = python, work
        self.name = "host:" + python

    def path(self, rel):  # the same file as seen by the interpreter
        return os.path.join(self.work, rel)

    def run(self, args, **env):
        return subprocess.run([self.python, *args], env=clean_env(**env), cwd=self.work,
                              capture_output=True, timeout=300)


class Sid:
    """An interpreter inside the chroot; work is a directory under the chroot's /tmp."""

    def __init__(self, version, work):
        self.version, self.work = version, work
        self.inside = "/tmp/" + os.path.basename(work)
        self.name = "sid:python" + version

    def path(self, rel):
        return os.path.join(self.inside, rel)

    def run(self, args, **env):
        inner = ("mount --make-rprivate / && mount --bind /proc \"$0/proc\" && "
                 "mount --rbind /dev \"$0/dev\" && exec chroot \"$0\" \"$@\"")
        envargs = ["%s=%s" % kv for kv in env.items()]
        cmd = ["unshare", "-m", "sh", "-c", inner, CHROOT, "/usr/bin/env", "-i",
               "PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", *envargs, "sh", "-c",
               'cd "$0" && exec "$@"', self.inside, "/usr/bin/python" + self.version, *args]
        return subprocess.run(cmd, capture_output=True, timeout=300)


def main():
    if not LIB or not os.path.exists(LIB):
        print("crossload: set MP_LIB", file=sys.stderr)
        return 2
    hosts = [p for p in os.environ.get("MP_CROSSLOAD_PYTHONS", "").split(":") if p]
    hosts = [p for p in dict.fromkeys(hosts) if os.path.exists(p)]
    use_sid = os.geteuid() == 0 and os.path.exists(os.path.join(CHROOT, ".mprofile-ready"))
    sid_tmp = os.path.join(CHROOT, "tmp")
    work = tempfile.mkdtemp(prefix="mprofile-crossload-", dir=sid_tmp if use_sid else None)
    try:
        os.chmod(work, 0o755)
        shutil.copy(LIB, os.path.join(work, "libmprofile.so"))
        with open(os.path.join(work, "prog.py"), "w") as f:
            f.write(PROGRAM)
        interpreters = [Host(p, work) for p in hosts]
        if use_sid:
            interpreters += [Sid(v, work) for v in ("3.13", "3.14", "3.15")
                             if os.path.exists(os.path.join(CHROOT, "usr/bin/python" + v))]
        else:
            print("crossload: no sid chroot at %s; host interpreters only" % CHROOT)
        if len(interpreters) < 2:
            print("crossload: fewer than two interpreters; skipped")
            return 77

        names = []
        for i, py in enumerate(interpreters):
            snap = "snap.%d.pickle" % i
            proc = py.run([py.path("prog.py")], LD_PRELOAD=py.path("libmprofile.so"),
                          MPROFILE_RATE="1", MPROFILE_OUT=py.path(snap))
            if proc.returncode != 0 or not os.path.exists(os.path.join(work, snap)):
                print("crossload: %s could not write a snapshot: %s" % (py.name, proc.stderr))
                return 1
            names.append(snap)

        with open(os.path.join(work, "loader.py"), "w") as f:
            f.write(LOADER)
        # What each snapshot holds depends on its writer (bytearray's buffer is n + 1 bytes,
        # and 3.15 keeps it in a bytes object with its header): every loader must read the same
        # thing from it, with the 64 allocations of the program's line.
        reference = None
        failures = 0
        for py in interpreters:
            proc = py.run([py.path("loader.py"), "prog.py", *[py.path(n) for n in names]])
            if proc.returncode != 0:
                print("crossload: %s FAILED to load: %s" % (py.name, proc.stderr.decode()[-2000:]))
                failures += 1
                continue
            seen = json.loads(proc.stdout)
            if reference is None:
                reference = seen
            bad = {interpreters[int(n.split(".")[1])].name: v for n, v in seen.items()
                   if v != reference[n] or v[0] != 64}
            if bad or len(seen) != len(names):
                print("crossload: %s read %s, expected %s" % (py.name, bad, reference))
                failures += 1
            else:
                print("crossload: %s loaded the snapshots of all %d interpreters"
                      % (py.name, len(names)))
        print("crossload: %s (%s)" % ("OK" if not failures else "FAILED",
                                      ", ".join(p.name for p in interpreters)))
        return 1 if failures else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
