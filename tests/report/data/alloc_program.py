"""A program run under LD_PRELOAD=libmprofile.so by e2e_libmprofile.py: it
keeps allocations from several files and lines alive until exit, where the
profiler writes its snapshot."""
import json

import workload_helper as helper

KEEP = [
    helper.make_records(3000),
    helper.build_tree(6, 3),
    [json.loads(json.dumps({"k%d" % j: [j] * 5 for j in range(i % 20)})) for i in range(2000)],
    [bytearray(5000 + i) for i in range(300)],
]
cache = {}
helper.grow(cache, 4000)
KEEP.append(cache)
