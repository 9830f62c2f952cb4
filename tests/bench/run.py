"""mprofile's benchmark suite: overhead, accuracy and the profiler's own memory, in one command.

    cmake -S . -B /tmp/bench -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMPROFILE_BUILD_TESTS=OFF \\
          -DMPROFILE_FLOOR_HOOKS=ON && cmake --build /tmp/bench -j2
    /usr/bin/python3.11 tests/bench/run.py --lib /tmp/bench/lib/libmprofile.so

Overhead: for each workload and each setting, runs the same python without and with the
profiler interleaved (A B A B ...), a warm-up pair first and then --pairs pairs, and prints the
median and range of the paired ratios of CPU time (user + system, from wait4) and of peak RSS.
Settings:

    bare      libmprofile-floor.so: hooks that only forward (the allocator interface's own cost)
    idle      hooks installed, sampling never firing (MPROFILE_RATE=0: the countdown is parked
              and the slow path runs once per MiB)
    idle/bare idle against bare (both sides preloaded): what mprofile's hooks add to the floor
    A/B       any setting A paired against setting B instead of no profiler (128k+native/128k:
              what the native heap adds)
    512k, 128k, 4k   mprofile at that rate, 128 frames
    exact     mprofile in exact mode (MPROFILE_RATE=1), 128 frames
    samples-only, stacks-only, table-only   exact mode with a variant of the library:
              libmprofile-stacks-only.so walks and interns every allocation's stack but keeps
              no block (frees stay on the fast path), libmprofile-table-only.so keeps every
              block with the "<unknown>" stack and walks none, libmprofile-samples-only.so does
              neither: what each part of exact mode costs
    S+native  mprofile setting S (idle, 512k, 128k, 4k, exact) with MPROFILE_NATIVE=1: the native
              heap (malloc and its family, anonymous mmap, from any C code) sampled too
    S+mixed   the same with MPROFILE_STACKS=mixed: native C frames unwound (libunwind) and
              merged with the Python ones at each sample; after +native if both
              (128k+native+mixed; 128k+native+mixed/128k+native: what unwinding adds)
    tm1, tm128       tracemalloc with 1 and 128 frames (-X tracemalloc=N)

mprofile runs with MPROFILE_AT_EXIT=0: the tracemalloc rows take no snapshot either.
workloads/native_heavy.py needs numpy (Debian's python3-numpy for /usr/bin/python3.11).

Accuracy: runs workloads/known_sites.py in exact mode, then at 128 KiB and 4 KiB over --seeds
seeds, and compares each site's estimate with the exact figure: mean error (bias), the
standard deviation of the estimates against the predicted standard error (the Horvitz-Thompson
one from the exact block sizes, and sqrt(R * bytes), its value for blocks much smaller than R).

Memory: runs workloads/large_heap.py and reports the profiler's own memory at the end of the
program (mprofile.get_tracemalloc_memory() from the package staged next to --lib;
tracemalloc.get_tracemalloc_memory()) and the peak RSS against no profiler.

Callgrind: the instructions each setting executes on each workload (at --cg-scale), as ratios
to no profiler: stable when the machine is busy, where CPU-time ratios are not.

Machine noise is real: only ratios from one run count; nothing here has a pass/fail threshold.
--markdown FILE appends the tables as Markdown.
"""
import argparse
import datetime
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import tracemalloc

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = ["small_objects", "tornado_http", "json_ast", "large_buffers", "threads",
             "native_heavy"]
TIME = "/usr/bin/time"  # GNU time (Debian package time)
SETTINGS = ["bare", "idle", "idle/bare", "512k", "128k", "128k+native", "4k", "exact",
            "samples-only", "stacks-only", "table-only",
            "exact+native", "tm1", "tm128"]
RATES = {"512k": "524288", "128k": "131072", "4k": "4096", "exact": "1", "idle": "0"}
# Settings run with a variant of the library (lib/CMakeLists.txt, MPROFILE_FLOOR_HOOKS=ON),
# found next to --lib: its file and the setting it runs as.
VARIANTS = {"bare": ("libmprofile-floor.so", "idle"),
            "stacks-only": ("libmprofile-stacks-only.so", "exact"),
            "table-only": ("libmprofile-table-only.so", "exact"),
            "samples-only": ("libmprofile-samples-only.so", "exact")}
NATIVE = "+native"  # suffix of a setting: the same with MPROFILE_NATIVE=1
MIXED = "+mixed"  # suffix of a setting (after +native if both): MPROFILE_STACKS=mixed


def mprofile_setting(setting):
    """(MPROFILE_RATE, whether native, whether mixed) of an mprofile setting; exits on an
    unknown one."""
    mixed = setting.endswith(MIXED)
    base = setting[:-len(MIXED)] if mixed else setting
    native = base.endswith(NATIVE)
    base = base[:-len(NATIVE)] if native else base
    if base not in RATES:
        sys.exit("unknown setting %r" % setting)
    return RATES[base], native, mixed


def mprofile_env(setting):
    """The MPROFILE_* variables of an mprofile setting (a variant's: those of the setting it
    runs as), with 128 frames."""
    rate, native, mixed = mprofile_setting(VARIANTS[setting][1] if setting in VARIANTS
                                           else setting)
    env = {"MPROFILE_RATE": rate, "MPROFILE_FRAMES": "128"}
    if native:
        env["MPROFILE_NATIVE"] = "1"
    if mixed:
        env["MPROFILE_STACKS"] = "mixed"
    return env


class Runner:
    def __init__(self, args):
        self.python = args.python
        self.lib = os.path.abspath(args.lib)
        self.variants = {"bare": os.path.abspath(args.floor_lib) if args.floor_lib else None}
        for name, (file, _) in VARIANTS.items():
            if name != "bare":
                path = os.path.join(os.path.dirname(self.lib), file)
                self.variants[name] = path if os.path.exists(path) else None
        self.scale = args.scale
        self.out_dir = tempfile.mkdtemp(prefix="mprofile-bench-")
        self.tmp_dir = tempfile.mkdtemp(prefix="mprofile-bench-")
        # The mprofile package staged next to the library (for the memory figures).
        self.package = os.path.join(os.path.dirname(self.lib), "python")

    def command(self, setting, script, extra_env=None, code=None):
        """argv and environment for one run of script under setting."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MPROFILE", "LD_PRELOAD", "PYTHONTRACEMALLOC"))}
        env["BENCH_SCALE"] = str(self.scale)
        # Fixed string hashes: randomised ones change dict probe sequences from run to run,
        # which moved callgrind's count of one workload by up to 1.5% between identical runs.
        env["PYTHONHASHSEED"] = "0"
        argv = [self.python]
        if setting.startswith("tm"):
            argv += ["-X", "tracemalloc=" + setting[2:]]
        elif setting != "none":
            env["LD_PRELOAD"] = self.variants.get(setting) or self.lib
            env.update(mprofile_env(setting))
            env["MPROFILE_AT_EXIT"] = "0"
            env["MPROFILE_OUT"] = os.path.join(self.out_dir, "bench.%p.%n.snap")
            env["PYTHONPATH"] = self.package
        env.update(extra_env or {})
        argv += ["-c", code, script] if code else [script]
        return argv, env

    def run(self, setting, script, extra_env=None, code=None, capture=False):
        """CPU seconds, peak RSS bytes and stdout of one run.

        The peak RSS comes from GNU time, which forks the program: a process's ru_maxrss starts
        at the RSS of the image that executed it, so the runner's own (snapshots loaded for the
        accuracy tables) would leak into it. The CPU time is the wait4 figure of time and its
        child (time's own share is about a millisecond, on both sides of a pair)."""
        argv, env = self.command(setting, script, extra_env, code)
        rss_file = os.path.join(self.tmp_dir, "rss")
        argv = [TIME, "-f", "%M", "-o", rss_file] + argv
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE if capture else
                                subprocess.DEVNULL)
        out = proc.stdout.read() if capture else b""
        _, status, usage = os.wait4(proc.pid, 0)
        if status != 0:
            sys.exit("%s failed under %s (status %d)" % (script, setting, status))
        with open(rss_file) as f:
            rss = int(f.read().split()[-1]) * 1024
        return usage.ru_utime + usage.ru_stime, rss, out

    def clean(self):
        for name in os.listdir(self.out_dir):
            os.unlink(os.path.join(self.out_dir, name))

    def runnable(self, setting):
        """Whether every side of setting (A or A/B) has its library: a variant that was not
        built is left out."""
        return all(self.variants.get(part, "") is not None for part in setting.split("/"))


def median_range(values):
    return statistics.median(values), min(values), max(values)


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def overhead(r, args, emit):
    settings = [s for s in args.settings.split(",") if s and r.runnable(s)]
    workloads = [w for w in args.workloads.split(",") if w]
    cpu = {s: {} for s in settings}
    rss = {s: {} for s in settings}
    base_rss = {}  # peak RSS of the runs without a profiler, per workload
    print("%-14s %-10s %-30s %s" % ("workload", "setting", "CPU ratio median [min, max]",
                                    "peak RSS ratio median [min, max]"), flush=True)
    for w in workloads:
        script = os.path.join(HERE, "workloads", w + ".py")
        for s in settings:
            test, base = s.split("/") if "/" in s else (s, "none")
            cpu_r, rss_r = [], []
            for i in range(args.pairs + 1):  # pair 0 is the warm-up
                b_cpu, b_rss, _ = r.run(base, script)
                t_cpu, t_rss, _ = r.run(test, script)
                if i > 0:
                    cpu_r.append(t_cpu / b_cpu)
                    rss_r.append(t_rss / b_rss)
                    if base == "none":
                        base_rss.setdefault(w, []).append(b_rss)
                r.clean()
            cpu[s][w] = median_range(cpu_r)
            rss[s][w] = median_range(rss_r)
            print("%-14s %-10s %.3f [%.3f, %.3f]%12s %.3f [%.3f, %.3f]" % (
                (w, s) + cpu[s][w] + ("",) + rss[s][w]), flush=True)
    lines = ["| setting | " + " | ".join(workloads) + " | geometric mean |",
             "| --- |" + " --- |" * (len(workloads) + 1)]
    for s in settings:
        lines.append("| %s | %s | **%.3f** |" % (s, " | ".join(
            "%.3f [%.3f, %.3f]" % cpu[s][w] for w in workloads),
            geomean([cpu[s][w][0] for w in workloads])))
    emit("CPU time, median paired ratio [min, max] over %d pairs" % args.pairs, lines)
    lines = ["| setting | " + " | ".join(workloads) + " |",
             "| --- |" + " --- |" * len(workloads)]
    if len(base_rss) == len(workloads):
        mib = {w: statistics.median(base_rss[w]) / 2**20 for w in workloads}
        lines.append("| none, MiB | %s |" % " | ".join("%.1f" % mib[w] for w in workloads))
        # The 128 KiB target, peak RSS <= 1.02x + 4 MiB, as a ratio for each workload.
        lines.append("| 1.02x + 4 MiB | %s |" % " | ".join(
            "%.3f" % (1.02 + 4 / mib[w]) for w in workloads))
    for s in settings:
        lines.append("| %s | %s |" % (s, " | ".join("%.3f" % rss[s][w][0] for w in workloads)))
    emit("Peak RSS, median paired ratio", lines)


SITES = ["tiny", "small", "medium", "large", "huge"]


def site_lines(script):
    lines = {}
    with open(script) as f:
        for n, line in enumerate(f, 1):
            if "# SITE " in line:
                lines[n] = line.rsplit("# SITE ", 1)[1].strip()
    return lines


def site_traces(path, script, lines):
    """{site: [trace sizes]} of the snapshot at path."""
    snap = tracemalloc.Snapshot.load(path)
    out = {s: [] for s in lines.values()}
    for trace in snap.traces:
        frame = trace.traceback[0]
        if frame.filename == script and frame.lineno in lines:
            out[lines[frame.lineno]].append(trace.size)
    return out, snap


def one_snapshot(r, setting, script, seed):
    r.clean()
    r.run(setting, script, {"MPROFILE_AT_EXIT": "1", "MPROFILE_SEED": str(seed)})
    (name,) = os.listdir(r.out_dir)
    return os.path.join(r.out_dir, name)


def accuracy(r, args, emit):
    script = os.path.join(HERE, "workloads", "known_sites.py")
    lines = site_lines(script)
    exact, _ = site_traces(one_snapshot(r, "exact", script, 1), script, lines)
    exact_bytes = {s: sum(v) for s, v in exact.items()}
    for rate_name, rate in (("128k", 131072), ("4k", 4096)):
        estimates = {s: [] for s in lines.values()}
        for seed in range(1, args.seeds + 1):
            got, _ = site_traces(one_snapshot(r, rate_name, script, seed), script, lines)
            for s in estimates:
                estimates[s].append(sum(got[s]))
        table = ["| site | exact bytes | blocks | mean estimate | mean error | z of mean | "
                 "SD of estimates | predicted SE (HT) | sqrt(R*bytes) | SD/SE |",
                 "| --- |" + " ---: |" * 9]
        for s in lines.values():
            b = exact_bytes[s]
            ht = math.sqrt(sum(x * x * (1 - p) / p for x in exact[s]
                               for p in [-math.expm1(-x / rate)]))
            mean = statistics.fmean(estimates[s])
            sd = statistics.stdev(estimates[s])
            z = (mean - b) / (ht / math.sqrt(args.seeds)) if ht > 0 else 0.0
            table.append("| %s | %d | %d | %.0f | %+.2f%% | %+.2f | %.0f | %.0f | %.0f | %.2f |"
                         % (s, b, len(exact[s]), mean, 100 * (mean - b) / b, z, sd, ht,
                            math.sqrt(rate * b), sd / ht if ht > 0 else 0.0))
        emit("Accuracy at %s over %d seeds (known_sites.py)" % (rate_name, args.seeds), table)


CG_SETTINGS = ["none", "bare", "idle", "512k", "128k", "128k+native", "4k"]


def callgrind(r, args, emit):
    """Instructions counted by callgrind (stable when the machine is busy), at --cg-scale."""
    settings = [s for s in args.cg_settings.split(",") if s and r.runnable(s)]
    workloads = [w for w in args.workloads.split(",") if w]
    saved, r.scale = r.scale, args.cg_scale
    counts = {}
    for w in workloads:
        script = os.path.join(HERE, "workloads", w + ".py")
        for s in settings:
            argv, env = r.command(s, script)
            proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
                                  + argv, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
            total = [l for l in proc.stderr.splitlines() if "Collected" in l]
            if proc.returncode != 0 or not total:
                sys.exit("callgrind run of %s under %s failed:\n%s" % (w, s, proc.stderr))
            counts[w, s] = int(total[-1].split()[-1])
            r.clean()
            print("%-14s %-8s %14d" % (w, s, counts[w, s]), flush=True)
    r.scale = saved
    lines = ["| setting | " + " | ".join(workloads) + " | geometric mean |",
             "| --- |" + " --- |" * (len(workloads) + 1)]
    for s in settings:
        cells = []
        for w in workloads:
            if s == "none":
                cells.append("%.1f M" % (counts[w, s] / 1e6))
            else:
                cells.append("%.1f M (%.3f)" % (counts[w, s] / 1e6, counts[w, s] / counts[w, "none"]))
        gm = "" if s == "none" else "**%.3f**" % geomean(
            [counts[w, s] / counts[w, "none"] for w in workloads])
        lines.append("| %s | %s | %s |" % (s, " | ".join(cells), gm))
    if "bare" in settings and "idle" in settings:
        lines.append("| idle/bare | %s | **%.3f** |" % (" | ".join(
            "%.3f" % (counts[w, "idle"] / counts[w, "bare"]) for w in workloads), geomean(
            [counts[w, "idle"] / counts[w, "bare"] for w in workloads])))
    emit("Instructions (callgrind, BENCH_SCALE=%g), ratio to no profiler" % args.cg_scale, lines)


MEMORY_CODE = """import os, runpy, sys, tracemalloc
runpy.run_path(sys.argv[1])
if tracemalloc.is_tracing():
    print(tracemalloc.get_tracemalloc_memory())
elif "LD_PRELOAD" in os.environ:
    from mprofile import _lib
    c = _lib.counters()
    print(c.overhead_bytes, c.live_blocks)
else:
    print(0)
"""


def memory(r, args, emit):
    script = os.path.join(HERE, "workloads", "large_heap.py")
    rows = []
    base_rss = statistics.median(r.run("none", script, code=MEMORY_CODE)[1] for _ in range(3))
    for s in ("exact", "128k", "tm1", "tm128"):
        rss = []
        own = []
        per_block = []
        for seed in (1, 2, 3):
            r.clean()
            extra = {"MPROFILE_SEED": str(seed)}
            _, peak, out = r.run(s, script, extra, code=MEMORY_CODE, capture=True)
            rss.append(peak)
            last = out.splitlines()[-1].split()
            own.append(int(last[0]))
            if len(last) > 1 and int(last[1]) > 0:
                per_block.append(int(last[0]) / int(last[1]))
        rows.append("| %s | %.1f | %s | %.1f | %.3f |" % (
            s, statistics.median(own) / 2**20,
            "%.1f" % statistics.median(per_block) if per_block else "-",
            (statistics.median(rss) - base_rss) / 2**20, statistics.median(rss) / base_rss))
    emit("Profiler memory on large_heap.py (no profiler: peak RSS %.1f MiB)" % (base_rss / 2**20),
         ["| setting | own memory MiB | own bytes per live block | peak RSS added MiB "
          "| peak RSS ratio |", "| --- | ---: | ---: | ---: | ---: |"] + rows)


def machine():
    model = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return "%s, %d CPUs, %s" % (model, os.cpu_count(), platform.platform())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n", 2)[2])
    parser.add_argument("--lib", required=True, help="libmprofile.so")
    parser.add_argument("--floor-lib", help="libmprofile-floor.so (default: next to --lib)")
    parser.add_argument("--python", default="/usr/bin/python3.11")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--scale", type=float, default=1.0, help="BENCH_SCALE of the workloads")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--only", default="overhead,accuracy,memory,callgrind")
    parser.add_argument("--cg-scale", type=float, default=0.05,
                        help="BENCH_SCALE of the callgrind runs")
    parser.add_argument("--cg-settings", default=",".join(CG_SETTINGS))
    parser.add_argument("--markdown", help="append the tables to this file")
    args = parser.parse_args()
    if args.floor_lib is None:
        guess = os.path.join(os.path.dirname(os.path.abspath(args.lib)), "libmprofile-floor.so")
        args.floor_lib = guess if os.path.exists(guess) else None
    r = Runner(args)
    version = subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True).stdout.strip()
    head = "%s, python %s (%s), %s; load average at start %s" % (
        datetime.date.today().isoformat(), version, args.python, machine(),
        " ".join("%.2f" % x for x in os.getloadavg()))
    print(head, flush=True)
    md = ["Run of %s: `%s`" % (head, " ".join(["python3.11"] + sys.argv))]

    def emit(title, lines):
        print("\n" + title + "\n" + "\n".join(lines) + "\n", flush=True)
        md.extend(["", "**%s**" % title, ""] + lines)

    for part in args.only.split(","):
        {"overhead": overhead, "accuracy": accuracy, "memory": memory,
         "callgrind": callgrind}[part](r, args, emit)
    finish_markdown(md, args.markdown)


def finish_markdown(md, path):
    """Ends the Markdown of a run with the load average, and appends it to path (if any)."""
    md.append("")
    md.append("Load average at end: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    if path:
        with open(path, "a") as f:
            f.write("\n".join(md) + "\n\n")


if __name__ == "__main__":
    main()
