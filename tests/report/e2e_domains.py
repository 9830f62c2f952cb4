"""End-to-end test of mprofile-report's tracemalloc domains.

Runs data/domains_workload.py under PYTHON with tracemalloc: Python's own
allocations (domain 0) and blocks reported through PyTraceMalloc_Track in
numpy's domain, libmprofile's native domain and others, two of them above
2**31 (pickled as LONG1).  Then, for every --domain / --exclude-domain set,
key type, cumulative mode and --diff, checks that mprofile-report prints
exactly the rows of
    snapshot.filter_traces([DomainFilter(...), ...]).statistics(key)
(or compare_to) on that same interpreter, with the marker of each row's
domains; and the per-domain header lines, JSON fields and collapsed
--domain-roots totals against the traces themselves.

usage: e2e_domains.py REPORT_BINARY PYTHON WORKDIR
Exits 77 (skipped) when PYTHON is missing."""
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from e2e_report import rows_match, write_snapshots  # noqa: E402
NATIVE = 0x4D504E41

EXPECT = r'''
import json, sys, tracemalloc
NATIVE = 0x4D504E41

def name(d):
    return "python" if d == 0 else "native" if d == NATIVE else "tracked:%d" % d

def domain_filters(snap, specs):
    """DomainFilters for the command line's specs; 'tracked' stands for
    every domain of the snapshot but python and native."""
    present = sorted(set(t[0] for t in snap.traces._traces))
    out = []
    for spec, inclusive in specs:
        if spec == "python":
            ds = [0]
        elif spec == "native":
            ds = [NATIVE]
        elif spec == "tracked":
            ds = [d for d in present if d not in (0, NATIVE)]
        else:
            ds = [int(spec, 0)]
        out += [tracemalloc.DomainFilter(inclusive, d) for d in ds]
    return out

def filtered(snap, specs, files):
    doms = domain_filters(snap, specs)
    # An inclusive spec that matches no domain keeps nothing: a
    # DomainFilter on a domain that is absent does the same.
    if any(inc for _, inc in specs) and not any(f.inclusive for f in doms):
        doms.append(tracemalloc.DomainFilter(True, -12345))
    if doms:
        snap = snap.filter_traces(doms)
    if files:
        snap = snap.filter_traces([tracemalloc.Filter(inc, pat) for inc, pat in files])
    return snap

def row_domains(snap, key, cumulative):
    """Domains of the traces behind each row, by the row's frames (oldest
    first, as in Statistic.traceback)."""
    out = {}
    for d, size, frames, *rest in snap.traces._traces:
        frames = frames or (("<unknown>", 0),)
        if key == "traceback":
            keys = [tuple(reversed(frames))]
        else:
            fr = frames if cumulative else frames[:1]
            keys = [((f, 0 if key == "filename" else l),) for f, l in fr]
        for k in keys:
            out.setdefault(k, set()).add(d)
    return out

def frames_of(stat):
    return tuple((f.filename, f.lineno) for f in stat.traceback)

def marker(domains):
    ds = sorted(domains)
    if ds == [0]:
        return ""
    return " [%s]" % "+".join(name(d) for d in ds)

out = []
for case in json.load(sys.stdin):
    new = filtered(tracemalloc.Snapshot.load(case["new"]), case["domains"], case["files"])
    if case["old"]:
        old = filtered(tracemalloc.Snapshot.load(case["old"]), case["domains"], case["files"])
        stats = new.compare_to(old, case["key"], case["cumulative"])
        doms = row_domains(new, case["key"], case["cumulative"])
        for k, v in row_domains(old, case["key"], case["cumulative"]).items():
            doms.setdefault(k, set()).update(v)
    else:
        stats = new.statistics(case["key"], case["cumulative"])
        doms = row_domains(new, case["key"], case["cumulative"])
    out.append([str(s) + marker(doms[frames_of(s)]) for s in stats])

def totals(path):
    snap = tracemalloc.Snapshot.load(path)
    t = {}
    for d, size, *rest in snap.traces._traces:
        n, s = t.get(d, (0, 0))
        t[d] = (n + 1, s + size)
    return [[d, name(d), n, s, tracemalloc._format_size(s, False)] for d, (n, s) in sorted(t.items())]

json.dump({"rows": out, "totals": {p: totals(p) for p in sys.argv[1:]}}, sys.stdout)
'''

DOMAIN_SETS = [
    [],
    [("python", True)],
    [("native", True)],
    [("389047", True)],
    [("4294967295", True)],
    [("2147483653", True)],
    [("0x4D504E41", True)],
    [("tracked", True)],
    [("python", True), ("7", True)],
    [("native", False)],
    [("tracked", False), ("0", False)],
    [("tracked", True), ("389047", False)],
    [("12345", True)],
]
FILE_SETS = [[], [(True, "*domains_workload.py")]]


def main():
    report, python, workdir = sys.argv[1:4]
    snapshots = write_snapshots(python, workdir, "domains_workload.py")
    if snapshots is None:
        return 77
    old, new = snapshots
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")

    cases = []
    for domains in DOMAIN_SETS:
        for files in FILE_SETS:
            for key, cumulative in (("lineno", False), ("filename", False), ("traceback", False),
                                    ("lineno", True), ("filename", True)):
                for diff in (False, True):
                    if files and (cumulative or key == "traceback"):
                        continue
                    cases.append({"key": key, "cumulative": cumulative, "domains": domains,
                                  "files": files, "new": new, "old": old if diff else None})
    res = subprocess.run([python, "-c", EXPECT, old, new], input=json.dumps(cases), env=env,
                         capture_output=True, text=True, check=True)
    expected = json.loads(res.stdout)

    failures = 0
    nonempty = 0
    for case, want in zip(cases, expected["rows"]):
        args = [report, "-n", "0", "-g", case["key"]]
        if case["cumulative"]:
            args.append("--cumulative")
        for spec, inclusive in case["domains"]:
            args += ["--domain" if inclusive else "--exclude-domain", spec]
        for inc, pat in case["files"]:
            args += ["--include" if inc else "--exclude", pat]
        args += ["--diff", case["old"], case["new"]] if case["old"] else [case["new"]]
        nonempty += bool(want)
        failures += not rows_match(args, want)

    # Header: one line per domain, in numeric order, for both snapshots.
    totals = expected["totals"]
    got = subprocess.run([report, "--diff", old, new], capture_output=True, text=True, check=True)
    want = []
    for label, path in (("old ", old), ("new ", new)):
        want += ["# domain %s: %d traces, size=%s, count=%d" % (n, c, f, c)
                 for _, n, c, _, f in totals[path]]
    lines = [line for line in got.stdout.splitlines() if line.startswith("# domain ")]
    if lines != want:
        failures += 1
        print("FAIL: header domain lines\n  got:  %s\n  want: %s" % (lines, want))
    if not any(d == 2**32 - 1 for d, *_ in totals[new]):
        failures += 1
        print("FAIL: the workload has no trace in domain 2**32-1")

    # JSON: per-domain totals of the snapshot; a domain (or domains) per
    # row, matching the marker of its text row.
    got = subprocess.run([report, "-n", "0", "--format", "json", new], capture_output=True,
                         text=True, check=True)
    doc = json.loads(got.stdout)
    mine = [[d["domain"], d["name"], d["traces"], d["size"]] for d in doc["snapshot"]["domains"]]
    if mine != [t[:4] for t in totals[new]]:
        failures += 1
        print("FAIL: JSON domains %s, want %s" % (mine, totals[new]))
    text_rows = expected["rows"][0]
    for r, text in zip(doc["rows"], text_rows):
        m = re.search(r" \[([^]]*)\]$", text)
        names = m.group(1).split("+") if m else ["python"]
        doms = r["domains"] if "domains" in r else [r["domain"]]
        by_number = {d[0]: d[1] for d in totals[new]}
        if [by_number.get(d, "?") for d in doms] != names or ("domains" in r) != (len(doms) > 1):
            failures += 1
            print("FAIL: JSON row %r has domains %s, text says %s" % (r["text"], doms, names))
            break
    if [r["text"] for r in doc["rows"]] != [re.sub(r" \[[^]]*\]$", "", t) for t in text_rows]:
        failures += 1
        print("FAIL: JSON row texts are not str(Statistic)")

    # Collapsed stacks with the domain as root add up to each domain's size.
    got = subprocess.run([report, "--format", "collapsed", "--domain-roots", new],
                         capture_output=True, text=True, check=True)
    sums = {}
    for line in got.stdout.splitlines():
        stack, size = line.rsplit(" ", 1)
        root = stack.split(";", 1)[0]
        sums[root] = sums.get(root, 0) + int(size)
    if sums != {n: s for _, n, _, s, _ in totals[new]}:
        failures += 1
        print("FAIL: collapsed --domain-roots sums %s" % sums)

    print("%d cases (%d with rows), %d failures" % (len(cases) + 4, nonempty, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
