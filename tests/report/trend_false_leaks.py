"""The false-leak rate of mprofile-report --trend on real dumps (docs/report.md, "Leaks across
snapshots"): runs data/churn_program.py (a steady working set under constant churn, no leak)
under the preloaded library with periodic dumps, once per seed, and counts the runs in which
--trend reports a growing site. Too slow for the test suite (about 3 s a seed); its result is
recorded in docs/report.md.

usage: trend_false_leaks.py REPORT_BINARY LIBMPROFILE PYTHON WORKDIR [SEEDS [RATE]]"""
import glob
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = os.path.join(HERE, "data", "churn_program.py")


def main():
    report, lib, python, workdir = sys.argv[1:5]
    # Absolute: the program runs in a directory of its own.
    report, lib, workdir = os.path.abspath(report), os.path.abspath(lib), os.path.abspath(workdir)
    seeds = int(sys.argv[5]) if len(sys.argv) > 5 else 100
    rate = sys.argv[6] if len(sys.argv) > 6 else "16384"
    flagged, sites_tested = [], 0
    for seed in range(1, seeds + 1):
        out = os.path.join(workdir, "seed%d" % seed)
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MPROFILE", "PYTHON"))}
        env.update(LD_PRELOAD=lib, MPROFILE_RATE=rate, MPROFILE_SEED=str(seed),
                   MPROFILE_INTERVAL="0.2", MPROFILE_MAX_FILES="100",
                   MPROFILE_OUT=os.path.join(out, "mp.%p.%n.snap"))
        subprocess.run([python, PROGRAM, str(seed), "noleak", "2.5"], env=env, cwd=out,
                       check=True, capture_output=True, timeout=60)
        snaps = sorted(glob.glob(os.path.join(out, "mp.*.snap")))
        proc = subprocess.run([report, "--trend", "--format", "json", *snaps],
                              capture_output=True, text=True, check=True)
        result = json.loads(proc.stdout)
        sites_tested += result.get("sites_tested", 0) or 0
        if result["total_rows"]:
            flagged.append((seed, [row["frames"][0] for row in result["rows"]]))
        shutil.rmtree(out, ignore_errors=True)
    print("%d runs without a leak at MPROFILE_RATE=%s (%d sites tested in all): %d reported a "
          "leak" % (seeds, rate, sites_tested, len(flagged)))
    for seed, frames in flagged:
        print("  seed %d: %s" % (seed, frames))
    return 0


if __name__ == "__main__":
    sys.exit(main())
