"""End-to-end test of --inclusive and --hide-imports on real snapshots.

Runs data/views_workload.py under PYTHON with tracemalloc: a snapshot of
recursive allocations (plain and mutual recursion), one taken by a module
while it is being imported (its stacks go through importlib's frozen
frames), one at the end and one taken by a module imported from a zip
archive (zipimport's frames too).  The expected rows are computed in that
interpreter with tracemalloc's own classes:
  - --inclusive: each trace adds its size and count once to every distinct
    key (frame, or file) of its traceback, rows formatted and sorted as
    str(Statistic) / str(StatisticDiff) of those sums; no row exceeds the
    snapshot's total while the cumulative row of the recursive frame does;
  - --hide-imports: tracemalloc's statistics() / compare_to() on the same
    traces with the frames of <frozen importlib._bootstrap>,
    <frozen importlib._bootstrap_external> and <frozen zipimport> removed
    (an empty traceback becoming ("<unknown>", 0)).

usage: e2e_views.py REPORT_BINARY PYTHON WORKDIR
Exits 77 (skipped) when PYTHON is missing."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from e2e_report import report_rows, rows_match  # noqa: E402

EXPECT = r'''
import json, sys, tracemalloc
from tracemalloc import Statistic, StatisticDiff, Traceback
req = json.load(sys.stdin)
IMPORTS = {"<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>",
           "<frozen zipimport>"}

def load(path, filters):
    snap = tracemalloc.Snapshot.load(path)
    if filters:
        snap = snap.filter_traces([tracemalloc.Filter(True, p) for p in filters])
    return snap

def inclusive(snap, key):
    """{key frame: [size, count]}, each distinct key of a trace once."""
    sums = {}
    for t in snap.traces:
        frames = [(f.filename, f.lineno) for f in t.traceback] or [("<unknown>", 0)]
        keys = {(f, 0) if key == "filename" else (f, l) for f, l in frames}
        for k in keys:
            s = sums.setdefault(k, [0, 0])
            s[0] += t.size
            s[1] += 1
    return sums

def tb(k):
    return Traceback((k,))

def inclusive_rows(new, old, key):
    n = inclusive(new, key)
    if old is None:
        stats = [Statistic(tb(k), s, c) for k, (s, c) in n.items()]
        stats.sort(reverse=True, key=Statistic._sort_key)
    else:
        o = inclusive(old, key)
        stats = [StatisticDiff(tb(k), s, s - o.get(k, [0, 0])[0], c, c - o.get(k, [0, 0])[1])
                 for k, (s, c) in n.items()]
        stats += [StatisticDiff(tb(k), 0, -s, 0, -c) for k, (s, c) in o.items() if k not in n]
        stats.sort(reverse=True, key=StatisticDiff._sort_key)
    return [str(s) for s in stats]

def strip_imports(path, out):
    snap = tracemalloc.Snapshot.load(path)
    traces = []
    hidden = dict.fromkeys(sorted(IMPORTS), 0)  # traces with frames of each file
    for domain, size, frames, total in snap.traces._traces:
        kept = tuple(f for f in frames if f[0] not in IMPORTS)
        for name in {f[0] for f in frames} & IMPORTS:
            hidden[name] += 1
        traces.append((domain, size, kept or (("<unknown>", 0),), total))
    tracemalloc.Snapshot(traces, snap.traceback_limit).dump(out)
    return hidden

out = {"inclusive": [], "hidden": {}, "totals": {}}
for case in req["inclusive"]:
    new = load(case["new"], case["filters"])
    old = load(case["old"], case["filters"]) if case["old"] else None
    out["inclusive"].append(inclusive_rows(new, old, case["key"]))
for path, stripped in req["strip"]:
    out["hidden"][path] = strip_imports(path, stripped)
for path in req["totals"]:
    snap = tracemalloc.Snapshot.load(path)
    cumulative = snap.statistics("lineno", cumulative=True)
    out["totals"][path] = [sum(t.size for t in snap.traces), cumulative[0].size]
json.dump(out, sys.stdout)
'''

STATS = r'''
import json, sys, tracemalloc
out = []
for case in json.load(sys.stdin):
    new = tracemalloc.Snapshot.load(case["new"])
    if case["old"]:
        stats = new.compare_to(tracemalloc.Snapshot.load(case["old"]), case["key"],
                               case["cumulative"])
    else:
        stats = new.statistics(case["key"], case["cumulative"])
    out.append([str(s) for s in stats])
json.dump(out, sys.stdout)
'''

KEYS = (("lineno", False), ("filename", False), ("traceback", False), ("lineno", True),
        ("filename", True))


def main():
    report, python, workdir = sys.argv[1:4]
    if not os.path.exists(python) or not os.access(python, os.X_OK):
        print("SKIP: interpreter %s not found" % python)
        return 77
    os.makedirs(workdir, exist_ok=True)
    rec, imp, end, zipped = (os.path.join(workdir, n + ".pickle")
                             for n in ("recursive", "import", "end", "zip"))
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    subprocess.run([python, os.path.join(HERE, "data", "views_workload.py"), rec, imp, end,
                    zipped], check=True, env=env, cwd=os.path.join(HERE, "data"))
    stripped = {p: p.replace(".pickle", ".stripped.pickle") for p in (imp, end, zipped)}

    inc_cases = []
    for key in ("lineno", "filename"):
        for filters in ([], ["*views_workload.py"]):
            for new, old in ((rec, None), (end, None), (end, rec), (imp, end)):
                inc_cases.append({"key": key, "filters": filters, "new": new, "old": old})
    req = {"inclusive": inc_cases, "strip": sorted(stripped.items()), "totals": [rec, end]}
    want = json.loads(subprocess.run([python, "-c", EXPECT], input=json.dumps(req), env=env,
                                     capture_output=True, text=True, check=True).stdout)
    failures = 0
    for case, rows in zip(inc_cases, want["inclusive"]):
        args = [report, "-n", "0", "--inclusive", "-g", case["key"]]
        for pattern in case["filters"]:
            args += ["--include", pattern]
        args += ["--diff", case["old"], case["new"]] if case["old"] else [case["new"]]
        failures += not rows_match(args, rows)
    # The point of --inclusive: a recursive frame never counts more than the heap.
    for path in (rec, end):
        total, cumulative_top = want["totals"][path]
        doc = json.loads(subprocess.run([report, "-n", "0", "--inclusive", "--format", "json",
                                         path], capture_output=True, text=True, check=True).stdout)
        if max(r["size"] for r in doc["rows"]) != total or cumulative_top <= total:
            failures += 1
            print("FAIL: %s: inclusive top %d, cumulative top %d, total %d"
                  % (path, max(r["size"] for r in doc["rows"]), cumulative_top, total))

    hidden = want["hidden"]
    if not hidden[imp]["<frozen importlib._bootstrap>"] or not hidden[zipped]["<frozen zipimport>"]:
        failures += 1
        print("FAIL: the import snapshots lack import machinery frames: %s" % hidden)
    cases = []
    for key, cumulative in KEYS:
        for new, old in ((imp, None), (end, None), (end, imp), (zipped, None), (zipped, end)):
            cases.append(([key, cumulative, new, old],
                          {"key": key, "cumulative": cumulative, "new": stripped[new],
                           "old": stripped[old] if old else None}))
    expected = json.loads(subprocess.run([python, "-c", STATS],
                                         input=json.dumps([c for _, c in cases]), env=env,
                                         capture_output=True, text=True, check=True).stdout)
    for ((key, cumulative, new, old), _), rows in zip(cases, expected):
        args = [report, "-n", "0", "--hide-imports", "-g", key]
        args += ["--cumulative"] if cumulative else []
        args += ["--diff", old, new] if old else [new]
        failures += not rows_match(args, rows)
    out = subprocess.run([report, "--hide-imports", "-n", "0", "-g", "traceback", imp],
                         capture_output=True, text=True, check=True).stdout
    if "<frozen importlib" in out or ", imports hidden" not in out:
        failures += 1
        print("FAIL: --hide-imports leaves import frames or no header mention")
    if "<frozen importlib" not in "\n".join(report_rows(subprocess.run(
            [report, "-n", "0", "-g", "filename", imp], capture_output=True, text=True,
            check=True).stdout)):
        failures += 1
        print("FAIL: without --hide-imports the import frames are gone")
    print("%d cases, %d failures" % (len(inc_cases) + len(cases) + 5, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
