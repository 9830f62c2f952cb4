"""Two builds of the library side by side, with and without peak tracking: instructions and CPU time.

    /usr/bin/python3.11 tests/bench/peak_cost.py \\
        --before /tmp/bench-before/build/release/lib/libmprofile.so \\
        --after /tmp/bench-after/build/release/lib/libmprofile.so

For each workload of run.py, counts with callgrind (as run.py's callgrind section does) the
instructions of each variant at 128 KiB (BENCH_SCALE --cg-scale) and in exact mode
(--exact-scale):

    none      no profiler
    before    the --before library
    peak=1    the --after library with MPROFILE_PEAK=1 (its default)
    peak=0    the --after library with MPROFILE_PEAK=0

Every mprofile run has the same MPROFILE_SEED (--seed), so that both libraries sample the same
allocations of the same program, and the same environment. What is left differs between two
libraries even when their hot paths are the same: where the interpreter's mappings land.
pymalloc's free and realloc run a few instructions more or fewer per call depending on where its
arenas lie (presumably 3.11's address_in_range, whose test of an address against its arena's
bounds within 256 KiB stops early or not), and any change to the library's size, or one more
mapping of its own, moves every later mapping: small_objects.py at 128 KiB moves by 0.3%
between two such layouts of one library. So each run at 128 KiB is repeated --layouts times, each time with
another small library of zeroed data preloaded after the profiler (4 KiB + i * 64 KiB), and the
tables give the mean, its spread, and the instructions outside the interpreter's executable
(the profiler itself, libc, the loader), which the layout barely moves. Exact mode runs once
(the first layout). --jobs runs that many callgrind runs at once (instruction counts do not
depend on the machine's load); --keep DIR keeps callgrind's output files.

--cpu-pairs N then runs N rounds (after a warm-up round) of the four variants at 128 KiB
(--cpu-setting exact: in exact mode),
one after another in an order that rotates from round to round, and prints the median and range
of each variant's CPU time (user + system, wait4) over the round's no-profiler run. These run
one at a time; on a shared machine the instruction counts are the measure.
--markdown FILE appends the tables as Markdown.
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run  # noqa: E402  (run.py next to this file: its Runner, geomean and workloads)

# MPROFILE_PEAK is given to the before library too, which ignores it (or does not know it), so
# that every mprofile run has the same environment but for the library's file name.
VARIANTS = [("none", None, {}), ("before", "before", {"MPROFILE_PEAK": "1"}),
            ("peak=1", "after", {"MPROFILE_PEAK": "1"}), ("peak=0", "after", {"MPROFILE_PEAK": "0"})]


RUNNERS = {}


def runner(args, lib, scale):
    """One run.Runner (and its two temporary directories) per library and scale."""
    if (lib, scale) not in RUNNERS:
        ns = argparse.Namespace(python=args.python, lib=lib, floor_lib=None, scale=scale)
        RUNNERS[lib, scale] = run.Runner(ns)
    return RUNNERS[lib, scale]


def argv_env(args, libs, variant, setting, workload, scale):
    name, which, extra = variant
    r = runner(args, libs[which or "after"], scale)
    script = os.path.join(HERE, "workloads", workload + ".py")
    extra = dict(extra)
    if which is not None:
        extra["MPROFILE_SEED"] = str(args.seed)
    return r.command("none" if which is None else setting, script, extra)


def pad_libs(libdir, n):
    """n libraries of 4 KiB + i * 64 KiB of zeroed data (i < n), built with cc."""
    libs = []
    for i in range(n):
        src = os.path.join(libdir, "pad%d.c" % i)
        with open(src, "w") as f:
            f.write("char mprofile_bench_pad%d[%d];\n" % (i, 4096 + i * 65536))
        libs.append(os.path.join(libdir, "pad%d.so" % i))
        subprocess.run(["cc", "-shared", "-fPIC", "-o", libs[-1], src], check=True)
    return libs


def object_split(path):
    """(all instructions, those of the interpreter's executable) of a callgrind output file."""
    out = subprocess.run(["callgrind_annotate", "--threshold=100", "--inclusive=no",
                          "--tree=none", path], capture_output=True, text=True, check=True).stdout
    total = interp = 0
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(.*)$", line)
        if not m:
            continue
        n = int(m.group(1).replace(",", ""))
        if "PROGRAM TOTALS" in line:
            total = n
        elif m.group(2).endswith("[%s]" % os.path.realpath(ARGS.python)):
            interp += n
    return total, interp


def count_one(args, libs, variant, setting, workload, scale, pad):
    argv, env = argv_env(args, libs, variant, setting, workload, scale)
    env["LD_PRELOAD"] = (env["LD_PRELOAD"] + " " + pad) if "LD_PRELOAD" in env else pad
    fd, out = tempfile.mkstemp(prefix="callgrind.", dir=args.keep or libs["dir"])
    os.close(fd)
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + argv,
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    total = [l for l in proc.stderr.splitlines() if "Collected" in l]
    if proc.returncode != 0 or not total:
        sys.exit("callgrind run of %s (%s, %s) failed:\n%s" % (workload, setting, variant[0],
                                                               proc.stderr))
    split = object_split(out)
    if args.keep:
        os.rename(out, os.path.join(args.keep, "callgrind.%s.%s.%s.%s" % (
            workload, setting, variant[0], os.path.basename(pad))))
    else:
        os.unlink(out)
    return split


def instructions(args, libs, emit):
    workloads = [w for w in args.workloads.split(",") if w]
    pads = pad_libs(libs["dir"], args.layouts)
    parts = (("128k", args.cg_scale, pads), ("exact", args.exact_scale, pads[:1]))
    jobs = {}
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for setting, scale, used in parts:
            for w in workloads:
                for v in VARIANTS:
                    for pad in used:
                        jobs[setting, w, v[0], pad] = pool.submit(count_one, args, libs, v,
                                                                  setting, w, scale, pad)
        runs = {}
        for key, job in jobs.items():
            total, interp = job.result()
            runs.setdefault(key[:3], []).append((total, total - interp))
            print("%-6s %-14s %-7s %-8s %14d %12d" % (key[:3] + (os.path.basename(key[3]),
                                                                  total, total - interp)),
                  flush=True)
    for setting, scale, used in parts:
        # Mean over the layouts of all instructions, and of those outside the interpreter.
        total = {k[1:]: statistics.fmean(t for t, _ in r) for k, r in runs.items() if k[0] == setting}
        own = {k[1:]: statistics.fmean(o for _, o in r) for k, r in runs.items() if k[0] == setting}
        spread = {k[1:]: (max(t for t, _ in r) - min(t for t, _ in r)) / statistics.fmean(
            t for t, _ in r) for k, r in runs.items() if k[0] == setting}
        lines = ["| workload | none | before | after, peak=1 | after, peak=0 | peak=1 / before "
                 "| peak=0 / before | peak=1 / peak=0 |", "| --- |" + " ---: |" * 7]
        cols = {k: [] for k in ("b", "p1", "p0", "1b", "0b", "10")}
        for w in workloads:
            c = {v[0]: total[w, v[0]] for v in VARIANTS}
            n = c["none"]
            row = [c["before"] / n, c["peak=1"] / n, c["peak=0"] / n, c["peak=1"] / c["before"],
                   c["peak=0"] / c["before"], c["peak=1"] / c["peak=0"]]
            for k, x in zip(cols, row):
                cols[k].append(x)
            lines.append("| %s | %.1f M | %.1f M (%.3f) | %.1f M (%.3f) | %.1f M (%.3f) | %.4f "
                         "| %.4f | %.4f |" % (w, n / 1e6, c["before"] / 1e6, row[0],
                                              c["peak=1"] / 1e6, row[1], c["peak=0"] / 1e6,
                                              row[2], row[3], row[4], row[5]))
        lines.append("| geometric mean | | (%.3f) | (%.3f) | (%.3f) | **%.4f** | **%.4f** | "
                     "**%.4f** |" % tuple(run.geomean(cols[k]) for k in cols))
        emit("Instructions (callgrind) at %s, BENCH_SCALE=%g, MPROFILE_SEED=%d, mean over %d "
             "layouts" % (setting, scale, args.seed, len(used)), lines)
        lines = ["| workload | layout spread (max - min) / mean: none, before, peak=1, peak=0 "
                 "| outside the interpreter: before | peak=1 | peak=0 | peak=1 - before, of "
                 "before's total | peak=0 - before, of before's total |",
                 "| --- | --- |" + " ---: |" * 5]
        for w in workloads:
            b = total[w, "before"]
            lines.append("| %s | %s | %.2f M | %.2f M | %.2f M | %+.4f%% | %+.4f%% |" % (
                w, ", ".join("%.2f%%" % (100 * spread[w, v[0]]) for v in VARIANTS),
                own[w, "before"] / 1e6, own[w, "peak=1"] / 1e6, own[w, "peak=0"] / 1e6,
                100 * (own[w, "peak=1"] - own[w, "before"]) / b,
                100 * (own[w, "peak=0"] - own[w, "before"]) / b))
        emit("Where the difference is (%s): the spread over layouts, and the instructions "
             "outside the interpreter's executable (the profiler, libc, the loader)" % setting,
             lines)


def cpu(args, libs, emit):
    workloads = [w for w in args.workloads.split(",") if w]
    lines = ["| workload | before | after, peak=1 | after, peak=0 | peak=1 / before "
             "| peak=0 / before |", "| --- |" + " --- |" * 5]
    gm = {k: [] for k in ("before", "peak=1", "peak=0", "1b", "0b")}
    for w in workloads:
        script = os.path.join(HERE, "workloads", w + ".py")
        ratio = {v[0]: [] for v in VARIANTS[1:]}
        rel = {"1b": [], "0b": []}
        for i in range(args.cpu_pairs + 1):  # round 0 is the warm-up
            order = VARIANTS[i % 4:] + VARIANTS[:i % 4]
            t = {}
            for v in order:
                r = runner(args, libs[v[1] or "after"], args.cpu_scale)
                extra = dict(v[2])
                if v[1] is not None:
                    extra["MPROFILE_SEED"] = str(args.seed)
                t[v[0]], _, _ = r.run("none" if v[1] is None else args.cpu_setting, script,
                                      extra)
                r.clean()
            if i > 0:
                for name in ratio:
                    ratio[name].append(t[name] / t["none"])
                rel["1b"].append(t["peak=1"] / t["before"])
                rel["0b"].append(t["peak=0"] / t["before"])
        cells = []
        for name in ("before", "peak=1", "peak=0"):
            m = run.median_range(ratio[name])
            gm[name].append(m[0])
            cells.append("%.3f [%.3f, %.3f]" % m)
        for name in ("1b", "0b"):
            m = run.median_range(rel[name])
            gm[name].append(m[0])
            cells.append("%.3f [%.3f, %.3f]" % m)
        print("%-14s %s" % (w, "  ".join(cells)), flush=True)
        lines.append("| %s | %s |" % (w, " | ".join(cells)))
    lines.append("| geometric mean | %s |" % " | ".join(
        "**%.3f**" % run.geomean(gm[k]) for k in ("before", "peak=1", "peak=0", "1b", "0b")))
    emit("CPU time at %s, BENCH_SCALE=%g, median [min, max] over %d rounds (ratio to no "
         "profiler, and within the round)" % (args.cpu_setting, args.cpu_scale, args.cpu_pairs),
         lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n", 2)[2])
    parser.add_argument("--before", required=True, help="libmprofile.so before")
    parser.add_argument("--after", required=True, help="libmprofile.so after (MPROFILE_PEAK)")
    parser.add_argument("--python", default="/usr/bin/python3.11")
    parser.add_argument("--workloads", default=",".join(run.WORKLOADS))
    parser.add_argument("--only", default="instructions,cpu")
    parser.add_argument("--cg-scale", type=float, default=0.05)
    parser.add_argument("--exact-scale", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--layouts", type=int, default=3,
                        help="runs at 128k per variant, each with another pad library")
    parser.add_argument("--keep", help="write callgrind's output files into this directory")
    parser.add_argument("--cpu-pairs", type=int, default=10)
    parser.add_argument("--cpu-scale", type=float, default=0.3)
    parser.add_argument("--cpu-setting", default="128k", help="run.py's setting: 128k or exact")
    parser.add_argument("--markdown", help="append the tables to this file")
    args = parser.parse_args()
    global ARGS
    ARGS = args
    # Both libraries are copied into one directory under names of one length: the library's
    # directory goes into PYTHONPATH (run.Runner), and a longer path there costs the interpreter
    # instructions at every import (0.1% of small_objects.py at BENCH_SCALE=0.05 for one
    # character, which is the size of the effect measured here).
    libdir = tempfile.mkdtemp(prefix="mprofile-peak-")
    libs = {}
    for name in ("before", "after"):
        libs[name] = os.path.join(libdir, name[0] + ".so")
        shutil.copyfile(getattr(args, name), libs[name])
    libs["dir"] = libdir
    md = ["Load average at start: %s" % " ".join("%.2f" % x for x in os.getloadavg())]

    def emit(title, lines):
        print("\n" + title + "\n" + "\n".join(lines) + "\n", flush=True)
        md.extend(["", "**%s**" % title, ""] + lines)

    for part in args.only.split(","):
        {"instructions": instructions, "cpu": cpu}[part](args, libs, emit)
    run.finish_markdown(md, args.markdown)
    shutil.rmtree(libdir)
    for r in RUNNERS.values():
        shutil.rmtree(r.out_dir, ignore_errors=True)
        shutil.rmtree(r.tmp_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
