"""End-to-end: mprofile-report --trend on real periodic dumps of libmprofile.

Runs data/churn_program.py under LD_PRELOAD=libmprofile.so with MPROFILE_INTERVAL=0.2 for
2.5 s (about 13 dumps, plus the exit snapshot; peak companions given too, which --trend leaves
out):
  - without a leak (a steady working set under constant churn), sampled at
    MPROFILE_RATE=16384 with three MPROFILE_SEEDs and in exact mode: no site is reported;
  - with a leak (a list that keeps one more 20000-byte bytearray every tick), sampled and
    exact: the leak's file:line is the first row, and its slope is within 10% of the true
    one (the least-squares slope of the kept bytes, which the program logs, at the dumps'
    times); the JSON output agrees with the text.

usage: e2e_trend.py REPORT_BINARY LIBMPROFILE PYTHON WORKDIR
Exits 77 (skipped) when the library or the interpreter is missing."""
import glob
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = os.path.join(HERE, "data", "churn_program.py")
LEAK_LINE = next(i for i, line in enumerate(open(PROGRAM), 1) if "# LEAK" in line)
SECONDS = "2.5"
TOLERANCE = 0.10


def run(report, lib, python, workdir, name, seed, mode, rate):
    """Runs the program; returns (its snapshots, its stdout lines)."""
    out = os.path.join(workdir, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MPROFILE", "PYTHON"))}
    env.update(LD_PRELOAD=lib, MPROFILE_RATE=str(rate), MPROFILE_SEED=str(seed),
               MPROFILE_INTERVAL="0.2", MPROFILE_MAX_FILES="100",
               MPROFILE_OUT=os.path.join(out, "mp.%p.%n.snap"), PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([python, PROGRAM, str(seed), mode, SECONDS], env=env, cwd=out,
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        sys.exit("%s failed: %s" % (name, proc.stderr))
    snaps = sorted(glob.glob(os.path.join(out, "mp.*.snap")))
    if len([s for s in snaps if ".peak." not in s]) < 8:
        sys.exit("%s: too few snapshots: %s" % (name, snaps))
    return snaps, proc.stdout.split("\n")


def trend(report, snaps, fmt="text"):
    proc = subprocess.run([report, "--trend", "--format", fmt, *snaps], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        sys.exit("mprofile-report --trend failed: %s" % proc.stderr)
    return proc.stdout


def true_slope(lines, times):
    """Least-squares slope (bytes per hour) of the kept bytes at the dumps' times."""
    per_element = int(lines[0])
    log = [tuple(map(float, line.split())) for line in lines[1:] if line]
    ys = [per_element * max([n for t, n in log if t <= when] or [0]) for when in times]
    hours = [(t - times[0]) / 3600 for t in times]
    hb, yb = sum(hours) / len(hours), sum(ys) / len(ys)
    return (sum((h - hb) * (y - yb) for h, y in zip(hours, ys))
            / sum((h - hb) ** 2 for h in hours))


def pid_of(snaps):
    return int(os.path.basename(snaps[0]).split(".")[1])


def check_by_pid(report, runs, failures):
    """The dumps of three processes at once: refused without --by-pid; with it, one trend per
    process, the leak in the leaking one only, and a process with two snapshots said too few."""
    few = [s for s in runs["steady2"] if ".peak." not in s][:2]
    inputs = runs["steady1"] + runs["leak"] + few
    proc = subprocess.run([report, "--trend", *inputs], capture_output=True, text=True)
    if proc.returncode != 1 or "different processes" not in proc.stderr:
        failures.append("several processes without --by-pid: %d %s"
                        % (proc.returncode, proc.stderr))
    text = trend(report, ["--by-pid", *inputs])
    leak, steady, two = pid_of(runs["leak"]), pid_of(runs["steady1"]), pid_of(few)
    blocks = {}
    for line in text.split("\n"):
        if line.startswith("# trend: "):
            current = int(line.split(" of pid ")[1].split()[0])
            blocks[current] = []
        elif line.startswith("# pid %d: 2 snapshots, too few for a trend" % two):
            blocks[two] = None
        elif line and not line.startswith(("#", "  ")):
            blocks[current].append(line)
    where = "%s:%d: " % (PROGRAM, LEAK_LINE)
    if (sorted(blocks) != sorted([leak, steady, two]) or blocks[two] is not None
            or blocks[steady] != [] or len(blocks[leak]) != 1
            or not blocks[leak][0].startswith(where)):
        failures.append("--by-pid: %s\n%s" % (blocks, text))
    doc = json.loads(trend(report, ["--by-pid", *inputs], "json"))
    procs = {p["pid"]: p for p in doc["processes"]}
    if (sorted(procs) != sorted([leak, steady, two]) or not procs[two]["too_few_snapshots"]
            or procs[leak]["rows"][0]["pid"] != leak
            or doc["family_sites"] != procs[leak]["sites_tested"] + procs[steady]["sites_tested"]):
        failures.append("--by-pid JSON: %s" % {p: (v["too_few_snapshots"], v.get("total_rows"))
                                               for p, v in procs.items()})


def main():
    report, lib, python, workdir = map(os.path.abspath, sys.argv[1:5])
    if not os.path.exists(lib) or not os.path.exists(python):
        print("skipped: missing %s" % (lib if not os.path.exists(lib) else python))
        return 77
    os.makedirs(workdir, exist_ok=True)
    failures = []
    runs = {}
    for name, seed, rate in (("steady1", 1, 16384), ("steady2", 2, 16384),
                             ("steady3", 3, 16384), ("steady_exact", 4, 1)):
        snaps, _ = run(report, lib, python, workdir, name, seed, "noleak", rate)
        runs[name] = snaps
        text = trend(report, snaps)
        if "\n# 0 growing sites of " not in text:
            failures.append("%s: a leak reported in a program that does not leak:\n%s"
                            % (name, text))
        if "peak snapshots left out" not in text.split("\n")[0]:
            failures.append("%s: peak snapshots not left out: %s" % (name, text.split("\n")[0]))
    for name, seed, rate in (("leak", 5, 16384), ("leak_exact", 6, 1)):
        snaps, lines = run(report, lib, python, workdir, name, seed, "leak", rate)
        runs[name] = snaps
        text = trend(report, snaps)
        doc = json.loads(trend(report, snaps, "json"))
        rows = [line for line in text.split("\n") if line and not line.startswith(("#", "  "))]
        where = "%s:%d: " % (PROGRAM, LEAK_LINE)
        if not rows or not rows[0].startswith(where):
            failures.append("%s: the leak is not the first row:\n%s" % (name, text))
            continue
        top = doc["rows"][0]
        # "function": libmprofile names the frame (frame_names), null without a name.
        if top["frames"] != [{"filename": PROGRAM, "lineno": LEAK_LINE,
                              "function": top["frames"][0].get("function")}] \
                or not isinstance(top["frames"][0]["function"], (str, type(None))):
            failures.append("%s: JSON top row %s" % (name, top["frames"]))
        truth = true_slope(lines, doc["times"])
        error = abs(top["slope"] - truth) / truth
        print("%s: slope %.4g B/h, truth %.4g B/h (%.1f%%), t=%s, p=%s"
              % (name, top["slope"], truth, 100 * error, top["t"], top["p_value"]))
        if error > TOLERANCE:
            failures.append("%s: slope %.4g B/h, truth %.4g B/h" % (name, top["slope"], truth))
        if len(doc["snapshots"]) != len(doc["times"]) or doc["skipped_peaks"] < 1:
            failures.append("%s: JSON snapshots and times" % name)
    check_by_pid(report, runs, failures)
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
