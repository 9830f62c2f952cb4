"""End-to-end: snapshots written by libmprofile itself.

Runs data/alloc_program.py under LD_PRELOAD=libmprofile.so, once in exact
mode (MPROFILE_RATE=1) and once sampled, and checks mprofile-report against
tracemalloc loading the same files:
  - exact mode: the rows are exactly tracemalloc's statistics() rows;
  - sampled mode: the same keys with the same sizes (counts differ on
    purpose: tracemalloc counts samples, mprofile-report estimates
    allocations), each with an rse, and the header says "sampled".
Each run also writes a peak snapshot (NAME.peak.EXT): both files print the
trigger, the peak snapshot its "# peak snapshot" line, both the "# timeline"
line, and JSON carries trigger, is_peak, peak_time and the timeline as
pickle loads them; in exact mode the peak snapshot's rows are tracemalloc's.
Then runs data/native_program.py in exact mode with MPROFILE_NATIVE=1: the
snapshot has python and native traces; the header gives each domain's
totals, and --domain python / native print exactly the rows of
filter_traces([DomainFilter(True, d)]).statistics(), native rows marked.
The exact snapshot's function names (frame_names): --names rows and collapsed
stacks carry the names pickle loads.
Last, data/alloc_program.py in exact mode with MPROFILE_STACKS=mixed (skipped
when libmprofile falls back to Python stacks, without libunwind): default rows
are tracemalloc's on the mixed snapshot, --python-only rows are tracemalloc's
on its traces without native frames, and the program's own rows with
--python-only equal those of the exact run with Python stacks.

usage: e2e_libmprofile.py REPORT_BINARY LIBMPROFILE PYTHON WORKDIR
Exits 77 (skipped) when the library or the interpreter is missing."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

EXPECT = r'''
import json, sys, tracemalloc
s = tracemalloc.Snapshot.load(sys.argv[1])
print(json.dumps({key: [[str(st.traceback), st.size, st.count, str(st)]
                        for st in s.statistics(key)]
                  for key in ("lineno", "filename", "traceback")}))
'''


EXPECT_DOMAINS = r'''
import json, sys, tracemalloc
s = tracemalloc.Snapshot.load(sys.argv[1])
out = {"totals": {}}
for d, size, *rest in s.traces._traces:
    n, b = out["totals"].get(str(d), (0, 0))
    out["totals"][str(d)] = (n + 1, b + size)
for d in (0, 0x4D504E41):
    f = s.filter_traces([tracemalloc.DomainFilter(True, d)])
    out[str(d)] = [str(st) for st in f.statistics("lineno")]
print(json.dumps(out))
'''


EXPECT_MIXED = r'''
import json, sys, tracemalloc
s = tracemalloc.Snapshot.load(sys.argv[1])
def python_frames(frames):
    return tuple(f for f in frames if not f[0].startswith("<native> ")) or (("<unknown>", 0),)
stripped = tracemalloc.Snapshot([(d, size, python_frames(f), n)
                                 for d, size, f, n in s.traces._traces], s.traceback_limit)
names = set(f for t in s.traces._traces for f in t[2] if f[0].startswith("<native> "))
print(json.dumps({"stacks": getattr(s, "stacks", None), "native_frames": len(names),
                  "mixed": {k: [str(st) for st in s.statistics(k)] for k in KEYS},
                  "stripped": {k: [str(st) for st in stripped.statistics(k)] for k in KEYS}}))
'''.replace("KEYS", repr(("lineno", "filename", "traceback")))


def check_mixed(report, lib, python, workdir):
    """MPROFILE_STACKS=mixed: the report against tracemalloc, and --python-only against the
    exact run with Python stacks (exact.snap)."""
    snap = os.path.join(workdir, "mixed.snap")
    if os.path.exists(snap):
        os.unlink(snap)
    env = dict(os.environ, LD_PRELOAD=lib, MPROFILE_RATE="1", MPROFILE_STACKS="mixed",
               MPROFILE_OUT=snap, PYTHONDONTWRITEBYTECODE="1")
    subprocess.run([python, os.path.join(HERE, "data", "alloc_program.py")], env=env,
                   cwd=os.path.join(HERE, "data"), check=True)
    if not os.path.exists(snap):
        print("FAIL mixed: libmprofile wrote no snapshot")
        return 1
    want = json.loads(subprocess.run([python, "-c", EXPECT_MIXED, snap], capture_output=True,
                                     text=True, check=True).stdout)
    if want["stacks"] != "mixed":
        print("SKIP mixed: libmprofile wrote Python stacks (no libunwind?)")
        return 0
    failures = 0
    for key in ("lineno", "filename", "traceback"):
        for flag, expect in (([], "mixed"), (["--python-only"], "stripped")):
            out = subprocess.run([report, "-n", "0", "-g", key] + flag + [snap],
                                 capture_output=True, text=True, check=True).stdout
            if rows(out) != want[expect][key]:
                print("FAIL mixed %s -g %s: rows differ from tracemalloc's on the %s snapshot"
                      % (" ".join(flag), key, expect))
                failures += 1
    line = "# stacks: mixed, %d distinct native frames\n" % want["native_frames"]
    if line not in subprocess.run([report, snap], capture_output=True, text=True,
                                  check=True).stdout:
        print("FAIL mixed: no '%s' in the header" % line.strip())
        failures += 1
    # The program's own rows: those of a recording with Python stacks.
    for key in ("lineno", "traceback"):
        mine, theirs = (rows(subprocess.run([report, "-n", "0", "-g", key, "--include", "*/data/*"]
                                            + flag + [path], capture_output=True, text=True,
                                            check=True).stdout)
                        for flag, path in ((["--python-only"], snap),
                                           ([], os.path.join(workdir, "exact.snap"))))
        if mine != theirs or not mine:
            print("FAIL mixed --python-only -g %s: the program's rows differ from a Python-stacks"
                  " run's" % key)
            failures += 1
    return failures


EXPECT_PEAK = r'''
import json, sys, tracemalloc
s = tracemalloc.Snapshot.load(sys.argv[1])
print(json.dumps({k: getattr(s, k, None) for k in ("trigger", "is_peak", "peak_time",
                                                   "timeline")}))
'''


def check_peak(report, python, snap, mode):
    """The peak snapshot written beside SNAP (NAME.peak.EXT) and SNAP itself: the header
    lines of the trigger, the peak and the timeline, and the same keys in JSON as
    tracemalloc's pickle loads them.  In exact mode the peak rows are tracemalloc's too."""
    base, ext = os.path.splitext(snap)
    peak = base + ".peak" + ext
    if not os.path.exists(peak):
        print("FAIL %s: no peak snapshot %s" % (mode, peak))
        return 1
    failures = 0
    for path, is_peak in ((snap, False), (peak, True)):
        want = json.loads(subprocess.run([python, "-c", EXPECT_PEAK, path], capture_output=True,
                                         text=True, check=True).stdout)
        header = [line for line in subprocess.run([report, path], capture_output=True,
                                                  text=True, check=True).stdout.splitlines()
                  if line.startswith("# ")]
        name = "%s %s" % (mode, os.path.basename(path))
        if want["is_peak"] is not is_peak or want["trigger"] != "exit" or not want["timeline"]:
            print("FAIL %s: metadata %s" % (name, {k: want[k] for k in ("trigger", "is_peak")}))
            failures += 1
            continue
        checks = [
            ("trigger", any(line.startswith("# pid=") and ", trigger=exit, " in line
                            for line in header)),
            ("peak line", is_peak == any(line.startswith("# peak snapshot: the live set at the "
                                                         "peak, ") for line in header)),
            ("timeline line", any(line.startswith("# timeline: %d points over "
                                                  % len(want["timeline"])) for line in header)),
        ]
        meta = json.loads(subprocess.run([report, "--format", "json", path], capture_output=True,
                                         text=True, check=True).stdout)["snapshot"]["metadata"]
        checks.append(("JSON", all(meta.get(k) == want[k] for k in ("trigger", "is_peak",
                                                                    "peak_time"))
                       and meta.get("timeline") == [list(p) for p in want["timeline"]]))
        for what, ok in checks:
            if not ok:
                print("FAIL %s: %s" % (name, what))
                failures += 1
    if mode == "exact":
        want = json.loads(subprocess.run([python, "-c", EXPECT, peak], capture_output=True,
                                         text=True, check=True).stdout)
        got = subprocess.run([report, "-n", "0", peak], capture_output=True, text=True,
                             check=True).stdout
        if rows(got) != [w[3] for w in want["lineno"]]:
            print("FAIL exact peak snapshot: rows differ from tracemalloc's")
            failures += 1
    return failures


def check_native(report, lib, python, workdir):
    """Native heap blocks: the domains of a libmprofile snapshot."""
    snap = os.path.join(workdir, "native.snap")
    if os.path.exists(snap):
        os.unlink(snap)
    env = dict(os.environ, LD_PRELOAD=lib, MPROFILE_RATE="1", MPROFILE_NATIVE="1",
               MPROFILE_OUT=snap, PYTHONDONTWRITEBYTECODE="1")
    subprocess.run([python, os.path.join(HERE, "data", "native_program.py")], env=env,
                   cwd=os.path.join(HERE, "data"), check=True)
    if not os.path.exists(snap):
        print("FAIL native: libmprofile wrote no snapshot")
        return 1
    want = json.loads(subprocess.run([python, "-c", EXPECT_DOMAINS, snap], capture_output=True,
                                     text=True, check=True).stdout)
    failures = 0
    native = str(0x4D504E41)
    if set(want["totals"]) != {"0", native}:
        print("FAIL native: domains %s, want python and native" % sorted(want["totals"]))
        return 1
    got = subprocess.run([report, snap], capture_output=True, text=True, check=True).stdout
    for d, name in (("0", "python"), (native, "native")):
        n, size = want["totals"][d]
        line = "# domain %s: %d traces, " % (name, n)
        if line not in got:
            print("FAIL native: no '%s' in the header" % line)
            failures += 1
        out = subprocess.run([report, "-n", "0", "--domain", name, snap], capture_output=True,
                             text=True, check=True).stdout
        marker = " [native]" if name == "native" else ""
        if rows(out) != [r + marker for r in want[d]]:
            print("FAIL native: --domain %s rows differ from DomainFilter(True, %s)" % (name, d))
            failures += 1
    doc = json.loads(subprocess.run([report, "--format", "json", snap], capture_output=True,
                                    text=True, check=True).stdout)
    sizes = {str(d["domain"]): d["size"] for d in doc["snapshot"]["domains"]}
    if sizes != {d: b for d, (n, b) in want["totals"].items()}:
        print("FAIL native: JSON domain sizes %s" % sizes)
        failures += 1
    return failures


def rows(stdout):
    return [line for line in stdout.splitlines()
            if not line.startswith("# ") and not line.startswith('  File "')]


EXPECT_NAMES = r'''
import json, sys, tracemalloc
s = tracemalloc.Snapshot.load(sys.argv[1])
names = dict(getattr(s, "frame_names", []))
out = {"named": len(names)}
for key in ("lineno", "traceback"):
    rows = []
    for st in s.statistics(key):
        first = st.traceback[0]
        name = names.get((first.filename, first.lineno))
        rows.append(str(st.traceback) + (" (%s)" % name if name else "")
                    + str(st)[len(str(st.traceback)):])
        if key == "traceback":
            rows += ['  File "%s", line %d%s' % (f.filename, f.lineno,
                                                ", in %s" % names[(f.filename, f.lineno)]
                                                if (f.filename, f.lineno) in names else "")
                     for f in st.traceback]
    out[key] = rows
def esc(x):
    return x.replace(";", ":").replace("\n", " ").replace("\r", " ")
sums = {}
for t in s.traces:
    k = ";".join("%s (%s:%d)" % (esc(names[(f.filename, f.lineno)]), esc(f.filename), f.lineno)
                 if (f.filename, f.lineno) in names else "%s:%d" % (esc(f.filename), f.lineno)
                 for f in t.traceback) or "<unknown>:0"
    sums[k] = sums.get(k, 0) + t.size
# Stacks of 0 bytes (malloc(0)) make no line: nothing to draw.
out["collapsed"] = sorted("%s %d" % kv for kv in sums.items() if kv[1])
print(json.dumps(out))
'''


def check_names(report, python, snap):
    """The function names libmprofile writes (frame_names): --names rows are tracemalloc's
    with " (name)" after the key, traceback lines end with ", in name", and collapsed frames
    are "name (file:line)", all from the names pickle loads."""
    want = json.loads(subprocess.run([python, "-c", EXPECT_NAMES, snap], capture_output=True,
                                     text=True, check=True).stdout)
    failures = 0
    if want["named"] == 0:
        print("FAIL names: libmprofile wrote no frame_names")
        return 1
    for key in ("lineno", "traceback"):
        out = subprocess.run([report, "--names", "-n", "0", "-g", key, snap], capture_output=True,
                             text=True, check=True).stdout
        if [line for line in out.splitlines() if not line.startswith("# ")] != want[key]:
            print("FAIL names: --names -g %s rows differ" % key)
            failures += 1
    out = subprocess.run([report, "--format", "collapsed", snap], capture_output=True, text=True,
                         check=True).stdout
    if sorted(out.splitlines()) != want["collapsed"]:
        print("FAIL names: collapsed stacks differ")
        failures += 1
    return failures


def main():
    report, lib, python, workdir = sys.argv[1:5]
    for path in (lib, python):
        if not os.path.exists(path):
            print("SKIP: %s not found" % path)
            return 77
    os.makedirs(workdir, exist_ok=True)
    failures = 0
    for mode, rate in (("exact", "1"), ("sampled", "8k")):
        snap = os.path.join(workdir, mode + ".snap")
        if os.path.exists(snap):
            os.unlink(snap)
        env = dict(os.environ, LD_PRELOAD=lib, MPROFILE_RATE=rate, MPROFILE_OUT=snap,
                   MPROFILE_SEED="42", PYTHONDONTWRITEBYTECODE="1")
        subprocess.run([python, os.path.join(HERE, "data", "alloc_program.py")], env=env,
                       cwd=os.path.join(HERE, "data"), check=True)
        if not os.path.exists(snap):
            print("FAIL %s: libmprofile wrote no snapshot" % mode)
            failures += 1
            continue
        want = json.loads(subprocess.run([python, "-c", EXPECT, snap], capture_output=True,
                                         text=True, check=True).stdout)
        for key in ("lineno", "filename", "traceback"):
            got = subprocess.run([report, "-n", "0", "-g", key, snap], capture_output=True,
                                 text=True)
            if got.returncode != 0:
                print("FAIL %s %s: %s" % (mode, key, got.stderr.strip()))
                failures += 1
                continue
            lines = rows(got.stdout)
            if mode == "exact":
                ok = lines == [w[3] for w in want[key]]
            else:
                # key: size, compared as sets (ties on size may order
                # differently since the counts differ).
                mine = sorted((line.split(": size=")[0], line.split("size=")[1].split(",")[0])
                              for line in lines)
                theirs = sorted((w[3].split(": size=")[0], w[3].split("size=")[1].split(",")[0])
                                for w in want[key])
                ok = (mine == theirs and all(", rse=" in line for line in lines)
                      and "# sampled: sample_rate=8192 bytes" in got.stdout)
            if not ok:
                print("FAIL %s --group-by %s" % (mode, key))
                failures += 1
        meta = json.loads(subprocess.run([report, "--format", "json", snap], capture_output=True,
                                         text=True, check=True).stdout)["snapshot"]["metadata"]
        for field in ("sample_rate", "pid", "time", "python_version", "live_bytes"):
            if field not in meta:
                print("FAIL %s: metadata %s missing from JSON" % (mode, field))
                failures += 1
        failures += check_peak(report, python, snap, mode)
        if mode == "exact":
            failures += check_names(report, python, snap)
    failures += check_native(report, lib, python, workdir)
    failures += check_mixed(report, lib, python, workdir)
    print("%d failures" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
