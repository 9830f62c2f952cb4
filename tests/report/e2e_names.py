"""End-to-end test of function names (metadata frame_names) in every format.

Runs data/workload.py under PYTHON (3.11 or later: co_qualname) with
tracemalloc for two real snapshots, then, in that interpreter, names their
frames as docs/format.md describes: frame_names lists ((filename, lineno),
qualname) for every frame whose source can be compiled, the name being the
first in byte order among the code objects that have the line.  Checks
against tracemalloc's statistics() / compare_to() on the same files:
  - text rows without --names are tracemalloc's, byte for byte;
  - with --names each row is str(Statistic) with " (name)" after its key
    and each traceback line is '  File "f", line N, in name';
  - JSON frames carry "function" (null when the frame has no name);
  - collapsed stacks are "name (file:line)" frames, "file:line" unnamed;
and that the snapshots without frame_names (tracemalloc's dumps) read as
before: no name anywhere, --names changes nothing.

usage: e2e_names.py REPORT_BINARY PYTHON WORKDIR
Exits 77 (skipped) when PYTHON is missing or older than 3.11."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from e2e_report import write_snapshots  # noqa: E402

# Writes NAMED (SRC with frame_names) and prints the names as JSON:
# [[filename, lineno, name], ...].
NAME = r'''
import json, os, sys, tracemalloc
src, named = sys.argv[1:3]
snap = tracemalloc.Snapshot.load(src)
lines = {}

def walk(code):
    for _, _, line in code.co_lines():
        if line is not None:
            lines.setdefault((code.co_filename, line), set()).add(code.co_qualname)
    for c in code.co_consts:
        if hasattr(c, "co_lines"):
            walk(c)

files = {f.filename for t in snap.traces for f in t.traceback}
for f in sorted(files):
    if os.path.exists(f):
        with open(f, "rb") as fp:
            walk(compile(fp.read(), f, "exec"))
frames = {(f.filename, f.lineno) for t in snap.traces for f in t.traceback}
names = [(fr, min(lines[fr], key=lambda n: n.encode("utf-8", "surrogatepass")))
         for fr in sorted(frames) if fr in lines]
snap.frame_names = names
snap.dump(named)
assert tracemalloc.Snapshot.load(named).frame_names == names
json.dump([[f, l, n] for (f, l), n in names], sys.stdout)
'''

# Expected outputs, computed by tracemalloc from the snapshots and the names.
EXPECT = r'''
import json, sys, tracemalloc
req = json.load(sys.stdin)
names = {(f, l): n for f, l, n in req["names"]}
new = tracemalloc.Snapshot.load(req["new"])
old = tracemalloc.Snapshot.load(req["old"])

def named_rows(stats, key):
    """Text lines of the report with --names."""
    out = []
    for s in stats:
        tb = s.traceback
        first = tb[0]  # str(Traceback) is its oldest frame
        name = None if key == "filename" else names.get((first.filename, first.lineno))
        text = str(s)
        assert text.startswith(str(tb) + ": ")
        out.append(str(tb) + (" (%s)" % name if name else "") + text[len(str(tb)):])
        if key == "traceback":
            for f in tb:
                n = names.get((f.filename, f.lineno))
                out.append('  File "%s", line %d%s' % (f.filename, f.lineno,
                                                      ", in %s" % n if n else ""))
    return out

def esc(s):
    return s.replace(";", ":").replace("\n", " ").replace("\r", " ")

def collapsed(snap, names):
    sums = {}
    for t in snap.traces:
        frames = ["%s (%s:%d)" % (esc(names[(f.filename, f.lineno)]), esc(f.filename), f.lineno)
                  if (f.filename, f.lineno) in names else "%s:%d" % (esc(f.filename), f.lineno)
                  for f in t.traceback]
        key = ";".join(frames) or "<unknown>:0"
        sums[key] = sums.get(key, 0) + t.size
    return sorted("%s %d" % kv for kv in sums.items() if kv[1])  # 0 bytes: no line

out = {"cases": []}
for key in ("lineno", "filename", "traceback"):
    for cumulative in ((False, True) if key != "traceback" else (False,)):
        for diff in (False, True):
            stats = (new.compare_to(old, key, cumulative) if diff
                     else new.statistics(key, cumulative))
            out["cases"].append({"key": key, "cumulative": cumulative, "diff": diff,
                                 "plain": [str(s) for s in stats],
                                 "named": named_rows(stats, key)})
out["json_frames"] = [[[f.filename, f.lineno, names.get((f.filename, f.lineno))]
                       for f in s.traceback] for s in new.statistics("traceback")]
out["collapsed"] = collapsed(new, names)
out["collapsed_plain"] = collapsed(new, {})
json.dump(out, sys.stdout)
'''


def run(args):
    res = subprocess.run(args, capture_output=True, text=True)
    if res.returncode != 0:
        print("FAIL: %s: exit %d, %s" % (" ".join(args), res.returncode, res.stderr.strip()))
    return res.stdout


def body(stdout):
    """Every line but the '# ' header lines: rows and traceback lines."""
    return [line for line in stdout.splitlines() if not line.startswith("# ")]


def differ(what, got, want):
    if got == want:
        return 0
    print("FAIL: %s" % what)
    for i, (a, b) in enumerate(zip(got + [""] * len(want), want + [""] * len(got))):
        if a != b:
            print("  line %d:\n    got:  %s\n    want: %s" % (i, a, b))
            break
    print("  lines: got %d, want %d" % (len(got), len(want)))
    return 1


def main():
    report, python, workdir = sys.argv[1:4]
    if os.path.exists(python) and subprocess.run(
            [python, "-c", "import sys; sys.exit(sys.version_info < (3, 11))"]).returncode:
        print("SKIP: %s has no co_qualname" % python)
        return 77
    snapshots = write_snapshots(python, workdir, "workload.py")
    if snapshots is None:
        return 77
    plain = {"old": snapshots[0], "new": snapshots[1]}
    named = {k: os.path.join(workdir, "%s.named.pickle" % k) for k in plain}
    names = {}
    for k in plain:
        names[k] = json.loads(subprocess.run([python, "-c", NAME, plain[k], named[k]],
                                             capture_output=True, text=True, check=True).stdout)
    # Names of both snapshots: one name per frame (the workload runs the same code).
    merged = {}
    for f, line, n in names["old"] + names["new"]:
        merged[(f, line)] = min(merged.get((f, line), n), n)
    req = {"names": [[f, line, n] for (f, line), n in sorted(merged.items())],
           "old": named["old"], "new": named["new"]}
    want = json.loads(subprocess.run([python, "-c", EXPECT], input=json.dumps(req),
                                     capture_output=True, text=True, check=True).stdout)
    failures = 0
    if len(merged) < 20:
        failures += 1
        print("FAIL: only %d frames named" % len(merged))

    for case in want["cases"]:
        opts = ["-n", "0", "-g", case["key"]] + (["--cumulative"] if case["cumulative"] else [])
        for snaps, label in ((named, "named"), (plain, "plain")):
            files = [snaps["old"], snaps["new"]] if case["diff"] else [snaps["new"]]
            files = (["--diff"] if case["diff"] else []) + files
            desc = "%s %s" % (label, " ".join(opts + files))
            rows = [line for line in body(run([report] + opts + files))
                    if not line.startswith('  File "')]
            failures += differ("rows without --names, %s" % desc, rows, case["plain"])
            got = body(run([report, "--names"] + opts + files))
            if label == "named":
                failures += differ("--names, %s" % desc, got, case["named"])
            else:
                # Without names, --names prints tracemalloc's rows.
                failures += differ("--names without names, %s" % desc,
                                   [line for line in got if not line.startswith('  File "')],
                                   case["plain"])

    for snaps, label in ((named, "named"), (plain, "plain")):
        doc = json.loads(run([report, "-n", "0", "-g", "traceback", "--format", "json",
                              snaps["new"]]))
        frames = [[[f["filename"], f["lineno"], f["function"]] for f in r["frames"]]
                  for r in doc["rows"]]
        expected = want["json_frames"]
        if label == "plain":
            expected = [[[f, line, None] for f, line, _ in fr] for fr in expected]
        if frames != expected:
            failures += 1
            print("FAIL: JSON frames of the %s snapshot" % label)
        got = sorted(run([report, "--format", "collapsed", snaps["new"]]).splitlines())
        failures += differ("collapsed stacks of the %s snapshot" % label, got,
                           want["collapsed" if label == "named" else "collapsed_plain"])
    print("%d cases, %d named frames, %d failures" % (4 * len(want["cases"]) + 4, len(merged),
                                                      failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
