"""memray and mprofile on the native heap, side by side, on the Python of the Debian unstable chroot.

    tests/matrix/make-sid-chroot.sh
    chroot /var/cache/mprofile/sid apt-get install -y python3-memray python3-tornado
    /usr/bin/python3.11 tests/bench/memray_native.py --lib /tmp/bench/lib/libmprofile.so

For each workload of workloads/ and each setting, runs the chroot's python3.14 without and with
the profiler interleaved, as run.py's overhead section does (a warm-up pair, then --pairs
pairs; the median and range of the paired ratios of CPU time and of peak RSS; the same tables).
Settings:

    memray-native     python -m memray run --native -f -o OUT.bin workload.py: every malloc,
                      free and mmap of the process with its Python and native stacks, written
                      to OUT.bin (lz4-compressed at exit, memray's default)
    memray            the same without --native (Python stacks only)
    memray-native-py  --native and --trace-python-allocators (pymalloc's blocks one by one too)
    S, S+native       mprofile setting S of run.py (128k, exact, ...), with MPROFILE_NATIVE=1
    S+native+mixed    the same with MPROFILE_STACKS=mixed (native frames too, like memray-native)

Both tools write their results: memray its capture file, mprofile its exit snapshot
(MPROFILE_AT_EXIT=1, unlike run.py, which takes none); the last table is the size of what each
setting wrote. Runs as root: the runner puts itself in a mount namespace of its own
(unshare -m), binds /proc, /dev, this directory and the library's directory into the chroot, and
times each run with the host's GNU time around chroot(8); the mounts go with the namespace.
Machine noise is real: only ratios from one run count.
"""
import argparse
import datetime
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run  # noqa: E402  (the runner of the overhead tables)

CHROOT = os.environ.get("MP_SID_CHROOT", "/var/cache/mprofile/sid")
MEMRAY = {"memray": [], "memray-native": ["--native"],
          "memray-native-py": ["--native", "--trace-python-allocators"]}
SETTINGS = ["memray-native", "128k+native"]
NAMESPACE_MARK = "MP_MEMRAY_BENCH_NAMESPACE"


class ChrootRunner(run.Runner):
    """run.Runner whose runs are chroot(8) into CHROOT, with the paths seen from inside."""

    def __init__(self, args, inside):
        super().__init__(args)
        self.floor = None
        os.rmdir(self.out_dir)  # the runs write inside the chroot instead
        self.inside = inside  # where the runner's directory is mounted, seen from inside
        self.out_dir = os.path.join(CHROOT + inside, "out")
        self.written = {}  # (setting, script): [bytes written to out_dir by each run]

    def command(self, setting, script, extra_env=None, code=None):
        out = os.path.join(self.inside, "out")
        env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "HOME": "/root", "TMPDIR": "/tmp",
               "BENCH_SCALE": str(self.scale), "PYTHONHASHSEED": "0"}
        argv = [self.python]
        if setting in MEMRAY:
            argv += ["-m", "memray", "run"] + MEMRAY[setting] + [
                "-q", "-f", "-o", os.path.join(out, "memray.bin")]
        elif setting.startswith("tm"):
            argv += ["-X", "tracemalloc=" + setting[2:]]
        elif setting != "none":
            env["LD_PRELOAD"] = os.path.join(self.inside, "lib", os.path.basename(self.lib))
            env.update(run.mprofile_env(setting))
            env["MPROFILE_AT_EXIT"] = "1"
            env["MPROFILE_OUT"] = os.path.join(out, "bench.%p.%n.snap")
        env.update(extra_env or {})
        inner = os.path.join(self.inside, "bench", os.path.relpath(script, HERE))
        argv += ["-c", code, inner] if code else [inner]
        host_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        return (["chroot", CHROOT, "/usr/bin/env", "-i"] + ["%s=%s" % kv for kv in env.items()]
                + argv, host_env)

    def run(self, setting, script, extra_env=None, code=None, capture=False):
        result = super().run(setting, script, extra_env, code, capture)
        size = sum(os.path.getsize(os.path.join(self.out_dir, n)) for n in os.listdir(self.out_dir))
        self.written.setdefault((setting, script), []).append(size)
        return result


def sh(*argv):
    subprocess.run(argv, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n", 2)[2])
    parser.add_argument("--lib", required=True, help="libmprofile.so (built on the host)")
    parser.add_argument("--python", default="/usr/bin/python3.14", help="inside the chroot")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="BENCH_SCALE of the workloads")
    parser.add_argument("--workloads", default=",".join(run.WORKLOADS))
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--markdown", help="append the tables to this file")
    args = parser.parse_args()
    args.floor_lib = None
    if os.geteuid() != 0:
        sys.exit("memray_native: needs root (chroot, mounts)")
    if not os.path.exists(os.path.join(CHROOT, ".mprofile-ready")):
        sys.exit("memray_native: no chroot at %s (tests/matrix/make-sid-chroot.sh)" % CHROOT)
    if os.environ.get(NAMESPACE_MARK) != "1":
        env = dict(os.environ, **{NAMESPACE_MARK: "1"})
        os.execvpe("unshare", ["unshare", "-m", sys.executable, os.path.abspath(__file__)]
                   + sys.argv[1:], env)

    # In a mount namespace of our own: nothing mounted here is seen outside or outlives it.
    inside = "/mprofile/bench.%d" % os.getpid()
    root = CHROOT + inside
    sh("mount", "--make-rprivate", "/")
    for d in ("bench", "lib", "out"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    sh("mount", "--bind", "/proc", os.path.join(CHROOT, "proc"))
    sh("mount", "--rbind", "/dev", os.path.join(CHROOT, "dev"))
    sh("mount", "--bind", HERE, os.path.join(root, "bench"))
    sh("mount", "--bind", os.path.dirname(os.path.abspath(args.lib)), os.path.join(root, "lib"))
    try:
        measure(args, inside)
    finally:
        sh("umount", os.path.join(root, "bench"))
        sh("umount", os.path.join(root, "lib"))
        for n in os.listdir(os.path.join(root, "out")):
            os.unlink(os.path.join(root, "out", n))
        for d in ("bench", "lib", "out", ""):
            os.rmdir(os.path.join(root, d))  # empty once unmounted; never a recursive removal


def measure(args, inside):
    r = ChrootRunner(args, inside)
    probe = ("import sys, numpy; import importlib.metadata as m; print(sys.version.split()[0], "
             "numpy.__version__, m.version('memray'))")
    argv, env = r.command("none", os.path.join(HERE, "run.py"), code=probe)
    versions = subprocess.run(argv[:-1], env=env, capture_output=True, text=True).stdout.split()
    head = "%s, python %s (%s in %s), numpy %s, memray %s, %s; load average at start %s" % (
        datetime.date.today().isoformat(), versions[0], args.python, CHROOT, versions[1],
        versions[2], run.machine(), " ".join("%.2f" % x for x in os.getloadavg()))
    print(head, flush=True)
    md = ["Run of %s: `%s`" % (head, " ".join(["python3.11"] + sys.argv))]

    def emit(title, lines):
        print("\n" + title + "\n" + "\n".join(lines) + "\n", flush=True)
        md.extend(["", "**%s**" % title, ""] + lines)

    run.overhead(r, args, emit)
    settings = [s for s in args.settings.split(",") if s]
    workloads = [w for w in args.workloads.split(",") if w]
    lines = ["| setting | " + " | ".join(workloads) + " |", "| --- |" + " --- |" * len(workloads)]
    for s in settings:
        cells = []
        for w in workloads:
            test = s.split("/")[0]
            sizes = r.written[test, os.path.join(HERE, "workloads", w + ".py")][1:]  # no warm-up
            cells.append("%.2f" % (statistics.median(sizes) / 2**20))
        lines.append("| %s | %s |" % (s, " | ".join(cells)))
    emit("Output written (memray's capture file, mprofile's exit snapshot), MiB, median", lines)
    run.finish_markdown(md, args.markdown)


if __name__ == "__main__":
    main()
