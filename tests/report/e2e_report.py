"""End-to-end test of mprofile-report against tracemalloc itself.

Runs a real program (data/workload.py) under PYTHON with tracemalloc, which
dumps two snapshots with Snapshot.dump(); then, for every option set, asks
that same interpreter for str(Statistic) / str(StatisticDiff) rows
(Snapshot.statistics / compare_to, after filter_traces) and checks that
mprofile-report prints exactly the same rows in the same order.

usage: e2e_report.py REPORT_BINARY PYTHON WORKDIR
Exits 77 (skipped) when PYTHON is missing."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

EXPECT = r'''
import json, sys, tracemalloc
out = []
for case in json.load(sys.stdin):
    filters = [tracemalloc.Filter(inc, pat, all_frames=case["all_frames"])
               for inc, pat in case["filters"]]
    new = tracemalloc.Snapshot.load(case["new"])
    try:
        if filters:
            new = new.filter_traces(filters)
        if case["old"]:
            old = tracemalloc.Snapshot.load(case["old"])
            if filters:
                old = old.filter_traces(filters)
            stats = new.compare_to(old, case["key"], case["cumulative"])
        else:
            stats = new.statistics(case["key"], case["cumulative"])
    except Exception:
        # Python 3.9's fnmatch rejects reversed ranges such as [z-a],
        # which later versions accept as empty: nothing to compare then.
        out.append(None)
        continue
    out.append([str(s) for s in stats])
json.dump(out, sys.stdout)
'''

FILTER_SETS = [
    ([], False),
    ([(True, "*workload_helper.py")], False),
    ([(True, "*workload_helper.py")], True),
    ([(False, "<frozen *>"), (False, "*/json/*")], False),
    ([(False, "*/json/*")], True),
    ([(True, "*/json/*"), (True, "*workload.py")], False),
    ([(True, "*/json/*"), (True, "*workload.py"), (False, "*decoder.py")], True),
    ([(True, "*[hH]elper.py?")], False),
    ([(True, "*work[!x]oad*.pyc")], False),
    ([(True, "*/re/_[a-p]*"), (True, "*/json/[!a-d]*")], True),
    ([(True, "*[z-a]*")], False),
    ([(True, "*[]*")], False),
]


def report_rows(stdout):
    """Rows of the text report: everything but '# ' header lines and the
    '  File' lines listing a traceback."""
    return [line for line in stdout.splitlines()
            if not line.startswith("# ") and not line.startswith('  File "')]


def rows_match(args, want):
    """Runs the report with args and compares its rows with want; prints what differs."""
    got = subprocess.run(args, capture_output=True, text=True)
    rows = report_rows(got.stdout)
    if got.returncode == 0 and rows == want:
        return True
    print("FAIL: %s" % " ".join(args))
    print("  exit %d, stderr: %s" % (got.returncode, got.stderr.strip()))
    for i, (a, b) in enumerate(zip(rows + [""] * len(want), want + [""] * len(rows))):
        if a != b:
            print("  row %d:\n    got:  %s\n    want: %s" % (i, a, b))
            break
    print("  rows: got %d, want %d" % (len(rows), len(want)))
    return False


def write_snapshots(python, workdir, workload):
    """Runs data/WORKLOAD under python, which dumps two tracemalloc snapshots; returns their
    paths, or None when the interpreter is missing (the test is then skipped)."""
    if not os.path.exists(python) or not os.access(python, os.X_OK):
        print("SKIP: interpreter %s not found" % python)
        return None
    os.makedirs(workdir, exist_ok=True)
    old = os.path.join(workdir, "old.pickle")
    new = os.path.join(workdir, "new.pickle")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    subprocess.run([python, os.path.join(HERE, "data", workload), old, new],
                   check=True, env=env, cwd=os.path.join(HERE, "data"))
    return old, new


def main():
    report, python, workdir = sys.argv[1:4]
    snapshots = write_snapshots(python, workdir, "workload.py")
    if snapshots is None:
        return 77
    old, new = snapshots
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")

    cases = []
    for filters, all_frames in FILTER_SETS:
        for key, cumulative in (("lineno", False), ("filename", False), ("traceback", False),
                                ("lineno", True), ("filename", True)):
            for diff in (False, True):
                cases.append({"key": key, "cumulative": cumulative, "filters": filters,
                              "all_frames": all_frames, "new": new, "old": old if diff else None})
    res = subprocess.run([python, "-c", EXPECT], input=json.dumps(cases), env=env,
                         capture_output=True, text=True, check=True)
    expected = json.loads(res.stdout)

    failures = 0
    nonempty = 0
    for case, want in zip(cases, expected):
        if want is None:
            continue
        args = [report, "-n", "0", "-g", case["key"]]
        if case["cumulative"]:
            args.append("--cumulative")
        if case["all_frames"]:
            args.append("--all-frames")
        for inc, pat in case["filters"]:
            args += ["--include" if inc else "--exclude", pat]
        args += ["--diff", case["old"], case["new"]] if case["old"] else [case["new"]]
        nonempty += bool(want)
        failures += not rows_match(args, want)

    # Default options: the first 10 rows of statistics('lineno').
    got = subprocess.run([report, new], capture_output=True, text=True, check=True)
    if report_rows(got.stdout) != expected[0][:10]:
        failures += 1
        print("FAIL: default report differs from statistics('lineno')[:10]")

    # JSON carries the same rows; collapsed stacks add up to the total.
    got = subprocess.run([report, "-n", "0", "--format", "json", new], capture_output=True,
                         text=True, check=True)
    doc = json.loads(got.stdout)
    if [r["text"] for r in doc["rows"]] != expected[0]:
        failures += 1
        print("FAIL: JSON rows differ from statistics('lineno')")
    total = sum(r["size"] for r in doc["rows"])
    if doc["snapshot"]["total_size"] != total or doc["snapshot"]["estimated"]:
        failures += 1
        print("FAIL: JSON totals")
    got = subprocess.run([report, "--format", "collapsed", new], capture_output=True,
                         text=True, check=True)
    folded = sum(int(line.rsplit(" ", 1)[1]) for line in got.stdout.splitlines())
    if folded != total:
        failures += 1
        print("FAIL: collapsed stacks add up to %d, not %d" % (folded, total))

    print("%d cases (%d with rows), %d failures" % (len(cases) + 3, nonempty, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
