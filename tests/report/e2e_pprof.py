"""End-to-end test of mprofile-report --format pprof, read by go tool pprof.

Runs data/workload.py and data/domains_workload.py under PYTHON with
tracemalloc, then (in that interpreter) names their frames the way
libmprofile does (metadata frame_names: each (filename, lineno) of the
traces gets the co_qualname of the code object holding that line, the
first in byte order when several do) and writes four snapshots with
pickle: the workload's ("named"), the same traces sampled (sample_rate
512: sizes become weights, counts estimates), a mixed Python + native one
(native frames at the top and bottom of the stacks, some stacks of native
frames only, native_objects and native_frames as libmprofile writes them)
and the domains workload's (python, numpy's, native and other domains).
Each is converted with --format pprof (also with filters, --domain and
--python-only), and go tool pprof (Debian's golang-go) must show:
  - -top -sample_index=inuse_space: the report's total bytes, and per
    function exactly the bytes of the report's lineno rows of the frames
    of that function (pprof's flat column);
  - -sample_index=inuse_objects: the report's count, rounded;
  - -tags: the report's bytes per domain, when the snapshot has domains;
  - -raw: one mapping per native object (path, build id, span) and every
    native location at its frame's lowest offset in its object's mapping;
  - -proto: a profile whose -top is the same (the round trip, without options);
and no symbolization attempt (nothing to look up: every location is named).

Last, with LIBMPROFILE, a snapshot libmprofile writes (sampled, native
domain, mixed stacks when libunwind is available) goes through the same
checks, -raw against its own native metadata.

usage: e2e_pprof.py REPORT_BINARY PYTHON WORKDIR [LIBMPROFILE]
Exits 77 (skipped) when go is not installed."""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from e2e_report import write_snapshots  # noqa: E402

# Run by PYTHON: snapshots named, sampled, mixed and domains from the two
# workloads' snapshots; prints the frame names as JSON.
MAKE = r'''
import json, pickle, sys, tracemalloc
src, domains_src, out_dir = sys.argv[1:4]

def qualnames(filename, cache={}):
    """line -> co_qualname of the code objects of a source file."""
    if filename not in cache:
        lines = {}
        try:
            with open(filename, "rb") as fp:
                code = compile(fp.read(), filename, "exec")
        except (OSError, SyntaxError, ValueError):
            code = None
        todo = [code] if code else []
        while todo:
            co = todo.pop()
            for _, _, line in co.co_lines():
                if line is not None and (line not in lines or co.co_qualname < lines[line]):
                    lines[line] = co.co_qualname
            todo.extend(c for c in co.co_consts if hasattr(c, "co_lines"))
        cache[filename] = lines
    return cache[filename]

def frame_names(traces):
    frames = {f for t in traces for f in t[2] if not f[0].startswith("<native> ")}
    named = [(f, qualnames(f[0]).get(f[1])) for f in sorted(frames)]
    return [(f, n) for f, n in named if n is not None]

OBJECTS = [("/usr/bin/python3.11", "4e1c9d2a07", 0x1000, 0x2a0000),
           ("/usr/lib/x86_64-linux-gnu/libz.so.1.2.13", "3a9f0c", 0x2000, 0x16000),
           ("bad entry",),
           ("[vdso]", None, 0x0, 0x1000)]
TOP = ["<native> deflate (libz.so.1.2.13)", "<native> libz.so.1.2.13+0x4b2c", "<native> ??"]
BOTTOM = ["<native> Py_RunMain (python3.11)", "<native> main (python3.11)"]
THREAD = ["<native> worker (libz.so.1.2.13)"]
# (name, object index, offset): deflate is recorded at two call sites.
ADDRESSES = [(TOP[0], 1, 0x5200), (TOP[0], 1, 0x51f0), (TOP[1], 1, 0x4b2c), (TOP[2], None, 0x7f00),
             (BOTTOM[0], 0, 0x2c1f0), (BOTTOM[1], 0, 0x1a10), (THREAD[0], 1, 0x9000),
             (TOP[0], 2, 0x10)]

def mix(i, frames):
    if i % 17 == 0:
        return [(n, 0) for n in THREAD]
    frames = list(frames)
    if i % 4:
        frames.insert(0, (TOP[i % 3], 0))
    if i % 2:
        frames += [(n, 0) for n in BOTTOM]
    return frames

def dump(snap, traces, name, **meta):
    out = tracemalloc.Snapshot(traces, snap.traceback_limit)
    out.pid = 4242
    out.time = 1764300000.25
    out.frame_names = frame_names(traces)
    for k, v in meta.items():
        setattr(out, k, v)
    with open("%s/%s.snap" % (out_dir, name), "wb") as fp:
        pickle.dump(out, fp, protocol=4)
    return out.frame_names

snap = tracemalloc.Snapshot.load(src)
traces = snap.traces._traces
names = dump(snap, traces, "named")
dump(snap, traces, "sampled", sample_rate=512)
mixed = [(d, s, tuple(mix(i, f)), t) for i, (d, s, f, t) in enumerate(traces)]
dump(snap, mixed, "mixed", stacks="mixed", native_objects=OBJECTS, native_frames=ADDRESSES)
dsnap = tracemalloc.Snapshot.load(domains_src)
names += dump(dsnap, dsnap.traces._traces, "domains")
for name in ("named", "sampled", "mixed", "domains"):
    assert tracemalloc.Snapshot.load("%s/%s.snap" % (out_dir, name)).frame_names
json.dump({"names": [[f, l, n] for (f, l), n in names], "objects": OBJECTS,
           "addresses": ADDRESSES}, sys.stdout)
'''


class Go:
    """go tool pprof in a scratch HOME/GOCACHE/GOPATH, offline."""

    def __init__(self, workdir):
        self.go = shutil.which("go")
        home = os.path.join(workdir, "gohome")
        os.makedirs(home, exist_ok=True)
        self.env = dict(os.environ, HOME=home, GOCACHE=os.path.join(home, "cache"),
                        GOPATH=os.path.join(home, "path"), GOFLAGS="", GOTOOLCHAIN="local",
                        GOPROXY="off", PPROF_TMPDIR=home, PPROF_BINARY_PATH=home)

    def pprof(self, *args, stdout=None):
        res = subprocess.run([self.go, "tool", "pprof"] + list(args), env=self.env,
                             stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE,
                             check=True)
        err = res.stderr.decode()
        if "symboliz" in err.lower():
            raise AssertionError("pprof tried to symbolize: %s" % err)
        return res.stdout.decode() if stdout is None else None


def top(go, profile, index):
    """(total, {function: flat}) of go tool pprof -top."""
    out = go.pprof("-top", "-unit=B", "-nodecount=1000000", "-nodefraction=0", "-edgefraction=0",
                   "-sample_index=" + index, profile)
    total = int(re.search(r"of (\d+)B? total", out).group(1))
    flat, names = {}, set()
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["flat", "flat%"])
    for line in lines[start + 1:]:
        value, _, _, _, _, name = line.split(None, 5)
        value = int(value.rstrip("B"))
        names.add(name)
        if value:
            flat[name] = flat.get(name, 0) + value
    return total, flat, out, names


def function_of(names, filename, lineno):
    """The pprof function of a frame, as docs/report.md ("pprof") defines it."""
    if filename.startswith("<native> "):
        return filename[len("<native> "):]
    name = names.get((filename, lineno))
    if name is not None:
        return name
    return "%s:%d" % (filename, lineno) if lineno else filename


def report_json(report, args):
    res = subprocess.run([report, "--format", "json", "-n", "0"] + args, capture_output=True,
                         text=True, check=True)
    return json.loads(res.stdout)


def check(go, report, names, snap, opts, workdir, tag):
    """One conversion against the report's own figures.  Returns the failures."""
    failures = []
    profile = os.path.join(workdir, tag + ".pb.gz")
    subprocess.run([report, "--format", "pprof", "-o", profile] + opts + [snap], check=True)
    again = subprocess.run([report, "--format", "pprof"] + opts + [snap], check=True,
                           stdout=subprocess.PIPE).stdout
    with open(profile, "rb") as fp:
        if fp.read() != again:
            failures.append("output differs between two runs (and -o FILE vs stdout)")
    rows = report_json(report, ["-g", "lineno"] + opts + [snap])["rows"]
    want_bytes, want_count = {}, 0.0
    for r in rows:
        f = r["frames"][0]
        fn = function_of(names, f["filename"], f["lineno"])
        want_bytes[fn] = want_bytes.get(fn, 0) + r["size"]
        want_count += r["count_estimate"]
    total, flat, out, shown = top(go, profile, "inuse_space")
    # Every function of the stacks, under its own name: pprof changes no name
    # (its C++ demangling heuristics would turn "<module>" into "<unknown>").
    stacks = report_json(report, ["-g", "traceback"] + opts + [snap])["rows"]
    functions = {function_of(names, f["filename"], f["lineno"]) for r in stacks
                 for f in r["frames"]}
    if shown != functions:
        failures.append("functions differ: %s" % sorted(shown ^ functions)[:6])
    if total != sum(want_bytes.values()):
        failures.append("inuse_space total %d, report %d" % (total, sum(want_bytes.values())))
    if flat != {k: v for k, v in want_bytes.items() if v}:
        missing = set(want_bytes.items()) ^ set(flat.items())
        failures.append("flat bytes per function differ: %s" % sorted(missing)[:6])
    ntotal, nflat, _, _ = top(go, profile, "inuse_objects")
    if ntotal != round(want_count):
        failures.append("inuse_objects total %d, report %.2f" % (ntotal, want_count))
    if abs(sum(nflat.values()) - want_count) > 0.5 or not nflat:
        failures.append("inuse_objects flat sum %d" % sum(nflat.values()))
    if opts:  # the round trip is the same for every selection of traces
        return failures, profile
    # Round trip through pprof's own writer.
    copy = os.path.join(workdir, tag + ".copy.pb.gz")
    with open(copy, "wb") as fp:
        go.pprof("-proto", profile, stdout=fp)
    with gzip.open(copy) as fp:
        fp.read()
    if top(go, copy, "inuse_space")[1:3] != (flat, out.replace(profile, copy)):
        failures.append("-top of pprof's -proto copy differs")
    return failures, profile


def check_domains(go, report, profile, snap, at_least=3):
    """-tags: bytes per domain label are the report's domain totals."""
    doc = report_json(report, [snap])
    out = go.pprof("-tags", "-unit=B", "-sample_index=inuse_space", profile)
    got = {m.group(2): float(m.group(1))
           for m in re.finditer(r"^\s+([\d.]+)B \(\s*[\d.]+%\): (\S+)$", out, re.M)}
    want = {d["name"]: d["size"] for d in doc["snapshot"]["domains"] if d["size"]}
    return [] if got == want and len(want) >= at_least else ["-tags: %s, report %s" % (got, want)]


def check_raw(go, report, profile, info, snap, opts):
    """-raw: each native location at its frame's lowest offset, in the mapping of its
    object (path, build id and span of native_objects), for exactly the native frames of
    the report's stacks.  pprof lists only the mappings that locations use."""
    out = go.pprof("-raw", profile)
    mappings = {m[0]: (m[3], m[4], int(m[1], 16), int(m[2], 16)) for m in
                re.findall(r"^(\d+): (0x[0-9a-f]+)/(0x[0-9a-f]+)/0x0 (\S+) ?(\S*)", out, re.M)}
    got = {}
    for addr, mapping, name, filename in re.findall(
            r"^\s+\d+: (0x[0-9a-f]+) (?:M=(\d+) )?(.*) (\S*):\d+ s=0(?:\(.*\))?$", out, re.M):
        if not filename:  # native functions have no source file
            got[name] = (int(addr, 16), mappings.get(mapping))
    objects = info["objects"]
    want = {}
    for name, obj, off in info["addresses"]:
        o = objects[obj] if obj is not None and obj < len(objects) else ()
        mapping = (o[0], o[1] or "", o[2], o[3]) if o and len(o) == 4 else None
        key = name[len("<native> "):]
        if key not in want or want[key][0] > off:
            want[key] = (off, mapping)
    rows = report_json(report, ["-g", "traceback"] + opts + [snap])["rows"]
    names = {f["filename"][len("<native> "):] for r in rows for f in r["frames"]
             if f.get("native")}
    want = {k: want.get(k) for k in names}
    return [] if got == want else ["native locations %s, want %s" % (
        sorted(set(got.items()) ^ set(want.items()))[:6], len(want))]


# Run by PYTHON: the native metadata and function names of a snapshot, as JSON.
NATIVE_INFO = r'''
import json, sys, tracemalloc
s = tracemalloc.Snapshot.load(sys.argv[1])
json.dump({"stacks": getattr(s, "stacks", None), "objects": getattr(s, "native_objects", []),
           "addresses": getattr(s, "native_frames", []),
           "names": [[f, l, n] for (f, l), n in getattr(s, "frame_names", [])]}, sys.stdout)
'''


def check_real(go, report, lib, python, workdir):
    """A snapshot libmprofile writes for data/native_program.py (SQLite and OpenSSL on the
    native heap), sampled, with mixed stacks when libunwind is there: real native objects,
    build ids and offsets."""
    snap = os.path.join(workdir, "real.snap")
    if os.path.exists(snap):
        os.unlink(snap)
    env = dict(os.environ, LD_PRELOAD=lib, MPROFILE_RATE="4096", MPROFILE_SEED="1",
               MPROFILE_STACKS="mixed", MPROFILE_NATIVE="1", MPROFILE_PEAK="0",
               MPROFILE_OUT=snap, PYTHONDONTWRITEBYTECODE="1")
    subprocess.run([python, os.path.join(HERE, "data", "native_program.py")], env=env,
                   cwd=os.path.join(HERE, "data"), check=True)
    if not os.path.exists(snap):
        return ["libmprofile wrote no snapshot"]
    info = json.loads(subprocess.run([python, "-c", NATIVE_INFO, snap], capture_output=True,
                                     text=True, check=True).stdout)
    names = {(f, l): n for f, l, n in info["names"]}
    errors, profile = check(go, report, names, snap, [], workdir, "real")
    errors += check_domains(go, report, profile, snap, 2)
    if info["stacks"] == "mixed":
        errors += check_raw(go, report, profile, info, snap, [])
    else:
        print("SKIP real native frames: libmprofile wrote Python stacks (no libunwind?)")
    return errors


def main():
    report, python, workdir = sys.argv[1:4]
    lib = os.path.abspath(sys.argv[4]) if len(sys.argv) > 4 else None
    go = Go(workdir)
    if not go.go:
        print("SKIP: go is not installed (Debian: golang-go)")
        return 77
    snapshots = write_snapshots(python, workdir, "workload.py")
    domains = write_snapshots(python, os.path.join(workdir, "domains"), "domains_workload.py")
    if snapshots is None or domains is None:
        print("FAIL: %s is needed" % python)
        return 1
    res = subprocess.run([python, "-c", MAKE, snapshots[1], domains[1], workdir],
                         capture_output=True, text=True, check=True)
    info = json.loads(res.stdout)
    names = {(f, l): n for f, l, n in info["names"]}
    path = {k: os.path.join(workdir, k + ".snap") for k in ("named", "sampled", "mixed", "domains")}
    cases = [
        ("named", []),
        ("named", ["--include", "*workload_helper.py"]),
        ("named", ["--exclude", "*/json/*", "--all-frames"]),
        ("sampled", []),
        ("mixed", []),
        ("mixed", ["--python-only"]),
        ("mixed", ["--exclude", "<native> ??"]),
        ("domains", []),
        ("domains", ["--domain", "tracked"]),
        ("domains", ["--exclude-domain", "python", "--include", "*domains_workload.py"]),
    ]
    failures = 0
    for i, (kind, opts) in enumerate(cases):
        errors, profile = check(go, report, names, path[kind], opts, workdir, "%s%d" % (kind, i))
        if kind == "mixed":
            errors += check_raw(go, report, profile, info, path[kind], opts)
        if kind == "domains" and not opts:
            errors += check_domains(go, report, profile, path[kind])
        if kind == "sampled":
            raw = go.pprof("-raw", profile)
            if "Period: 512" not in raw or "PeriodType: space bytes" not in raw:
                errors.append("period: %s" % raw[:200])
        for e in errors:
            print("FAIL: %s %s: %s" % (kind, " ".join(opts), e))
        failures += len(errors)
    if lib:
        errors = check_real(go, report, lib, python, workdir)
        for e in errors:
            print("FAIL: libmprofile snapshot: %s" % e)
        failures += len(errors)
    else:
        print("SKIP: libmprofile snapshot (no library given)")
    print("%d cases, %d failures" % (len(cases) + bool(lib), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
