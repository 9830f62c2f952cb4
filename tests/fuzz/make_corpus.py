"""Regenerate the seed part of the fuzz regression corpus (corpus/seed-*).

Small real snapshots (tracemalloc dumps in pickle protocols 2 to 5, a
sampled snapshot with libmprofile's metadata keys, peak snapshots with
their timeline and hostile timelines, traces in many tracemalloc domains, function names and
hostile ones, import machinery frames) and the malformed inputs
the reader must reject.  Inputs found by fuzzing are kept next to them as
corpus/crash-* or corpus/regress-* and are never regenerated.
usage: python3 make_corpus.py [CORPUS_DIR]"""
import os
import pickle
import sys
import tracemalloc


def work():
    def leaf(n):
        return [bytearray(n), str(n) * 3]

    def mid(n):
        return [leaf(i) for i in range(n)]

    return [mid(4), {"k": list(range(30))}, leaf(200)]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    os.makedirs(out, exist_ok=True)
    tracemalloc.start(6)
    data = work()
    snap = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(True, __file__, all_frames=True)])
    tracemalloc.stop()
    del data
    seeds = {}
    for proto in (2, 3, 4, 5):
        seeds["seed-tracemalloc-p%d" % proto] = pickle.dumps(snap, protocol=proto)
    sampled = tracemalloc.Snapshot(
        [(0, 1005, (("a.py", 3), ("main.py", 1)), 2),
         (0, 1005, (("a.py", 3), ("main.py", 1)), 2),
         (0, 250000, (("b.py", 7), ("b.py", 7), ("main.py", 2)), 3),
         (1, 4000, (), 0)], 10)
    sampled.sample_rate = 1000
    sampled.pid = 1234
    sampled.time = 1764300000.5
    sampled.python_version = "3.11.2"
    sampled.mprofile_version = "0.1.0"
    sampled.live_bytes = 260000
    sampled.peak_bytes = 300000
    sampled.dropped_samples = 0
    sampled.profiler_memory = 65536
    sampled.samples = 4
    sampled.future = [1, 2]
    seeds["seed-sampled-p4"] = pickle.dumps(sampled, protocol=4)
    seeds["seed-sampled-p2"] = pickle.dumps(sampled, protocol=2)
    # libmprofile's peak snapshot metadata (lib/snapshot.c write_metadata):
    # trigger, is_peak, peak_time and the timeline, a list of
    # (time, live_bytes, peak_bytes, rss_bytes) tuples; then hostile
    # variants of them, which the report ignores (or, for integers beyond
    # 64 bits, rejects).
    def with_peak_keys(is_peak=True, **keys):
        snap = tracemalloc.Snapshot(sampled.traces._traces, 10)
        snap.__dict__.update(sampled.__dict__)
        del snap.future
        snap.trigger = "exit"
        snap.is_peak = is_peak
        snap.peak_time = 1796018929.25
        snap.timeline = [(1796018928.5 + i / 8, 1000 * i * i, 1000 * i * i, 5000000 + 4096 * i)
                         for i in range(40)]
        snap.__dict__.update(keys)
        return snap

    seeds["seed-peak-p4"] = pickle.dumps(with_peak_keys(), protocol=4)
    seeds["seed-peak-p2"] = pickle.dumps(with_peak_keys(), protocol=2)
    seeds["seed-timeline-empty-p4"] = pickle.dumps(
        with_peak_keys(False, trigger="api", peak_time=None, timeline=[]), protocol=4)
    point = (1796018929.5, 4096, 8192, 1 << 20)
    hostile = {
        "not-a-list": {"timeline": {"time": 1.5}, "is_peak": 1, "trigger": 5,
                       "peak_time": "soon"},
        "tuple-of-points": {"timeline": (point, point)},
        "arity": {"timeline": [point, point[:3], point + (0,), ()]},
        "types": {"timeline": [point, ("1.5", 1, 2, 3), (1.5, 1.0, 2, 3), (1.5, -1, 2, 3),
                               (float("nan"), 1, 2, 3), (float("inf"), 1, 2, 3),
                               (True, 1, 2, 3), (None, 1, 2, 3), (1.5, 1, 2, None)]},
        "trace-shaped": {"timeline": [(1, 2, (("a.py", 1),), 1), [1.5, 1, 2, 3],
                                      [[point]]]},
        "long": {"timeline": [point] * 4000},
        "bigint": {"timeline": [(1.5, 2**64, 0, 0)]},
    }
    for name, keys in hostile.items():
        seeds["seed-timeline-%s-p4" % name] = pickle.dumps(with_peak_keys(**keys), protocol=4)
    # Domains: python, numpy's, libmprofile's native one, two that pickle
    # as LONG1, and more distinct ones than the reader's compact codes.
    frames = [(("a.py", 3), ("main.py", 1)), (("b.py", 7), ("main.py", 2)), ()]
    domains = [0, 389047, 0x4D504E41, 2**31 + 5, 2**32 - 1] + [100 + i for i in range(15)]
    traces = [(d, 100 + 7 * i, frames[i % 3], len(frames[i % 3]))
              for i, d in enumerate(domains * 2)]
    seeds["seed-domains-p4"] = pickle.dumps(tracemalloc.Snapshot(traces, 10), protocol=4)
    seeds["seed-domains-p2"] = pickle.dumps(tracemalloc.Snapshot(traces, 10), protocol=2)
    # Mixed stacks with the metadata --format pprof turns into mappings and
    # addresses (native_objects, native_frames) and function names
    # (frame_names); then hostile shapes of those keys, which are ignored
    # entry by entry.
    def with_native_keys(objects, addresses, names):
        snap = tracemalloc.Snapshot(
            [(0, 100, (("<native> deflate (libz.so.1)", 0), ("a.py", 3), ("main.py", 1)), 3),
             (0x4D504E41, 64, (("<native> ??", 0), ("<native> main (python3)", 0)), 2),
             (0, 8, (), 0)], 10)
        snap.stacks = "mixed"
        snap.time = 1764300000.5
        snap.native_objects = objects
        snap.native_frames = addresses
        snap.frame_names = names
        return pickle.dumps(snap, protocol=4)
    seeds["seed-native-meta-p4"] = with_native_keys(
        [("/usr/bin/python3", "ab12", 0x1000, 0x9000), ("/lib/libz.so.1", None, 0x2000, 0x6000)],
        [("<native> deflate (libz.so.1)", 1, 0x2500), ("<native> deflate (libz.so.1)", 1, 0x2400),
         ("<native> main (python3)", 0, 0x1100), ("<native> ??", None, 0x7f0000001000)],
        [(("a.py", 3), "f"), (("main.py", 1), "<module>")])
    seeds["seed-native-meta-hostile-p4"] = with_native_keys(
        [("/x", "id", 5, 1), ("/y",), ("/z", 3, 0, 1), ("/w", None, -1, 2), None,
         ("/big", None, 0, 2**63 - 1)],
        [("<native> deflate (libz.so.1)", 7, 1), ("<native> ??", -1, 2), ("<native> ??", 0, -5),
         ("<native> main (python3)", 5, 2**63 - 1), (1, 2, 3), ("<native> ??",), "str"],
        [(("a.py", 3), 7), "x"])
    # Function names (frame_names): names with the characters the formats
    # escape, a frame named twice, a name for a frame of no trace; then
    # entries of every wrong shape, which the reader skips.
    named = tracemalloc.Snapshot(sampled.traces._traces, 10)
    named.frame_names = [(("a.py", 3), "Cache.get"), (("main.py", 1), "<module>"),
                         (("b.py", 7), "odd;name\n(x)\r"), (("b.py", 7), "a"),
                         (("gone.py", 9), "gone"), (("main.py", 2), "")]
    seeds["seed-names-p4"] = pickle.dumps(named, protocol=4)
    seeds["seed-names-p2"] = pickle.dumps(named, protocol=2)
    named.frame_names = [("a.py", 3), (("a.py", 3),), (("a.py", "3"), "f"), (("a.py", 3), 5),
                         ((("a.py", 3), 1), "f"), [("a.py", 3), "f"], (("a.py", 3), "f", 1),
                         None, (("a.py", 2**40), "big"), ((1, 3), "f")]
    seeds["seed-names-hostile-p4"] = pickle.dumps(named, protocol=4)
    named.frame_names = {("a.py", 3): "f"}
    seeds["seed-names-dict-p4"] = pickle.dumps(named, protocol=4)
    # Import machinery frames (--hide-imports), a stack of them only.
    boot = ("<frozen importlib._bootstrap>", 241)
    imports = tracemalloc.Snapshot(
        [(0, 64, (("mod.py", 3), boot, ("<frozen importlib._bootstrap_external>", 940), boot,
                  ("main.py", 1)), 5),
         (0, 32, (("<frozen zipimport>", 70), boot), 2), (0, 16, (("mod.py", 3),), 1)], 10)
    seeds["seed-imports-p4"] = pickle.dumps(imports, protocol=4)
    seeds["seed-text-file"] = b"tracemalloc.Snapshot, but as text\n"
    old_style = tracemalloc.Snapshot([(0, 10, (("x.py", 1),))], 1)  # Python < 3.9 traces
    seeds["seed-3tuple-p4"] = pickle.dumps(old_style, protocol=4)
    seeds["seed-empty-file"] = b""
    seeds["seed-other-pickle"] = pickle.dumps({"traces": [1, 2]}, protocol=4)
    seeds["seed-deep-marks"] = b"\x80\x04" + b"(" * 80 + b"."
    seeds["seed-huge-string"] = b"\x80\x04X\xff\xff\xff\x7f"
    seeds["seed-memo-bomb"] = b"\x80\x04)r\xff\xff\xff\x7f."
    seeds["seed-global-os-system"] = b"\x80\x02cos\nsystem\n."
    full = seeds["seed-tracemalloc-p5"]
    seeds["seed-truncated-p5"] = full[: len(full) // 2]
    for name, blob in seeds.items():
        with open(os.path.join(out, name), "wb") as fp:
            fp.write(blob)


if __name__ == "__main__":
    main()
