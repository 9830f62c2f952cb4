"""End-to-end test of the standard errors of sampled --diff rows.

Turns the two real snapshots of data/workload.py (tracemalloc, under
PYTHON) into sampled ones as libmprofile writes them: each block of size s
is kept with probability p = 1 - exp(-s/R) (fixed seed) and recorded with
the weight w = s / p as its size, with sample_rate = R in the metadata.
For every key type, text --diff rows must be:
  - str(StatisticDiff) of tracemalloc's compare_to() on the same files up
    to the counts (which the report estimates: tracemalloc counts samples),
  - then ", se=S" with S the standard error of the size difference,
    sqrt(sum w^2 (1 - p) over both snapshots), formatted as sizes are,
  - then ", noise" exactly when |size_diff| <= 2 se;
and JSON rows carry the same figure (size_diff_stderr) and flag (noise).

usage: e2e_sampled_diff.py REPORT_BINARY PYTHON WORKDIR
Exits 77 (skipped) when PYTHON is missing."""
import json
import math
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from e2e_report import report_rows, write_snapshots  # noqa: E402

RATE = 4096

SAMPLE = r'''
import json, math, random, sys, tracemalloc
rate, rng = int(sys.argv[1]), random.Random(20261130)
out = {}
for src, dst in zip(sys.argv[2::2], sys.argv[3::2]):
    snap = tracemalloc.Snapshot.load(src)
    traces, var = [], {}
    # Sorted: the order of a snapshot's traces varies from run to run.
    for domain, size, frames, total in sorted(snap.traces._traces, key=repr):
        p = 1 - math.exp(-size / rate) if size else 0
        if not p or rng.random() >= p:
            continue
        w = round(size / p)
        traces.append((domain, w, frames, total))
    sampled = tracemalloc.Snapshot(traces, snap.traceback_limit)
    sampled.sample_rate = rate
    sampled.dump(dst)
    out[dst] = [[t[1], t[2]] for t in traces]
json.dump(out, sys.stdout)
'''

def true_size(w, rate):
    """The size s whose weight s / (1 - exp(-s/rate)) is w (bisection)."""
    lo, hi = 0.0, float(w)
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid == 0 or mid / -math.expm1(-mid / rate) < w:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def key_of(frames, key):
    """The text key of a row (str of its Traceback) from a trace's frames,
    most recent first."""
    frames = frames or [["<unknown>", 0]]
    if key == "lineno":
        return "%s:%d" % tuple(frames[0])
    if key == "filename":
        return "%s:0" % frames[0][0]
    return "%s:%d" % tuple(frames[-1])


def variances(traces, key, rate):
    """{row key: sum of w^2 (1 - p(s))} over the traces of one snapshot."""
    var = {}
    for w, frames in traces:
        s = true_size(w, rate)
        q = math.exp(-s / rate)
        k = key_of(frames, key) if key != "traceback" else json.dumps(frames)
        var[k] = var.get(k, 0.0) + w * w * q
    return var


UNITS = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}
ROW = re.compile(r"^(.*): size=(.*?) \(([+-].*?)\), count=.*, se=([0-9.]+) (B|KiB|MiB|GiB)"
                 r"(, noise)?$")


def main():
    report, python, workdir = sys.argv[1:4]
    os.environ["PYTHONHASHSEED"] = "0"  # the same blocks, so the same samples, every run
    snapshots = write_snapshots(python, workdir, "workload.py")
    if snapshots is None:
        return 77
    old, new = (os.path.join(workdir, n) for n in ("old.sampled.pickle", "new.sampled.pickle"))
    traces = json.loads(subprocess.run([python, "-c", SAMPLE, str(RATE), snapshots[0], old,
                                        snapshots[1], new], capture_output=True, text=True,
                                       check=True).stdout)
    failures = checked = noise_rows = 0
    for key in ("lineno", "filename", "traceback"):
        want = json.loads(subprocess.run(
            [python, "-c", "import json, sys, tracemalloc as t; o, n = (t.Snapshot.load(p) for p "
             "in sys.argv[1:3]); json.dump([str(s) for s in n.compare_to(o, sys.argv[3])], "
             "sys.stdout)", old, new, key], capture_output=True, text=True, check=True).stdout)
        text = subprocess.run([report, "-n", "0", "-g", key, "--diff", old, new],
                              capture_output=True, text=True, check=True).stdout
        if "\n# se = standard error of the size difference" not in text:
            failures += 1
            print("FAIL: -g %s: no se header line" % key)
        rows = report_rows(text)
        doc = json.loads(subprocess.run([report, "-n", "0", "-g", key, "--format", "json",
                                         "--diff", old, new], capture_output=True, text=True,
                                        check=True).stdout)
        if len(rows) != len(want) or len(doc["rows"]) != len(want):
            failures += 1
            print("FAIL: -g %s: %d rows, want %d" % (key, len(rows), len(want)))
            continue
        vold, vnew = (variances(traces[p], key, RATE) for p in (old, new))
        for row, theirs, jrow in zip(rows, want, doc["rows"]):
            m = ROW.match(row)
            # tracemalloc's part up to the counts, which the report estimates.
            if not m or row.split(", count=")[0] != theirs.split(", count=")[0]:
                failures += 1
                print("FAIL: -g %s row\n  got:  %s\n  want: %s" % (key, row, theirs))
                continue
            if key == "traceback":
                frames = [[f["filename"], f["lineno"]] for f in reversed(jrow["frames"])]
                k = json.dumps(frames)
            else:
                k = m.group(1)
            se = math.sqrt(vold.get(k, 0.0) + vnew.get(k, 0.0))
            shown = float(m.group(4)) * UNITS[m.group(5)]
            diff = abs(jrow["size_diff"])
            # The text has 3 significant digits, JSON all of them; the
            # report recovers integer sizes from the weights, this test
            # real ones: the variances agree to far better than 0.1%.
            ok = (abs(shown - se) <= 0.006 * se + 0.5 and
                  abs(jrow["size_diff_stderr"] - se) <= 1e-3 * se)
            if abs(diff - 2 * se) > 0.01 * se:  # far enough from the threshold
                ok = ok and bool(m.group(6)) == (diff <= 2 * se) == jrow["noise"]
            noise_rows += bool(m.group(6))
            checked += 1
            if not ok:
                failures += 1
                print("FAIL: -g %s: %s: se %.1f, noise %s" % (key, row, se, diff <= 2 * se))
    if not noise_rows or noise_rows == checked:
        failures += 1
        print("FAIL: %d noise rows of %d: the data should have both kinds" % (noise_rows, checked))
    print("%d rows, %d noise, %d failures" % (checked, noise_rows, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
