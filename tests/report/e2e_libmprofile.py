"""End-to-end: snapshots written by libmprofile itself.

Runs data/alloc_program.py under LD_PRELOAD=libmprofile.so, once in exact
mode (MPROFILE_RATE=1) and once sampled, and checks mprofile-report against
tracemalloc loading the same files:
  - exact mode: the rows are exactly tracemalloc's statistics() rows;
  - sampled mode: the same keys with the same sizes (counts differ on
    purpose: tracemalloc counts samples, mprofile-report estimates
    allocations), each with an rse, and the header says "sampled".

usage: e2e_libmprofile.py REPORT_BINARY LIBMPROFILE PYTHON WORKDIR
Exits 77 (skipped) when the library or the interpreter is missing."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

EXPECT = r'''
import json, sys, tracemalloc
s = tracemalloc.Snapshot.load(sys.argv[1])
print(json.dumps({key: [[str(st.traceback), st.size, st.count, str(st)]
                        for st in s.statistics(key)]
                  for key in ("lineno", "filename", "traceback")}))
'''


def rows(stdout):
    return [line for line in stdout.splitlines()
            if not line.startswith("# ") and not line.startswith('  File "')]


def main():
    report, lib, python, workdir = sys.argv[1:5]
    for path in (lib, python):
        if not os.path.exists(path):
            print("SKIP: %s not found" % path)
            return 77
    os.makedirs(workdir, exist_ok=True)
    failures = 0
    for mode, rate in (("exact", "1"), ("sampled", "8k")):
        snap = os.path.join(workdir, mode + ".snap")
        if os.path.exists(snap):
            os.unlink(snap)
        env = dict(os.environ, LD_PRELOAD=lib, MPROFILE_RATE=rate, MPROFILE_OUT=snap,
                   MPROFILE_SEED="42", PYTHONDONTWRITEBYTECODE="1")
        subprocess.run([python, os.path.join(HERE, "data", "alloc_program.py")], env=env,
                       cwd=os.path.join(HERE, "data"), check=True)
        if not os.path.exists(snap):
            print("FAIL %s: libmprofile wrote no snapshot" % mode)
            failures += 1
            continue
        want = json.loads(subprocess.run([python, "-c", EXPECT, snap], capture_output=True,
                                         text=True, check=True).stdout)
        for key in ("lineno", "filename", "traceback"):
            got = subprocess.run([report, "-n", "0", "-g", key, snap], capture_output=True,
                                 text=True)
            if got.returncode != 0:
                print("FAIL %s %s: %s" % (mode, key, got.stderr.strip()))
                failures += 1
                continue
            lines = rows(got.stdout)
            if mode == "exact":
                ok = lines == [w[3] for w in want[key]]
            else:
                # key: size, compared as sets (ties on size may order
                # differently since the counts differ).
                mine = sorted((line.split(": size=")[0], line.split("size=")[1].split(",")[0])
                              for line in lines)
                theirs = sorted((w[3].split(": size=")[0], w[3].split("size=")[1].split(",")[0])
                                for w in want[key])
                ok = (mine == theirs and all(", rse=" in line for line in lines)
                      and "# sampled: sample_rate=8192 bytes" in got.stdout)
            if not ok:
                print("FAIL %s --group-by %s" % (mode, key))
                failures += 1
        meta = json.loads(subprocess.run([report, "--format", "json", snap], capture_output=True,
                                         text=True, check=True).stdout)["snapshot"]["metadata"]
        for field in ("sample_rate", "pid", "time", "python_version", "live_bytes"):
            if field not in meta:
                print("FAIL %s: metadata %s missing from JSON" % (mode, field))
                failures += 1
    print("%d failures" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
