"""Benchmark: mprofile-report against tracemalloc on a large snapshot.

Generates a snapshot of 1,000,000 traces over 10,000 distinct 10-frame
stacks with tracemalloc's own classes (Snapshot(...).dump()), checks that
both sides print the same top rows, then runs paired, interleaved timings of

    mprofile-report SNAPSHOT
    python3 -c "import tracemalloc; tracemalloc.Snapshot.load(p).statistics('lineno')"

and prints the median wall-time ratio and the median peak-RSS ratio.

usage: /usr/bin/python3.11 tests/bench/report_bench.py REPORT_BINARY
           [--python /usr/bin/python3.11] [--pairs 7] [--snapshot PATH]
           [--traces 1000000] [--stacks 10000] [--depth 10]"""
import argparse
import os
import random
import statistics
import subprocess
import sys
import time
import tracemalloc


def generate(path, ntraces, nstacks, depth, seed=20261128):
    rng = random.Random(seed)
    files = ["/srv/app/package_%d/module_%d.py" % (i % 17, i) for i in range(300)]
    stacks = []
    for _ in range(nstacks):
        # One tuple object per stack, shared by all its traces, like
        # _tracemalloc's traceback cache: the pickle memoizes it.
        stacks.append(tuple((rng.choice(files), rng.randrange(1, 2000)) for _ in range(depth)))
    traces = []
    for _ in range(ntraces):
        size = int(rng.lognormvariate(5, 1.5)) + 1
        traces.append((0, size, stacks[rng.randrange(nstacks)], depth))
    tracemalloc.Snapshot(traces, depth).dump(path)


def run(cmd):
    """Wall time (s) and peak RSS (KiB) of one child."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit("command failed: %r" % cmd)
    return elapsed, usage.ru_maxrss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("--python", default="/usr/bin/python3.11")
    ap.add_argument("--pairs", type=int, default=7)
    ap.add_argument("--snapshot", default="/tmp/mprofile-report-bench.pickle")
    ap.add_argument("--traces", type=int, default=1000000)
    ap.add_argument("--stacks", type=int, default=10000)
    ap.add_argument("--depth", type=int, default=10)
    args = ap.parse_args()

    if not os.path.exists(args.snapshot):
        generate(args.snapshot, args.traces, args.stacks, args.depth)
    size = os.path.getsize(args.snapshot)
    print("snapshot: %s, %d traces, %d stacks x %d frames, %.1f MiB"
          % (args.snapshot, args.traces, args.stacks, args.depth, size / 2**20))

    tool = [args.report, args.snapshot]
    py = [args.python, "-c", "import tracemalloc; tracemalloc.Snapshot.load(%r).statistics('lineno')"
          % args.snapshot]

    # Same answer first: the tool's rows are tracemalloc's top 10.
    want = subprocess.run([args.python, "-c",
                           "import tracemalloc\n"
                           "for s in tracemalloc.Snapshot.load(%r).statistics('lineno')[:10]: print(s)"
                           % args.snapshot], capture_output=True, text=True, check=True).stdout
    got = subprocess.run(tool, capture_output=True, text=True, check=True).stdout
    rows = [line for line in got.splitlines() if not line.startswith("# ")]
    if rows != want.splitlines():
        raise SystemExit("mprofile-report rows differ from tracemalloc's")

    tool_t, tool_rss, py_t, py_rss, t_ratio, rss_ratio = [], [], [], [], [], []
    for i in range(args.pairs):
        # Interleaved, alternating which side goes first.
        order = (tool, py) if i % 2 == 0 else (py, tool)
        res = {}
        for cmd in order:
            res[cmd is tool] = run(cmd)
        (tt, tr), (pt, pr) = res[True], res[False]
        tool_t.append(tt)
        tool_rss.append(tr)
        py_t.append(pt)
        py_rss.append(pr)
        t_ratio.append(pt / tt)
        rss_ratio.append(pr / tr)
        print("pair %d: mprofile-report %.3f s %6.1f MiB | tracemalloc %.3f s %6.1f MiB | "
              "time x%.1f, rss x%.1f" % (i + 1, tt, tr / 1024, pt, pr / 1024, pt / tt, pr / tr))

    print("median mprofile-report: %.3f s, peak RSS %.1f MiB"
          % (statistics.median(tool_t), statistics.median(tool_rss) / 1024))
    print("median tracemalloc:     %.3f s, peak RSS %.1f MiB"
          % (statistics.median(py_t), statistics.median(py_rss) / 1024))
    print("median ratio (tracemalloc / mprofile-report): wall time x%.1f, peak RSS x%.1f"
          % (statistics.median(t_ratio), statistics.median(rss_ratio)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
