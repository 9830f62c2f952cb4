"""End-to-end test of mprofile-report on mixed Python + native stacks.

Runs data/workload.py under PYTHON with tracemalloc for two real
snapshots, then (in that interpreter) turns each into a "mixed" snapshot
as libmprofile writes them with MPROFILE_STACKS=mixed: native frames
("<native> ..." file names, line 0) at the top, in the middle and at the
bottom of the tracebacks, some tracebacks of native frames only, and the
metadata keys of docs/format.md: stacks = "mixed", native_objects and
native_frames (lists of tuples).  The same traces without their
native frames (a traceback left empty becomes ("<unknown>", 0)) are the
"stripped" snapshots: what a Python-only recording gives.  Checks, for
every key type, cumulative mode, filter set and --diff:
  - tracemalloc.Snapshot.load() opens the mixed snapshots;
  - default rows on the mixed snapshots are tracemalloc's statistics() /
    compare_to() on them (native frames are ordinary frames to tracemalloc);
  - --python-only rows on the mixed snapshots are tracemalloc's rows on the
    stripped ones;
and the header line, the JSON "native" flags and collapsed stacks.

usage: e2e_stacks.py REPORT_BINARY PYTHON WORKDIR
Exits 77 (skipped) when PYTHON is missing."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from e2e_report import report_rows, rows_match, write_snapshots  # noqa: E402

# Writes the mixed, stripped and named (the mixed traces with stacks =
# "python": native names are then ordinary file names) snapshots made from a
# tracemalloc snapshot; prints the number of distinct native frames.
MAKE = r'''
import pickle, sys, tracemalloc
src, mixed_path, stripped_path, named_path = sys.argv[1:5]
snap = tracemalloc.Snapshot.load(src)
TOP = ["<native> deflate (libz.so.1)", "<native> libz.so.1+0x4b2c", "<native> ??"]
MIDDLE = "<native> PyObject_Call (libpython3.so.1.0)"
BOTTOM = ["<native> Py_RunMain (libpython3.so.1.0)", "<native> main (python3)"]
THREAD = ["<native> worker (libx.so)", "<native> libc.so.6+0x94ac3"]

def native(name):
    return (name, 0)

def mix(i, frames):
    """Native frames where they occur in real mixed stacks, by trace index."""
    frames = list(frames)
    if i % 23 == 0:
        return [native(n) for n in THREAD]  # a C thread: no Python frame
    if i % 4 in (0, 3):
        frames.insert(0, native(TOP[i % 3]))
    if i % 4 in (1, 3) and len(frames) > 1:
        frames.insert(len(frames) // 2, native(MIDDLE))
    if i % 4 in (2, 3):
        frames += [native(n) for n in BOTTOM]
    return frames

mixed, stripped, names = [], [], set()
for i, (domain, size, frames, total) in enumerate(snap.traces._traces):
    m = mix(i, frames)
    names.update(f for f, _ in m if f.startswith("<native> "))
    python = tuple(f for f in m if not f[0].startswith("<native> ")) or (("<unknown>", 0),)
    mixed.append((domain, size, tuple(m), total - len(frames) + len(m)))
    stripped.append((domain, size, python, len(python) if python[0][0] == "<unknown>" else total))

def dump(traces, path, stacks):
    # traceback_limit counts Python frames only (docs/format.md).
    out = tracemalloc.Snapshot(traces, snap.traceback_limit)
    out.sample_rate = 1
    out.pid = 4242
    out.time = 1764300000.5
    out.python_version = "%d.%d.%d" % sys.version_info[:3]
    out.mprofile_version = "0.1.0"
    out.live_bytes = sum(t[1] for t in traces)
    out.peak_bytes = out.live_bytes
    out.samples = len(traces)
    out.dropped_samples = 0
    out.profiler_memory = 65536
    if stacks:
        out.stacks = stacks
        # docs/format.md: (path, build_id, start, end) and (filename, object, offset).
        out.native_objects = [("/usr/lib/libz.so.1", "3a9f0c", 0x2000, 0x16000),
                              ("/usr/bin/python3", None, 0x1000, 0x2a0000)]
        out.native_frames = [(n, i % 2 if i % 3 else None, 0x4b2c + i)
                             for i, n in enumerate(sorted(names))]
    with open(path, "wb") as fp:
        pickle.dump(out, fp, protocol=4)

dump(mixed, mixed_path, "mixed")
dump(stripped, stripped_path, None)
dump(mixed, named_path, "python")
loaded = tracemalloc.Snapshot.load(mixed_path)
assert loaded.stacks == "mixed" and len(loaded.traces) == len(mixed)
print(len(names))
'''

EXPECT = r'''
import json, sys, tracemalloc
out = []
for case in json.load(sys.stdin):
    filters = [tracemalloc.Filter(inc, pat, all_frames=case["all_frames"])
               for inc, pat in case["filters"]]
    new = tracemalloc.Snapshot.load(case["new"])
    if filters:
        new = new.filter_traces(filters)
    if case["old"]:
        old = tracemalloc.Snapshot.load(case["old"])
        if filters:
            old = old.filter_traces(filters)
        stats = new.compare_to(old, case["key"], case["cumulative"])
    else:
        stats = new.statistics(case["key"], case["cumulative"])
    out.append([str(s) for s in stats])
json.dump(out, sys.stdout)
'''

FILTER_SETS = [
    ([], False),
    ([(True, "*workload_helper.py")], False),
    ([(True, "*workload_helper.py")], True),
    ([(False, "<native> *")], False),
    ([(True, "<native> *lib*")], True),
    ([(False, "*/json/*"), (False, "<unknown>")], False),
]

KEYS = (("lineno", False), ("filename", False), ("traceback", False), ("lineno", True),
        ("filename", True))


def make(python, src, workdir, tag):
    paths = [os.path.join(workdir, "%s.%s.snap" % (tag, kind))
             for kind in ("mixed", "stripped", "named")]
    res = subprocess.run([python, "-c", MAKE, src] + paths, capture_output=True, text=True,
                         check=True)
    return paths, int(res.stdout)


# (report flags, snapshot read by the report, snapshot tracemalloc reads),
# as indexes into (mixed, stripped, named).
VARIANTS = (([], 0, 0), (["--python-only"], 0, 1), (["--python-only"], 2, 2))


def cases_for(snaps, old_snaps):
    """(report arguments, what tracemalloc computes the expected rows from) per case."""
    out = []
    for filters, all_frames in FILTER_SETS:
        opts = ["--all-frames"] if all_frames else []
        for inc, pat in filters:
            opts += ["--include" if inc else "--exclude", pat]
        for key, cumulative in KEYS:
            for diff in (False, True):
                for flags, mine, theirs in VARIANTS:
                    args = ["-n", "0", "-g", key] + (["--cumulative"] if cumulative else [])
                    args += opts + flags
                    args += ["--diff", old_snaps[mine], snaps[mine]] if diff else [snaps[mine]]
                    out.append((args, {"key": key, "cumulative": cumulative, "filters": filters,
                                       "all_frames": all_frames, "new": snaps[theirs],
                                       "old": old_snaps[theirs] if diff else None}))
    return out


def check_json(report, mixed, n_native):
    failures = 0
    doc = json.loads(subprocess.run([report, "-n", "0", "-g", "traceback", "--format", "json",
                                     mixed], capture_output=True, text=True, check=True).stdout)
    snap = doc["snapshot"]
    if (snap["stacks"], snap["distinct_native_frames"], snap["metadata"].get("stacks"),
            doc["python_only"]) != ("mixed", n_native, "mixed", False):
        print("FAIL: JSON snapshot stacks fields: %s" % {k: snap.get(k) for k in snap
                                                         if k != "domains"})
        failures += 1
    if "native_objects" in snap["metadata"] or "native_frames" in snap["metadata"]:
        print("FAIL: JSON metadata has non-scalar keys")
        failures += 1
    flags = [(f["filename"].startswith("<native> "), f.get("native", False))
             for r in doc["rows"] for f in r["frames"]]
    if not any(a for a, _ in flags) or any(a != b for a, b in flags):
        print("FAIL: JSON frames: native flags do not match native names")
        failures += 1
    doc = json.loads(subprocess.run([report, "--python-only", "-n", "0", "-g", "traceback",
                                     "--format", "json", mixed], capture_output=True, text=True,
                                    check=True).stdout)
    if not doc["python_only"] or any("native" in f for r in doc["rows"] for f in r["frames"]):
        print("FAIL: JSON --python-only keeps native frames")
        failures += 1
    return failures


def check_header_and_collapsed(report, mixed, stripped, n_native):
    failures = 0
    line = "# stacks: mixed, %d distinct native frames\n" % n_native
    out = subprocess.run([report, mixed], capture_output=True, text=True, check=True).stdout
    if line not in out:
        print("FAIL: no '%s' in the header:\n%s" % (line.strip(), out))
        failures += 1
    out = subprocess.run([report, "--python-only", mixed], capture_output=True, text=True,
                         check=True).stdout
    if line.replace("\n", " dropped (--python-only)\n") not in out:
        print("FAIL: --python-only header:\n%s" % out)
        failures += 1
    out = subprocess.run([report, stripped], capture_output=True, text=True, check=True).stdout
    if "# stacks" in out:
        print("FAIL: a Python snapshot has a stacks line")
        failures += 1
    folded = [subprocess.run([report, "--format", "collapsed"] + args, capture_output=True,
                             text=True, check=True).stdout
              for args in (["--python-only", mixed], [stripped])]
    if folded[0] != folded[1] or not folded[0]:
        print("FAIL: collapsed --python-only differs from the stripped snapshot's")
        failures += 1
    return failures


def main():
    report, python, workdir = sys.argv[1:4]
    snapshots = write_snapshots(python, workdir, "workload.py")
    if snapshots is None:
        return 77
    old_snaps, _ = make(python, snapshots[0], workdir, "old")
    snaps, n_native = make(python, snapshots[1], workdir, "new")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    cases = cases_for(snaps, old_snaps)
    res = subprocess.run([python, "-c", EXPECT], input=json.dumps([w for _, w in cases]), env=env,
                         capture_output=True, text=True, check=True)
    expected = json.loads(res.stdout)
    failures = sum(not rows_match([report] + argv, want)
                   for (argv, _), want in zip(cases, expected))
    # The default report: statistics('lineno')[:10] of the mixed snapshot.
    got = subprocess.run([report, snaps[0]], capture_output=True, text=True, check=True)
    top = expected[0][:10]
    if report_rows(got.stdout) != top or not any(r.startswith("<native> ") for r in top):
        failures += 1
        print("FAIL: default report differs from statistics('lineno')[:10]")
    failures += check_json(report, snaps[0], n_native)
    failures += check_header_and_collapsed(report, snaps[0], snaps[1], n_native)
    print("%d cases, %d failures" % (len(cases) + 6, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
