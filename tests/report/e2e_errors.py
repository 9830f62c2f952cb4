"""Bad input and bad arguments: one-line errors, the right exit status,
never a crash or a hang.

usage: e2e_errors.py REPORT_BINARY WORKDIR"""
import os
import pickle
import pty
import random
import re
import subprocess
import sys
import tracemalloc

# "FILE: offset N: detail" for a damaged or invalid snapshot, "FILE: not a
# tracemalloc snapshot ([...; ]offset N: detail)" for any other file.
ERROR_LINE = re.compile(r"^mprofile-report: (.*?): (not a tracemalloc snapshot \()?"
                        r"(not a pickle of protocol 2 to 5; )?offset (\d+): (.+?)(\))?$")


def snapshot_bytes(path):
    tracemalloc.start(5)
    data = [bytearray(100 + i) for i in range(20)]
    snap = tracemalloc.take_snapshot()
    tracemalloc.stop()
    snap.dump(path)
    del data
    with open(path, "rb") as fp:
        return fp.read()


def check_html(report, workdir, good, broken):
    """--format html: a page for a good snapshot; one error line and exit 1 for a broken
    peak (given or found by name) and for --timeline snapshots that are broken or have no
    time to order them by."""
    failures = 0
    d = os.path.join(workdir, "html")
    os.makedirs(d, exist_ok=True)
    paths = {}
    for name, data in (("good.snap", good), ("broken.snap", broken), ("alone.snap", good),
                       ("alone.peak.snap", broken)):
        paths[name] = os.path.join(d, name)
        with open(paths[name], "wb") as fp:
            fp.write(data)
    page = os.path.join(d, "page.html")
    res = subprocess.run([report, "--format", "html", "-o", page, paths["good.snap"]],
                         capture_output=True, text=True)
    with open(page, encoding="utf-8") as fp:
        if res.returncode != 0 or not fp.read().startswith("<!DOCTYPE html>"):
            failures += 1
            print("FAIL html: %d %r" % (res.returncode, res.stderr))
    cases = [
        (["--peak", paths["broken.snap"], paths["good.snap"]], paths["broken.snap"] + ": offset"),
        ([paths["alone.snap"]], paths["alone.peak.snap"] + ": offset"),
        (["--peak", os.path.join(d, "missing.snap"), paths["good.snap"]],
         os.path.join(d, "missing.snap") + ": "),
        (["--timeline", paths["good.snap"]],
         paths["good.snap"] + ": no numeric 'time' metadata"),
        (["--timeline", paths["broken.snap"]], paths["broken.snap"] + ": offset"),
    ]
    for args, needle in cases:
        res = subprocess.run([report, "--format", "html", "-o", page] + args, capture_output=True,
                             text=True)
        lines = res.stderr.splitlines()
        if (res.returncode != 1 or len(lines) != 1
                or not lines[0].startswith("mprofile-report: " + needle)):
            failures += 1
            print("FAIL html %r: %d %r" % (args, res.returncode, res.stderr))
    return failures


def check_filter_hints(report, path):
    """A relative --include/--exclude pattern that matches no frame gets a hint on stderr,
    and only such a pattern; the report and the exit status do not change."""
    failures = 0
    this = os.path.basename(__file__)
    cases = [(["--include", this], "--include '%s' matched no frame; file names are usually "
                                   "absolute paths, try '*/%s'" % (this, this)),
             (["--exclude", "tests/report/*"], "--exclude 'tests/report/*' matched no frame"),
             (["--include", "*/" + this], None), (["--include", os.path.abspath(__file__)], None),
             (["--include", "<frozen nothing>"], None), (["--exclude", "nothing.py"], "'*/nothing.py'"),
             # '?' matches the leading '/': relative, but it matches.
             (["--all-frames", "--include", "*.py", "--exclude", "?*/e2e_*.py"], None)]
    for args, hint in cases:
        res = subprocess.run([report, "-n", "0"] + args + [path], capture_output=True, text=True)
        ok = res.returncode == 0 and res.stdout.startswith("# ")
        if hint is None:
            ok = ok and res.stderr == ""
        else:
            ok = (ok and res.stderr.startswith("mprofile-report: ") and hint in res.stderr
                  and len(res.stderr.splitlines()) == 1)
        if not ok:
            failures += 1
            print("FAIL filter hint %r: %d %r" % (args, res.returncode, res.stderr))
    return failures


def main():
    report, workdir = sys.argv[1:3]
    os.makedirs(workdir, exist_ok=True)
    good = snapshot_bytes(os.path.join(workdir, "good.pickle"))
    rng = random.Random(1234)

    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    # name: (bytes, a part of the detail, what the file is: "other" for no
    # snapshot at all, "text" for no snapshot and no pickle either, "snapshot"
    # for a damaged or invalid snapshot).
    bad = {
        "empty": (b"", "empty file", "other"),
        "random": (bytes(rng.randrange(256) for _ in range(4096)), None, "text"),
        "text": (b"tracemalloc snapshot of app.py\nsize=12 MiB\n", None, "text"),
        "other_pickle": (pickle.dumps({"a": [1, 2, 3]}, protocol=4),
                         "the pickle holds a dict, not a tracemalloc.Snapshot", "other"),
        "list_pickle": (pickle.dumps([("app.py", 1)], protocol=4), "holds a list", "other"),
        "global": (pickle.dumps(Evil(), protocol=2), "refusing global", "other"),
        "huge_string": (b"\x80\x04\x8d" + (1 << 62).to_bytes(8, "little"), "exceeds the input",
                        "other"),
        "huge_frame": (b"\x80\x04\x95" + (1 << 60).to_bytes(8, "little") + b".",
                       "exceeds the input", "other"),
        "deep_marks": (b"\x80\x04" + b"(" * 100000, "nesting deeper", "other"),
        "deep_tuples": (b"\x80\x04)" + b"\x85" * 200000 + b".", "holds a tuple", "other"),
        "memo_bomb": (b"\x80\x04)r\xff\xff\xff\x7f.", "memo index", "other"),
        "bad_get": (b"\x80\x04h\x05.", "never stored", "other"),
        "trailing": (good + b"xx", "trailing bytes", "snapshot"),
        "protocol0": (pickle.dumps([1], protocol=0), None, "text"),
    }
    bad_stacks = tracemalloc.Snapshot([(0, 8, (("<native> main (python3)", 0),), 1)], 5)
    bad_stacks.stacks = 1
    bad["stacks_not_str"] = (pickle.dumps(bad_stacks, protocol=4), "stacks is not a string",
                             "snapshot")
    # The first cuts end before the pickle names tracemalloc.Snapshot.
    for cut, kind in ((1, "other"), (2, "other"), (11, "other"), (40, "snapshot"),
                      (len(good) // 2, "snapshot"), (len(good) - 1, "snapshot")):
        bad["truncated_%d" % cut] = (good[:cut], None, kind)

    failures = 0
    for name, (data, needle, kind) in sorted(bad.items()):
        path = os.path.join(workdir, name + ".pickle")
        with open(path, "wb") as fp:
            fp.write(data)
        res = subprocess.run([report, path], capture_output=True, text=True, timeout=60)
        lines = res.stderr.splitlines()
        m = ERROR_LINE.match(lines[0]) if len(lines) == 1 else None
        ok = (res.returncode == 1 and m is not None and m.group(1) == path
              and int(m.group(4)) <= len(data) and res.stdout == ""
              and (needle is None or needle in m.group(5))
              and bool(m.group(2)) == bool(m.group(6)) == (kind != "snapshot")
              and bool(m.group(3)) == (kind == "text"))
        if not ok:
            failures += 1
            print("FAIL %s: exit %d, stderr %r" % (name, res.returncode, res.stderr))

    res = subprocess.run([report, os.path.join(workdir, "good.pickle")], capture_output=True)
    if res.returncode != 0:
        failures += 1
        print("FAIL: good snapshot rejected: %r" % res.stderr)

    # --python-only on a Python snapshot: allowed, and the same report.
    reports = [subprocess.run([report, "-n", "0"] + flag + [os.path.join(workdir, "good.pickle")],
                              capture_output=True).stdout for flag in ([], ["--python-only"])]
    if reports[0] != reports[1] or not reports[0]:
        failures += 1
        print("FAIL: --python-only changes the report of a Python snapshot")

    missing = os.path.join(workdir, "missing.pickle")
    res = subprocess.run([report, missing], capture_output=True, text=True)
    if res.returncode != 1 or not res.stderr.startswith("mprofile-report: %s: " % missing):
        failures += 1
        print("FAIL missing file: %d %r" % (res.returncode, res.stderr))

    good_path = os.path.join(workdir, "good.pickle")
    usage = [[], ["--top", "x", good_path], ["-g", "function", good_path],
             ["--cumulative", "-g", "traceback", good_path], ["--bogus", good_path],
             ["--diff", good_path], ["--diff", good_path, good_path, good_path],
             ["--trend", good_path, good_path], ["--trend", "--diff", good_path, good_path, good_path],
             ["--diff", "--by-pid", good_path, good_path],
             ["--trend", "--false-leak-rate", "2", good_path, good_path, good_path],
             ["--trend", "--format", "collapsed", good_path, good_path, good_path],
             ["--format", "xml", good_path],
             ["-n"], ["--domain", "pyhton", good_path], ["--exclude-domain", "", good_path],
             ["--domain", "1.5", good_path], ["--domain", "tracked:7", good_path],
             ["--domain-roots", good_path], [good_path, "--domain"],
             ["--format", "pprof", "--diff", good_path, good_path],
             ["--format", "pprof", "--domain-roots", good_path],
             ["--format", "pprof", good_path, good_path],
             ["--format", "pprof", "--by-pid", good_path],
             ["--format", "pprof", "--trend", good_path, good_path, good_path],
             ["--inclusive", "--cumulative", good_path], ["--inclusive", "-g", "traceback", good_path]]
    for args in usage:
        res = subprocess.run([report] + args, capture_output=True, text=True)
        if res.returncode != 2 or not res.stderr.startswith("mprofile-report: ") or res.stdout:
            failures += 1
            print("FAIL usage %r: %d %r" % (args, res.returncode, res.stderr))
    # Merged snapshots: a bad one among good ones is named; --trend wants times.
    res = subprocess.run([report, good_path, missing, good_path], capture_output=True, text=True)
    if res.returncode != 1 or not res.stderr.startswith("mprofile-report: %s: " % missing):
        failures += 1
        print("FAIL merge with a missing file: %d %r" % (res.returncode, res.stderr))
    res = subprocess.run([report, "--trend", good_path, good_path, good_path], capture_output=True,
                         text=True)
    if res.returncode != 1 or res.stderr != ("mprofile-report: %s: no time in its metadata "
                                             "(--trend orders the snapshots by it)\n" % good_path):
        failures += 1
        print("FAIL --trend without times: %d %r" % (res.returncode, res.stderr))
    res = subprocess.run([report, "--domain", "numpy", good_path], capture_output=True, text=True)
    if "invalid --domain 'numpy' (python, native, tracked or a domain number)" not in res.stderr:
        failures += 1
        print("FAIL --domain numpy: %r" % res.stderr)
    for args in (["--help"], ["-h"], ["--version"]):
        res = subprocess.run([report] + args, capture_output=True, text=True)
        if res.returncode != 0 or not res.stdout:
            failures += 1
            print("FAIL %r: %d" % (args, res.returncode))
    res = subprocess.run([report, "--version"], capture_output=True, text=True)
    if not re.fullmatch(r"mprofile-report \d+\.\d+\.\d+\n", res.stdout):
        failures += 1
        print("FAIL --version: %r" % res.stdout)
    res = subprocess.run([report, "--help"], capture_output=True, text=True)
    for option in ("--inclusive", "--hide-imports", "--names", "--version"):
        if option not in res.stdout:
            failures += 1
            print("FAIL --help does not mention %s" % option)
    failures += check_filter_hints(report, good_path)

    out = os.path.join(workdir, "out.txt")
    res = subprocess.run([report, "-o", out, good_path], capture_output=True, text=True)
    with open(out) as fp:
        if res.returncode != 0 or res.stdout or "size=" not in fp.read():
            failures += 1
            print("FAIL -o")

    # A binary profile is not written to a terminal (stdout a pty here).
    primary, secondary = pty.openpty()
    res = subprocess.run([report, "--format", "pprof", good_path], stdout=secondary,
                         stderr=subprocess.PIPE, text=True)
    os.close(secondary)
    os.set_blocking(primary, False)
    try:
        written = os.read(primary, 4096)
    except (BlockingIOError, OSError):
        written = b""
    os.close(primary)
    if res.returncode != 2 or "-o FILE" not in res.stderr or written:
        failures += 1
        print("FAIL pprof to a terminal: %d %r %r" % (res.returncode, res.stderr, written))
    # A write error (a full disk) is an error, as for the other formats.
    if os.path.exists("/dev/full"):
        res = subprocess.run([report, "--format", "pprof", "-o", "/dev/full", good_path],
                             capture_output=True, text=True)
        if res.returncode != 1 or "write error" not in res.stderr:
            failures += 1
            print("FAIL pprof to /dev/full: %d %r" % (res.returncode, res.stderr))

    failures += check_html(report, workdir, good, bad["truncated_40"][0])
    print("%d bad inputs, %d failures" % (len(bad), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
