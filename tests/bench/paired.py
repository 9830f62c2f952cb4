"""Paired overhead measurement: runs a workload with and without the profiler, interleaved
A B A B after a warm-up, and prints the median and range of the CPU-time and peak-RSS ratios.

    python3.11 tests/bench/paired.py --lib build/release/lib/libmprofile.so \
        --python /usr/bin/python3.11 --pairs 7 tests/bench/workloads/small_objects.py

Configurations (--config, repeatable): rate=N (mprofile at N bytes per sample), exact,
floor (hooks installed, sampling off: MPROFILE_RATE=0), tracemalloc=N (-X tracemalloc=N).
Machine noise is real: only ratios from one run count.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile


def run(python, script, config, lib, out_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MPROFILE", "LD_PRELOAD"))}
    args = [python]
    if config.startswith("tracemalloc="):
        args += ["-X", config]
    elif config != "none":
        env["LD_PRELOAD"] = lib
        env["MPROFILE_OUT"] = os.path.join(out_dir, "bench.%p.snap")
        env["MPROFILE_SEED"] = "1"
        env["MPROFILE_RATE"] = {"exact": "1", "floor": "0"}.get(config, config.partition("=")[2])
    args.append(script)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        sys.exit("%s failed under %s" % (script, config))
    cpu = usage.ru_utime + usage.ru_stime
    return cpu, usage.ru_maxrss * 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lib", required=True)
    parser.add_argument("--python", default="/usr/bin/python3.11")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--config", action="append")
    parser.add_argument("workloads", nargs="+")
    args = parser.parse_args()
    args.lib = os.path.abspath(args.lib)
    configs = args.config or ["floor", "rate=524288", "rate=131072", "rate=4096", "exact",
                              "tracemalloc=1", "tracemalloc=128"]
    out_dir = tempfile.mkdtemp(prefix="mprofile-bench-")
    print("%-22s %-16s %-28s %s" % ("workload", "config", "cpu ratio median [min, max]",
                                    "peak RSS ratio median"))
    for script in args.workloads:
        for config in configs:
            run(args.python, script, "none", args.lib, out_dir)  # warm-up
            cpu_ratios, rss_ratios = [], []
            for _ in range(args.pairs):
                base_cpu, base_rss = run(args.python, script, "none", args.lib, out_dir)
                cpu, rss = run(args.python, script, config, args.lib, out_dir)
                cpu_ratios.append(cpu / base_cpu)
                rss_ratios.append(rss / base_rss)
            print("%-22s %-16s %.3f [%.3f, %.3f]%9s %.3f" % (
                os.path.basename(script), config, statistics.median(cpu_ratios),
                min(cpu_ratios), max(cpu_ratios), "", statistics.median(rss_ratios)))
            for name in os.listdir(out_dir):
                os.unlink(os.path.join(out_dir, name))


if __name__ == "__main__":
    main()
