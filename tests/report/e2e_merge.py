"""End-to-end: several snapshots merged, against tracemalloc.

Runs data/workload.py under PYTHON with tracemalloc, which dumps two snapshots, and rewrites
them with pid metadata as libmprofile writes it into four inputs: A (the first) and B (the
second) of process 1001, C (the second again) of process 999, D (the first again) without a
pid. Then for every key type, cumulative mode and a few filter
sets:
  - `mprofile-report A B C D` prints exactly the rows of tracemalloc's statistics() on one
    Snapshot holding the traces of all four;
  - with --by-pid, one section per process ('# pid N:' then its rows, pids ascending, 'pid ?'
    last), each section's rows those of the Snapshot of that process's traces;
and the JSON output lists every input file and the same rows (with their pid under --by-pid),
and collapsed stacks add up to the totals, with a 'pid N' root frame under --by-pid.

usage: e2e_merge.py REPORT_BINARY PYTHON WORKDIR
Exits 77 (skipped) when PYTHON is missing."""
import json
import os
import subprocess
import sys

from e2e_report import report_rows, write_snapshots

PREPARE = r'''
import sys, tracemalloc
for src, dst, pid in zip(sys.argv[1::3], sys.argv[2::3], sys.argv[3::3]):
    s = tracemalloc.Snapshot.load(src)
    if pid != "-":
        s.pid = int(pid)
    s.dump(dst)
'''

EXPECT = r'''
import json, sys, tracemalloc
out = []
for case in json.load(sys.stdin):
    groups = []
    for files in case["groups"]:
        snaps = [tracemalloc.Snapshot.load(f) for f in files]
        merged = tracemalloc.Snapshot([t for s in snaps for t in s.traces._traces],
                                      snaps[0].traceback_limit)
        filters = [tracemalloc.Filter(inc, pat, all_frames=case["all_frames"])
                   for inc, pat in case["filters"]]
        if filters:
            merged = merged.filter_traces(filters)
        groups.append([str(s) for s in merged.statistics(case["key"], case["cumulative"])])
    out.append(groups)
json.dump(out, sys.stdout)
'''

FILTER_SETS = [
    ([], False),
    ([(True, "*workload_helper.py")], False),
    ([(False, "*/json/*")], True),
]


def sections(stdout):
    """Rows of a --by-pid text report, per '# pid' section."""
    out = []
    for line in stdout.splitlines():
        if line.startswith("# pid ") and not line.startswith("# pid="):
            out.append((line.split(":")[0][len("# pid "):], []))
        elif out and not line.startswith("# ") and not line.startswith('  File "'):
            out[-1][1].append(line)
    return out


def main():
    report, python, workdir = sys.argv[1:4]
    first = write_snapshots(python, workdir, "workload.py")
    if first is None:
        return 77
    a, b, c, d = (os.path.join(workdir, n + ".snap") for n in "abcd")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    subprocess.run([python, "-c", PREPARE, first[0], a, "1001", first[1], b, "1001",
                    first[1], c, "999", first[0], d, "-"], check=True, env=env)
    inputs = [a, b, c, d]
    by_pid = [("999", [c]), ("1001", [a, b]), ("?", [d])]

    cases = []
    for filters, all_frames in FILTER_SETS:
        for key, cumulative in (("lineno", False), ("filename", False), ("traceback", False),
                                ("lineno", True), ("filename", True)):
            cases.append({"key": key, "cumulative": cumulative, "filters": filters,
                          "all_frames": all_frames,
                          "groups": [inputs] + [files for _, files in by_pid]})
    res = subprocess.run([python, "-c", EXPECT], input=json.dumps(cases), env=env,
                         capture_output=True, text=True, check=True)
    expected = json.loads(res.stdout)

    failures = 0

    def fail(msg):
        nonlocal failures
        failures += 1
        print("FAIL:", msg)

    for case, want in zip(cases, expected):
        args = [report, "-n", "0", "-g", case["key"]]
        if case["cumulative"]:
            args.append("--cumulative")
        if case["all_frames"]:
            args.append("--all-frames")
        for inc, pat in case["filters"]:
            args += ["--include" if inc else "--exclude", pat]
        got = subprocess.run(args + inputs, capture_output=True, text=True)
        if got.returncode != 0 or report_rows(got.stdout) != want[0]:
            fail("%s: merged rows differ (exit %d, %s)" % (" ".join(args), got.returncode,
                                                          got.stderr.strip()))
        got = subprocess.run(args + ["--by-pid"] + inputs, capture_output=True, text=True)
        secs = sections(got.stdout)
        if got.returncode != 0 or [p for p, _ in secs] != [p for p, _ in by_pid]:
            fail("%s --by-pid: sections %s" % (" ".join(args), [p for p, _ in secs]))
            continue
        for (pid, rows), wanted in zip(secs, want[1:]):
            if rows != wanted:
                fail("%s --by-pid: rows of pid %s differ" % (" ".join(args), pid))

    # The merged header: every input's header, numbered, and the totals.
    got = subprocess.run([report] + inputs, capture_output=True, text=True, check=True)
    head = got.stdout.splitlines()
    if not head[0].startswith("# merged: 4 snapshots, "):
        fail("first header line: %s" % head[0])
    for i, f in enumerate(inputs, 1):
        if not any(line.startswith("# %d/4 %s: " % (i, f)) for line in head):
            fail("no header line for input %d" % i)

    # JSON: every input file, the same rows; under --by-pid, processes with their files.
    got = subprocess.run([report, "-n", "0", "--format", "json"] + inputs, capture_output=True,
                         text=True, check=True)
    doc = json.loads(got.stdout)
    if [s["file"] for s in doc["snapshots"]] != inputs or doc["mode"] != "merge":
        fail("JSON snapshots: %s" % [s["file"] for s in doc["snapshots"]])
    if [r["text"] for r in doc["rows"]] != expected[0][0]:
        fail("JSON rows differ")
    total = sum(r["size"] for r in doc["rows"])
    if doc["merged"]["total_size"] != total or doc["merged"]["snapshots"] != 4:
        fail("JSON merged totals")
    got = subprocess.run([report, "-n", "0", "--format", "json", "--by-pid"] + inputs,
                         capture_output=True, text=True, check=True)
    doc = json.loads(got.stdout)
    procs = [(p["pid"], p["files"]) for p in doc["processes"]]
    if procs != [(999, [c]), (1001, [a, b]), (None, [d])]:
        fail("JSON processes: %s" % procs)
    for p, want in zip(doc["processes"], expected[0][1:]):
        if [r["text"] for r in p["rows"]] != want or any(r["pid"] != p["pid"] for r in p["rows"]):
            fail("JSON rows of pid %s" % p["pid"])

    # Collapsed: the stacks add up to the merged total; under --by-pid each line starts with
    # its process, and each process adds up to its own total.
    got = subprocess.run([report, "--format", "collapsed"] + inputs, capture_output=True,
                         text=True, check=True)
    folded = sum(int(line.rsplit(" ", 1)[1]) for line in got.stdout.splitlines())
    if folded != total:
        fail("collapsed stacks add up to %d, not %d" % (folded, total))
    got = subprocess.run([report, "--format", "collapsed", "--by-pid"] + inputs,
                         capture_output=True, text=True, check=True)
    per_pid = {}
    for line in got.stdout.splitlines():
        root = line.split(";", 1)[0]
        per_pid[root] = per_pid.get(root, 0) + int(line.rsplit(" ", 1)[1])
    want = {"pid " + str(p["pid"] if p["pid"] is not None else "?"): p["total_size"]
            for p in doc["processes"]}
    if per_pid != want:
        fail("collapsed --by-pid totals %s, want %s" % (per_pid, want))

    # Errors: --by-pid with --diff, --trend without times.
    got = subprocess.run([report, "--diff", "--by-pid", a, b], capture_output=True, text=True)
    if got.returncode != 2:
        fail("--diff --by-pid: exit %d" % got.returncode)
    got = subprocess.run([report, "--trend", a, b, c], capture_output=True, text=True)
    if got.returncode != 1 or "no time in its metadata" not in got.stderr:
        fail("--trend without times: exit %d, %s" % (got.returncode, got.stderr.strip()))

    print("%d cases, %d failures" % (len(cases) + 6, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
